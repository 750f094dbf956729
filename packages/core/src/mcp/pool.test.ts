import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  findRefusedPort,
  httpTestTarget,
  prepareStdioTestServer,
  startSseTestMcpServer,
  startTestMcpServer,
} from "../testing/mcp-servers";
import { processGone, waitUntil } from "../testing/wait";
import type { RunningTestMcpServer, StdioTestServer } from "../testing/mcp-servers";
import type { McpSession } from "./client";
import { McpCallError } from "./errors";
import { McpClientPool } from "./pool";

const CLIENT = { clientName: "pool-tests", clientVersion: "0.0.1" };

const capture = (session: McpSession): Promise<McpSession> => Promise.resolve(session);

let http: RunningTestMcpServer;
let stdio: StdioTestServer;

beforeAll(async () => {
  [http, stdio] = await Promise.all([startTestMcpServer(), prepareStdioTestServer()]);
});

afterAll(async () => {
  await http.close();
});

describe("McpClientPool", () => {
  it("reuses one initialized session, and concurrent first uses share one connect", async () => {
    const pool = new McpClientPool(CLIENT);
    const target = httpTestTarget("streamable_http", http.url);
    const before = http.sessionsCreated;
    try {
      const concurrent = await Promise.all(
        Array.from({ length: 5 }, () => pool.withSession("conn-1", "v1", target, capture)),
      );
      const again = await pool.withSession("conn-1", "v1", target, capture);
      expect(new Set([...concurrent, again]).size).toBe(1);
      expect(http.sessionsCreated - before).toBe(1);
      expect(pool.size).toBe(1);
    } finally {
      await pool.closeAll();
    }
  });

  it("opens a new session when the version changes and closes the old one", async () => {
    const pool = new McpClientPool(CLIENT);
    const target = httpTestTarget("streamable_http", http.url);
    try {
      const first = await pool.withSession("conn-1", "2024-01-01T00:00:00.000Z", target, capture);
      const second = await pool.withSession("conn-1", "2024-01-02T00:00:00.000Z", target, capture);
      expect(second).not.toBe(first);
      await waitUntil(() => first.closed);
      expect(second.closed).toBe(false);
    } finally {
      await pool.closeAll();
    }
  });

  it("waits for in-flight calls before retiring an outdated session", async () => {
    const pool = new McpClientPool(CLIENT);
    const target = httpTestTarget("streamable_http", http.url);
    try {
      const started = http.nextCall("started", "slow");
      const slow = pool.withSession("conn-1", "v1", target, (session) =>
        session.callTool("slow", { ms: 200 }, { timeoutMs: 2_000 }),
      );
      await started;
      const fresh = await pool.withSession("conn-1", "v2", target, capture);
      const result = await slow;
      expect(result.content).toEqual([{ type: "text", text: "slept 200 ms" }]);
      expect(fresh.closed).toBe(false);
    } finally {
      await pool.closeAll();
    }
  });

  it("reconnects once when the upstream session expired (HTTP 404)", async () => {
    const pool = new McpClientPool(CLIENT);
    const target = httpTestTarget("streamable_http", http.url);
    try {
      const first = await pool.withSession("conn-1", "v1", target, capture);
      await http.dropSessions();
      let attempts = 0;
      const result = await pool.withSession("conn-1", "v1", target, async (session) => {
        attempts++;
        return {
          session,
          result: await session.callTool("echo", { text: "again" }, { timeoutMs: 2_000 }),
        };
      });
      expect(attempts).toBe(2);
      expect(result.session).not.toBe(first);
      expect(result.result.content).toEqual([{ type: "text", text: "again" }]);
      expect(first.closed).toBe(true);
    } finally {
      await pool.closeAll();
    }
  });

  it("replaces a legacy SSE session whose stream dropped", async () => {
    const sse = await startSseTestMcpServer();
    const pool = new McpClientPool(CLIENT);
    const target = httpTestTarget("sse", sse.url);
    try {
      const first = await pool.withSession("conn-sse", "v1", target, capture);
      await sse.dropSessions();
      await waitUntil(() => first.closed);
      const result = await pool.withSession("conn-sse", "v1", target, (session) =>
        session.callTool("echo", { text: "back" }, { timeoutMs: 2_000 }),
      );
      expect(result.content).toEqual([{ type: "text", text: "back" }]);
    } finally {
      await pool.closeAll();
      await sse.close();
    }
  });

  it("does not retry failures that are not session loss", async () => {
    const pool = new McpClientPool(CLIENT);
    const target = httpTestTarget("streamable_http", http.url);
    try {
      let attempts = 0;
      const error: unknown = await pool
        .withSession("conn-1", "v1", target, (session) => {
          attempts++;
          return session.callTool("slow", { ms: 1_000 }, { timeoutMs: 100 });
        })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(McpCallError);
      expect(error).toMatchObject({ kind: "timeout" });
      expect(attempts).toBe(1);
    } finally {
      await pool.closeAll();
    }
  });

  it("does not cache failed connects", async () => {
    const pool = new McpClientPool(CLIENT);
    const port = await findRefusedPort();
    const target = httpTestTarget("streamable_http", `http://127.0.0.1:${port}/mcp`);
    await expect(pool.withSession("conn-down", "v1", target, capture)).rejects.toMatchObject({
      kind: "unreachable",
    });
    expect(pool.size).toBe(0);
    await pool.closeAll();
  });

  it("restarts a stdio server that died while idle", async () => {
    const pool = new McpClientPool(CLIENT);
    const target = stdio.target();
    try {
      const first = await pool.withSession("conn-stdio", "v1", target, capture);
      process.kill(first.pid ?? -1, "SIGKILL");
      await waitUntil(() => first.closed);
      const second = await pool.withSession("conn-stdio", "v1", target, capture);
      expect(second).not.toBe(first);
      expect(second.pid).not.toBe(first.pid);
      expect(processGone(first.pid)).toBe(true);
    } finally {
      await pool.closeAll();
    }
  });

  it("retries a stdio call whose process exited once, then fails without leaving processes", async () => {
    const pool = new McpClientPool(CLIENT);
    const pids: (number | null)[] = [];
    try {
      const error: unknown = await pool
        .withSession("conn-stdio", "v1", stdio.target(), (session) => {
          pids.push(session.pid);
          return session.callTool("crash", {}, { timeoutMs: 5_000 });
        })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ kind: "closed", sessionLost: true });
      expect(pids).toHaveLength(2);
      expect(pids[0]).not.toBe(pids[1]);
      await waitUntil(() => pids.every(processGone));
    } finally {
      await pool.closeAll();
    }
  });

  it("sends a call with effects again only when it certainly never ran upstream", async () => {
    const pool = new McpClientPool(CLIENT);
    const pids: (number | null)[] = [];
    try {
      // The process dies mid-call: it may have done the work, so the call is not repeated.
      const error: unknown = await pool
        .withSession(
          "conn-stdio",
          "v1",
          stdio.target(),
          (session) => {
            pids.push(session.pid);
            return session.callTool("crash", {}, { timeoutMs: 5_000 });
          },
          { idempotent: false },
        )
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ kind: "closed", sessionLost: true, undelivered: false });
      expect(pids).toHaveLength(1);
      // The lost session was replaced: the next call gets a new process.
      const next = await pool.withSession("conn-stdio", "v1", stdio.target(), capture, {
        idempotent: false,
      });
      expect(next.pid).not.toBe(pids[0]);

      // An expired HTTP session refuses the request unprocessed: that one is sent again.
      const target = httpTestTarget("streamable_http", http.url);
      await pool.withSession("conn-http", "v1", target, capture);
      await http.dropSessions();
      let attempts = 0;
      const result = await pool.withSession(
        "conn-http",
        "v1",
        target,
        (session) => {
          attempts++;
          return session.callTool("echo", { text: "once" }, { timeoutMs: 2_000 });
        },
        { idempotent: false },
      );
      expect(attempts).toBe(2);
      expect(result.content).toEqual([{ type: "text", text: "once" }]);
    } finally {
      await pool.closeAll();
    }
  });

  it("closes idle sessions and stops their processes", async () => {
    const pool = new McpClientPool({ ...CLIENT, idleMs: 150 });
    try {
      const session = await pool.withSession("conn-stdio", "v1", stdio.target(), capture);
      expect(processGone(session.pid)).toBe(false);
      await waitUntil(() => session.closed && processGone(session.pid));
      expect(pool.size).toBe(0);
    } finally {
      await pool.closeAll();
    }
  });

  it("evicts the least recently used idle session beyond maxSize", async () => {
    const pool = new McpClientPool({ ...CLIENT, maxSize: 2 });
    const target = httpTestTarget("streamable_http", http.url);
    try {
      const a = await pool.withSession("a", "v1", target, capture);
      const b = await pool.withSession("b", "v1", target, capture);
      await pool.withSession("a", "v1", target, capture);
      const c = await pool.withSession("c", "v1", target, capture);
      expect(pool.size).toBe(2);
      await waitUntil(() => b.closed);
      expect(a.closed).toBe(false);
      expect(c.closed).toBe(false);
    } finally {
      await pool.closeAll();
    }
  });

  it("closeAll closes everything, kills stdio children and refuses further use", async () => {
    const pool = new McpClientPool(CLIENT);
    const sessions = await Promise.all([
      pool.withSession("http", "v1", httpTestTarget("streamable_http", http.url), capture),
      pool.withSession("stdio-1", "v1", stdio.target(), capture),
      pool.withSession("stdio-2", "v1", stdio.target(), capture),
    ]);
    await pool.closeAll();
    expect(sessions.every((session) => session.closed)).toBe(true);
    expect(processGone(sessions[1].pid)).toBe(true);
    expect(processGone(sessions[2].pid)).toBe(true);
    await expect(
      pool.withSession("http", "v1", httpTestTarget("streamable_http", http.url), capture),
    ).rejects.toMatchObject({ kind: "closed", message: "The MCP client pool has been shut down" });
  });
});
