import http from "node:http";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
export class LeanTransport implements Transport {
  onclose?: () => void;
  onerror?: (e: Error) => void;
  onmessage?: (m: JSONRPCMessage) => void;
  sessionId?: string;
  private protocolVersion?: string;
  constructor(private url: URL) {}
  async start() {}
  setProtocolVersion(v: string) {
    this.protocolVersion = v;
  }
  async close() {
    this.onclose?.();
  }
  send(message: JSONRPCMessage): Promise<void> {
    const body = JSON.stringify(message);
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "content-length": Buffer.byteLength(body),
    };
    if (this.sessionId) headers["mcp-session-id"] = this.sessionId;
    if (this.protocolVersion) headers["mcp-protocol-version"] = this.protocolVersion;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname,
          method: "POST",
          agent,
          headers,
        },
        (res) => {
          const sid = res.headers["mcp-session-id"];
          if (typeof sid === "string") this.sessionId = sid;
          if (res.statusCode === 202) {
            res.resume();
            resolve();
            return;
          }
          const sse = (res.headers["content-type"] ?? "").startsWith("text/event-stream");
          resolve();
          let buf = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            buf += c;
            if (sse) {
              let i;
              while ((i = buf.indexOf("\n\n")) >= 0) {
                const ev = buf.slice(0, i);
                buf = buf.slice(i + 2);
                const data = ev
                  .split("\n")
                  .filter((l) => l.startsWith("data:"))
                  .map((l) => l.slice(5).trimStart())
                  .join("\n");
                if (data) this.onmessage?.(JSON.parse(data));
              }
            }
          });
          res.on("end", () => {
            if (!sse && buf) {
              const m = JSON.parse(buf);
              for (const x of Array.isArray(m) ? m : [m]) this.onmessage?.(x);
            }
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}
