import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { describe, expect, it } from "vitest";
import { createDemoMcpFetchHandler } from "./fetch-handler";
import { createDemoHttpServer } from "./node-http";

async function callCalculate(transport: StreamableHTTPClientTransport): Promise<unknown> {
  const client = new Client({ name: "demo-http-tests", version: "0.0.1" });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: "calculate", arguments: { expression: "6 * 7" } });
    return result.structuredContent;
  } finally {
    await client.close();
  }
}

describe("createDemoMcpFetchHandler", () => {
  it("serves a full MCP exchange statelessly", async () => {
    const handler = createDemoMcpFetchHandler();
    const transport = new StreamableHTTPClientTransport(new URL("http://demo.test/mcp"), {
      fetch: (url, init) => handler(new Request(url, init)),
    });
    expect(await callCalculate(transport)).toEqual({ expression: "6 * 7", result: 42 });
  });

  it("answers GET and DELETE with 405", async () => {
    const handler = createDemoMcpFetchHandler();
    for (const method of ["GET", "DELETE"]) {
      const response = await handler(new Request("http://demo.test/mcp", { method }));
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
    }
  });

  it("rejects non-JSON-RPC bodies", async () => {
    const handler = createDemoMcpFetchHandler();
    const response = await handler(
      new Request("http://demo.test/mcp", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: "{oops",
      }),
    );
    expect(response.status).toBe(400);
  });
});

describe("createDemoHttpServer", () => {
  it("serves MCP at /mcp over real HTTP, plus /health", async () => {
    const server = createDemoHttpServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
      expect(await callCalculate(transport)).toEqual({ expression: "6 * 7", result: 42 });
      expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe("ok");
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
