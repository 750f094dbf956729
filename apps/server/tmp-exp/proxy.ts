import http from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
const upstream = process.argv[2]!;
const mode = process.argv[3] ?? "raw";
import { LeanTransport } from "./lean";
const client = new Client({ name: "p", version: "1" });
const leanClient = new Client({ name: "p", version: "1" });
await leanClient.connect(new LeanTransport(new URL(upstream)));
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
const transport = new StreamableHTTPClientTransport(new URL(upstream));
await client.connect(transport);
const sessionId = transport.sessionId!;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const u = new URL(upstream);
let nextId = 1;
function rawCall(body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": sessionId,
          "mcp-protocol-version": "2025-06-18",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (data += c));
        res.on("end", () => {
          if ((res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
            const m = /data: (.*)\n/.exec(data);
            resolve(m ? m[1]! : "");
          } else resolve(data);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
import { Hono } from "hono";
import { getRequestListener } from "@hono/node-server";
import pino from "pino";
const log = pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: true }));
const app = new Hono();
app.use(async (c, next) => {
  if (mode === "hono-nolog") return next();
  const id = crypto.randomUUID();
  const t = performance.now();
  await next();
  c.header("x-request-id", id);
  log.info(
    {
      request_id: id,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: performance.now() - t,
    },
    "request",
  );
});
app.all("/mcp", async (c) => {
  if (c.req.method !== "POST") return c.body(null, 405);
  let msg;
  if (mode === "hono-rawbody") {
    const inc = (c.env as any).incoming;
    let d = "";
    inc.setEncoding("utf8");
    for await (const ch of inc) d += ch;
    msg = JSON.parse(d);
  } else msg = await c.req.json();
  if (msg.method === "initialize")
    return c.json({
      jsonrpc: "2.0",
      id: msg.id,
      result: {
        protocolVersion: msg.params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: "x", version: "1" },
      },
    });
  if (!("id" in msg)) return c.body(null, 202);
  const result = await leanClient.request(
    { method: "tools/call", params: msg.params },
    CallToolResultSchema,
  );
  return c.json({ jsonrpc: "2.0", id: msg.id, result });
});
const honoListener = getRequestListener(app.fetch);
const server = http.createServer((req, res) => {
  if (mode.startsWith("hono")) {
    honoListener(req, res);
    return;
  }
  let data = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (data += c));
  req.on("end", async () => {
    if (req.method !== "POST") {
      res.writeHead(405);
      res.end();
      return;
    }
    const msg = JSON.parse(data);
    if (msg.method === "initialize") {
      const out = JSON.stringify({
        jsonrpc: "2.0",
        id: msg.id,
        result: {
          protocolVersion: msg.params.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: "x", version: "1" },
        },
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(out);
      return;
    }
    if (!("id" in msg)) {
      res.writeHead(202);
      res.end();
      return;
    }
    if (mode === "lean") {
      const result = await leanClient.request(
        { method: "tools/call", params: msg.params },
        CallToolResultSchema,
      );
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result }));
      return;
    }
    if (mode === "sdk") {
      const result = await client.callTool({
        name: msg.params.name,
        arguments: msg.params.arguments,
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result }));
      return;
    }
    const up = await rawCall(
      JSON.stringify({ jsonrpc: "2.0", id: nextId++, method: "tools/call", params: msg.params }),
    );
    const parsed = JSON.parse(up);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: parsed.result }));
  });
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(
    JSON.stringify({ url: `http://127.0.0.1:${(server.address() as any).port}/mcp` }) + "\n",
  );
});
