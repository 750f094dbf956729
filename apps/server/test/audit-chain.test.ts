import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sql, type SQL } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import {
  TEST_SERVER_ENV,
  TEST_DB,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

const run = promisify(execFile);

interface Report {
  valid: boolean;
  events: number;
  first_seq: number | null;
  last_seq: number | null;
  head_hash: string | null;
  first_broken: { chain_seq: number; event_id: string | null; reason: string } | null;
}

describe.skipIf(databaseUnavailable)("tamper-evident audit", () => {
  let server: TestServer;
  let replica: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    // A second server on the same database: both write the same org's events at once.
    replica = await startTestServer();
  });
  afterAll(async () => {
    await replica.close();
    await server.close();
  });

  const verify = async (org: TestOrg, via: TestServer = server) => {
    const response = await via.request<Report>("GET", `/orgs/${org.id}/audit-events/verify/`, {
      token: org.owner.token,
    });
    expect(response.status).toBe(200);
    return response.body;
  };

  /** Audit events made by two replicas at once, for the same org. */
  async function busyOrg(count = 12): Promise<TestOrg> {
    const org = await createOrg(server);
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        (i % 2 === 0 ? server : replica)
          .request("POST", `/orgs/${org.id}/agents/`, {
            token: org.owner.token,
            body: { name: `agent-${i}` },
          })
          .then((response) => {
            expect(response.status).toBe(201);
          }),
      ),
    );
    return org;
  }

  const db = () => server.database.db;
  const firstRow = async <T>(query: SQL): Promise<T> => {
    const result: unknown = await db().execute(query);
    const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
    return rows[0] as T;
  };
  const eventAt = async (org: TestOrg, seq: number) =>
    (
      await firstRow<{ id: string }>(
        sql`select id from audit_events where org_id = ${org.id} and chain_seq = ${seq}`,
      )
    ).id;

  it("lists the actions an org's log holds, once each and sorted, and none of another org's", async () => {
    const org = await busyOrg(3);
    const other = await createOrg(server);
    await server.request("POST", `/orgs/${other.id}/environments/`, {
      token: other.owner.token,
      body: { name: "only-elsewhere" },
    });
    const response = await server.request<{ actions: string[] }>(
      "GET",
      `/orgs/${org.id}/audit-events/actions/`,
      { token: org.owner.token },
    );
    expect(response.status).toBe(200);
    const { actions } = response.body;
    expect(actions).toContain("agent.create");
    expect(actions).not.toContain("environment.create");
    expect(actions).toEqual([...new Set(actions)].sort());
  });

  it("chains every event of an org, written concurrently by two replicas, in one unbroken line", async () => {
    const org = await busyOrg();
    const report = await verify(org, replica);
    const { total } = await firstRow<{ total: number }>(
      sql`select count(*)::int as total from audit_events where org_id = ${org.id}`,
    );
    expect(total).toBeGreaterThanOrEqual(13);
    expect(report).toMatchObject({
      valid: true,
      events: total,
      first_seq: 1,
      last_seq: total,
      first_broken: null,
    });
    expect(report.head_hash).toMatch(/^[0-9a-f]{64}$/);

    const listed = await server.request("GET", `/orgs/${org.id}/audit-events/?limit=200`, {
      token: org.owner.token,
    });
    // Ids (made by each replica) need not follow the chain's order; the chain is complete.
    expect(listed.body.results).toContainEqual(
      expect.objectContaining({ chain_seq: total, hash: report.head_hash }),
    );
  });

  it("names the first broken link after one row is changed directly in the database", async () => {
    const org = await busyOrg(6);
    const tampered = await eventAt(org, 3);
    await db().execute(
      sql`update audit_events set metadata = '{"name":"innocent"}' where id = ${tampered}`,
    );
    expect((await verify(org)).first_broken).toEqual({
      chain_seq: 3,
      event_id: tampered,
      reason: "the event's content does not match its hash (changed after it was written)",
    });

    // Recomputing the changed row's own hash does not help: the next link no longer holds.
    await db().execute(sql`update audit_events set hash = audit_event_digest(prev_hash, chain_seq,
      id, org_id, actor_type::text, actor_id, action, target_type, target_id, metadata, ip,
      user_agent, created_at) where id = ${tampered}`);
    const next = await eventAt(org, 4);
    expect((await verify(org)).first_broken).toEqual({
      chain_seq: 4,
      event_id: next,
      reason: "prev_hash is not the hash of event 3",
    });
  });

  it("names removed events, in the middle and at the newest end", async () => {
    const org = await busyOrg(6);
    const after = await eventAt(org, 5);
    await db().execute(sql`delete from audit_events where org_id = ${org.id} and chain_seq = 4`);
    expect((await verify(org)).first_broken).toEqual({
      chain_seq: 5,
      event_id: after,
      reason: "event 4 of the chain is missing (deleted)",
    });

    const tail = await busyOrg(6);
    const { last_seq: last } = await verify(tail);
    await db().execute(
      sql`delete from audit_events where org_id = ${tail.id} and chain_seq >= ${(last ?? 0) - 1}`,
    );
    expect((await verify(tail)).first_broken).toEqual({
      chain_seq: (last ?? 0) - 1,
      event_id: null,
      reason: `the newest events (${(last ?? 0) - 1}–${last}) of the chain are missing`,
    });
  });

  it("streams the chain as NDJSON and as injection-safe CSV, to members of the org only", async () => {
    const org = await createOrg(server);
    const formula = '=HYPERLINK("http://evil.example","x")';
    const created = await server.request("POST", `/orgs/${org.id}/agents/`, {
      token: org.owner.token,
      body: { name: "exported" },
      headers: { "user-agent": formula },
    });
    expect(created.status).toBe(201);
    const report = await verify(org);
    const get = (format: string, token = org.owner.token) =>
      fetch(`${server.url}/api/v1/orgs/${org.id}/audit-events/export?format=${format}`, {
        headers: { authorization: `Token ${token}` },
      });

    const ndjson = await get("ndjson");
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const lines = (await ndjson.text())
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(report.events);
    expect(lines.map((line) => line.chain_seq)).toEqual(
      Array.from({ length: report.events }, (_, i) => i + 1),
    );
    for (const [i, line] of lines.entries())
      expect(line.prev_hash).toBe(i === 0 ? null : lines[i - 1].hash);
    expect(lines.at(-1)).toMatchObject({ hash: report.head_hash, user_agent: formula });

    const csv = await get("csv");
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const rows = (await csv.text()).trimEnd().split("\r\n");
    expect(rows[0]).toBe(
      "chain_seq,id,created_at,actor_type,actor_id,action,target_type,target_id,metadata,ip,user_agent,prev_hash,hash",
    );
    expect(rows).toHaveLength(report.events + 1);
    // The formula is a quoted text cell starting with ', which spreadsheets do not evaluate.
    expect(rows.at(-1)).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(rows.at(-1)).toMatch(new RegExp(`,${report.head_hash}$`));

    expect((await get("xml")).status).toBe(400);
    const stranger = await createOrg(server);
    expect((await get("ndjson", stranger.owner.token)).status).toBe(404);
    const foreign = await server.request("GET", `/orgs/${org.id}/audit-events/verify/`, {
      token: stranger.owner.token,
    });
    expect(foreign.status).toBe(404);
  });

  it.skipIf(TEST_DB !== "postgres")(
    "checks the chain from the command line",
    async () => {
      const org = await busyOrg(4);
      const cli = () =>
        // What `pnpm audit:verify` runs, without pnpm's start-up.
        run("node_modules/.bin/tsx", ["src/scripts/audit-verify.ts", "--org", org.id], {
          cwd: new URL("..", import.meta.url).pathname,
          env: { ...process.env, ...TEST_SERVER_ENV, DATABASE_URL: inject("postgresUrl") },
        });
      const intact = await cli();
      expect(JSON.parse(intact.stdout)).toMatchObject({ valid: true, first_broken: null });

      const tampered = await eventAt(org, 2);
      await db().execute(sql`update audit_events set action = 'nothing' where id = ${tampered}`);
      const failure = await cli().then(
        () => null,
        (error: unknown) => error as { code: number; stdout: string; stderr: string },
      );
      expect(failure?.code).toBe(1);
      expect(JSON.parse(failure?.stdout ?? "{}").first_broken).toMatchObject({
        chain_seq: 2,
        event_id: tampered,
      });
      expect(failure?.stderr).toContain(`Broken at event 2 (${tampered})`);
    },
    600_000,
  );
});
