import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { afterAll, describe, expect, it } from "vitest";
import type { ToolDefinition } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { MIGRATIONS_FOLDER, migrationsBefore } from "../testing/migrations";
import { definitionHash } from "./definitions";

/*
 * The migration that added tool definition history, applied to a registry written before it:
 * each approved definition starts its tool's history, dated and attributed by the audit event that
 * approved it; tools never approved, and tools without a hash yet, start none.
 */
describe("the tool definition history migration", () => {
  const before = migrationsBefore("0032_tool_definition_history");
  const client = new PGlite();
  afterAll(async () => {
    await client.close();
    before.remove();
  });

  const definition = (description: string): ToolDefinition => ({
    title: null,
    description,
    // Keys out of canonical order: the backfill keeps the text the server sent.
    input_schema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
    output_schema: null,
    annotations: { readOnlyHint: true },
  });

  it("backfills each approved definition with its approver, and nothing for the rest", async () => {
    const db = drizzle(client);
    await migrate(db, { migrationsFolder: before.folder });
    const one = async (query: string, params: unknown[] = []) => {
      const row = (await client.query<{ id: string }>(query, params)).rows[0];
      if (!row) throw new Error(`no row from ${query}`);
      return row.id;
    };
    const org = await one(
      "insert into orgs (id, name, slug) values (gen_random_uuid(), 'Acme', 'acme') returning id",
    );
    const user = await one(
      "insert into users (id, email) values (gen_random_uuid(), 'ada@example.com') returning id",
    );
    const connection = await one(
      `insert into connections (id, org_id, name, slug, transport, url)
        values (gen_random_uuid(), $1, 'Words', 'words', 'streamable_http', 'http://words.example') returning id`,
      [org],
    );
    const insertTool = (name: string, value: ToolDefinition, extra: Record<string, unknown>) => {
      const columns = {
        id: uuidv7(),
        org_id: org,
        connection_id: connection,
        name,
        upstream_name: name,
        title: value.title,
        description: value.description,
        input_schema: JSON.stringify(value.input_schema),
        output_schema: value.output_schema === null ? null : JSON.stringify(value.output_schema),
        annotations: value.annotations === null ? null : JSON.stringify(value.annotations),
        source: "synced",
        created_at: "2026-01-01T00:00:00.000Z",
        ...extra,
      };
      const names = Object.keys(columns);
      return one(
        `insert into tools (${names.join(", ")}) values (${names.map((_, i) => `$${i + 1}`).join(", ")}) returning id`,
        Object.values(columns),
      );
    };
    const approvedDefinition = definition("Looks a word up, as approved");
    const approvedHash = definitionHash(approvedDefinition);
    const approved = await insertTool("approved", approvedDefinition, {
      definition_hash: approvedHash,
    });
    const firstSynced = await insertTool("first_synced", definition("Synced once"), {
      definition_hash: definitionHash(definition("Synced once")),
    });
    const manual = await insertTool("manual", definition("By hand"), {
      definition_hash: definitionHash(definition("By hand")),
      source: "manual",
    });
    await insertTool("never_approved", definition("New"), {
      definition_hash: definitionHash(definition("New")),
      quarantine: "new",
    });
    await insertTool("unhashed", definition("Before pinning"), {});
    const audit = (action: string, target: string, at: string, metadata: object) =>
      client.query(
        `insert into audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, metadata, created_at)
          values ($1, $2, 'user', $3, $4, 'tool', $5, $6, $7)`,
        [uuidv7(), org, user, action, target, JSON.stringify(metadata), at],
      );
    // An older approval of another definition, then the approval of the pinned one.
    await audit("tool.definition_approve", approved, "2026-02-01T00:00:00.000Z", {
      hash: "0".repeat(64),
    });
    await audit("tool.definition_approve", approved, "2026-03-01T00:00:00.000Z", {
      hash: approvedHash,
    });
    await audit("tool.create", manual, "2026-01-01T00:00:00.000Z", { name: "manual" });

    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    const rows = (
      await client.query<{
        id: string;
        name: string;
        tool_id: string;
        hash: string;
        definition: ToolDefinition;
        source: string;
        actor_type: string;
        actor_id: string | null;
        created_at: Date;
      }>(
        `select d.id, t.name, d.tool_id, d.hash, d.definition, d.source, d.actor_type, d.actor_id, d.created_at
          from tool_definitions d join tools t on t.id = d.tool_id where d.org_id = $1 order by t.name`,
        [org],
      )
    ).rows;
    expect(rows.map((row) => row.name)).toEqual(["approved", "first_synced", "manual"]);
    const [fromApproval, fromSync, fromCreate] = rows;
    expect(fromApproval).toMatchObject({
      tool_id: approved,
      hash: approvedHash,
      definition: approvedDefinition,
      source: "backfill",
      actor_type: "user",
      actor_id: user,
      created_at: new Date("2026-03-01T00:00:00.000Z"),
    });
    // The stored definition is the one the hash was computed from.
    expect(definitionHash(fromApproval?.definition ?? approvedDefinition)).toBe(approvedHash);
    expect(fromSync).toMatchObject({
      tool_id: firstSynced,
      actor_type: "system",
      actor_id: null,
      created_at: new Date("2026-01-01T00:00:00.000Z"),
    });
    expect(fromCreate).toMatchObject({ tool_id: manual, actor_type: "user", actor_id: user });
    // UUIDv7 of the approval's date: entries written from now on sort after it.
    for (const row of rows) {
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.id < uuidv7()).toBe(true);
      expect(row.id.replace(/-/g, "").slice(0, 12)).toBe(
        row.created_at.getTime().toString(16).padStart(12, "0"),
      );
    }
  });
});
