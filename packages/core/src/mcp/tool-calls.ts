import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolResultSchema,
  ErrorCode,
  McpError,
  ProgressNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { CallToolResult, JSONRPCMessage, Progress } from "@modelcontextprotocol/sdk/types.js";

/** Request ids and progress tokens of tool calls; the SDK numbers its own requests 0, 1, 2, … */
const ID_PREFIX = "tools/call#";

interface PendingCall {
  onProgress: ((progress: Progress) => void) | undefined;
  resolve: (result: CallToolResult) => void;
  reject: (error: Error) => void;
}

/**
 * `tools/call` on a session's transport, next to the SDK client that owns the rest of the session.
 *
 * A governed call is the platform's hot path, and the SDK's generic request machinery is most of
 * what the client side of it costs: per call it validates the answer's JSON-RPC envelope with zod
 * three times, arms its own timer and abort listener, and keeps handler maps, on top of the
 * session's deadline. Here a call is one pending entry, one abort listener on the deadline's signal
 * and one validation of the result with the protocol's CallToolResult schema, with the SDK's
 * behaviour otherwise: progress tokens only when progress is wanted, `notifications/cancelled` when
 * the caller gives up, JSON-RPC errors as McpError, and `Connection closed` for calls in flight
 * when the session ends. Every other message still goes to the SDK client.
 */
export class ToolCalls {
  private sequence = 0;
  private readonly pending = new Map<string, PendingCall>();

  /** Call after the SDK client has connected: it takes over the transport's `onmessage` first. */
  constructor(private readonly transport: Transport) {
    const sdkOnMessage = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (!this.claim(message)) sdkOnMessage?.(message, extra);
    };
  }

  call(
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    onProgress?: (progress: Progress) => void,
  ): Promise<CallToolResult> {
    return new Promise<CallToolResult>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortError(signal));
        return;
      }
      const id = `${ID_PREFIX}${++this.sequence}`;
      const onAbort = (): void => {
        finish();
        this.transport
          .send({
            jsonrpc: "2.0",
            method: "notifications/cancelled",
            params: { requestId: id, reason: String(signal.reason) },
          })
          .catch(() => undefined);
        reject(abortError(signal));
      };
      const finish = (): void => {
        this.pending.delete(id);
        signal.removeEventListener("abort", onAbort);
      };
      this.pending.set(id, {
        onProgress,
        resolve: (result) => {
          finish();
          resolve(result);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      });
      signal.addEventListener("abort", onAbort, { once: true });
      this.transport
        .send({
          jsonrpc: "2.0",
          id,
          method: "tools/call",
          params: {
            name,
            arguments: args,
            ...(onProgress ? { _meta: { progressToken: id } } : {}),
          },
        })
        .catch((error: unknown) => {
          this.pending.get(id)?.reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
  }

  /** Fails every call in flight, as the SDK fails its own requests when the transport closes. */
  closed(): void {
    for (const call of [...this.pending.values()]) {
      call.reject(new McpError(ErrorCode.ConnectionClosed, "Connection closed"));
    }
  }

  /** Handles the answers and progress of our calls; false leaves the message to the SDK. */
  private claim(message: JSONRPCMessage): boolean {
    if ("id" in message) {
      if (
        "method" in message ||
        typeof message.id !== "string" ||
        !message.id.startsWith(ID_PREFIX)
      )
        return false;
      const call = this.pending.get(message.id);
      // An answer to a call given up on is dropped, like the SDK drops one for an aborted request.
      if (!call) return true;
      if ("error" in message) {
        const { code, message: text, data } = message.error;
        call.reject(McpError.fromError(code, text, data));
        return true;
      }
      const parsed = CallToolResultSchema.safeParse(message.result);
      if (parsed.success) call.resolve(parsed.data);
      else call.reject(parsed.error);
      return true;
    }
    if (!("method" in message) || message.method !== "notifications/progress") return false;
    const token: unknown = message.params?.progressToken;
    if (typeof token !== "string" || !token.startsWith(ID_PREFIX)) return false;
    const notification = ProgressNotificationSchema.safeParse(message);
    const call = this.pending.get(token);
    const onProgress = call?.onProgress;
    if (notification.success && onProgress) {
      const { progressToken: _token, ...progress } = notification.data.params;
      // A microtask later, as the SDK delivers every notification (log messages included):
      // progress and logs then reach the caller in the order the server sent them.
      queueMicrotask(() => {
        onProgress(progress);
      });
    }
    return true;
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}
