/**
 * What `pnpm bench` measures about replicas on one PostgreSQL besides speed (see run.ts):
 *
 *   - the rate-limit ceiling: calls per second one policy × agent counter row takes, through
 *     `consumeRateLimit` itself, against the same upsert committing synchronously (before 0006's
 *     change) as the reference;
 *   - the kill -9 loss: a replica killed under gateway load; of the calls its clients saw
 *     succeed, how many have no run, or a run that does not say succeeded;
 *   - list latency under load: the first page of runs and of audit events, read one request at
 *     a time by a separate client while one replica serves concurrent gateway callers.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { consumeRateLimit, createDatabase } from "@mcp/core";
import pg from "pg";

/** Measuring window of each ceiling measurement. */
const CEILING_MS = 5_000;
const CEILING_CONCURRENCY = 32;

export interface RateLimitCeiling {
  concurrency: number;
  /** consumeRateLimit as shipped. */
  calls_per_s: number;
  /** The same upsert with the commit waiting for the WAL flush. */
  synchronous_calls_per_s: number;
}

async function policyRow(db: pg.Client): Promise<string> {
  const org = randomUUID();
  await db.query("insert into orgs (id, name, slug) values ($1, 'Ceiling', $2)", [
    org,
    `ceiling-${org}`,
  ]);
  const policy = randomUUID();
  await db.query(
    `insert into policies (id, org_id, name, effect, tool_pattern, rate_limit)
     values ($1, $2, 'ceiling', 'allow', '*', '{"max_calls": 1000000000, "per_seconds": 3600}')`,
    [policy, org],
  );
  return policy;
}

/** Calls of `call` in a closed loop by `concurrency` callers for CEILING_MS, per second. */
async function closedLoop(concurrency: number, call: () => Promise<unknown>): Promise<number> {
  let calls = 0;
  const until = performance.now() + CEILING_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await call();
        calls += 1;
      }
    }),
  );
  return Math.round(calls / ((performance.now() - started) / 1000));
}

export async function benchRateLimitCeiling(databaseUrl: string): Promise<RateLimitCeiling> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const database = await createDatabase({ databaseUrl, poolSize: CEILING_CONCURRENCY });
  const reference = new pg.Pool({ connectionString: databaseUrl, max: CEILING_CONCURRENCY });
  try {
    await database.migrate();
    const policyId = await policyRow(admin);
    const subject = `agent:${randomUUID()}`;
    const shipped = await closedLoop(CEILING_CONCURRENCY, () =>
      consumeRateLimit(database.db, { policyId, subject, maxCalls: 1e9, perSeconds: 3600 }),
    );
    const synchronous = await closedLoop(CEILING_CONCURRENCY, () =>
      reference.query(
        `insert into rate_limit_counters as c (policy_id, subject, window_start, count)
         values ($1, $2, to_timestamp(floor(extract(epoch from now()) / 3600) * 3600), 1)
         on conflict (policy_id, subject, window_start) do update set count = c.count + 1
         returning c.count`,
        [policyId, `${subject}:sync`],
      ),
    );
    const result = {
      concurrency: CEILING_CONCURRENCY,
      calls_per_s: shipped,
      synchronous_calls_per_s: synchronous,
    };
    console.log(
      `  rate-limit ceiling (one policy × agent row, ${CEILING_CONCURRENCY} callers): ${shipped} calls/s; committing synchronously ${synchronous} calls/s`,
    );
    return result;
  } finally {
    await reference.end();
    await database.close();
    await admin.end();
  }
}

export interface KillResult {
  /** Calls the clients saw succeed on the killed replica. */
  succeeded: number;
  /** Of those, calls with no run at all. */
  without_run: number;
  /** Of those, calls whose run does not say `succeeded` (still `running`, or failed). */
  run_not_succeeded: number;
  /** Of those, calls without their audit event. */
  without_audit: number;
  /** Requests to it that failed (reset at the kill, or refused afterwards). */
  failed_requests: number;
}

