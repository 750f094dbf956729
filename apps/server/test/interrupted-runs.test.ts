import { randomUUID } from "node:crypto";
import { sweepInterruptedRuns, uuidv7 } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  type TestOrg,
  type TestServer,
  toolCall,
} from "./harness";

describe.skipIf(databaseUnavailable)("runs interrupted by a stopped server", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  const db = () => server.database.db;

  /** A replica row as another process would have left it, heartbeating `ageSeconds` ago. */
  async function replica(ageSeconds: number): Promise<string> {
    const id = randomUUID();
    await db()
      .insert(schema.replicas)
      .values({ id, heartbeat_at: sql`now() - make_interval(secs => ${ageSeconds})` });
    return id;
  }

  async function runningRun(
    org: TestOrg,
    replicaId: string | null,
    startedSecondsAgo = 0,
  ): Promise<string> {
    const id = uuidv7();
    await db()
      .insert(schema.runs)
      .values({
        id,
        org_id: org.id,
        tool_name: "slow",
        status: "running",
        input: { ms: 1 },
        triggered_by: { type: "user", id: org.owner.id, surface: "rest" },
        started_at: sql`now() - make_interval(secs => ${startedSecondsAgo})`,
        replica_id: replicaId,
      });
    return id;
  }

  async function statuses(ids: string[]): Promise<Record<string, string>> {
    const rows = await db()
      .select({ id: schema.runs.id, status: schema.runs.status, error: schema.runs.error })
      .from(schema.runs)
      .where(inArray(schema.runs.id, ids));
    for (const row of rows) {
      if (row.status === "failed") expect(row.error).toMatch(/^Interrupted: /);
    }
    return Object.fromEntries(rows.map((row) => [row.id, row.status]));
  }

  it("sweeps the runs of replicas that stopped heartbeating, never a live replica's", async () => {
    const org = await createOrg(server);
    const liveOther = await replica(1);
    const dead = await replica(3_600);
    const runs = {
      own: await runningRun(org, server.runtime.replicaId),
      liveOther: await runningRun(org, liveOther),
      dead: await runningRun(org, dead),
      unknown: await runningRun(org, randomUUID()),
      // Written by a process from before replicas were tracked: its connection's timeout rules.
      legacyRecent: await runningRun(org, null),
      legacyOld: await runningRun(org, null, 3_600),
    };
    await sweepInterruptedRuns(db());
    expect(await statuses(Object.values(runs))).toEqual({
      [runs.own]: "running",
      [runs.liveOther]: "running",
      [runs.dead]: "failed",
      [runs.unknown]: "failed",
      [runs.legacyRecent]: "running",
      [runs.legacyOld]: "failed",
    });
    const [swept] = await db().select().from(schema.runs).where(eq(schema.runs.id, runs.dead));
    expect(swept?.finished_at).not.toBeNull();
    expect(swept?.duration_ms).toBeGreaterThanOrEqual(0);
    // The dead replica is forgotten; live ones stay.
    const left = await db()
      .select({ id: schema.replicas.id })
      .from(schema.replicas)
      .where(inArray(schema.replicas.id, [liveOther, dead, server.runtime.replicaId]));
    expect(left.map((row) => row.id).sort()).toEqual([liveOther, server.runtime.replicaId].sort());
  });

  it("a starting replica sweeps a dead one's runs but not a live one's; a stopped one's follow", async () => {
    const org = await createOrg(server);
    const first = await startTestServer();
    const ofFirst = await runningRun(org, first.runtime.replicaId);
    const ofDead = await runningRun(org, await replica(3_600));

    const second = await startTestServer();
    let firstClosed = false;
    try {
      expect(second.runtime.replicaId).not.toBe(first.runtime.replicaId);
      expect(await statuses([ofFirst, ofDead])).toEqual({
        [ofFirst]: "running",
        [ofDead]: "failed",
      });
      // A stopped replica retires its row: what it left running is swept at once.
      await first.close();
      firstClosed = true;
      await sweepInterruptedRuns(db());
      expect(await statuses([ofFirst])).toEqual({ [ofFirst]: "failed" });
    } finally {
      if (!firstClosed) await first.close();
      await second.close();
    }
  });

  it("records on a running run which replica makes the call", async () => {
    const org = await createOrg(server);
    const g = governance(server, org);
    await g.syncedConnection({ transport: "streamable_http", url: upstream.url });
    const agent = (await g.agent()) as { id: string };
    const { key } = (await g.key(agent.id)) as { key: string };
    await g.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
    const started = upstream.nextCall("started", "slow");
    const hangUp = new AbortController();
    const call = gatewayPost(
      server.url,
      agent.id,
      key,
      toolCall("slow", { ms: 60_000 }),
      hangUp.signal,
    );
    call.catch(() => undefined);
    await started;
    await expect
      .poll(async () => {
        const [row] = await db()
          .select({ status: schema.runs.status, replica_id: schema.runs.replica_id })
          .from(schema.runs)
          .where(eq(schema.runs.org_id, org.id));
        return row;
      })
      .toEqual({ status: "running", replica_id: server.runtime.replicaId });
    const cancelled = upstream.nextCall("finished", "slow");
    hangUp.abort();
    await cancelled;
  });
});
