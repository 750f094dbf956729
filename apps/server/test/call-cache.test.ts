import { createDatabase, type DatabaseHandle } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { loadEnv } from "../src/env";
import { startServer, type RunningServer } from "../src/server";
import { governance } from "./governance";
import {
  createOrg,
  databaseUnavailable,
  startTestServer,
  TEST_DB,
  type TestServer,
} from "./harness";

/*
 * Governed calls read agents, keys, tools, connections and policies from a per-process cache
 * that follows the database's change notifications. These tests use two platform processes on
 * one database (on PostgreSQL each with its own connections, as separate processes would have)
 * and check that a change made through one reaches the other's cache.
 */
describe.skipIf(databaseUnavailable)("call cache across processes", () => {
  let first: TestServer;
  let secondDatabase: DatabaseHandle | null = null;
  let second: RunningServer;
  let upstream: RunningTestMcpServer;

  beforeAll(async () => {
    first = await startTestServer();
    upstream = await startTestMcpServer();
    secondDatabase =
      TEST_DB === "postgres"
        ? await createDatabase({ databaseUrl: inject("postgresUrl"), poolSize: 2 })
        : null;
    second = await startServer(
      loadEnv({ PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", NODE_ENV: "test" }),
      { database: secondDatabase ?? first.database },
    );
  });
  afterAll(async () => {
    await second.close();
    await secondDatabase?.close();
    await first.close();
    await upstream.close();
  });

  async function setup() {
    const org = await createOrg(first);
    const api = governance(first, org);
    const connection = await api.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const echo = connection.tools.echo ?? "";
    const agent = await api.agent();
    const { key } = (await api.key(agent.id)) as { key: string };
    await api.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
    /** A run on the second process, with the agent's key. */
    const runOnSecond = async () => {
      const response = await fetch(`${second.url}/api/v1/tools/${echo}/run/`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ input: { text: "hi" } }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    return { org, api, echo, agent, key, runOnSecond };
  }

  it("refuses a key revoked on the other process once the change reached this one", async () => {
    const { org, agent, key, runOnSecond } = await setup();
    // Served twice, so the second answer comes from the cache.
    expect((await runOnSecond()).body.status).toBe("succeeded");
    expect((await runOnSecond()).body.status).toBe("succeeded");

    const owner = { token: org.owner.token };
    const keys = await first.request("GET", `/agents/${agent.id}/keys/`, owner);
    const [listed] = keys.body.results as { id: string }[];
    expect(listed).toBeDefined();
    const revoked = await first.request("DELETE", `/agents/${agent.id}/keys/${listed?.id}/`, owner);
    expect(revoked.status).toBe(204);
    await second.runtime.calls.barrier();
    expect((await runOnSecond()).status).toBe(401);
    // The key is not back once the revocation is cached out either.
    expect((await runOnSecond()).status).toBe(401);
    expect(key).toMatch(/^mcpa_/);
  });

  it("follows policy, tool and agent changes made on the other process", async () => {
    const { org, api, echo, agent, runOnSecond } = await setup();
    expect((await runOnSecond()).body.status).toBe("succeeded");

    await api.policy({ effect: "deny", agent_id: agent.id, tool_pattern: "echo" });
    await second.runtime.calls.barrier();
    const denied = await runOnSecond();
    expect(denied.body).toMatchObject({ status: "denied" });
    expect(String(denied.body.error)).toMatch(/denied by policy/i);

    const owner = { token: org.owner.token };
    const policies = await first.request("GET", `/orgs/${org.id}/policies/`, owner);
    for (const policy of policies.body.results as { id: string; effect: string }[]) {
      if (policy.effect === "deny")
        expect((await first.request("DELETE", `/policies/${policy.id}/`, owner)).status).toBe(204);
    }
    const disabled = await first.request("PATCH", `/tools/${echo}/`, {
      ...owner,
      body: { enabled: false },
    });
    expect(disabled.status).toBe(200);
    await second.runtime.calls.barrier();
    expect((await runOnSecond()).body).toMatchObject({ status: "denied" });

    await first.request("PATCH", `/tools/${echo}/`, { ...owner, body: { enabled: true } });
    await second.runtime.calls.barrier();
    expect((await runOnSecond()).body.status).toBe("succeeded");

    await first.request("PATCH", `/agents/${agent.id}/`, {
      ...owner,
      body: { status: "disabled" },
    });
    await second.runtime.calls.barrier();
    expect((await runOnSecond()).status).toBe(401);
  });

  it.runIf(TEST_DB === "postgres")(
    "reads from the database while its notifications are down, and forgets what it missed",
    async () => {
      const { agent, runOnSecond } = await setup();
      expect((await runOnSecond()).body.status).toBe("succeeded");
      const feed = secondDatabase?.changes;
      if (!feed) throw new Error("no second database");

      // Drop the second process's listening connection, change the agent while it is gone...
      await first.database.db.execute(
        sql`select pg_terminate_backend(pid) from pg_stat_activity
            where application_name = 'mcp-agents-platform change feed'
              and datname = current_database()`,
      );
      // Reconnecting waits at least 100 ms, so a fine-grained poll sees the gap.
      await expect.poll(() => feed.live, { timeout: 5_000, interval: 5 }).toBe(false);
      await first.database.db
        .update(schema.agents)
        .set({ status: "disabled" })
        .where(eq(schema.agents.id, agent.id));
      // ...so the change is seen although its notification was lost, before and after the
      // listener is back.
      expect((await runOnSecond()).status).toBe(401);
      await expect.poll(() => feed.live, { timeout: 10_000 }).toBe(true);
      expect((await runOnSecond()).status).toBe(401);
    },
  );
});