interface Replica {
  url: string;
  kill: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * Kills `victim` with SIGKILL once it served `afterCalls` calls under gateway load spread over it
 * and `survivor` (keep-alive clients, round robin; a failed request goes to the next replica),
 * keeps the load on the survivor for as many calls again, stops the survivor gracefully, and
 * counts from the database what the victim's successful calls left behind.
 */
export async function benchKill(args: {
  databaseUrl: string;
  victim: Replica;
  survivor: Replica;
  agentId: string;
  key: string;
  orgId: string;
  afterCalls: number;
  concurrency: number;
}): Promise<KillResult> {
  const { victim, survivor } = args;
  const replicas = [victim, survivor];
  const agents = new Map(replicas.map((replica) => [replica, new http.Agent({ keepAlive: true })]));
  const servedByVictim: string[] = [];
  let failed = 0;
  let killed = false;
  let afterKill = 0;
  let stop = false;
  let turn = 0;
  let killing: Promise<void> | null = null;
  const call = (replica: Replica, marker: string) =>
    new Promise<boolean>((resolve) => {
      const body = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "echo", arguments: { text: marker } },
      });
      const request = http.request(
        `${replica.url}/mcp/${args.agentId}`,
        {
          method: "POST",
          agent: agents.get(replica),
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            authorization: `Bearer ${args.key}`,
          },
        },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => {
            resolve(response.statusCode === 200 && text.includes(marker));
          });
          response.on("error", () => {
            resolve(false);
          });
        },
      );
      request.on("error", () => {
        resolve(false);
      });
      request.end(body);
    });
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      while (!stop) {
        const replica = killed ? survivor : replicas[turn++ % replicas.length];
        if (!replica) continue;
        const marker = randomUUID();
        if (await call(replica, marker)) {
          if (replica === victim) {
            servedByVictim.push(marker);
            if (servedByVictim.length === args.afterCalls && !killing) {
              killing = victim.kill().then(() => {
                killed = true;
              });
            }
          } else if (killed && ++afterKill >= args.afterCalls) stop = true;
        } else if (replica === victim) failed += 1;
      }
    }),
  );
  for (const agent of agents.values()) agent.destroy();
  await survivor.stop();

  const db = new pg.Client({ connectionString: args.databaseUrl });
  await db.connect();
  try {
    const runs = await db.query<{ text: string; id: string; status: string }>(
      "select id, input->>'text' as text, status from runs where org_id = $1",
      [args.orgId],
    );
    const audited = new Set(
      (
        await db.query<{ target_id: string }>(
          "select target_id from audit_events where org_id = $1 and action = 'tool.run'",
          [args.orgId],
        )
      ).rows.map((row) => row.target_id),
    );
    const byMarker = new Map(runs.rows.map((row) => [row.text, row]));
    const result: KillResult = {
      succeeded: servedByVictim.length,
      without_run: 0,
      run_not_succeeded: 0,
      without_audit: 0,
      failed_requests: failed,
    };
    for (const marker of servedByVictim) {
      const run = byMarker.get(marker);
      if (!run) result.without_run += 1;
      else if (run.status !== "succeeded") result.run_not_succeeded += 1;
      if (!run || !audited.has(run.id)) result.without_audit += 1;
    }
    console.log(
      `  kill -9 under load: ${result.succeeded} calls succeeded on the killed replica; ${result.without_run} without a run, ${result.run_not_succeeded} with a run not marked succeeded, ${result.without_audit} without an audit event; ${result.failed_requests} requests to it failed`,
    );
    return result;
  } finally {
    await db.end();
  }
}

export interface StatsTiming {
  /** Runs of the org, spread evenly over `days` days back from now. */
  runs: number;
  days: number;
  median_ms: number;
  max_ms: number;
}

/** Wall time of the stats endpoint (default window: the last 24 hours), 5 times. */
export async function benchStats(args: {
  databaseUrl: string;
  url: string;
  token: string;
  orgId: string;
  runs: number;
  days: number;
}): Promise<StatsTiming> {
  const db = new pg.Client({ connectionString: args.databaseUrl });
  await db.connect();
  try {
    await db.query(
      `insert into runs (id, org_id, tool_name, status, triggered_by, started_at, duration_ms)
       select gen_random_uuid(), $1, 'echo', (array['succeeded','failed','denied'])[1 + i % 3]::run_status,
         '{}', now() - make_interval(secs => i * $3 * 86000.0 / $2), i % 50
       from generate_series(1, $2) i`,
      [args.orgId, args.runs, args.days],
    );
    await db.query("analyze runs");
  } finally {
    await db.end();
  }
  const times: number[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = performance.now();
    const response = await fetch(`${args.url}/api/v1/orgs/${args.orgId}/runs/stats/`, {
      headers: { authorization: `Bearer ${args.token}` },
    });
    const body = (await response.json()) as { totals?: { runs: number } };
    times.push(performance.now() - started);
    if ((body.totals?.runs ?? 0) < Math.floor(args.runs / args.days))
      throw new Error(`stats saw ${body.totals?.runs} runs`);
  }
  times.sort((a, b) => a - b);
  const result = {
    runs: args.runs,
    days: args.days,
    median_ms: Math.round(times[2] ?? Number.NaN),
    max_ms: Math.round(times[4] ?? Number.NaN),
  };
  console.log(
    `  stats (24 h) of an org with ${args.runs} runs over ${args.days} days: ${result.median_ms} ms median, ${result.max_ms} ms max of 5`,
  );
  return result;
}

