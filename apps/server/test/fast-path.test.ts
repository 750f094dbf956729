import { randomBytes } from "node:crypto";
import {
  brokenAnswerTestTools,
  brokenTestAnswers,
  jsonRpcErrorTestTool,
  stallTestTool,
  startTamperingProxy,
  startTestMcpServer,
  type RunningMcpServer,
  type RunningTestMcpServer,
} from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrg, databaseUnavailable, startTestServer, type TestServer } from "./harness";

/*
 * The differential test of the gateway's fast path (gateway/tool-call.ts answering `tools/call`,
 * core's hand-written upstream `tools/call` and node:http transport) against the MCP SDK doing the
 * same work (MCP_GATEWAY_FAST_PATH=false, MCP_CLIENT_FAST_PATH=false). Two servers on one
 * database serve the same agent; every protocol case goes to both and what a client receives is
 * compared: status, content type and body bytes.
 */

interface Received {
  status: number;
  contentType: string | null;
  body: string;
}

/** The JSON-RPC messages of an SSE body, as the bytes of each `data:` field. */
function sseData(body: string): string[] {
  return body
    .split("\n\n")
    .filter((event) => event.trim() !== "")
    .map((event) =>
      event
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice("data: ".length))
        .join("\n"),
    );
}

/**
 * The one difference the two paths keep. The SDK's transport decides between one JSON body and an
 * SSE stream before the handler runs, so with streaming enabled (needed for progress and log
 * notifications) it streams every `tools/call`; the fast path answers with JSON until the first
 * notification, and streams from then on. The spec lets a server answer a request either way
 * (Streamable HTTP, "Sending Messages to the Server": `text/event-stream` or `application/json`)
 * and clients must accept both, so a JSON body equal to a stream holding that one message is the
 * same answer. Anything else must match byte for byte.
 */
function expectSameAnswer(name: string, fast: Received, sdk: Received): void {
  expect(fast.status, `${name}: status`).toBe(sdk.status);
  if (fast.contentType === "application/json" && sdk.contentType === "text/event-stream") {
    expect(
      sseData(sdk.body),
      `${name}: the SDK's stream holds the fast path's one message`,
    ).toEqual([fast.body]);
    return;
  }
  expect(fast.contentType, `${name}: content-type`).toBe(sdk.contentType);
  expect(fast.body, `${name}: body`).toBe(sdk.body);
}

