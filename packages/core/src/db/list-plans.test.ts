import { sql, type SQLWrapper } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEventsPage, type AuditFilter } from "../audit/audit";
import { uuidv7 } from "../lib/ids";
import { runsPage, type RunFilter } from "../runs/runs";
import { migratedTestDatabase } from "../testing/database";
import type { DatabaseHandle } from "./client";
import { orgs } from "./schema";

/*
 * Every filter of the runs and audit lists is served by an index: the planner, given an org with
 * tens of thousands of rows and fresh statistics, reads the first page of a filter that matches
 * few or no rows through an index whose condition holds the filtered column, never by walking the
 * org's rows (which grows with the org: a filter matching nothing read them all). The statements
 * explained are the ones the list services run. On PostgreSQL (a throw-away database on
 * TEST_DATABASE_URL) when it answers, as production plans them; else on embedded PGlite.
 */

const ROWS = 20_000;
/** Rows of another org, all newer than the busy org's. */
const LIVELY_ROWS = 1_000;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  /** A bitmap heap scan's: the conditions its bitmap index scans matched. */
  "Recheck Cond"?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

function scansOf(node: PlanNode, table: string): PlanNode[] {
  const own = node["Relation Name"] === table ? [node] : [];
  return [...own, ...(node.Plans ?? []).flatMap((child) => scansOf(child, table))];
}