export interface ListLatency {
  requests: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
}

export interface ListsResult {
  /** Concurrent gateway callers (MCP clients in a closed loop). */
  callers: number;
  /** Gateway calls made while the lists were read, and their rate. */
  calls: number;
  seconds: number;
  calls_per_s: number;
  runs: ListLatency;
  audit: ListLatency;
}

/**
 * Reads `GET /orgs/{org}/runs/?limit=50` and `GET /orgs/{org}/audit-events/?limit=50` in turn,
 * one request at a time on a keep-alive connection of its own, until `done()` says the load is
 * over; returns each request's wall time in ms. A non-200 answer throws.
 */
export async function sampleLists(args: {
  url: string;
  token: string;
  orgId: string;
  done: () => boolean;
}): Promise<{ runs: number[]; audit: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const request = http.request(
        `${args.url}/api/v1/orgs/${args.orgId}/${path}`,
        { agent, headers: { authorization: `Bearer ${args.token}` } },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => {
            if (response.statusCode !== 200)
              reject(new Error(`GET ${path}: ${response.statusCode} ${text.slice(0, 200)}`));
            else resolve(performance.now() - started);
          });
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end();
    });
  const times = { runs: [] as number[], audit: [] as number[] };
  try {
    while (!args.done()) {
      times.runs.push(await get("runs/?limit=50"));
      if (args.done()) break;
      times.audit.push(await get("audit-events/?limit=50"));
    }
  } finally {
    agent.destroy();
  }
  return times;
}

export function formatLists(lists: ListsResult): string[] {
  const row = (label: string, latency: ListLatency) =>
    `| ${label} | ${latency.requests} | ${latency.p50_ms} | ${latency.p95_ms} | ${latency.max_ms} | ${latency.p95_ms < 200 ? "met" : "**missed**"} |`;
  return [
    "### List latency under gateway load (PostgreSQL, one replica)",
    "",
    `While ${lists.callers} MCP clients called \`echo\` through the gateway in a closed loop (${lists.calls} calls in ${lists.seconds.toFixed(1)} s, ${lists.calls_per_s} calls/s), a separate client read the first page of each list, one request at a time, in turn.`,
    "",
    "| Request | Requests | p50 ms | p95 ms | max ms | Target p95 < 200 ms |",
    "|---|---|---|---|---|---|",
    row("`GET /orgs/{id}/runs/?limit=50`", lists.runs),
    row("`GET /orgs/{id}/audit-events/?limit=50`", lists.audit),
    "",
  ];
}

export interface FaultResults {
  ceiling: RateLimitCeiling;
  kills: KillResult[];
  stats: StatsTiming[];
}

export function formatFaults(results: FaultResults): string[] {
  const { ceiling, kills, stats } = results;
  const sum = (pick: (kill: KillResult) => number) => kills.reduce((n, k) => n + pick(k), 0);
  return [
    "### Replicas on one PostgreSQL",
    "",
    "| Measurement | Result |",
    "|---|---|",
    `| Rate-limit ceiling: calls/s one policy × agent counter row takes (${ceiling.concurrency} callers, \`consumeRateLimit\`) | ${ceiling.calls_per_s} calls/s |`,
    `| (reference) the same upsert committing synchronously, as before | ${ceiling.synchronous_calls_per_s} calls/s |`,
    `| kill -9 of one of two replicas under gateway load (${kills.length} kills): calls the clients saw succeed on it | ${kills.map((k) => k.succeeded).join(", ")} |`,
    `| … of which without a run | ${kills.map((k) => k.without_run).join(", ")} (${sum((k) => k.without_run)} in all) |`,
    `| … of which with a run not marked succeeded (running or failed at the time of counting) | ${kills.map((k) => k.run_not_succeeded).join(", ")} (${sum((k) => k.run_not_succeeded)} in all) |`,
    `| … of which without an audit event | ${kills.map((k) => k.without_audit).join(", ")} (${sum((k) => k.without_audit)} in all) |`,
    `| requests to the killed replica that failed (in flight at the kill, or refused after) | ${kills.map((k) => k.failed_requests).join(", ")} |`,
    ...stats.map(
      (timing) =>
        `| \`GET /orgs/{id}/runs/stats/\` (last 24 h) of an org with ${timing.runs.toLocaleString("en")} runs over ${timing.days} day${timing.days === 1 ? "" : "s"} | ${timing.median_ms} ms median, ${timing.max_ms} ms max of 5 |`,
    ),
    "",
  ];
}
