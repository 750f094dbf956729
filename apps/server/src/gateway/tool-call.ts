import type { ServerResponse } from "node:http";
import {
  CallToolRequestSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type CallToolRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
  type ServerNotification,
} from "@modelcontextprotocol/sdk/types.js";
import { invalidParamsMessage } from "./params";

/*
 * `tools/call`, the request a gateway serves by far the most, answered without building an SDK
 * McpServer and web-standard transport per request: on this path they cost more CPU than the
 * whole governed call around them. Only a request that the SDK transport would accept exactly as
 * it is takes this path (one JSON-RPC request, valid params, the headers the spec requires);
 * anything else, errors included, goes through the SDK, so the protocol's edge cases keep one
 * implementation.
 */

export interface ToolCallRequest {
  id: RequestId;
  params: CallToolRequest["params"];
}

function isJsonContentType(value: string | null): boolean {
  return value?.split(";")[0]?.trim().toLowerCase() === "application/json";
}

export type DirectToolCall =
  | { kind: "call"; call: ToolCallRequest }
  /** A tools/call whose params are wrong: answered with JSON-RPC's invalid-params error. */
  | { kind: "invalid"; id: RequestId; message: string };

/** The call, when the request can take the direct path; null sends it through the SDK. */
export function directToolCall(
  header: (name: string) => string | null,
  messages: unknown[],
): DirectToolCall | null {
  if (messages.length !== 1) return null;
  const accept = header("accept");
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return null;
  if (!isJsonContentType(header("content-type"))) return null;
  const version = header("mcp-protocol-version");
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return null;
  const [message] = messages;
  if (typeof message !== "object" || message === null) return null;
  const { jsonrpc, id, method } = message as { jsonrpc?: unknown; id?: unknown; method?: unknown };
  // The envelope as JSONRPCRequestSchema has it (checked by hand: it is half of a zod parse).
  if (jsonrpc !== "2.0" || method !== "tools/call") return null;
  if (typeof id !== "string" && !(typeof id === "number" && Number.isInteger(id))) return null;
  const call = CallToolRequestSchema.safeParse(message);
  // A task-augmented call is answered with a task, by the SDK server's path (see tasks.ts).
  if (call.success)
    return call.data.params.task === undefined
      ? { kind: "call", call: { id, params: call.data.params } }
      : null;
  // The SDK server answers -32602 too, but with zod's raw issue list as the message; this one
  // names the field at fault. Answered so on both paths (MCP_GATEWAY_FAST_PATH), see server.ts.
  return { kind: "invalid", id, message: invalidParamsMessage(call.error) };
}

function sseEvent(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** How the SDK server turns a thrown error into a JSON-RPC error (Protocol._onrequest). */
function errorResponse(id: RequestId, error: unknown): JSONRPCMessage {
  const code = (error as { code?: unknown }).code;
  const data = (error as { data?: unknown }).data;
  return {
    jsonrpc: "2.0",
    id,
    error: {
      code: typeof code === "number" && Number.isSafeInteger(code) ? code : -32603,
      message: error instanceof Error ? error.message : "Internal error",
      ...(data !== undefined ? { data } : {}),
    },
  };
}

/** What a call may write on its response stream besides its result. */
export interface CallStream {
  notify: (notification: ServerNotification) => Promise<void>;
  /** A request of the upstream server to the client (see runs/relay.ts). */
  request: (request: JSONRPCRequest) => Promise<void>;
}

/**
 * Runs `handle` and answers like the SDK's transport would: one JSON body when the result comes
 * first (the usual case), or an SSE stream when a notification or a relayed request precedes it,
 * with every message in order and the response last.
 */
export async function serveToolCall(
  call: ToolCallRequest,
  handle: (stream: CallStream) => Promise<unknown>,
  outgoing: ServerResponse,
  cancelled: () => boolean = () => false,
): Promise<void> {
  // Switched by the first notification: from then on the answer is an event stream.
  const state = { streaming: false };
  const event = (message: JSONRPCMessage): boolean => {
    // After a hang-up the call is being aborted through its signal; nothing can be delivered.
    if (outgoing.destroyed) return false;
    outgoing.write(sseEvent(message));
    return true;
  };
  const startStream = (): void => {
    if (state.streaming) return;
    state.streaming = true;
    outgoing.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
    });
  };
  const stream: CallStream = {
    notify: (notification) => {
      startStream();
      // Keys in the SDK's order (Protocol.notification), so both paths send the same bytes.
      event({ ...notification, jsonrpc: "2.0" });
      return Promise.resolve();
    },
    request: (request) => {
      startStream();
      return event(request)
        ? Promise.resolve()
        : Promise.reject(new Error("The client closed the call's stream"));
    },
  };
  let answer: JSONRPCMessage;
  try {
    // Keys in the SDK's order (Protocol._onrequest), so both paths send the same bytes.
    answer = { result: await handle(stream), jsonrpc: "2.0", id: call.id } as JSONRPCMessage;
  } catch (error) {
    answer = errorResponse(call.id, error);
  }
  if (cancelled()) {
    // The client cancelled the call: no answer is due, and it ignores one. Its stream ends empty.
    startStream();
    outgoing.end();
    return;
  }
  if (state.streaming) {
    event(answer);
    outgoing.end();
    return;
  }
  const text = JSON.stringify(answer);
  outgoing
    .writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    })
    .end(text);
}
