import { randomUUID } from "node:crypto";
import { createDatabase, runsPage, type RunFilter } from "@mcp/core";
import { sql } from "drizzle-orm";
import pg from "pg";

/*
 * An organization at scale (issues 17 and 20): a million runs over 30 days written straight into
 * the database, then the first page of every runs-list filter, the dashboard stats and the policy
 * what-if over the newest 10,000 runs, each timed from outside through the REST API (so each time
 * includes HTTP and authentication, not only the database). The list filters are also timed in
 * the database alone, which is what their target is for: the statement the list service runs,
 * under EXPLAIN ANALYZE (planning plus execution).
 */

export interface Timing {
  name: string;
  ms: number[];
}

export interface OrgScaleResult {
  runs: number;
  insert_s: number;
  lists: Timing[];
  /** The same list pages in the database alone, by name. */
  list_database: Timing[];
  stats: Timing[];
  what_if: Timing[];
}

const REPEATS = 5;

async function timed(
  name: string,
  request: () => Promise<Response>,
  check: (body: unknown) => void,
): Promise<Timing> {
  const ms: number[] = [];
  for (let attempt = 0; attempt < REPEATS; attempt++) {
    const started = performance.now();
    const response = await request();
    const body: unknown = await response.json();
    ms.push(performance.now() - started);
    if (!response.ok) throw new Error(`${name}: ${response.status} ${JSON.stringify(body)}`);
    check(body);
  }
  ms.sort((a, b) => a - b);
  console.log(
    `  ${name}: ${ms.map((value) => value.toFixed(0)).join(", ")} ms (sorted, ${REPEATS} runs)`,
  );
  return { name, ms };
}

