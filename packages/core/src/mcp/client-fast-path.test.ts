import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  brokenAnswerTestTools,
  brokenTestAnswers,
  httpTestTarget,
  jsonRpcErrorTestTool,
  stallTestTool,
  startTamperingProxy,
  startTestMcpServer,
  type RunningMcpServer,
  type RunningTestMcpServer,
} from "../testing/mcp-servers";
import { connectMcp, isMcpCallError, type McpCallOptions, type McpSession } from "./client";

/*
 * The differential test of the client's fast path (node:http Streamable HTTP transport and
 * `tools/call` by hand) against the SDK's transport and `Client.callTool`: the same upstream
 * answers must give the same CallToolResult, the same notifications in the same order, or the
 * same McpCallError kind and message.
 */

type Outcome =
  | { result: unknown; events: unknown[] }
  | { error: { kind: string; message: string }; events: unknown[] };

describe("MCP client fast path behaves as the SDK client does", () => {
  let upstream: RunningTestMcpServer;
  let proxy: RunningMcpServer;
  const sessions: { fast: McpSession; sdk: McpSession }[] = [];

  beforeAll(async () => {
    upstream = await startTestMcpServer({
      tools: [stallTestTool, jsonRpcErrorTestTool, ...brokenAnswerTestTools],
    });
    proxy = await startTamperingProxy(upstream.url, brokenTestAnswers);
  });

  afterAll(async () => {
    await Promise.all(
      sessions.flatMap(({ fast, sdk }) => [fast.close(), sdk.close()]).concat(proxy.close()),
    );
    await upstream.close();
  });

  async function bothSessions(timeoutMs = 5_000): Promise<{ fast: McpSession; sdk: McpSession }> {
    const target = httpTestTarget("streamable_http", proxy.url, { timeout_ms: timeoutMs });
    const info = { clientName: "differential", clientVersion: "1.0.0" };
    const [fast, sdk] = await Promise.all([
      connectMcp(target, { ...info, fastPath: true }),
      connectMcp(target, { ...info, fastPath: false }),
    ]);
    sessions.push({ fast, sdk });
    return { fast, sdk };
  }

  async function outcome(
    session: McpSession,
    name: string,
    args: Record<string, unknown>,
    opts: Partial<McpCallOptions> = {},
  ): Promise<Outcome> {
    const events: unknown[] = [];
    try {
      const result = await session.callTool(name, args, {
        timeoutMs: opts.timeoutMs ?? 5_000,
        onProgress: (progress) => events.push({ progress }),
        onLog: (entry) => events.push({ log: entry }),
      });
      return { result, events };
    } catch (error) {
      if (!isMcpCallError(error)) throw error;
      return { error: { kind: error.kind, message: error.message }, events };
    }
  }

  it("results, tool errors and upstream JSON-RPC errors", async () => {
    const { fast, sdk } = await bothSessions();
    const cases: [string, Record<string, unknown>][] = [
      ["echo", { text: "hi" }],
      ["add", { a: 2, b: 3 }],
      ["mixed", {}],
      ["fail", {}],
      ["echo", { text: 5 }],
      ["no_such_tool", {}],
      ["upstream_error", {}],
      ["progress", { steps: 3, delayMs: 0 }],
    ];
    for (const [name, args] of cases) {
      const [onFast, onSdk] = await Promise.all([
        outcome(fast, name, args),
        outcome(sdk, name, args),
      ]);
      expect(onFast, `${name} ${JSON.stringify(args)}`).toEqual(onSdk);
    }
    const progress = await outcome(fast, "progress", { steps: 2, delayMs: 0 });
    // Progress and logs interleave as the server sent them.
    expect(progress.events.map((event) => Object.keys(event as object)[0])).toEqual([
      "progress",
      "log",
      "progress",
      "log",
    ]);
  });

  it("garbage, HTTP errors and a deadline", async () => {
    const { fast, sdk } = await bothSessions(300);
    for (const name of ["garbage_result", "not_json", "http_500", "html", "stall"]) {
      const [onFast, onSdk] = await Promise.all([
        outcome(fast, name, {}, { timeoutMs: 300 }),
        outcome(sdk, name, {}, { timeoutMs: 300 }),
      ]);
      expect("error" in onFast, name).toBe(true);
      expect(onFast, name).toEqual(onSdk);
    }
  });
});
