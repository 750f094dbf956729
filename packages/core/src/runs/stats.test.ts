import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../db/client";
import { agents, orgs, runs } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { applyRetention } from "../maintenance/retention";
import { migratedTestDatabase } from "../testing/database";
import { RunRecorder, type RunRow } from "./recorder";
import { runStats, type LatencyStats } from "./stats";

/*
 * Stats over days are read from the hourly rollup the triggers on `runs` keep (migration 0020),
 * and the partial hours at a window's edges from the runs. What is checked: the numbers are those
 * of the runs in the window, counted once, whatever the window's edges; the rollup stays equal to
 * a fresh count of the runs through every way runs are written, changed and deleted.
 */

const HOUR = 3_600_000;
const STATUSES = ["succeeded", "succeeded", "succeeded", "failed", "denied", "timeout"] as const;
type SeedStatus = (typeof STATUSES)[number] | "running" | "rate_limited";

interface Seeded {
  startedAt: Date;
  status: SeedStatus;
  toolName: string;
  agentId: string | null;
  durationMs: number | null;
}

type Rows<T> = { rows: T[] } | T[];
const rowsOf = <T>(result: Rows<T>): T[] => (Array.isArray(result) ? result : result.rows);

/** The nearest-rank percentile of exact durations, as the rollup's buckets approximate it. */
function exactPercentile(durations: number[], q: number): number | null {
  if (durations.length === 0) return null;
  const sorted = durations.toSorted((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1] ?? null;
}

function expectedStats(seeded: readonly Seeded[]): Omit<LatencyStats, "p50_ms" | "p95_ms"> & {
  latencies: number[];
} {
  const of = (...statuses: SeedStatus[]) =>
    seeded.filter((run) => statuses.includes(run.status)).length;
  const succeeded = of("succeeded");
  const failed = of("failed", "timeout");
  return {
    runs: seeded.length,
    succeeded,
    failed,
    denied: of("denied", "rate_limited"),
    error_rate: succeeded + failed === 0 ? 0 : failed / (succeeded + failed),
    latencies: seeded
      .filter((run) => ["succeeded", "failed", "timeout"].includes(run.status))
      .map((run) => run.durationMs ?? 0),
  };
}

/** Counts and rates exactly; percentiles within the rollup's bucket width (4.4 %). */
function expectStats(actual: LatencyStats, seeded: readonly Seeded[]): void {
  const { latencies, ...counts } = expectedStats(seeded);
  expect({
    runs: actual.runs,
    succeeded: actual.succeeded,
    failed: actual.failed,
    denied: actual.denied,
    error_rate: actual.error_rate,
  }).toEqual(counts);
  for (const [q, value] of [
    [0.5, actual.p50_ms],
    [0.95, actual.p95_ms],
  ] as const) {
    const exact = exactPercentile(latencies, q);
    if (exact === null) expect(value).toBeNull();
    else {
      expect(value).not.toBeNull();
      expect(Math.abs((value ?? 0) - exact)).toBeLessThanOrEqual(Math.max(exact * 0.045, 0.05));
    }
  }
}

describe("run stats from the hourly rollup", () => {
  let handle: DatabaseHandle;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ handle, close } = await migratedTestDatabase("mcpa_stats"));
  }, 120_000);

  afterAll(async () => {
    await close();
  });

  async function newOrg(): Promise<{ orgId: string; agentIds: string[] }> {
    const [org] = await handle.db
      .insert(orgs)
      .values({ name: "Stats", slug: `stats-${uuidv7()}` })
      .returning();
    if (!org) throw new Error("org insert returned nothing");
    const made = await handle.db
      .insert(agents)
      .values(["alpha", "beta"].map((name) => ({ org_id: org.id, name })))
      .returning();
    return { orgId: org.id, agentIds: made.map((agent) => agent.id) };
  }

  function runRow(orgId: string, run: Seeded): RunRow {
    return {
      id: uuidv7(run.startedAt.getTime()),
      org_id: orgId,
      kind: "tool",
      tool_id: null,
      tool_name: run.toolName,
      agent_id: run.agentId,
      user_id: null,
      environment_id: null,
      status: run.status,
      input: null,
      output: null,
      output_truncated: false,
      error: null,
      decision: null,
      triggered_by: { surface: "mcp" },
      started_at: run.startedAt,
      finished_at: run.durationMs === null ? null : run.startedAt,
      duration_ms: run.durationMs,
      replica_id: null,
      request_id: null,
      relayed: null,
      trace_id: null,
      guardrails: null,
    };
  }

  /** Runs every `stepMinutes` back from `from`, statuses, tools, agents and latencies varied. */
  function spread(from: number, count: number, stepMinutes: number, agentIds: string[]): Seeded[] {
    return Array.from({ length: count }, (_, index) => {
      const status = STATUSES[index % STATUSES.length] ?? "succeeded";
      return {
        startedAt: new Date(from - index * stepMinutes * 60_000 - (index % 7) * 1_000),
        status,
        toolName: `tool-${index % 4}`,
        agentId: index % 5 === 0 ? null : (agentIds[index % 2] ?? null),
        durationMs: status === "denied" ? null : (index * 37) % 4_000,
      };
    });
  }

  async function insert(orgId: string, seeded: readonly Seeded[]): Promise<void> {
    await handle.db.insert(runs).values(seeded.map((run) => runRow(orgId, run)));
  }

  /** The rollup equals a fresh count of the org's runs, row for row. */
  async function expectRollupOfRuns(orgId: string): Promise<void> {
    const key = sql`hour, tool_id, tool_name, agent_id, status`;
    // Trailing zeros of a histogram a subtraction left are no difference.
    const trimmed = sql`(select coalesce(array_agg(n order by i), '{}') from unnest(latencies)
      with ordinality u(n, i) where i <= (select coalesce(max(j), 0) from unnest(latencies)
      with ordinality v(m, j) where m <> 0))`;
    const fromRollup = await handle.db.execute(sql`
      select ${key}, runs::int as runs, ${trimmed}::text as latencies from run_rollups
      where org_id = ${orgId} and runs <> 0 order by ${key}`);
    const fromRuns = await handle.db.execute(sql`
      select ${key}, runs::int as runs, ${trimmed}::text as latencies from (
        select ${key}, sum(n) as runs, run_latency_histogram(array_agg(bucket), array_agg(n)) as latencies
        from (
          select date_trunc('hour', started_at, 'UTC') as hour, tool_id, tool_name, agent_id, status,
            run_latency_bucket(duration_ms) as bucket, count(*) as n
          from runs where org_id = ${orgId} group by 1, 2, 3, 4, 5, 6) buckets
        group by ${key}) counted
      order by ${key}`);
    expect(rowsOf(fromRollup as Rows<object>)).toEqual(rowsOf(fromRuns as Rows<object>));
  }

  it("counts each run of a window once: whole hours from the rollup, the edges from the runs", async () => {
    const { orgId, agentIds } = await newOrg();
    const now = Date.now();
    const seeded = spread(now, 600, 7, agentIds);
    await insert(orgId, seeded);
    await expectRollupOfRuns(orgId);

    // Edges off the hour on both sides, a window inside one hour, and one of whole hours.
    const windows: [number, number][] = [
      [now - 50 * HOUR + 17 * 60_000, now - 3 * HOUR + 5 * 60_000],
      [now - 40 * 60_000, now - 10 * 60_000],
      [Math.floor(now / HOUR) * HOUR - 24 * HOUR, Math.floor(now / HOUR) * HOUR],
      [now - 30 * 24 * HOUR, now + 60_000],
    ];
    for (const [since, until] of windows) {
      const inWindow = seeded.filter(
        (run) => run.startedAt.getTime() >= since && run.startedAt.getTime() < until,
      );
      for (const bucket of ["hour", "day"] as const) {
        const stats = await runStats(handle.db, {
          orgId,
          since: new Date(since),
          until: new Date(until),
          bucket,
        });
        expectStats(stats.totals, inWindow);
        const charted = stats.series.reduce(
          (sum, point) =>
            sum + point.running + point.succeeded + point.failed + point.denied + point.timeout,
          0,
        );
        expect(charted).toBe(inWindow.length);
        if (bucket === "hour") {
          for (const point of stats.series) {
            const start = point.bucket_start.getTime();
            const ofHour = inWindow.filter(
              (run) => run.startedAt.getTime() >= start && run.startedAt.getTime() < start + HOUR,
            );
            expect(point.succeeded).toBe(ofHour.filter((run) => run.status === "succeeded").length);
            expect(point.timeout).toBe(ofHour.filter((run) => run.status === "timeout").length);
          }
        }
        // Tools group by id; these runs' tools are gone (no id), so they count as one.
        if (inWindow.length > 0) {
          expect(stats.tools).toHaveLength(1);
          expectStats(stats.tools[0] ?? stats.totals, inWindow);
        }
        for (const agent of stats.agents)
          expectStats(
            agent,
            inWindow.filter((run) => run.agentId === agent.agent_id),
          );
        expect(stats.agents.find((agent) => agent.agent_id === agentIds[0])?.agent_name).toBe(
          inWindow.some((run) => run.agentId === agentIds[0]) ? "alpha" : undefined,
        );
      }
    }

    // A minute chart reads the runs themselves.
    const lastHour = await runStats(handle.db, {
      orgId,
      since: new Date(now - HOUR),
      until: new Date(now + 1),
      bucket: "minute",
    });
    const ofLastHour = seeded.filter((run) => run.startedAt.getTime() >= now - HOUR);
    expectStats(lastHour.totals, ofLastHour);
    expect(lastHour.series.reduce((sum, point) => sum + point.succeeded, 0)).toBe(
      ofLastHour.filter((run) => run.status === "succeeded").length,
    );
  });

  it("keeps the rollup equal to the runs through outcomes, deleted agents, retention and concurrent batches", async () => {
    const { orgId, agentIds } = await newOrg();
    const now = Date.now();
    const failures: unknown[] = [];
    const recorder = new RunRecorder(handle.db, { onError: (failure) => failures.push(failure) });

    // A long call: its `running` row is written, then its outcome replaces it.
    const long = runRow(orgId, {
      startedAt: new Date(now - 1_000),
      status: "running",
      toolName: "slow",
      agentId: agentIds[0] ?? null,
      durationMs: null,
    });
    recorder.started(long);
    await recorder.idle();
    await expectRollupOfRuns(orgId);
    await recorder.finished(
      { ...long, status: "succeeded", duration_ms: 950, finished_at: new Date(now - 50) },
      {
        id: uuidv7(),
        org_id: orgId,
        actor_type: "agent",
        actor_id: agentIds[0] ?? null,
        action: "tool.run",
        target_type: "tool",
        target_id: null,
        metadata: {},
        ip: null,
        user_agent: null,
        created_at: new Date(now - 50),
      },
    );
    await recorder.close();
    expect(failures).toEqual([]);
    await expectRollupOfRuns(orgId);
    const afterOutcome = await runStats(handle.db, {
      orgId,
      since: new Date(now - HOUR),
      until: new Date(now + 1),
      bucket: "hour",
    });
    expect(afterOutcome.totals).toMatchObject({ runs: 1, succeeded: 1 });
    expect(afterOutcome.series.reduce((sum, point) => sum + point.running, 0)).toBe(0);

    // Batches from many replicas at once, touching the same rollup rows in different orders.
    const batches = Array.from({ length: 8 }, (_, batch) =>
      spread(now - batch * 1_000, 150, 11, agentIds).toReversed(),
    );
    await Promise.all(batches.map((batch) => insert(orgId, batch)));
    await expectRollupOfRuns(orgId);

    // A deleted agent's runs keep counting, as runs of no agent.
    await handle.db.delete(agents).where(eq(agents.id, agentIds[1] ?? ""));
    await expectRollupOfRuns(orgId);

    // Retention deletes old runs; their counts go, and rows left at zero are dropped.
    await handle.db.execute(sql`
      update runs set started_at = started_at - interval '40 days'
      where org_id = ${orgId} and tool_name = 'tool-1'`);
    await expectRollupOfRuns(orgId);
    await applyRetention(handle.db, { runsDays: 30, auditDays: 0 });
    await expectRollupOfRuns(orgId);
    const [leftAtZero] = rowsOf(
      (await handle.db.execute(
        sql`select count(*)::int as rows from run_rollups where org_id = ${orgId} and runs = 0 and tool_name = 'tool-1'`,
      )) as Rows<{ rows: number }>,
    );
    expect(leftAtZero?.rows).toBe(0);
  });

  it("deletes an org's rollup with the org", async () => {
    const { orgId, agentIds } = await newOrg();
    await insert(orgId, spread(Date.now(), 50, 30, agentIds));
    await handle.db.delete(orgs).where(eq(orgs.id, orgId));
    const [left] = rowsOf(
      (await handle.db.execute(
        sql`select count(*)::int as rows from run_rollups where org_id = ${orgId}`,
      )) as Rows<{ rows: number }>,
    );
    expect(left?.rows).toBe(0);
  });
});