export async function benchOrgScale(args: {
  databaseUrl: string;
  url: string;
  token: string;
  orgId: string;
  agentId: string;
  echoToolId: string;
  runs: number;
}): Promise<OrgScaleResult> {
  const db = new pg.Client({ connectionString: args.databaseUrl });
  await db.connect();
  const started = performance.now();
  try {
    // Time-ordered ids (UUIDv7, as the recorder mints them); 5 % failed, 3 % denied, no timeouts;
    // 2 % prompts; every run by the bench agent on echo, with a small input.
    await db.query(
      `insert into runs (id, org_id, kind, tool_id, tool_name, agent_id, status, input, triggered_by, started_at, finished_at, duration_ms)
       select (lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid,
         $1, (case when i % 50 = 0 then 'prompt' else 'tool' end)::run_kind, $3, 'echo', $4,
         (case when i % 20 = 0 then 'failed' when i % 33 = 0 then 'denied' else 'succeeded' end)::run_status,
         jsonb_build_object('text', 'call ' || i), '{"surface": "mcp"}', at, at, i % 200
       from generate_series(1, $2) as i, lateral (select now() - i * (interval '30 days' / $2) as at) t`,
      [args.orgId, args.runs, args.echoToolId, args.agentId],
    );
    await db.query("analyze runs");
  } finally {
    await db.end();
  }
  const insertS = (performance.now() - started) / 1000;
  console.log(`  ${args.runs.toLocaleString("en")} runs inserted in ${insertS.toFixed(0)} s`);

  const get = (path: string) => () =>
    fetch(`${args.url}/api/v1${path}`, { headers: { authorization: `Bearer ${args.token}` } });
  const post = (path: string, body: unknown) => () =>
    fetch(`${args.url}/api/v1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${args.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const page = (body: unknown) => {
    if (!Array.isArray((body as { results?: unknown }).results)) throw new Error("not a page");
  };
  const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
  const runs = `/orgs/${args.orgId}/runs/`;
  const hoursAgoDate = (hours: number) => new Date(Date.now() - hours * 3_600_000);
  const nothing = randomUUID();
  const filters: [string, string, Omit<RunFilter, "orgId">][] = [
    ["no filter", "", {}],
    ["status=timeout (matches nothing)", "status=timeout", { status: "timeout" }],
    ["status=failed", "status=failed", { status: "failed" }],
    ["kind=resource (matches nothing)", "kind=resource", { kind: "resource" }],
    ["kind=prompt", "kind=prompt", { kind: "prompt" }],
    ["agent_id (every run)", `agent_id=${args.agentId}`, { agent_id: args.agentId }],
    ["tool_id (matches nothing)", `tool_id=${nothing}`, { tool_id: nothing }],
    ["since = 1 h ago", `since=${encodeURIComponent(hoursAgo(1))}`, { since: hoursAgoDate(1) }],
    [
      "until = 29 days ago",
      `until=${encodeURIComponent(hoursAgo(29 * 24))}`,
      { until: hoursAgoDate(29 * 24) },
    ],
  ];
  const lists: Timing[] = [];
  for (const [name, query] of filters)
    lists.push(await timed(`runs list, ${name}`, get(`${runs}?limit=50&${query}`), page));

  const database = await createDatabase({ databaseUrl: args.databaseUrl, poolSize: 1 });
  const list_database: Timing[] = [];
  try {
    for (const [name, , filter] of filters) {
      const { statement } = runsPage(database.db, { orgId: args.orgId, limit: 50, ...filter });
      const ms: number[] = [];
      for (let attempt = 0; attempt < REPEATS; attempt++) {
        const result = await database.db.execute(sql`explain (analyze, format json) ${statement}`);
        type Explained = { "QUERY PLAN": { "Planning Time": number; "Execution Time": number }[] };
        const [plan] = (result as { rows: Explained[] }).rows[0]?.["QUERY PLAN"] ?? [];
        if (!plan) throw new Error(`${name}: no plan`);
        ms.push(plan["Planning Time"] + plan["Execution Time"]);
      }
      ms.sort((a, b) => a - b);
      console.log(
        `  runs list in the database, ${name}: ${ms.map((value) => value.toFixed(1)).join(", ")} ms`,
      );
      list_database.push({ name: `runs list, ${name}`, ms });
    }
  } finally {
    await database.close();
  }

  const stats: Timing[] = [];
  const counted = (body: unknown) => {
    if (typeof (body as { totals?: { runs?: unknown } }).totals?.runs !== "number")
      throw new Error("no totals");
  };
  stats.push(await timed("stats, last 24 h", get(`${runs}stats/`), counted));
  stats.push(
    await timed(
      "stats, last 30 days by day",
      get(`${runs}stats/?bucket=day&since=${encodeURIComponent(hoursAgo(30 * 24))}`),
      counted,
    ),
  );

  const policies = (await (await get(`/orgs/${args.orgId}/policies/`)()).json()) as {
    results: { id: string }[];
  };
  const allow = policies.results[0];
  if (!allow) throw new Error("the bench org has no policy");
  const replayed = (body: unknown) => {
    if ((body as { runs_considered?: unknown }).runs_considered !== 10_000)
      throw new Error(`what-if replayed ${JSON.stringify(body).slice(0, 200)}`);
  };
  const whatIf = `/orgs/${args.orgId}/policies/what-if/`;
  const what_if = [
    await timed(
      "what-if, delete the allow policy (10,000 runs)",
      post(whatIf, { policy_id: allow.id, delete: true }),
      replayed,
    ),
    await timed(
      "what-if, a deny with an input schema: every input replayed (10,000 runs)",
      post(whatIf, {
        changes: {
          effect: "deny",
          tool_pattern: "echo",
          input_schema: {
            type: "object",
            properties: { text: { type: "string", pattern: "^call 1" } },
            required: ["text"],
          },
        },
      }),
      replayed,
    ),
  ];
  return { runs: args.runs, insert_s: insertS, lists, list_database, stats, what_if };
}

export function formatOrgScale(result: OrgScaleResult): string[] {
  const median = (timing: Timing) => timing.ms[Math.floor(timing.ms.length / 2)] ?? Number.NaN;
  const max = (timing: Timing) => timing.ms[timing.ms.length - 1] ?? Number.NaN;
  const verdict = (ms: number, target: number) => (ms <= target ? "met" : "**missed**");
  const row = (timing: Timing, target: number | null) =>
    `| ${timing.name} | ${median(timing).toFixed(0)} ms | ${max(timing).toFixed(0)} ms | — | ${target === null ? "—" : `≤ ${target} ms (${verdict(median(timing), target)})`} |`;
  const listRow = (timing: Timing) => {
    const inDatabase = result.list_database.find((entry) => entry.name === timing.name);
    const database = inDatabase
      ? `${median(inDatabase).toFixed(1)} ms (max ${max(inDatabase).toFixed(1)})`
      : "—";
    const target = inDatabase ? ` (${verdict(median(inDatabase), 20)})` : "";
    return `| ${timing.name} | ${median(timing).toFixed(0)} ms | ${max(timing).toFixed(0)} ms | ${database} | ≤ 20 ms in the database${target} |`;
  };
  return [
    `### An organization with ${result.runs.toLocaleString("en")} runs`,
    "",
    `Runs over 30 days written straight into PostgreSQL (${result.insert_s.toFixed(0)} s), then each request ${REPEATS} times through the REST API: those times include HTTP and authentication. The list targets are for the database alone: each list page is also run ${REPEATS} times under \`EXPLAIN ANALYZE\` (planning + execution of the statement the list service runs). The stats and what-if targets are for the whole request.`,
    "",
    "| Request | REST median | REST max | In the database (median) | Target |",
    "|---|---|---|---|---|",
    ...result.lists.map(listRow),
    ...result.stats.map((timing) => row(timing, timing.name.includes("30 days") ? 50 : null)),
    ...result.what_if.map((timing) => row(timing, 1000)),
    "",
  ];
}
