import { randomUUID } from "node:crypto";
import { applyRetention, createDatabase, RETENTION_LOCK_KEY, type DatabaseHandle } from "@mcp/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { databaseUnavailable, TEST_DB } from "./harness";

/*
 * What needs separate PostgreSQL connections: the retention job's lock seen from another replica,
 * and the plans of the list and stats queries (the retention itself is tested in core).
 */
describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")("retention and indexes", () => {
  let database: DatabaseHandle;
  let other: pg.Client;

  beforeAll(async () => {
    database = await createDatabase({ databaseUrl: inject("postgresUrl"), poolSize: 2 });
    await database.migrate();
    other = new pg.Client({ connectionString: inject("postgresUrl") });
    await other.connect();
  });

  afterAll(async () => {
    await other.end();
    await database.close();
  });

  it("prunes on one replica at a time: a pass that finds the lock taken deletes nothing", async () => {
    const org = (
      await other.query<{ id: string }>(
        "insert into orgs (id, name, slug) values ($1, 'Old', $2) returning id",
        [randomUUID(), `old-${randomUUID()}`],
      )
    ).rows[0];
    if (!org) throw new Error("org insert returned nothing");
    await other.query(
      `insert into runs (id, org_id, tool_name, status, triggered_by, started_at)
       values ($1, $2, 'ancient', 'succeeded', '{}', now() - interval '400 days')`,
      [randomUUID(), org.id],
    );
    const count = async () =>
      Number(
        (await other.query("select count(*) from runs where org_id = $1", [org.id])).rows[0]?.count,
      );

    // Another replica is in the middle of a batch.
    await other.query("begin");
    await other.query("select pg_advisory_xact_lock($1)", [RETENTION_LOCK_KEY]);
    const blocked = await applyRetention(database.db, { runsDays: 90, auditDays: 365 });
    await other.query("commit");
    expect(blocked).toEqual({ ran: false, runs: 0, audit: 0, sessions: 0 });
    expect(await count()).toBe(1);

    const free = await applyRetention(database.db, { runsDays: 90, auditDays: 365 });
    expect(free.ran).toBe(true);
    expect(free.runs).toBeGreaterThanOrEqual(1);
    expect(await count()).toBe(0);
  });

  /** The indexes the plan of `query` reads (sequential scans are off: any applicable index wins). */
  async function indexesUsed(query: string, params: unknown[]): Promise<string> {
    await other.query("begin");
    try {
      await other.query("set local enable_seqscan = off");
      const plan = await other.query<{ "QUERY PLAN": string }>(`explain ${query}`, params);
      return plan.rows.map((row) => row["QUERY PLAN"]).join("\n");
    } finally {
      await other.query("rollback");
    }
  }

  it("has an index for the stats window and for each list filter, in list order", async () => {
    // Plans depend on statistics: an org with 100 days of runs and audit events, analyzed.
    const org = randomUUID();
    await other.query("insert into orgs (id, name, slug) values ($1, 'Busy', $2)", [
      org,
      `busy-${org}`,
    ]);
    await other.query(
      `insert into runs (id, org_id, tool_name, status, triggered_by, started_at)
       select gen_random_uuid(), $1, 'echo', (array['succeeded','failed','denied'])[1 + i % 3]::run_status,
         '{}', now() - make_interval(secs => i * 432)
       from generate_series(1, 20000) i`,
      [org],
    );
    // The chain is not what is planned here; chaining 20,000 events of one org in one statement
    // takes a minute on a busy machine (each advances the org's head row). Triggers are off for
    // this connection only: the database is shared with the other test files.
    await other.query("set session_replication_role = replica");
    await other.query(
      `insert into audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, created_at)
       select gen_random_uuid(), $1, 'agent', 'agent:' || (i % 50), 'tool.run', 'run', gen_random_uuid()::text,
         now() - make_interval(secs => i * 432)
       from generate_series(1, 20000) i`,
      [org],
    );
    await other.query("reset session_replication_role");
    await other.query("analyze runs");
    await other.query("analyze audit_events");
    const since = new Date(Date.now() - 86_400_000).toISOString();
    expect(
      await indexesUsed(
        "select count(*) from runs where org_id = $1 and started_at >= $2 and started_at < now()",
        [org, since],
      ),
    ).toMatch(/runs_org_started_at_idx/);
    for (const [column, index] of [
      ["tool_id", "runs_org_tool_id_idx"],
      ["agent_id", "runs_org_agent_id_idx"],
    ]) {
      const plan = await indexesUsed(
        `select * from runs where org_id = $1 and ${column} = $2 order by id desc limit 50`,
        [org, randomUUID()],
      );
      expect(plan).toMatch(new RegExp(`Index Scan Backward using ${index}`));
      expect(plan).not.toMatch(/Sort/);
    }
    const byStatus = await indexesUsed(
      "select * from runs where org_id = $1 and status = 'failed' order by id desc limit 50",
      [org],
    );
    expect(byStatus).toMatch(/Index Scan Backward using runs_org_status_id_idx/);
    for (const [column, index] of [
      ["action", "audit_events_org_action_id_idx"],
      ["actor_id", "audit_events_org_actor_id_idx"],
    ]) {
      const plan = await indexesUsed(
        `select * from audit_events where org_id = $1 and ${column} = $2 order by id desc limit 50`,
        // A rare value: where most rows match, scanning the org in id order is the better plan.
        [org, "agent.revoke"],
      );
      expect(plan).toMatch(new RegExp(`Index Scan Backward using ${index}`));
      expect(plan).not.toMatch(/Sort/);
    }
    expect(
      await indexesUsed("select * from audit_events where org_id = $1 and target_id = $2", [
        org,
        randomUUID(),
      ]),
    ).toMatch(/audit_events_org_target_idx/);
    await other.query("delete from orgs where id = $1", [org]);
  });
});