describe.skipIf(databaseUnavailable)("MCP fast paths behave as the SDK does", () => {
  let fast: TestServer;
  let sdk: TestServer;
  let upstream: RunningTestMcpServer;
  let brokenUpstream: RunningTestMcpServer;
  let proxy: RunningMcpServer;
  let agentId: string;
  let key: string;

  beforeAll(async () => {
    [fast, sdk, upstream, brokenUpstream] = await Promise.all([
      startTestServer({ MCP_GATEWAY_FAST_PATH: "true", MCP_CLIENT_FAST_PATH: "true" }),
      startTestServer({ MCP_GATEWAY_FAST_PATH: "false", MCP_CLIENT_FAST_PATH: "false" }),
      startTestMcpServer({ tools: [jsonRpcErrorTestTool] }),
      startTestMcpServer({ builtinTools: false, tools: [stallTestTool, ...brokenAnswerTestTools] }),
    ]);
    proxy = await startTamperingProxy(brokenUpstream.url, brokenTestAnswers);

    // Everything is set up before the first call, so neither server's cache can be stale.
    const org = await createOrg(fast);
    const token = org.owner.token;
    const created = async (path: string, body: unknown) => {
      const response = await fast.request("POST", path, { token, body });
      expect(response.status, `${path}: ${JSON.stringify(response.body)}`).toBe(201);
      return response.body as { id: string; key: string };
    };
    const connection = async (body: Record<string, unknown>) => {
      const conn = await created(`/orgs/${org.id}/connections/`, {
        name: `conn-${randomBytes(3).toString("hex")}`,
        transport: "streamable_http",
        ...body,
      });
      const sync = await fast.request("POST", `/connections/${conn.id}/sync/`, { token });
      expect(sync.status, JSON.stringify(sync.body)).toBe(200);
      const list = await fast.request("GET", `/orgs/${org.id}/tools/?connection_id=${conn.id}`, {
        token,
      });
      return new Map(
        (list.body.results as { upstream_name: string; id: string }[]).map((tool) => [
          tool.upstream_name,
          tool.id,
        ]),
      );
    };
    const tools = await connection({ url: upstream.url });
    // The deadline is what the timeout case waits for; it only has to be short.
    await connection({ url: proxy.url, timeout_ms: 300 });
    const agent = await created(`/orgs/${org.id}/agents/`, { name: "Differential" });
    agentId = agent.id;
    key = (await created(`/agents/${agentId}/keys/`, { name: "diff" })).key;
    await created(`/orgs/${org.id}/policies/`, {
      name: "all",
      effect: "allow",
      agent_id: agentId,
      tool_pattern: "*",
    });
    await created(`/orgs/${org.id}/policies/`, {
      name: "no-headers",
      effect: "deny",
      agent_id: agentId,
      tool_pattern: "echo_headers",
    });
    const disabled = await fast.request("PATCH", `/tools/${tools.get("mixed") ?? ""}/`, {
      token,
      body: { enabled: false },
    });
    expect(disabled.status).toBe(200);
  });

  afterAll(async () => {
    await Promise.all([fast.close(), sdk.close(), upstream.close(), brokenUpstream.close()]);
    await proxy.close();
  });

  async function post(
    server: TestServer,
    name: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<Received> {
    const response = await fetch(`${server.url}/mcp/${agentId}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${key}`,
        // Internal errors name the request; the same id on both sides keeps their bytes equal.
        "x-request-id": `diff-${name.replace(/[^a-z0-9]+/gi, "-")}`,
        ...headers,
      },
      body,
    });
    return {
      status: response.status,
      contentType: response.headers.get("content-type"),
      body: await response.text(),
    };
  }

  /** Sends one case to both servers, compares, and returns the fast path's answer. */
  async function differential(
    name: string,
    message: unknown,
    headers: Record<string, string> = {},
  ): Promise<Received> {
    const body = typeof message === "string" ? message : JSON.stringify(message);
    const [onFast, onSdk] = await Promise.all([
      post(fast, name, body, headers),
      post(sdk, name, body, headers),
    ]);
    expectSameAnswer(name, onFast, onSdk);
    return onFast;
  }

  const call = (id: unknown, params: unknown) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params,
  });

  /** The one JSON-RPC message of an answer, whichever way it came. */
  function messageOf(received: Received): { result?: Record<string, unknown>; error?: unknown } {
    const [data] =
      received.contentType === "text/event-stream"
        ? sseData(received.body).slice(-1)
        : [received.body];
    return JSON.parse(data ?? "null") as { result?: Record<string, unknown>; error?: unknown };
  }

  it("calls that succeed, with text and structured output", async () => {
    const echo = await differential("echo", call(1, { name: "echo", arguments: { text: "hi" } }));
    expect(messageOf(echo)).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { content: [{ type: "text", text: "hi" }] },
    });
    // The switch really changes paths: only the SDK's transport streams a plain call.
    const viaSdk = await post(sdk, "echo", JSON.stringify(call(1, { name: "echo" })), {});
    expect([echo.contentType, viaSdk.contentType]).toEqual([
      "application/json",
      "text/event-stream",
    ]);
    const add = await differential("add", call("s", { name: "add", arguments: { a: 2, b: 3 } }));
    expect(messageOf(add).result).toMatchObject({ structuredContent: { sum: 5 } });
  });

  it("tool errors, unknown, denied and disabled tools", async () => {
    const failed = await differential("fail", call(2, { name: "fail", arguments: {} }));
    expect(messageOf(failed).result).toMatchObject({ isError: true });
    const unknown = await differential("unknown", call(3, { name: "nope", arguments: {} }));
    expect(messageOf(unknown).error).toMatchObject({ code: -32602 });
    const denied = await differential("denied", call(4, { name: "echo_headers", arguments: {} }));
    expect(JSON.stringify(messageOf(denied).result)).toMatch(/Denied by policy 'no-headers'/);
    const disabled = await differential("disabled", call(5, { name: "mixed", arguments: {} }));
    expect(JSON.stringify(messageOf(disabled).result)).toMatch(/disabled/);
  });

  it("invalid params: wrong types, missing name, arguments not an object", async () => {
    const cases: [string, unknown][] = [
      ["argument of the wrong type", { name: "echo", arguments: { text: 5 } }],
      ["missing name", { arguments: {} }],
      ["name not a string", { name: 5, arguments: {} }],
      ["arguments an array", { name: "echo", arguments: [1] }],
      ["arguments a string", { name: "echo", arguments: "text" }],
      ["params an array", [1, 2]],
      ["no params", undefined],
    ];
    for (const [name, params] of cases) {
      const received = await differential(name, call(6, params));
      expect(received.status, name).toBeLessThan(500);
    }
  });

  it("oversize and too deeply nested arguments", async () => {
    const tooBig = await differential(
      "oversize",
      call(7, { name: "echo", arguments: { text: "x".repeat(1024 * 1024 + 1) } }),
    );
    expect(tooBig.status).toBe(413);
    let deep: unknown = "bottom";
    for (let level = 0; level < 200; level++) deep = { deeper: deep };
    const tooDeep = await differential("deep", call(8, { name: "echo", arguments: { deep } }));
    expect(messageOf(tooDeep).error).toMatchObject({ code: -32602 });
  });

  it("batches, notifications, and JSON-RPC ids of every type", async () => {
    await differential("batch", [
      call(1, { name: "echo", arguments: { text: "a" } }),
      call(2, { name: "add", arguments: { a: 1, b: 1 } }),
    ]);
    const notification = await differential("notification", {
      jsonrpc: "2.0",
      method: "notifications/initialized",
    });
    expect(notification.status).toBe(202);
    for (const id of ["text-id", 42, 0, -1, null, 1.5, { no: "object" }, true]) {
      await differential(`id ${JSON.stringify(id)}`, call(id, { name: "echo", arguments: {} }));
    }
    await differential("no id", {
      jsonrpc: "2.0",
      method: "tools/call",
      params: { name: "echo", arguments: { text: "x" } },
    });
    await differential("wrong jsonrpc", { ...call(9, { name: "echo" }), jsonrpc: "1.0" });
    await differential("not JSON", "{nope");
  });

  it("headers: Accept, Content-Type, protocol version", async () => {
    const echo = call(10, { name: "echo", arguments: { text: "h" } });
    const onlyJson = await differential("accept json only", echo, { accept: "application/json" });
    expect(onlyJson.status).toBe(406);
    await differential("accept sse only", echo, { accept: "text/event-stream" });
    await differential("no accept", echo, { accept: "" });
    await differential("text content type", echo, { "content-type": "text/plain" });
    await differential("json with charset", echo, {
      "content-type": "application/json; charset=utf-8",
    });
    const unknownVersion = await differential("unknown version", echo, {
      "mcp-protocol-version": "1999-01-01",
    });
    expect(unknownVersion.status).toBe(400);
    for (const version of ["2025-06-18", "2025-11-25", "2025-03-26"])
      await differential(`version ${version}`, echo, { "mcp-protocol-version": version });
  });

  it("upstream JSON-RPC errors, garbage, HTTP errors and timeouts", async () => {
    for (const tool of [
      "upstream_error",
      "garbage_result",
      "not_json",
      "http_500",
      "html",
      "stall",
    ]) {
      const received = await differential(tool, call(tool, { name: tool, arguments: {} }));
      expect(messageOf(received).result, tool).toMatchObject({ isError: true });
    }
  });

  it("kept difference: an upstream JSON answer that is not the call's response", async () => {
    /*
     * A 200 `application/json` answer to a POSTed request must be that request's response
     * (Streamable HTTP, "Sending Messages to the Server"); here it answers another id. Core's
     * node:http transport checks the envelope and fails the call at once; the SDK's transport
     * hands the stray message to the client, which drops it, and the call waits out its deadline.
     * Same outcome for the client (a tool error), sooner and with the real reason on the fast
     * path, so the difference is kept.
     */
    const message = call("wrong", { name: "wrong_id", arguments: {} });
    const [onFast, onSdk] = await Promise.all([
      post(fast, "wrong-id", JSON.stringify(message), {}),
      post(sdk, "wrong-id", JSON.stringify(message), {}),
    ]);
    expect(messageOf(onFast).result).toMatchObject({ isError: true });
    expect(JSON.stringify(messageOf(onFast).result)).toContain("without a response to the request");
    expect(messageOf(onSdk).result).toMatchObject({ isError: true });
    expect(JSON.stringify(messageOf(onSdk).result)).toContain("Timed out after 300 ms");
  });

  it("progress and log notifications", async () => {
    const withToken = await differential(
      "progress token",
      call(11, {
        name: "progress",
        arguments: { steps: 2, delayMs: 0 },
        _meta: { progressToken: "p-1" },
      }),
    );
    expect(withToken.contentType).toBe("text/event-stream");
    expect(withToken.body).toContain('"progressToken":"p-1"');
    await differential(
      "numeric progress token",
      call(12, {
        name: "progress",
        arguments: { steps: 1, delayMs: 0 },
        _meta: { progressToken: 0 },
      }),
    );
    // Without a token only the log notifications are sent.
    await differential("logs only", call(13, { name: "progress", arguments: { steps: 1 } }));
  });
});
