import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { describe, expect, it } from "vitest";

const tsxCli = createRequire(import.meta.url).resolve("tsx/cli");
const entry = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

describe("entry points", () => {
  it("src/stdio.ts serves MCP over stdio", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [tsxCli, entry("stdio.ts")],
      stderr: "pipe",
    });
    const client = new Client({ name: "entrypoint-tests", version: "0.0.1" });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe("mcp-demo-server");
      const result = await client.callTool({
        name: "convert_units",
        arguments: { value: 1, from: "km", to: "m" },
      });
      expect(result.structuredContent).toMatchObject({ result: 1000 });
    } finally {
      await client.close();
    }
  });

  it("src/http.ts listens on PORT and serves /mcp", async () => {
    const child = spawn(process.execPath, [tsxCli, entry("http.ts")], {
      env: { PATH: process.env.PATH ?? "", PORT: "0", HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match?.[1]) resolve(match[1]);
        });
        child.once("exit", (code) => {
          reject(new Error(`exited with ${String(code)}`));
        });
      });
      const client = new Client({ name: "entrypoint-tests", version: "0.0.1" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const result = await client.callTool({ name: "calculate", arguments: { expression: "2^8" } });
      expect(result.structuredContent).toEqual({ expression: "2^8", result: 256 });
      await client.close();
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });
});
