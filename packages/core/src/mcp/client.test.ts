import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  findRefusedPort,
  httpTestTarget,
  prepareStdioTestServer,
  startNonMcpHttpServer,
  startSseTestMcpServer,
  startTestMcpServer,
} from "../testing/mcp-servers";
import { processGone, waitUntil } from "../testing/wait";
import type {
  RunningNonMcpServer,
  RunningTestMcpServer,
  StdioTestServer,
} from "../testing/mcp-servers";
import { AppError } from "../errors";
import { connectMcp, McpCallError } from "./client";
import type { McpSession } from "./client";
import type { McpTarget } from "./target";

const CLIENT = { clientName: "mcp-platform-tests", clientVersion: "0.0.1" };

async function failure(promise: Promise<unknown>): Promise<McpCallError> {
  const error: unknown = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof McpCallError))
    throw new Error(`expected McpCallError, got ${String(error)}`);
  return error;
}

function textOf(result: { content: { type: string }[] }): string {
  const first = result.content[0];
  if (first?.type !== "text" || !("text" in first) || typeof first.text !== "string")
    throw new Error("no text content");
  return first.text;
}

let http: RunningTestMcpServer;
let sse: RunningTestMcpServer;
let stdio: StdioTestServer;
let nonMcp: RunningNonMcpServer;

beforeAll(async () => {
  [http, sse, stdio, nonMcp] = await Promise.all([
    startTestMcpServer({ name: "http-test", version: "3.1.4", pageSize: 3 }),
    startSseTestMcpServer({ name: "sse-test", version: "2.7.1", pageSize: 3 }),
    prepareStdioTestServer(["--name", "stdio-test"]),
    startNonMcpHttpServer(),
  ]);
});

afterAll(async () => {
  await Promise.all([http.close(), sse.close(), nonMcp.close()]);
});

const transports = [
  {
    name: "streamable_http",
    target: (): McpTarget => httpTestTarget("streamable_http", http.url),
    server: "http-test",
    upstream: (): RunningTestMcpServer | null => http,
  },
  {
    name: "sse",
    target: (): McpTarget => httpTestTarget("sse", sse.url),
    server: "sse-test",
    upstream: (): RunningTestMcpServer | null => sse,
  },
  // A child process: no in-process hooks.
  {
    name: "stdio",
    target: (): McpTarget => stdio.target(),
    server: "stdio-test",
    upstream: () => null,
  },
] as const;

