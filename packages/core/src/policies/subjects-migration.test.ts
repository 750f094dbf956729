import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS_FOLDER, migrationsBefore } from "../testing/migrations";

/*
 * The migration that added policy subjects, applied to a database holding policies written before
 * it: each keeps its meaning (no agent: every agent and every person, now `everyone`; an agent:
 * that agent only, now `agent`).
 */
describe("the policy subjects migration", () => {
  const before = migrationsBefore("0027_policy_subjects");
  const client = new PGlite();
  afterAll(async () => {
    await client.close();
    before.remove();
  });

  it("turns agent-less policies into policies for everyone and keeps agent policies the agent's", async () => {
    const db = drizzle(client);
    await migrate(db, { migrationsFolder: before.folder });

    const org = (
      await client.query<{ id: string }>(
        "insert into orgs (id, name, slug) values (gen_random_uuid(), 'Acme', 'acme') returning id",
      )
    ).rows[0]?.id;
    const agent = (
      await client.query<{ id: string }>(
        "insert into agents (id, org_id, name) values (gen_random_uuid(), $1, 'Deployer') returning id",
        [org],
      )
    ).rows[0]?.id;
    await client.query(
      `insert into policies (id, org_id, name, effect, agent_id, tool_pattern) values
        (gen_random_uuid(), $1, 'everyone-reads', 'allow', null, 'read_*'),
        (gen_random_uuid(), $1, 'no-delete', 'deny', null, 'delete_*'),
        (gen_random_uuid(), $1, 'deployer-deploys', 'allow', $2, 'deploy_*')`,
      [org, agent],
    );

    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    const rows = (
      await client.query<Record<string, unknown>>(
        "select name, effect, subject, agent_id, user_id, min_role from policies order by name",
      )
    ).rows;
    expect(rows).toEqual([
      {
        name: "deployer-deploys",
        effect: "allow",
        subject: "agent",
        agent_id: agent,
        user_id: null,
        min_role: null,
      },
      {
        name: "everyone-reads",
        effect: "allow",
        subject: "everyone",
        agent_id: null,
        user_id: null,
        min_role: null,
      },
      {
        name: "no-delete",
        effect: "deny",
        subject: "everyone",
        agent_id: null,
        user_id: null,
        min_role: null,
      },
    ]);
    // The check keeps each subject to its own field from now on.
    await expect(
      client.query(
        "insert into policies (id, org_id, name, effect, subject, agent_id, tool_pattern) values (gen_random_uuid(), $1, 'x', 'allow', 'role', $2, '*')",
        [org, agent],
      ),
    ).rejects.toThrow(/policies_subject_fields/);
  });
});