describe("list filters and their indexes", () => {
  let handle: DatabaseHandle;
  let close: () => Promise<void>;
  let orgId: string;

  beforeAll(async () => {
    ({ handle, close } = await migratedTestDatabase("mcpa_plans"));
    const [org] = await handle.db
      .insert(orgs)
      .values({ name: "Busy", slug: `busy-${uuidv7()}` })
      .returning();
    if (!org) throw new Error("org insert returned nothing");
    orgId = org.id;
    // One run every two minutes over the last four weeks, ids time-ordered (UUIDv7) as the
    // recorder writes them; some failed, a few prompts; no timeouts, no resources.
    const timeOrderedId = (at: string, salt: string) =>
      sql.raw(
        `(lpad(to_hex((extract(epoch from ${at}) * 1000)::bigint), 12, '0') || '7' || substr(md5(${salt}), 1, 3) || '8' || substr(md5(${salt}), 4, 15))::uuid`,
      );
    await handle.db.execute(sql`
      insert into runs (id, org_id, kind, tool_name, status, triggered_by, started_at, duration_ms)
      select ${timeOrderedId("at", "i::text")}, ${orgId},
        (case when i % 50 = 0 then 'prompt' else 'tool' end)::run_kind,
        'tool-' || (i % 10),
        (case when i % 20 = 0 then 'failed' when i % 33 = 0 then 'denied' else 'succeeded' end)::run_status,
        '{"surface": "mcp"}'::jsonb, at, i % 200
      from generate_series(1, ${ROWS}) as i, lateral (select now() - i * interval '2 minutes' as at) t`);
    // The chain is not what is measured here; one statement of 20,000 chained inserts of one
    // org is (each advances the org's head row).
    await handle.db.execute(sql`alter table audit_events disable trigger audit_events_chain`);
    await handle.db.execute(sql`
      insert into audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, created_at)
      select ${timeOrderedId("at", "'a' || i")}, ${orgId}, 'agent', 'agent-' || (i % 5),
        'tool.run', 'tool', 'tool-' || (i % 10), at
      from generate_series(1, ${ROWS}) as i, lateral (select now() - i * interval '2 minutes' as at) t`);
    await handle.db.execute(sql`alter table audit_events enable trigger audit_events_chain`);
    // Another org kept writing after the busy one went quiet: every one of its rows is newer.
    const [other] = await handle.db
      .insert(orgs)
      .values({ name: "Lively", slug: `lively-${uuidv7()}` })
      .returning();
    if (!other) throw new Error("org insert returned nothing");
    await handle.db.execute(sql`
      insert into runs (id, org_id, kind, tool_name, status, triggered_by, started_at, duration_ms)
      select ${timeOrderedId("at", "'l' || i")}, ${other.id}, 'tool', 'tool-0', 'succeeded',
        '{"surface": "mcp"}'::jsonb, at, 1
      from generate_series(1, ${LIVELY_ROWS}) as i,
        lateral (select now() - i * interval '30 milliseconds' as at) t`);
    await handle.db.execute(sql`alter table audit_events disable trigger audit_events_chain`);
    await handle.db.execute(sql`
      insert into audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, created_at)
      select ${timeOrderedId("at", "'la' || i")}, ${other.id}, 'agent', 'agent-0',
        'tool.run', 'tool', 'tool-0', at
      from generate_series(1, ${LIVELY_ROWS}) as i,
        lateral (select now() - i * interval '30 milliseconds' as at) t`);
    await handle.db.execute(sql`alter table audit_events enable trigger audit_events_chain`);
    await handle.db.execute(sql`analyze runs`);
    await handle.db.execute(sql`analyze audit_events`);
  }, 300_000);

  afterAll(async () => {
    await close();
  });

  async function plan(statement: SQLWrapper, table: string): Promise<PlanNode[]> {
    const result = await handle.db.execute(sql`explain (format json) ${statement}`);
    type Row = { "QUERY PLAN": unknown };
    const rows = Array.isArray(result) ? (result as Row[]) : (result as { rows: Row[] }).rows;
    const raw = rows[0]?.["QUERY PLAN"];
    const document = (typeof raw === "string" ? JSON.parse(raw) : raw) as { Plan: PlanNode }[];
    const root = document[0]?.Plan;
    if (!root) throw new Error("no plan");
    return scansOf(root, table);
  }

  /** The table is read through an index whose condition holds one of the filtered columns. */
  function expectServedByIndex(scans: PlanNode[], columns: string[]): void {
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) expect(scan["Node Type"]).not.toBe("Seq Scan");
    const conditions = scans
      .map((scan) => `${scan["Index Cond"] ?? ""} ${scan["Recheck Cond"] ?? ""}`)
      .join(" ");
    // Whole words: "id" is not "org_id".
    expect(columns.some((column) => new RegExp(`\\b${column}\\b`).test(conditions))).toBe(true);
  }

  const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
  const nowhere = "0190aaaa-0000-7000-8000-000000000000";

  const runFilters: [string, Omit<RunFilter, "orgId">, string[]][] = [
    ["status matching nothing", { status: "timeout" }, ["status"]],
    ["status matching a few", { status: "failed" }, ["status"]],
    ["kind matching nothing", { kind: "resource" }, ["kind"]],
    ["kind matching a few", { kind: "prompt" }, ["kind"]],
    ["an agent with no runs", { agent_id: nowhere }, ["agent_id"]],
    ["a tool with no runs", { tool_id: nowhere }, ["tool_id"]],
    ["until, long ago", { until: hoursAgo(24 * 27) }, ["started_at", "id"]],
    ["since, the last hour", { since: hoursAgo(1) }, ["started_at", "id"]],
    [
      "a window in the past",
      { since: hoursAgo(24 * 20), until: hoursAgo(24 * 20 - 1) },
      ["started_at", "id"],
    ],
    ["status and agent", { status: "timeout", agent_id: nowhere }, ["status", "agent_id"]],
  ];
  it.each(runFilters)("runs: %s", async (_name, filter, columns) => {
    const { statement } = runsPage(handle.db, { orgId, ...filter });
    expectServedByIndex(await plan(statement, "runs"), columns);
  });

  /*
   * No column filter: the busy org's newest runs sit under the other org's, so a walk of the
   * primary key (filtering on the org) would read all of those first. The page must come from an
   * index the org bounds.
   */
  const unfiltered: [string, Omit<RunFilter, "orgId">][] = [
    ["no filter", {}],
    ["since, the last hour", { since: hoursAgo(1) }],
  ];
  it.each(unfiltered)(
    "runs, %s: read within the org, not past another org's newer rows",
    async (_name, filter) => {
      const { statement } = runsPage(handle.db, { orgId, ...filter });
      expectServedByIndex(await plan(statement, "runs"), ["org_id"]);
    },
  );

  it("runs, a later page with no filter: read within the org", async () => {
    const { statement } = runsPage(handle.db, {
      orgId,
      cursor: Buffer.from(uuidv7(hoursAgo(24 * 10).getTime())).toString("base64url"),
    });
    expectServedByIndex(await plan(statement, "runs"), ["org_id"]);
  });

  it("audit events, no filter: read within the org, not past another org's newer rows", async () => {
    const { statement } = auditEventsPage(handle.db, { orgId });
    expectServedByIndex(await plan(statement, "audit_events"), ["org_id"]);
  });

  it("runs: a later page of a filter matching nothing, from the middle of the list", async () => {
    const { statement } = runsPage(handle.db, {
      orgId,
      status: "timeout",
      cursor: Buffer.from(uuidv7(hoursAgo(24 * 10).getTime())).toString("base64url"),
    });
    expectServedByIndex(await plan(statement, "runs"), ["status"]);
  });

  const auditFilters: [string, Omit<AuditFilter, "orgId">, string[]][] = [
    ["an action that never happened", { action: "org.delete" }, ["action"]],
    ["an actor with no events", { actor_id: "user:nobody" }, ["actor_id"]],
    ["a target type with no events", { target_type: "secret" }, ["target_type"]],
    ["a target with no events", { target_id: "nothing" }, ["target_id"]],
    ["since, in the future", { since: hoursAgo(-1) }, ["created_at"]],
  ];
  it.each(auditFilters)("audit events: %s", async (_name, filter, columns) => {
    const { statement } = auditEventsPage(handle.db, { orgId, ...filter });
    expectServedByIndex(await plan(statement, "audit_events"), columns);
  });
});