describe.each(transports)("over $name", ({ target, server, upstream }) => {
  let session: McpSession;

  beforeAll(async () => {
    session = await connectMcp(target(), CLIENT);
  });

  afterAll(async () => {
    await session.close();
  });

  it("initializes and reports the server", async () => {
    expect(session.serverInfo.name).toBe(server);
    expect(session.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(session.capabilities.tools).toBeDefined();
    await expect(session.ping()).resolves.toBeUndefined();
  });

  it("calls a tool and lists tools", async () => {
    const result = await session.callTool("echo", { text: "hello" }, { timeoutMs: 2_000 });
    expect(result.content).toEqual([{ type: "text", text: "hello" }]);
    const tools = await session.listAllTools();
    expect(tools.map((tool) => tool.name)).toContain("echo");
  });

  it("returns tool errors as results, not exceptions", async () => {
    const result = await session.callTool("fail", {}, { timeoutMs: 2_000 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe("The tool failed on purpose");
  });

  it("times out and keeps the session usable", async () => {
    const error = await failure(session.callTool("slow", { ms: 5_000 }, { timeoutMs: 300 }));
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe("Timed out after 300 ms");
    expect(error.sessionLost).toBe(false);
    expect(session.closed).toBe(false);
    await expect(session.ping()).resolves.toBeUndefined();
  });

  it("cancels when the caller aborts", async () => {
    const controller = new AbortController();
    const started = upstream()?.nextCall("started", "slow");
    const pending = session.callTool(
      "slow",
      { ms: 5_000 },
      { timeoutMs: 5_000, signal: controller.signal },
    );
    // A stdio server answers in order, so the ping's answer means the call is running there.
    await (started ?? session.ping());
    controller.abort();
    const error = await failure(pending);
    expect(error).toMatchObject({
      kind: "closed",
      message: "Cancelled by the caller",
      sessionLost: false,
    });
  });

  it("reports JSON-RPC errors from the server as upstream errors", async () => {
    const error = await failure(session.getPrompt("no_such_prompt"));
    expect(error.kind).toBe("upstream");
    expect(error.message).toMatch(/^Upstream error -326\d\d: /);
    expect(error.code).toEqual(expect.any(Number));
  });
});

const httpTransports = [
  {
    transport: "streamable_http",
    server: (): RunningTestMcpServer => http,
    start: startTestMcpServer,
  },
  { transport: "sse", server: (): RunningTestMcpServer => sse, start: startSseTestMcpServer },
] as const;

describe.each(httpTransports)("HTTP transports: $transport", ({ transport, server, start }) => {
  it("reports a JSON-RPC error answering a tool call as an upstream error", async () => {
    const session = await connectMcp(httpTestTarget(transport, server().url), CLIENT);
    try {
      // These test servers answer arguments their schema rejects with InvalidParams.
      const call = await failure(session.callTool("echo", { text: 5 }, { timeoutMs: 2_000 }));
      expect(call).toMatchObject({ kind: "upstream", code: -32602, sessionLost: false });
      await expect(
        session.callTool("echo", { text: "still usable" }, { timeoutMs: 2_000 }),
      ).resolves.toMatchObject({ content: [{ type: "text", text: "still usable" }] });
    } finally {
      await session.close();
    }
  });

  it("tells the server about a call the caller gave up on, and fails calls in flight on close", async () => {
    const started: string[] = [];
    const cancelled: string[] = [];
    const waiter = start({
      name: "cancel-test",
      builtinTools: false,
      tools: [
        {
          name: "wait",
          inputSchema: { type: "object", properties: { label: { type: "string" } } },
          handler: async (args, ctx) => {
            const label = String(args.label);
            started.push(label);
            await new Promise<void>((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                cancelled.push(label);
                resolve();
              });
            });
            return { content: [] };
          },
        },
      ],
    });
    const running = await waiter;
    const session = await connectMcp(httpTestTarget(transport, running.url), CLIENT);
    try {
      const timedOut = await failure(
        session.callTool("wait", { label: "timeout" }, { timeoutMs: 200 }),
      );
      expect(timedOut.kind).toBe("timeout");
      const caller = new AbortController();
      const aborted = session.callTool(
        "wait",
        { label: "abort" },
        { timeoutMs: 5_000, signal: caller.signal },
      );
      await waitUntil(() => started.includes("abort"));
      caller.abort();
      expect((await failure(aborted)).message).toBe("Cancelled by the caller");
      await waitUntil(() => cancelled.length === 2);
      expect(cancelled).toEqual(["timeout", "abort"]);

      const inFlight = failure(session.callTool("wait", { label: "close" }, { timeoutMs: 5_000 }));
      await waitUntil(() => started.includes("close"));
      await session.close();
      expect(await inFlight).toMatchObject({ kind: "closed" });
    } finally {
      await session.close();
      await running.close();
    }
  });

  it("follows tools/list pagination", async () => {
    const session = await connectMcp(httpTestTarget(transport, server().url), CLIENT);
    try {
      const tools = await session.listAllTools();
      expect(tools.map((tool) => tool.name)).toEqual([
        "echo",
        "add",
        "slow",
        "fail",
        "huge",
        "mixed",
        "progress",
        "echo_headers",
      ]);
      const limited = await failure(session.listAllTools(2));
      expect(limited).toMatchObject({
        kind: "protocol",
        message: "Upstream tools/list did not finish within 2 pages",
      });
    } finally {
      await session.close();
    }
  });

  it("lists 1,000 tools across pages", async () => {
    const big = await start({
      builtinTools: false,
      generatedTools: 1000,
      pageSize: 100,
    });
    try {
      const session = await connectMcp(httpTestTarget(transport, big.url), CLIENT);
      const tools = await session.listAllTools();
      expect(tools).toHaveLength(1000);
      expect(new Set(tools.map((tool) => tool.name)).size).toBe(1000);
      expect(tools[999]?.name).toBe("generated_1000");
      await session.close();
    } finally {
      await big.close();
    }
  });

  it("sends static and secret headers on every request", async () => {
    const session = await connectMcp(
      httpTestTarget(transport, server().url, {
        headers: { "x-tenant": "acme" },
        secret: { headers: { "x-api-key": "k-123456" }, env: {} },
      }),
      CLIENT,
    );
    try {
      const headers: unknown = JSON.parse(
        textOf(await session.callTool("echo_headers", {}, { timeoutMs: 2_000 })),
      );
      expect(headers).toMatchObject({ "x-tenant": "acme", "x-api-key": "k-123456" });
    } finally {
      await session.close();
    }
  });

  it("passes huge outputs through", async () => {
    const session = await connectMcp(httpTestTarget(transport, server().url), CLIENT);
    try {
      const result = await session.callTool(
        "huge",
        { bytes: 2 * 1024 * 1024 },
        { timeoutMs: 5_000 },
      );
      expect(textOf(result)).toHaveLength(2 * 1024 * 1024);
    } finally {
      await session.close();
    }
  });

  it("passes mixed content through unchanged", async () => {
    const session = await connectMcp(httpTestTarget(transport, server().url), CLIENT);
    try {
      const result = await session.callTool("mixed", {}, { timeoutMs: 2_000 });
      expect(result.content.map((block) => block.type)).toEqual([
        "text",
        "image",
        "audio",
        "resource",
        "resource_link",
      ]);
      expect(result.content[1]).toMatchObject({ type: "image", mimeType: "image/png" });
      expect(result.content[3]).toEqual({
        type: "resource",
        resource: { uri: "test://readme", mimeType: "text/plain", text: "Embedded readme" },
      });
      expect(result.structuredContent).toEqual({ kind: "mixed", items: 5 });
    } finally {
      await session.close();
    }
  });

  it("does not validate structured content against cached output schemas", async () => {
    const session = await connectMcp(httpTestTarget(transport, server().url), CLIENT);
    try {
      await session.listAllTools();
      const result = await session.callTool("add", { a: 2, b: 3 }, { timeoutMs: 2_000 });
      expect(result.structuredContent).toEqual({ sum: 5 });
    } finally {
      await session.close();
    }
  });

  it("delivers progress and log notifications to the caller", async () => {
    const session = await connectMcp(httpTestTarget(transport, server().url), CLIENT);
    try {
      const progress: number[] = [];
      const logs: unknown[] = [];
      const result = await session.callTool(
        "progress",
        { steps: 3, delayMs: 5 },
        {
          timeoutMs: 2_000,
          onProgress: (update) => progress.push(update.progress),
          onLog: (entry) => logs.push(entry),
        },
      );
      expect(textOf(result)).toBe("completed 3 steps");
      expect(progress).toEqual([1, 2, 3]);
      expect(logs).toEqual([
        { level: "info", logger: "progress", data: { step: 1 } },
        { level: "info", logger: "progress", data: { step: 2 } },
        { level: "info", logger: "progress", data: { step: 3 } },
      ]);
    } finally {
      await session.close();
    }
  });

  it("lists and reads prompts, resources and templates", async () => {
    const session = await connectMcp(httpTestTarget(transport, server().url), CLIENT);
    try {
      expect((await session.listPrompts()).map((prompt) => prompt.name)).toEqual(["greeting"]);
      const prompt = await session.getPrompt("greeting", { name: "Ada" });
      expect(prompt.messages[0]?.content).toEqual({
        type: "text",
        text: "Please greet Ada warmly.",
      });
      expect((await session.listResources()).map((resource) => resource.uri)).toEqual([
        "test://readme",
      ]);
      const readme = await session.readResource("test://readme");
      expect(readme.contents[0]).toMatchObject({ text: "This is the test server readme." });
      expect(
        (await session.listResourceTemplates()).map((template) => template.uriTemplate),
      ).toEqual(["test://items/{id}"]);
      const item = await session.readResource("test://items/7");
      expect(item.contents[0]).toMatchObject({ text: JSON.stringify({ id: "7" }) });
    } finally {
      await session.close();
    }
  });
});

describe("streamable HTTP specifics", () => {
  it("answers with JSON responses as well as SSE streams", async () => {
    const jsonServer = await startTestMcpServer({ enableJsonResponse: true });
    try {
      const session = await connectMcp(httpTestTarget("streamable_http", jsonServer.url), CLIENT);
      expect(textOf(await session.callTool("echo", { text: "json" }, { timeoutMs: 2_000 }))).toBe(
        "json",
      );
      await session.close();
    } finally {
      await jsonServer.close();
    }
  });

  it("marks the session lost when the server forgets it (HTTP 404)", async () => {
    const session = await connectMcp(httpTestTarget("streamable_http", http.url), CLIENT);
    await http.dropSessions();
    const error = await failure(session.callTool("echo", { text: "x" }, { timeoutMs: 2_000 }));
    expect(error).toMatchObject({ kind: "closed", sessionLost: true, code: 404 });
    expect(error.message).toBe("Upstream session expired (answered 404 Not Found)");
    await waitUntil(() => session.closed);
    await expect(session.ping()).rejects.toMatchObject({ kind: "closed", sessionLost: true });
  });

  it("terminates the upstream session on close", async () => {
    const session = await connectMcp(httpTestTarget("streamable_http", http.url), CLIENT);
    const before = http.sessionCount;
    await session.close();
    expect(http.sessionCount).toBe(before - 1);
    expect(session.closed).toBe(true);
  });
});

describe("connection failures", () => {
  it("refused port", async () => {
    const port = await findRefusedPort();
    for (const transport of ["streamable_http", "sse"] as const) {
      const error = await failure(
        connectMcp(httpTestTarget(transport, `http://127.0.0.1:${port}/mcp`), CLIENT),
      );
      expect(error).toMatchObject({
        kind: "unreachable",
        message: `Connection refused at 127.0.0.1:${port}`,
      });
    }
  });

  it("unresolvable host", async () => {
    const error = await failure(
      connectMcp(httpTestTarget("streamable_http", "http://does-not-exist.invalid/mcp"), CLIENT),
    );
    expect(error.kind).toBe("unreachable");
    expect(error.message).toMatch(/^Could not resolve host does-not-exist\.invalid \(E[A-Z_]+\)$/);
  });

  it("TLS failure (https to a plain HTTP port)", async () => {
    const plain = new URL(http.url);
    const error = await failure(
      connectMcp(httpTestTarget("streamable_http", `https://127.0.0.1:${plain.port}/mcp`), CLIENT),
    );
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain(`TLS handshake with 127.0.0.1:${plain.port} failed`);
  });

  it("401 without or with a wrong bearer token, ok with the right one", async () => {
    const secured = await startTestMcpServer({ bearerToken: "s3cret-token" });
    const securedSse = await startSseTestMcpServer({ bearerToken: "s3cret-token" });
    try {
      for (const [transport, url] of [
        ["streamable_http", secured.url],
        ["sse", securedSse.url],
      ] as const) {
        const missing = await failure(connectMcp(httpTestTarget(transport, url), CLIENT));
        expect(missing).toMatchObject({
          kind: "auth",
          message: "Upstream answered 401 Unauthorized",
          code: 401,
        });
        const wrong = await failure(
          connectMcp(
            httpTestTarget(transport, url, {
              secret: { headers: { authorization: "Bearer nope-nope" }, env: {} },
            }),
            CLIENT,
          ),
        );
        expect(wrong.kind).toBe("auth");
        const session = await connectMcp(
          httpTestTarget(transport, url, {
            secret: { headers: { authorization: "Bearer s3cret-token" }, env: {} },
          }),
          CLIENT,
        );
        expect(textOf(await session.callTool("echo", { text: "in" }, { timeoutMs: 2_000 }))).toBe(
          "in",
        );
        await session.close();
      }
    } finally {
      await Promise.all([secured.close(), securedSse.close()]);
    }
  });

  it("HTML page instead of MCP", async () => {
    const streamable = await failure(
      connectMcp(httpTestTarget("streamable_http", nonMcp.html), CLIENT),
    );
    expect(streamable).toMatchObject({
      kind: "protocol",
      message: "Server did not speak MCP: it answered with content type text/html; charset=utf-8",
    });
    const legacy = await failure(connectMcp(httpTestTarget("sse", nonMcp.html), CLIENT));
    expect(legacy).toMatchObject({
      kind: "protocol",
      message: "Server did not speak MCP: its SSE endpoint did not answer with an event stream",
    });
  });

  it("JSON that is not JSON-RPC, and invalid JSON", async () => {
    const notRpc = await failure(
      connectMcp(httpTestTarget("streamable_http", nonMcp.notJsonRpc), CLIENT),
    );
    expect(notRpc).toMatchObject({
      kind: "protocol",
      message: "Server did not speak MCP: it sent a message that is not valid MCP JSON-RPC",
    });
    const invalid = await failure(
      connectMcp(httpTestTarget("streamable_http", nonMcp.invalidJson), CLIENT),
    );
    expect(invalid).toMatchObject({
      kind: "protocol",
      message: "Server did not speak MCP: it sent invalid JSON",
    });
  });

  it("HTTP errors", async () => {
    const notFound = await failure(
      connectMcp(httpTestTarget("streamable_http", nonMcp.status(404)), CLIENT),
    );
    expect(notFound).toMatchObject({
      kind: "protocol",
      message: "Server did not speak MCP: it answered 404 Not Found",
    });
    const badGateway = await failure(
      connectMcp(httpTestTarget("streamable_http", nonMcp.status(502)), CLIENT),
    );
    expect(badGateway).toMatchObject({
      kind: "upstream",
      message: "Upstream answered 502 Bad Gateway",
      code: 502,
    });
    const forbidden = await failure(connectMcp(httpTestTarget("sse", nonMcp.status(403)), CLIENT));
    expect(forbidden).toMatchObject({ kind: "auth", message: "Upstream answered 403 Forbidden" });
  });

  it("a server that never answers times out within the budget", async () => {
    for (const transport of ["streamable_http", "sse"] as const) {
      const error = await failure(
        connectMcp(httpTestTarget(transport, nonMcp.hang, { timeout_ms: 400 }), CLIENT),
      );
      expect(error).toMatchObject({ kind: "timeout", message: "Timed out after 400 ms" });
    }
  });

  it("enforces the outbound policy when given", async () => {
    const error = await failure(
      connectMcp(httpTestTarget("streamable_http", http.url), {
        ...CLIENT,
        policy: { blockPrivateNetworks: true, stdioServers: [] },
      }),
    );
    expect(error.kind).toBe("unreachable");
    expect(error.message).toBe(
      "Refused by outbound policy: Address 127.0.0.1 is a loopback address; connections to private and internal networks are blocked on this server",
    );
    const stdioRefused = await failure(
      connectMcp(stdio.target(), {
        ...CLIENT,
        policy: { blockPrivateNetworks: true, stdioServers: [{ id: "other" }] },
      }),
    );
    expect(stdioRefused.message).toBe(
      'Refused by outbound policy: Stdio server "test" is not declared on this server (MCP_STDIO_SERVERS)',
    );
    const allowed = await connectMcp(stdio.target(), {
      ...CLIENT,
      policy: { blockPrivateNetworks: true, stdioServers: [{ id: "test" }] },
    });
    await allowed.close();
  });

  it("rejects invalid headers without echoing their values", async () => {
    const error: unknown = await connectMcp(
      httpTestTarget("streamable_http", http.url, {
        secret: { headers: { authorization: "Bearer abc\ndef" }, env: {} },
      }),
      CLIENT,
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      message: 'Header "authorization" has an invalid name or value',
      issues: [{ path: ["headers", "authorization"] }],
    });
    await expect(
      connectMcp(
        httpTestTarget("streamable_http", http.url, { headers: { "bad header": "x" } }),
        CLIENT,
      ),
    ).rejects.toBeInstanceOf(AppError);
  });

  it("rejects incomplete targets as bad input", async () => {
    await expect(connectMcp(httpTestTarget("streamable_http", ""), CLIENT)).rejects.toBeInstanceOf(
      AppError,
    );
    await expect(connectMcp(stdio.target({ stdio: null }), CLIENT)).rejects.toMatchObject({
      code: "BAD_REQUEST",
      issues: [{ path: ["stdio_server"] }],
    });
  });

  it("never leaks secrets into messages", async () => {
    const echoing = await startTestMcpServer({
      tools: [
        {
          name: "leak",
          handler: (_args, ctx) => {
            throw new Error(`bad key ${ctx.headers["x-api-key"] ?? ""}`);
          },
        },
      ],
    });
    try {
      const session = await connectMcp(
        httpTestTarget("streamable_http", echoing.url, {
          secret: { headers: { "x-api-key": "very-secret-value" }, env: {} },
        }),
        CLIENT,
      );
      const error = await failure(session.callTool("leak", {}, { timeoutMs: 2_000 }));
      expect(error).toMatchObject({ kind: "upstream", code: -32603 });
      expect(error.message).toContain("bad key [redacted]");
      expect(error.message).not.toContain("very-secret-value");
      await session.close();
    } finally {
      await echoing.close();
    }
  });
});

