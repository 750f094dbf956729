import {
  CallToolRequestSchema,
  JSONRPCRequestSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type CallToolRequest,
  type JSONRPCMessage,
  type RequestId,
  type ServerNotification,
} from "@modelcontextprotocol/sdk/types.js";

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

/** The call, when the request can take the direct path; null sends it through the SDK. */
export function directToolCall(req: Request, messages: unknown[]): ToolCallRequest | null {
  if (messages.length !== 1) return null;
  const accept = req.headers.get("accept");
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return null;
  if (!isJsonContentType(req.headers.get("content-type"))) return null;
  const version = req.headers.get("mcp-protocol-version");
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return null;
  const [message] = messages;
  if (
    typeof message !== "object" ||
    message === null ||
    (message as { method?: unknown }).method !== "tools/call"
  )
    return null;
  const request = JSONRPCRequestSchema.safeParse(message);
  const call = CallToolRequestSchema.safeParse(message);
  if (!request.success || !call.success) return null;
  return { id: request.data.id, params: call.data.params };
}

const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  connection: "keep-alive",
};

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

/**
 * Runs `handle` and answers like the SDK's transport would: one JSON body when the result comes
 * first (the usual case), or an SSE stream when a progress or log notification precedes it, with
 * every notification in order and the response last.
 */
export async function serveToolCall(
  call: ToolCallRequest,
  handle: (send: (notification: ServerNotification) => Promise<void>) => Promise<unknown>,
): Promise<Response> {
  const encoder = new TextEncoder();
  let stream: ReadableStreamDefaultController<Uint8Array> | null = null;
  const early: ServerNotification[] = [];
  let onFirstNotification: (() => void) | null = null;

  const write = (message: JSONRPCMessage): void => {
    try {
      stream?.enqueue(encoder.encode(sseEvent(message)));
    } catch {
      // The client hung up: the stream is cancelled and the call aborted through its signal.
    }
  };
  const send = (notification: ServerNotification): Promise<void> => {
    if (stream) write({ jsonrpc: "2.0", ...notification });
    else {
      early.push(notification);
      onFirstNotification?.();
    }
    return Promise.resolve();
  };

  const answer = handle(send).then(
    (result) => ({ jsonrpc: "2.0", id: call.id, result }) as JSONRPCMessage,
    (error: unknown) => errorResponse(call.id, error),
  );
  const first = await Promise.race([
    answer.then((message) => ({ kind: "answer" as const, message })),
    new Promise<{ kind: "notification" }>((resolve) => {
      onFirstNotification = () => {
        resolve({ kind: "notification" });
      };
    }),
  ]);
  onFirstNotification = null;
  if (first.kind === "answer" && early.length === 0) {
    return new Response(JSON.stringify(first.message), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  }
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      stream = controller;
      for (const notification of early.splice(0)) write({ jsonrpc: "2.0", ...notification });
      void answer.then((message) => {
        write(message);
        try {
          controller.close();
        } catch {
          // already cancelled by the client
        }
        stream = null;
      });
    },
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
