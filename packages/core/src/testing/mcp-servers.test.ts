import { describe, expect, it } from "vitest";
import { z } from "zod";
import { connectMcp } from "../mcp/client";
import {
  defineTestTool,
  findRefusedPort,
  httpTestTarget,
  startNonMcpHttpServer,
  startSseTestMcpServer,
  startTestMcpServer,
} from "./mcp-servers";

const CLIENT = { clientName: "fixture-tests", clientVersion: "0.0.1" };

describe("startTestMcpServer", () => {
  it("serves custom zod and JSON-schema tools and validates zod arguments", async () => {
    const server = await startTestMcpServer({
      builtinTools: false,
      tools: [
        defineTestTool({
          name: "greet",
          input: z.object({ name: z.string().min(1) }),
          handler: ({ name }) => ({ content: [{ type: "text", text: `hi ${name}` }] }),
        }),
        {
          name: "raw",
          description: "JSON-schema tool",
          inputSchema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
          handler: (args) => ({ content: [{ type: "text", text: JSON.stringify(args) }] }),
        },
      ],
    });
    try {
      const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
      const tools = await session.listAllTools();
      expect(tools.map((tool) => tool.name)).toEqual(["greet", "raw"]);
      expect(tools[0]?.inputSchema).toMatchObject({ type: "object", required: ["name"] });
      expect(tools[1]?.inputSchema).toEqual({
        type: "object",
        properties: { n: { type: "integer" } },
        required: ["n"],
      });
      expect(
        (await session.callTool("greet", { name: "Bo" }, { timeoutMs: 1_000 })).content,
      ).toEqual([{ type: "text", text: "hi Bo" }]);
      await expect(
        session.callTool("greet", { name: "" }, { timeoutMs: 1_000 }),
      ).rejects.toMatchObject({
        kind: "upstream",
        code: -32602,
      });
      expect((await session.callTool("raw", { n: 4 }, { timeoutMs: 1_000 })).content).toEqual([
        { type: "text", text: '{"n":4}' },
      ]);
      await session.close();
    } finally {
      await server.close();
    }
  });

  it("bumping toolsVersion adds tools for re-sync", async () => {
    const server = await startTestMcpServer({ builtinTools: false, generatedTools: 2 });
    try {
      const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
      expect((await session.listAllTools()).map((tool) => tool.name)).toEqual([
        "generated_0001",
        "generated_0002",
      ]);
      server.setToolsVersion(3);
      expect(server.toolsVersion).toBe(3);
      expect((await session.listAllTools()).map((tool) => tool.name)).toEqual([
        "generated_0001",
        "generated_0002",
        "added_in_v2",
        "added_in_v3",
      ]);
      await session.close();
    } finally {
      await server.close();
    }
  });

  it("answers unknown sessions with 404 and missing tokens with 401", async () => {
    const server = await startTestMcpServer({ bearerToken: "t0ken" });
    try {
      const headers = {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      };
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
      const unauthorized = await fetch(server.url, { method: "POST", headers, body });
      expect(unauthorized.status).toBe(401);
      const unknown = await fetch(server.url, {
        method: "POST",
        headers: { ...headers, authorization: "Bearer t0ken", "mcp-session-id": "nope" },
        body,
      });
      expect(unknown.status).toBe(404);
      expect(server.sessionCount).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("counts sessions on the legacy SSE server", async () => {
    const server = await startSseTestMcpServer();
    try {
      const session = await connectMcp(httpTestTarget("sse", server.url), CLIENT);
      expect(server.sessionCount).toBe(1);
      expect(server.sessionsCreated).toBe(1);
      await session.close();
    } finally {
      await server.close();
    }
  });
});

describe("startNonMcpHttpServer and findRefusedPort", () => {
  it("answers each path as documented", async () => {
    const server = await startNonMcpHttpServer();
    try {
      const html = await fetch(server.html);
      expect(html.headers.get("content-type")).toContain("text/html");
      expect(await (await fetch(server.notJsonRpc)).json()).toEqual({
        hello: "world",
        status: "ok",
      });
      expect(await (await fetch(server.invalidJson)).text()).toBe("{this is not json");
      expect((await fetch(server.status(503))).status).toBe(503);
      await expect(fetch(server.hang, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    } finally {
      await server.close();
    }
  });

  it("finds a port that refuses connections", async () => {
    const port = await findRefusedPort();
    const error: unknown = await fetch(`http://127.0.0.1:${port}/`).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).cause).toMatchObject({ code: "ECONNREFUSED" });
  });
});
