import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createDemoMcpFetchHandler } from "./fetch-handler";

const MAX_BODY_BYTES = 4 * 1024 * 1024;

class BodyTooLarge extends Error {}

async function toRequest(req: IncomingMessage): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(buffer);
  }
  return new Request(url, { method, headers, body: Buffer.concat(chunks) });
}

async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(body);
}

/**
 * A Node HTTP server exposing the demo MCP server at `path` (default "/mcp"), for running it
 * standalone; `GET /health` answers "ok" for container probes.
 */
export function createDemoHttpServer(options: { path?: string } = {}): Server {
  const path = options.path ?? "/mcp";
  const handler = createDemoMcpFetchHandler();
  return createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    if (pathname === "/health" && req.method === "GET") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (pathname !== path) {
      res
        .writeHead(404, { "content-type": "text/plain" })
        .end(`Not found; the MCP endpoint is ${path}`);
      return;
    }
    toRequest(req)
      .then(handler)
      .then((response) => sendResponse(res, response))
      .catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const tooLarge = error instanceof BodyTooLarge;
        res.writeHead(tooLarge ? 413 : 500, { "content-type": "text/plain" });
        res.end(tooLarge ? "Request body too large" : "Internal server error");
      });
  });
}
