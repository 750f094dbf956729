import { randomUUID } from "node:crypto";
import { setImmediate } from "node:timers/promises";
import {
  RunRecorder,
  uuidv7,
  type JsonObject,
  type RecordFailure,
  type RunRecorderOptions,
} from "@mcp/core";
import { schema } from "@mcp/core/db";
import { eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { governance } from "./governance";
import {
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  TEST_DB,
  type TestServer,
  toolCall,
} from "./harness";

type RunRow = Parameters<RunRecorder["started"]>[0];
type AuditRow = Parameters<RunRecorder["finished"]>[1];

describe.skipIf(databaseUnavailable)("run recorder", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  const errors: RecordFailure[] = [];
  const onError: RunRecorderOptions["onError"] = (failure) => {
    errors.push(failure);
  };

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  function running(orgId: string, overrides: Partial<RunRow> = {}): RunRow {
    return {
      id: uuidv7(),
      org_id: orgId,
      kind: "tool",
      tool_id: null,
      tool_name: "echo",
      agent_id: null,
      user_id: null,
      environment_id: null,
      status: "running",
      input: { text: "hi" },
      output: null,
      output_truncated: false,
      error: null,
      decision: { allowed: true },
      triggered_by: { type: "user", id: "u", surface: "rest" },
      started_at: new Date(),
      finished_at: null,
      duration_ms: null,
      replica_id: null,
      request_id: null,
      relayed: null,
      trace_id: null,
      guardrails: null,
      ...overrides,
    };
  }

  function finished(run: RunRow): [RunRow, AuditRow] {
    const at = new Date();
    return [
      {
        ...run,
        status: "succeeded",
        output: { content: [{ type: "text", text: "hi" }] },
        finished_at: at,
        duration_ms: at.getTime() - run.started_at.getTime(),
      },
      {
        id: uuidv7(),
        org_id: run.org_id,
        actor_type: "user",
        actor_id: "u",
        action: "tool.run",
        target_type: "run",
        target_id: run.id,
        metadata: { status: "succeeded" },
        ip: null,
        user_agent: null,
        created_at: at,
      },
    ];
  }

  const runRow = async (id: string) =>
    (await server.database.db.select().from(schema.runs).where(eq(schema.runs.id, id)))[0];
  const auditFor = (id: string) =>
    server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.target_id, id));

  it("writes a call that ends within the delay once, with its outcome and audit event", async () => {
    const org = await createOrg(server);
    const recorder = new RunRecorder(server.database.db, { onError, runningDelayMs: 60_000 });
    const run = running(org.id);
    recorder.started(run);
    expect(await runRow(run.id)).toBeUndefined();
    await recorder.finished(...finished(run));
    const row = await runRow(run.id);
    expect(row).toMatchObject({ status: "succeeded", input: { text: "hi" }, tool_name: "echo" });
    expect(row?.started_at.getTime()).toBe(run.started_at.getTime());
    expect(await auditFor(run.id)).toHaveLength(1);
    await recorder.close();
  });

  it("keeps the nulls inside a call's input, output and audit metadata as they were", async () => {
    const org = await createOrg(server);
    const recorder = new RunRecorder(server.database.db, { onError, runningDelayMs: 60_000 });
    const input = { text: "hi", reply_to: null, tags: [null, "a"], nested: { at: null } };
    const run = running(org.id, { input });
    recorder.started(run);
    const [done, audit] = finished(run);
    const output = { content: [{ type: "text", text: "hi" }], structuredContent: { next: null } };
    await recorder.finished(
      { ...done, output },
      { ...audit, metadata: { status: "succeeded", reason: null } },
    );
    const row = await runRow(run.id);
    expect(row).toMatchObject({ input, output, error: null, trace_id: null });
    expect((await auditFor(run.id))[0]?.metadata).toEqual({ status: "succeeded", reason: null });
    await recorder.close();
  });

  it("shows a long call as running after the delay, then completes the same row", async () => {
    const org = await createOrg(server);
    const recorder = new RunRecorder(server.database.db, { onError, runningDelayMs: 20 });
    const run = running(org.id);
    recorder.started(run);
    await expect
      .poll(async () => (await runRow(run.id))?.status, { timeout: 5_000 })
      .toBe("running");
    expect(await auditFor(run.id)).toHaveLength(0);
    await recorder.finished(...finished(run));
    expect((await runRow(run.id))?.status).toBe("succeeded");
    expect(await auditFor(run.id)).toHaveLength(1);
    await recorder.close();
  });

  it("idle() writes running rows still within their delay", async () => {
    const org = await createOrg(server);
    const recorder = new RunRecorder(server.database.db, { onError, runningDelayMs: 60_000 });
    const run = running(org.id);
    recorder.started(run);
    await recorder.idle();
    expect((await runRow(run.id))?.status).toBe("running");
    await recorder.close();
  });

  it("writes many calls finishing together in few statements, none lost", async () => {
    const org = await createOrg(server);
    const recorder = new RunRecorder(server.database.db, { onError, maxBatch: 50 });
    const runs = Array.from({ length: 300 }, () => running(org.id));
    await Promise.all(
      runs.map((run) => {
        recorder.started(run);
        return recorder.finished(...finished(run));
      }),
    );
    const rows = await server.database.db
      .select({ id: schema.runs.id, status: schema.runs.status })
      .from(schema.runs)
      .where(
        inArray(
          schema.runs.id,
          runs.map((run) => run.id),
        ),
      );
    expect(rows).toHaveLength(300);
    expect(new Set(rows.map((row) => row.status))).toEqual(new Set(["succeeded"]));
    await recorder.close();
  });

  /** The recorder's database, counting the statements it runs. */
  function countingDb(): { db: typeof server.database.db; statements: () => number } {
    let statements = 0;
    const db = new Proxy(server.database.db, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property !== "execute" || typeof value !== "function") return value;
        return (...args: unknown[]): unknown => {
          statements++;
          return Reflect.apply(value, target, args);
        };
      },
    });
    return { db, statements: () => statements };
  }

  it("collects outcomes nobody waits for over their delay, and writes an awaited one at once", async () => {
    const org = await createOrg(server);
    const counting = countingDb();
    // Delays longer than the test: nothing may be written until the queue is flushed.
    const recorder = new RunRecorder(counting.db, {
      onError,
      runningDelayMs: 60_000,
      outcomeDelayMs: 60_000,
    });
    const runs = Array.from({ length: 60 }, () => running(org.id));
    const awaitedMidway = running(org.id);
    const outcomes: Promise<void>[] = [];
    for (const [index, run] of runs.entries()) {
      recorder.started(run);
      outcomes.push(recorder.finished(...finished(run), false));
      // Each call in its own turn of the event loop, as calls arrive.
      await setImmediate();
      if (index === 29) {
        // An awaited outcome goes out at once, with everything queued so far.
        await recorder.finished(...finished(awaitedMidway));
        expect(counting.statements()).toBe(1);
      }
    }
    // After that write, outcomes nobody waits for collect over their delay again instead of
    // going out write by write.
    expect(counting.statements()).toBe(1);
    await recorder.idle();
    await Promise.all(outcomes);
    expect(counting.statements()).toBe(2);

    const slow = new RunRecorder(counting.db, { onError, outcomeDelayMs: 60_000 });
    const queued = running(org.id);
    const awaitedRun = running(org.id);
    const queuedOutcome = slow.finished(...finished(queued), false);
    // Written at once: waiting for the 60 s delay would outlast the test's timeout.
    await slow.finished(...finished(awaitedRun));
    await queuedOutcome;
    const rows = await server.database.db
      .select({ id: schema.runs.id })
      .from(schema.runs)
      .where(
        inArray(
          schema.runs.id,
          [...runs, awaitedMidway, queued, awaitedRun].map((run) => run.id),
        ),
      );
    expect(rows).toHaveLength(63);
    await Promise.all([recorder.close(), slow.close()]);
  });

  it("keeps a record PostgreSQL refuses, without its data, and the records written with it", async () => {
    const org = await createOrg(server);
    const counting = countingDb();
    const recorder = new RunRecorder(counting.db, { onError, outcomeDelayMs: 60_000 });
    const marker = "secret-payload-marker";
    const goods = Array.from({ length: 31 }, () => running(org.id));
    // jsonb cannot hold U+0000.
    const bad = running(org.id, { input: { text: `${marker}\u0000byte`.repeat(100) } });
    errors.length = 0;
    const outcomes = [...goods.slice(0, 16), bad, ...goods.slice(16)].map((run) =>
      recorder.finished(...finished(run), false),
    );
    await recorder.idle();
    await Promise.all(outcomes);
    for (const good of goods) expect((await runRow(good.id))?.input).toEqual({ text: "hi" });
    const stored = await runRow(bad.id);
    expect(stored).toMatchObject({ status: "succeeded", input: null, output: null });
    // The reason only: not the statement nor the refused data.
    expect(stored?.error).toMatch(/^input and output could not be stored: .*Unicode.*SQLSTATE/);
    expect(stored?.error?.length).toBeLessThan(300);
    expect(stored?.error).not.toMatch(/insert|select|secret-payload/i);
    expect(await auditFor(bad.id)).toHaveLength(1);
    // The batch is halved around the bad record: a handful of statements, not one per record.
    expect(counting.statements()).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(32)) + 2);
    // The log gets ids and sizes: never the data, the statement or the driver's wrapper message.
    expect(errors.map((failure) => failure.outcome)).toContain("stripped");
    expect(errors.some((failure) => failure.runIds.includes(bad.id))).toBe(true);
    expect(errors.every((failure) => failure.bytes > 0 && failure.records > 0)).toBe(true);
    expect(JSON.stringify(errors)).not.toMatch(/insert|secret-payload|Failed query/i);
    expect(errors.every((failure) => failure.outcome !== "lost")).toBe(true);
    await recorder.close();
  });

  it("writes a record it cannot serialise without its payload; the rest of its batch goes on", async () => {
    const org = await createOrg(server);
    const recorder = new RunRecorder(server.database.db, { onError, outcomeDelayMs: 60_000 });
    let deep: JsonObject = {};
    for (let level = 0; level < 100_000; level++) deep = { a: deep };
    const poisoned = running(org.id, { input: deep });
    const goods = Array.from({ length: 5 }, () => running(org.id));
    errors.length = 0;
    recorder.started(poisoned);
    const outcomes = [poisoned, ...goods].map((run) => recorder.finished(...finished(run), false));
    await recorder.idle();
    await Promise.all(outcomes);
    expect(await runRow(poisoned.id)).toMatchObject({
      status: "succeeded",
      input: null,
      output: null,
      error: "input and output could not be stored: nested too deeply to serialise",
    });
    expect(await auditFor(poisoned.id)).toHaveLength(1);
    for (const good of goods) expect((await runRow(good.id))?.status).toBe("succeeded");

    // And it keeps working for everyone afterwards.
    const later = running(org.id);
    await recorder.finished(...finished(later));
    expect((await runRow(later.id))?.status).toBe("succeeded");
    await recorder.close();
  });

  // Another connection holds a lock that stops the recorder's writes (PGlite has one connection).
  it.skipIf(TEST_DB !== "postgres")(
    "answers runs, audit and stats reads while its own recorder is stuck behind a lock",
    async () => {
      const org = await createOrg(server);
      const g = governance(server, org);
      const { tools } = await g.syncedConnection({
        transport: "streamable_http",
        url: upstream.url,
      });
      const agent = (await g.agent()) as { id: string };
      const { key } = (await g.key(agent.id)) as { key: string };
      await g.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
      const read = (path: string) => server.request("GET", path, { token: org.owner.token });
      const committed = await g.run(tools.echo ?? "", { input: { text: "before" } });
      expect(committed.status).toBe(201);

      const blocker = new pg.Client({ connectionString: inject("postgresUrl") });
      await blocker.connect();
      try {
        await blocker.query("begin");
        // Readers pass a SHARE lock; the recorder's insert waits behind it.
        await blocker.query("lock table runs in share mode");
        const call = await gatewayPost(
          server.url,
          agent.id,
          key,
          toolCall("echo", { text: "during" }),
        );
        expect(call.status).toBe(200);
        // The event: the recorder's write is waiting for the lock.
        await expect
          .poll(async () => {
            const waiting = await blocker.query(
              "select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'runs' and not l.granted",
            );
            return (waiting.rows[0] as { n: number }).n;
          })
          .toBeGreaterThan(0);

        // Reads answer with what is committed; they do not wait for this replica's queue.
        const runs = await read(`/orgs/${org.id}/runs/?limit=1`);
        expect(runs.status).toBe(200);
        expect(runs.body.results).toMatchObject([{ input: { text: "before" } }]);
        expect((await read(`/runs/${committed.body.id}/`)).status).toBe(200);
        expect((await read(`/orgs/${org.id}/audit-events/?action=tool.run`)).status).toBe(200);
        expect((await read(`/orgs/${org.id}/runs/stats/`)).status).toBe(200);
      } finally {
        await blocker.query("rollback");
        await blocker.end();
      }
      await expect
        .poll(async () => (await read(`/orgs/${org.id}/runs/?limit=1`)).body.results)
        .toMatchObject([{ input: { text: "during" } }]);
    },
  );

  it("writes references deleted meanwhile as NULL and drops records of a deleted org", async () => {
    const org = await createOrg(server);
    const recorder = new RunRecorder(server.database.db, { onError });
    const orphan = running(org.id, { tool_id: randomUUID(), agent_id: randomUUID() });
    const gone = running(randomUUID());
    await Promise.all([
      recorder.finished(...finished(orphan)),
      recorder.finished(...finished(gone)),
    ]);
    expect(await runRow(orphan.id)).toMatchObject({ tool_id: null, agent_id: null });
    expect(await runRow(gone.id)).toBeUndefined();
    await recorder.close();
  });

  it("retries while the database is unreachable and gives up only when closing", async () => {
    // Port 1 refuses connections: every write fails like a database that is down.
    const pool = new pg.Pool({ connectionString: "postgres://postgres@127.0.0.1:1/none" });
    const failures: { gaveUp: boolean }[] = [];
    const recorder = new RunRecorder(drizzle(pool, { schema }), {
      onError: (failure) => failures.push({ gaveUp: failure.outcome === "lost" }),
      closeBudgetMs: 300,
    });
    const run = running(randomUUID());
    const committed = recorder.finished(...finished(run));
    committed.catch(() => undefined);
    await expect.poll(() => failures.length, { timeout: 5_000 }).toBeGreaterThan(1);
    expect(failures.every((failure) => !failure.gaveUp)).toBe(true);
    await recorder.close();
    await expect(committed).rejects.toThrow();
    expect(failures.at(-1)?.gaveUp).toBe(true);
    await pool.end();
  });
});
