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
const BUCKET_MS: Record<StatsBucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const TOP_N = 50;
const EARLIEST_TIME = Date.parse("0001-01-01T00:00:00Z");

/** Aggregates computed in the database: the dashboard never pages through runs. */
const aggregates = sql`
  count(*)::int as runs,
  count(*) filter (where status = 'succeeded')::int as succeeded,
  count(*) filter (where status in ('failed', 'timeout'))::int as failed,
  count(*) filter (where status in ('denied', 'rate_limited'))::int as denied,
  percentile_cont(0.5) within group (order by duration_ms) filter (where status in ('succeeded', 'failed', 'timeout')) as p50_ms,
  percentile_cont(0.95) within group (order by duration_ms) filter (where status in ('succeeded', 'failed', 'timeout')) as p95_ms`;

/** Column values as the drivers hand them over: numbers, or numeric strings for wide types. */
interface AggregateRow {
  runs: unknown;
  succeeded: unknown;
  failed: unknown;
  denied: unknown;
  p50_ms: unknown;
  p95_ms: unknown;
}

const count = (value: unknown): number => Number(value ?? 0);

function toStats(row: AggregateRow | undefined): LatencyStats {
  const total = count(row?.runs);
  const succeeded = count(row?.succeeded);
  const failed = count(row?.failed);
  const finished = succeeded + failed;
  const round = (value: unknown) =>
    value === null || value === undefined ? null : Math.round(Number(value) * 10) / 10;
  return {
    runs: total,
    succeeded,
    failed,
    denied: count(row?.denied),
    error_rate: finished === 0 ? 0 : failed / finished,
    p50_ms: round(row?.p50_ms),
    p95_ms: round(row?.p95_ms),
  };
}

type Rows<T> = { rows: T[] } | T[];
function rowsOf<T>(result: Rows<T>): T[] {
  return Array.isArray(result) ? result : result.rows;
}

export async function runStats(
  db: Db,
  input: { orgId: string; since?: Date | undefined; until?: Date | undefined; bucket: StatsBucket },
): Promise<RunStats> {
  const until = input.until ?? new Date();
  const requestedSince = input.since ?? new Date(until.getTime() - 24 * 3_600_000);
  // Too many buckets would make an unreadable chart and a heavy query: the window is clamped,
  // and never reaches before year 1, which the database's ISO input cannot represent.
  const since = new Date(
    Math.max(
      requestedSince.getTime(),
      until.getTime() - MAX_BUCKETS * BUCKET_MS[input.bucket],
      EARLIEST_TIME,
    ),
  );
  const window = and(
    eq(runs.org_id, input.orgId),
    gte(runs.started_at, since),
    lt(runs.started_at, until),
  );

  const [totals, series, byTool, byAgent] = await Promise.all([
    db.execute(sql`select ${aggregates} from runs where ${window}`),
    db.execute(sql`
      select date_trunc(${input.bucket}::text, started_at) as bucket_start,
        count(*) filter (where status = 'running')::int as running,
        count(*) filter (where status = 'succeeded')::int as succeeded,
        count(*) filter (where status = 'failed')::int as failed,
        count(*) filter (where status in ('denied', 'rate_limited'))::int as denied,
        count(*) filter (where status = 'timeout')::int as timeout
      from runs where ${window}
      group by 1 order by 1`),
    db.execute(sql`
      select tool_id, max(tool_name) as tool_name, ${aggregates}
      from runs where ${window}
      group by tool_id order by runs desc limit ${TOP_N}`),
    db.execute(sql`
      select s.*, a.name as agent_name
      from (select agent_id, ${aggregates} from runs where ${window} group by agent_id order by runs desc limit ${TOP_N}) s
      left join agents a on a.id = s.agent_id
      order by s.runs desc`),
  ]);

  type SeriesRow = {
    bucket_start: Date | string;
    running: unknown;
    succeeded: unknown;
    failed: unknown;
    denied: unknown;
    timeout: unknown;
  };
  return {
    since,
    until,
    bucket: input.bucket,
    totals: toStats(rowsOf(totals as Rows<AggregateRow>)[0]),
    series: rowsOf(series as Rows<SeriesRow>).map((row) => ({
      bucket_start: new Date(row.bucket_start),
      running: count(row.running),
      succeeded: count(row.succeeded),
      failed: count(row.failed),
      denied: count(row.denied),
      timeout: count(row.timeout),
    })),
    tools: rowsOf(byTool as Rows<AggregateRow & { tool_id: string | null; tool_name: string }>).map(
      (row) => ({
        tool_id: row.tool_id,
        tool_name: row.tool_name,
        ...toStats(row),
      }),
    ),
    agents: rowsOf(
      byAgent as Rows<AggregateRow & { agent_id: string | null; agent_name: string | null }>,
    ).map((row) => ({
      agent_id: row.agent_id,
      agent_name: row.agent_name,
      ...toStats(row),
    })),
  };
}
