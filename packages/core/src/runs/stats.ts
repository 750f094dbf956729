import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { runs } from "../db/schema";

export type StatsBucket = "minute" | "hour" | "day";

export interface LatencyStats {
  runs: number;
  succeeded: number;
  failed: number;
  denied: number;
  error_rate: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

export interface RunStats {
  since: Date;
  until: Date;
  bucket: StatsBucket;
  totals: LatencyStats;
  series: {
    bucket_start: Date;
    running: number;
    succeeded: number;
    failed: number;
    denied: number;
    timeout: number;
  }[];
  tools: (LatencyStats & { tool_id: string | null; tool_name: string })[];
  agents: (LatencyStats & { agent_id: string | null; agent_name: string | null })[];
}

const MAX_BUCKETS = 500;
const HOUR_MS = 3_600_000;
const BUCKET_MS: Record<StatsBucket, number> = { minute: 60_000, hour: HOUR_MS, day: 86_400_000 };
const TOP_N = 50;
const EARLIEST_TIME = Date.parse("0001-01-01T00:00:00Z");

type RunStatus = "running" | "succeeded" | "failed" | "denied" | "timeout" | "rate_limited";

/**
 * A row of the stats queries: either the runs of one status (`bucket` null) or, for finished
 * runs, the runs in one latency bucket (`status` null).
 */
interface CountRow {
  status: RunStatus | null;
  bucket: unknown;
  runs: unknown;
}

const count = (value: unknown): number => Number(value ?? 0);

/**
 * The latency a bucket of `run_latency_bucket` (migration 0020) stands for: its value below
 * 16 ms (those buckets are exact), else the middle of a bucket 1/8 of a doubling wide.
 */
function bucketLatency(bucket: number): number {
  return bucket < 16 ? bucket : 16 * 2 ** ((bucket - 16 + 0.5) / 8);
}

/** The nearest-rank percentile of a latency histogram, or null when it is empty. */
function percentile(histogram: readonly (readonly [number, number])[], q: number): number | null {
  const total = histogram.reduce((sum, [, runs]) => sum + runs, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const [bucket, runs] of histogram) {
    seen += runs;
    if (seen >= rank) return Math.round(bucketLatency(bucket) * 10) / 10;
  }
  return null;
}

function toStats(rows: readonly CountRow[]): LatencyStats {
  let total = 0;
  let succeeded = 0;
  let failed = 0;
  let denied = 0;
  const histogram: [number, number][] = [];
  for (const row of rows) {
    const runs = count(row.runs);
    if (row.status === null) {
      histogram.push([count(row.bucket), runs]);
      continue;
    }
    total += runs;
    if (row.status === "succeeded") succeeded += runs;
    else if (row.status === "failed" || row.status === "timeout") failed += runs;
    else if (row.status === "denied" || row.status === "rate_limited") denied += runs;
  }
  histogram.sort(([a], [b]) => a - b);
  const finished = succeeded + failed;
  return {
    runs: total,
    succeeded,
    failed,
    denied,
    error_rate: finished === 0 ? 0 : failed / finished,
    p50_ms: percentile(histogram, 0.5),
    p95_ms: percentile(histogram, 0.95),
  };
}

/** Rows grouped by `key`, in the order the query returned the groups. */
function groupBy<Row>(rows: readonly Row[], key: (row: Row) => string | null): Row[][] {
  const groups = new Map<string | null, Row[]>();
  for (const row of rows) {
    const id = key(row);
    const group = groups.get(id);
    if (group) group.push(row);
    else groups.set(id, [row]);
  }
  return [...groups.values()];
}

type Rows<T> = { rows: T[] } | T[];
function rowsOf<T>(result: Rows<T>): T[] {
  return Array.isArray(result) ? result : result.rows;
}

/**
 * Stats are read from the hourly rollup (`run_rollups`) for the window's whole hours and from the
 * runs themselves for the partial hours at its edges, so a 30-day window reads a few thousand
 * rollup rows and at most two hours of runs, whatever the org's size. Percentiles come from the
 * rollup's latency buckets on both sides, so they agree however the window falls.
 */
export async function runStats(
  db: Db,
  input: {
    orgId: string;
    since?: Date | undefined;
    until?: Date | undefined;
    bucket: StatsBucket;
    /** Only this tool's runs (a tool's page). */
    toolId?: string | undefined;
  },
): Promise<RunStats> {
  const now = Date.now();
  const until = input.until ?? new Date(now);
  const requestedSince = input.since ?? new Date(until.getTime() - 24 * HOUR_MS);
  // Too many buckets would make an unreadable chart and a heavy query: the window is clamped,
  // and never reaches before year 1, which the database's ISO input cannot represent.
  const since = new Date(
    Math.max(
      requestedSince.getTime(),
      until.getTime() - MAX_BUCKETS * BUCKET_MS[input.bucket],
      EARLIEST_TIME,
    ),
  );
  // [firstHour, lastHour) is read from the rollup; the rest of [since, until) from the runs. A
  // window that reaches the present takes its last, unfinished hour from the rollup as well: that
  // hour's rollup rows hold exactly the runs started so far (reading them from the runs instead
  // costs a scan of up to an hour of the org's runs on every dashboard refresh).
  const reachesPresent = until.getTime() >= now;
  let firstHour = new Date(Math.ceil(since.getTime() / HOUR_MS) * HOUR_MS);
  let lastHour = new Date(
    (Math.floor(until.getTime() / HOUR_MS) + (reachesPresent ? 1 : 0)) * HOUR_MS,
  );
  if (firstHour >= lastHour) firstHour = lastHour = until;
  const ofTool = input.toolId === undefined ? sql`` : sql` and tool_id = ${input.toolId}`;
  // Whole hours from the rollup, the edges from the runs, grouped alike.
  const counted = sql`counted as materialized (
    select hour, tool_id, tool_name, agent_id, status, runs, latencies
    from run_rollups
    where org_id = ${input.orgId} and hour >= ${firstHour} and hour < ${lastHour} and runs <> 0${ofTool}
    union all
    select hour, tool_id, tool_name, agent_id, status, sum(n),
      run_latency_histogram(array_agg(bucket), array_agg(n))
    from (
      select date_trunc('hour', started_at, 'UTC') as hour, tool_id, tool_name, agent_id, status,
        run_latency_bucket(duration_ms) as bucket, count(*) as n
      from runs
      where org_id = ${input.orgId}${ofTool}
        and ((started_at >= ${since} and started_at < ${firstHour})
          or (started_at >= ${lastHour} and started_at < ${until}))
      group by 1, 2, 3, 4, 5, 6
    ) edges
    group by 1, 2, 3, 4, 5
  )`;
  const finished = sql.raw(`('succeeded', 'failed', 'timeout')`);
  // Everything but a minute chart in one statement, so the rollup rows are read and their latency
  // histograms unnested once: `groups` holds the runs per tool, agent and status, `latency` the
  // finished runs per tool, agent and latency bucket; totals, the top tools and the top agents
  // are sums over those two small sets. `part` says which answer a row belongs to.
  const tops = (column: "tool_id" | "agent_id", top: string, part: "tool" | "agent") => sql`
    select ${sql.raw(`'${part}'`)} as part, t.id, t.name, t.total, g.status, null::int as bucket, sum(g.runs) as runs,
      null::timestamptz as bucket_start
    from ${sql.raw(top)} t join groups g on g.${sql.raw(column)} is not distinct from t.id
    group by t.id, t.name, t.total, g.status
    union all
    select ${sql.raw(`'${part}'`)}, t.id, t.name, t.total, null, l.bucket, sum(l.n), null
    from ${sql.raw(top)} t join latency l on l.${sql.raw(column)} is not distinct from t.id
    group by t.id, t.name, t.total, l.bucket`;
  const hourlySeries =
    input.bucket === "minute"
      ? sql``
      : sql`
    union all
    select 'series', null, null, null, status, null, sum(runs),
      date_trunc(${input.bucket}::text, hour)
    from counted group by 8, 5`;
  const summary = db.execute(sql`
    with ${counted},
    groups as materialized (
      select tool_id, max(tool_name) as tool_name, agent_id, status, sum(runs) as runs
      from counted group by tool_id, agent_id, status
    ),
    latency as materialized (
      select tool_id, agent_id, u.i::int - 1 as bucket, sum(u.n) as n
      from counted, unnest(latencies) with ordinality u(n, i)
      where status in ${finished}
      group by tool_id, agent_id, u.i having sum(u.n) <> 0
    ),
    top_tools as (
      select tool_id as id, max(tool_name) as name, sum(runs) as total
      from groups group by tool_id order by total desc, tool_id limit ${TOP_N}
    ),
    top_agents as (
      select s.agent_id as id, a.name, s.total
      from (select agent_id, sum(runs) as total from groups group by agent_id
        order by total desc, agent_id limit ${TOP_N}) s
      left join agents a on a.id = s.agent_id
    )
    select 'totals' as part, null::uuid as id, null::text as name, null::numeric as total, status,
      null::int as bucket, sum(runs) as runs, null::timestamptz as bucket_start
    from groups group by status
    union all
    select 'totals', null, null, null, null, bucket, sum(n), null from latency group by bucket
    union all
    ${tops("tool_id", "top_tools", "tool")}
    union all
    ${tops("agent_id", "top_agents", "agent")}
    ${hourlySeries}
    order by part, total desc nulls last, id, bucket_start`);
  // Minutes are finer than the rollup: a minute chart (its window is at most 500 minutes) reads runs.
  const minuteSeries =
    input.bucket === "minute"
      ? db.execute(sql`
        select 'series' as part, date_trunc('minute', started_at) as bucket_start, status,
          count(*) as runs
        from runs
        where ${and(
          eq(runs.org_id, input.orgId),
          input.toolId === undefined ? undefined : eq(runs.tool_id, input.toolId),
          gte(runs.started_at, since),
          lt(runs.started_at, until),
        )}
        group by 2, 3 order by 2`)
      : Promise.resolve([]);
  const [summaryRows, minuteRows] = await Promise.all([summary, minuteSeries]);

  type Row = CountRow & {
    part: "totals" | "tool" | "agent" | "series";
    id: string | null;
    name: string | null;
    bucket_start: Date | string | null;
  };
  const rows = [...rowsOf(summaryRows as Rows<Row>), ...rowsOf(minuteRows as Rows<Row>)];
  const partOf = (part: Row["part"]) => rows.filter((row) => row.part === part);
  // In time order: both statements order their series rows by bucket_start.
  const seriesRows = partOf("series");
  return {
    since,
    until,
    bucket: input.bucket,
    totals: toStats(partOf("totals")),
    series: groupBy(seriesRows, (row) => new Date(row.bucket_start ?? 0).toISOString()).flatMap(
      (group) => {
        const [first] = group;
        if (!first) return [];
        const of = (...statuses: RunStatus[]) =>
          group
            .filter((row) => row.status !== null && statuses.includes(row.status))
            .reduce((sum, row) => sum + count(row.runs), 0);
        return [
          {
            bucket_start: new Date(first.bucket_start ?? 0),
            running: of("running"),
            succeeded: of("succeeded"),
            failed: of("failed"),
            denied: of("denied", "rate_limited"),
            timeout: of("timeout"),
          },
        ];
      },
    ),
    tools: groupBy(partOf("tool"), (row) => row.id).flatMap((group) => {
      const [first] = group;
      return first ? [{ tool_id: first.id, tool_name: first.name ?? "", ...toStats(group) }] : [];
    }),
    agents: groupBy(partOf("agent"), (row) => row.id).flatMap((group) => {
      const [first] = group;
      return first ? [{ agent_id: first.id, agent_name: first.name, ...toStats(group) }] : [];
    }),
  };
}