// Concurrent: most of this group is waiting on child processes.
describe.concurrent("stdio specifics", () => {
  it("passes secret env and withholds the platform's own environment", async ({ expect }) => {
    process.env.MCP_TEST_PLATFORM_SECRET = "platform-only";
    try {
      const session = await connectMcp(
        stdio.target({ secret: { headers: {}, env: { UPSTREAM_TOKEN: "tok-abcdef" } } }),
        CLIENT,
      );
      const result = await session.callTool(
        "env",
        { names: ["UPSTREAM_TOKEN", "MCP_TEST_PLATFORM_SECRET", "PATH"] },
        { timeoutMs: 2_000 },
      );
      expect(result.structuredContent).toMatchObject({
        UPSTREAM_TOKEN: "tok-abcdef",
        MCP_TEST_PLATFORM_SECRET: null,
      });
      expect(result.structuredContent?.PATH).toEqual(expect.any(String));
      await session.close();
    } finally {
      delete process.env.MCP_TEST_PLATFORM_SECRET;
    }
  });

  it("a server that exits mid-call fails the call with its stderr, and leaves no process", async ({
    expect,
  }) => {
    const session = await connectMcp(stdio.target(), CLIENT);
    const pid = session.pid;
    expect(pid).toEqual(expect.any(Number));
    const error = await failure(session.callTool("crash", {}, { timeoutMs: 5_000 }));
    expect(error).toMatchObject({ kind: "closed", sessionLost: true });
    expect(error.message).toContain("MCP server process exited");
    expect(error.message).toContain("fatal: crashing on purpose");
    expect(session.closed).toBe(true);
    await waitUntil(() => processGone(pid ?? -1));
  });

  it("close() ends the child process", async ({ expect }) => {
    const session = await connectMcp(stdio.target(), CLIENT);
    const pid = session.pid ?? -1;
    expect(processGone(pid)).toBe(false);
    await session.close();
    expect(processGone(pid)).toBe(true);
  });

  it("close() also ends a child that ignores stdin closing", async ({ expect }) => {
    const stubborn = await prepareStdioTestServer(["--ignore-stdin-eof"]);
    const session = await connectMcp(stubborn.target(), CLIENT);
    const pid = session.pid ?? -1;
    expect(processGone(pid)).toBe(false);
    await session.close();
    expect(session.closed).toBe(true);
    await waitUntil(() => processGone(pid));
  });

  it("command not found", async ({ expect }) => {
    const error = await failure(
      connectMcp(
        stdio.target({
          stdio: stdio.launch({ command: "definitely-not-a-command-xyz" }),
        }),
        CLIENT,
      ),
    );
    expect(error).toMatchObject({
      kind: "unreachable",
      message: "Command not found: definitely-not-a-command-xyz",
    });
  });

  it("a server that exits on start reports its stderr", async ({ expect }) => {
    const failing = await prepareStdioTestServer(["--exit-on-start", "2"]);
    const error = await failure(connectMcp(failing.target(), CLIENT));
    expect(error.kind).toBe("closed");
    expect(error.message).toBe(
      "MCP server process exited during the MCP handshake; stderr: fatal: missing configuration, refusing to start",
    );
  });

  it("a program that does not speak MCP fails within the timeout", async ({ expect }) => {
    const garbage = await prepareStdioTestServer(["--garbage"]);
    const error = await failure(connectMcp(garbage.target({ timeout_ms: 2_500 }), CLIENT));
    expect(error).toMatchObject({
      kind: "protocol",
      message: "Server did not speak MCP: it sent output that is not MCP JSON-RPC",
    });
  });

  it("redacts secret env values that show up in stderr", async ({ expect }) => {
    const failing = await prepareStdioTestServer(["--exit-on-start", "1"]);
    const error = await failure(
      connectMcp(
        failing.target({ secret: { headers: {}, env: { TOKEN: "configuration" } } }),
        CLIENT,
      ),
    );
    expect(error.message).toContain("missing [redacted], refusing to start");
  });
});
