import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createDemoMcpServer } from "./server";

function methodNotAllowed(): Response {
  return new Response(
    JSON.stringify({
      jsonrpc: "2.0",
      error: {
        code: -32000,
        message: "Method not allowed: this endpoint is stateless and accepts POST only",
      },
      id: null,
    }),
    { status: 405, headers: { "content-type": "application/json", allow: "POST" } },
  );
}

/**
 * A stateless Streamable HTTP endpoint as a web-standard handler, mountable in Hono
 * (`app.all("/mcp", (c) => handler(c.req.raw))`), Bun, Deno or a Node bridge. Every request gets
 * its own server and transport, so nothing is shared between callers and no session needs
 * cleaning up; answers are plain JSON, which every MCP client accepts.
 */
export function createDemoMcpFetchHandler(): (request: Request) => Promise<Response> {
  return async (request) => {
    // Without sessions there is no server-initiated stream to open (GET) or session to end (DELETE);
    // 405 is how the spec says so, and clients handle it.
    if (request.method !== "POST") return methodNotAllowed();
    const server = createDemoMcpServer();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(request);
    } finally {
      await server.close();
    }
  };
}
