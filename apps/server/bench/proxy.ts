/**
 * The floor of any MCP gateway on this machine: a bare pass-through with no governance at all.
 * It answers `initialize` itself and forwards each `tools/call` to the upstream through the same
 * MCP client session code the platform uses (`connectMcp`), answering with one JSON body. What it
 * adds over a direct call is the cost of one more HTTP hop; the platform's figures above that are
 * the cost of governing the call. Prints `{"url": …}` on stdout once listening.
 *   node --import tsx bench/proxy.ts <upstream url>
 */
import { createServer } from "node:http";
import { connectMcp, MCP_CLIENT_INFO } from "@mcp/core";

const upstreamUrl = process.argv[2];
if (!upstreamUrl) throw new Error("usage: proxy.ts <upstream url>");
const session = await connectMcp(
  {
    transport: "streamable_http",
    url: upstreamUrl,
    stdio: null,
    headers: {},
    secret: null,
    timeout_ms: 10_000,
  },
  MCP_CLIENT_INFO,
);

interface Message {
  id?: string | number;
  method?: string;
  params?: { protocolVersion?: string; name?: string; arguments?: Record<string, unknown> };
}

const server = createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405, { allow: "POST" }).end();
    return;
  }
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    const message = JSON.parse(body) as Message;
    const reply = (result: unknown) => {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    };
    if (message.id === undefined) {
      res.writeHead(202).end();
    } else if (message.method === "initialize") {
      reply({
        protocolVersion: message.params?.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: "bench-proxy", version: "1.0.0" },
      });
    } else if (message.method === "tools/call") {
      session
        .callTool(message.params?.name ?? "", message.params?.arguments ?? {}, {
          timeoutMs: 10_000,
        })
        .then(reply, (error: unknown) => {
          res.writeHead(502).end(String(error));
        });
    } else {
      reply({});
    }
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}/mcp` })}\n`);
});
const stop = (): void => {
  server.close();
  void session.close().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
