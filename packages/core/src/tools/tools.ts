import { and, eq, ilike, or, sql, type SQL } from "drizzle-orm";
import type { Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import type { Db } from "../db/client";
import { connections, tools, type JsonObject } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError, isAppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { assertValidJsonSchema } from "../lib/json-schema-thread";
import { tenantResource } from "../lib/tenant-table";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { conflictMapper } from "../lib/pg-errors";
import { isMcpCallError } from "../mcp/errors";
import { getConnection, recordConnectionHealth } from "../connections/connections";
import { withConnectionSession } from "../connections/sessions";
import type { McpRuntime } from "../runtime";

export type Tool = typeof tools.$inferSelect;

const toConflict = conflictMapper({
  tools_org_name_uq: {
    field: "name",
    message: "A tool with this name already exists in the organization",
  },
  tools_connection_upstream_uq: {
    field: "upstream_name",
    message: "This connection already has a tool with this upstream name",
  },
});

export interface ToolFilter extends PageRequest {
  orgId: string;
  connection_id?: string | undefined;
  enabled?: boolean | undefined;
  stale?: boolean | undefined;
  q?: string | undefined;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (match) => `\\${match}`);
}

export async function listTools(db: Db, filter: ToolFilter): Promise<Page<Tool>> {
  const pattern = filter.q ? `%${escapeLike(filter.q)}%` : undefined;
  const conditions: (SQL | undefined)[] = [
    eq(tools.org_id, filter.orgId),
    filter.connection_id ? eq(tools.connection_id, filter.connection_id) : undefined,
    filter.enabled !== undefined ? eq(tools.enabled, filter.enabled) : undefined,
    filter.stale !== undefined ? eq(tools.stale, filter.stale) : undefined,
    pattern
      ? or(
          ilike(tools.name, pattern),
          ilike(tools.upstream_name, pattern),
          ilike(tools.description, pattern),
        )
      : undefined,
  ];
  const query = keyset(tools.id, filter, and(...conditions));
  const rows = await db
    .select()
    .from(tools)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

const toolResource = tenantResource(tools, "Tool", "tool");
export const getTool = toolResource.get;
export const findToolOrgId = toolResource.findOrgId;
export const deleteTool = toolResource.remove;

export interface ManualToolInput {
  orgId: string;
  connection_id: string;
  upstream_name: string;
  name?: string | undefined;
  title?: string | null | undefined;
  description?: string | undefined;
  input_schema?: JsonObject | undefined;
  output_schema?: JsonObject | null | undefined;
  annotations?: JsonObject | null | undefined;
  enabled?: boolean | undefined;
}

/** A tool registered by hand, for a server whose listing is incomplete or not yet synced. */
export async function createTool(
  db: Db,
  context: ActionContext,
  input: ManualToolInput,
): Promise<Tool> {
  const connection = await getConnection(db, { orgId: input.orgId, id: input.connection_id }).catch(
    (error: unknown) => {
      throw error instanceof AppError && error.code === "NOT_FOUND"
        ? AppError.invalidField("connection_id", "No such connection in this organization")
        : error;
    },
  );
  const inputSchema = input.input_schema ?? { type: "object" };
  await assertValidJsonSchema(inputSchema, "input_schema");
  if (input.output_schema) await assertValidJsonSchema(input.output_schema, "output_schema");
  try {
    return await db.transaction(async (tx) => {
      const [tool] = await tx
        .insert(tools)
        .values({
          org_id: input.orgId,
          connection_id: connection.id,
          name: input.name ?? input.upstream_name,
          upstream_name: input.upstream_name,
          title: input.title ?? null,
          description: input.description ?? "",
          input_schema: inputSchema,
          output_schema: input.output_schema ?? null,
          annotations: input.annotations ?? null,
          enabled: input.enabled ?? true,
          source: "manual",
        })
        .returning();
      if (!tool) throw new Error("insert returned no tool");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "tool.create",
        target_type: "tool",
        target_id: tool.id,
        metadata: { name: tool.name, connection_id: connection.id },
      });
      return tool;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

export async function updateTool(
  db: Db,
  context: ActionContext,
  input: {
    orgId: string;
    id: string;
    name?: string | undefined;
    description?: string | undefined;
    enabled?: boolean | undefined;
  },
): Promise<Tool> {
  try {
    return await db.transaction(async (tx) => {
      const before = await getTool(tx, input);
      const [tool] = await tx
        .update(tools)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          updated_at: new Date(),
        })
        .where(and(eq(tools.org_id, input.orgId), eq(tools.id, input.id)))
        .returning();
      if (!tool) throw AppError.notFound("Tool");
      const changes: JsonObject = {};
      if (before.name !== tool.name) changes.name = { from: before.name, to: tool.name };
      if (before.enabled !== tool.enabled)
        changes.enabled = { from: before.enabled, to: tool.enabled };
      if (before.description !== tool.description) changes.description = true;
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "tool.update",
        target_type: "tool",
        target_id: tool.id,
        metadata: { name: tool.name, changes },
      });
      return tool;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

export interface SyncResult {
  created: number;
  updated: number;
  stale: number;
  total: number;
}

const SYNC_BATCH_SIZE = 500;

/**
 * The registry name for a newly synced tool: its upstream name, or `<connection slug>__<name>`
 * when another connection of the org already uses it (with a counter if even that is taken).
 */
function assignName(upstreamName: string, slug: string, taken: Set<string>): string {
  const candidates = [upstreamName, `${slug}__${upstreamName}`];
  for (let counter = 2; ; counter++) {
    const candidate = candidates.shift() ?? `${slug}__${upstreamName}_${counter}`;
    if (!taken.has(candidate)) {
      taken.add(candidate);
      return candidate;
    }
  }
}

function toJsonObject(value: unknown): JsonObject | null {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as JsonObject)
    : null;
}

/**
 * Lists the server's tools (every page) and reconciles the registry in one transaction: new tools
 * are inserted, known ones refreshed (their registry name and enabled flag are the admin's and are
 * kept), and tools the server no longer offers are marked stale and disabled, never deleted, since
 * runs refer to them.
 */
export async function syncConnection(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: { orgId: string; id: string },
): Promise<SyncResult> {
  const connection = await getConnection(db, input);
  let upstream: McpTool[];
  try {
    // A person syncing a per-user OAuth connection lists the tools their own account is offered.
    upstream = await withConnectionSession(
      db,
      runtime,
      connection,
      { userId: context.actor.type === "user" ? context.actor.id : null },
      (session) => session.listAllTools(),
    );
  } catch (error) {
    // The platform's own refusals (no credential, unreadable secret) say nothing of the server.
    if (isAppError(error)) throw error;
    const message = isMcpCallError(error) ? error.message : "The server could not be reached";
    await recordConnectionHealth(db, { orgId: connection.org_id, id: connection.id }, message);
    if (isMcpCallError(error)) {
      throw new AppError("UPSTREAM", `Sync failed: ${message}`, { cause: error });
    }
    throw error;
  }

  const seen = new Set<string>();
  const offered = upstream.filter((tool) => !seen.has(tool.name) && seen.add(tool.name));

  const result = await db.transaction(async (tx) => {
    // One sync per connection at a time: concurrent ones would race on names and stale flags.
    await tx
      .select({ id: connections.id })
      .from(connections)
      .where(eq(connections.id, connection.id))
      .for("update");
    const existing = await tx
      .select({ upstream_name: tools.upstream_name })
      .from(tools)
      .where(eq(tools.connection_id, connection.id));
    const known = new Set(existing.map((row) => row.upstream_name));
    const taken = new Set(
      (await tx.select({ name: tools.name }).from(tools).where(eq(tools.org_id, input.orgId))).map(
        (row) => row.name,
      ),
    );

    const now = new Date();
    const rows = offered.map((tool) => ({
      org_id: input.orgId,
      connection_id: connection.id,
      name: known.has(tool.name) ? tool.name : assignName(tool.name, connection.slug, taken),
      upstream_name: tool.name,
      title: tool.title ?? tool.annotations?.title ?? null,
      description: tool.description ?? "",
      input_schema: toJsonObject(tool.inputSchema) ?? { type: "object" },
      output_schema: toJsonObject(tool.outputSchema),
      annotations: toJsonObject(tool.annotations),
      source: "synced" as const,
      created_at: now,
      updated_at: now,
    }));

    let created = 0;
    let updated = 0;
    for (let start = 0; start < rows.length; start += SYNC_BATCH_SIZE) {
      const batch = rows.slice(start, start + SYNC_BATCH_SIZE);
      const written = await tx
        .insert(tools)
        .values(batch)
        .onConflictDoUpdate({
          target: [tools.connection_id, tools.upstream_name],
          set: {
            title: sql`excluded.title`,
            description: sql`excluded.description`,
            input_schema: sql`excluded.input_schema`,
            output_schema: sql`excluded.output_schema`,
            annotations: sql`excluded.annotations`,
            // A tool that comes back was disabled only for being stale: it is offered again.
            enabled: sql`case when ${tools.stale} then true else ${tools.enabled} end`,
            stale: false,
            updated_at: now,
          },
        })
        // xmax is 0 only for freshly inserted rows: the cheapest way to tell inserts from updates.
        .returning({ inserted: sql<boolean>`(xmax = 0)` });
      for (const row of written) {
        if (row.inserted) created++;
        else updated++;
      }
    }

    const offeredNames = offered.map((tool) => tool.name);
    const staled = await tx
      .update(tools)
      .set({ stale: true, enabled: false, updated_at: now })
      .where(
        and(
          eq(tools.connection_id, connection.id),
          eq(tools.source, "synced"),
          eq(tools.stale, false),
          offeredNames.length > 0
            ? sql`(${tools.upstream_name} <> all(${sql.param(offeredNames)}::text[]))`
            : undefined,
        ),
      )
      .returning({ id: tools.id });

    await tx
      .update(connections)
      .set({ last_synced_at: now, status: "healthy", last_error: null })
      .where(and(eq(connections.org_id, input.orgId), eq(connections.id, connection.id)));
    const summary = { created, updated, stale: staled.length, total: offered.length };
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "connection.sync",
      target_type: "connection",
      target_id: connection.id,
      metadata: { ...summary },
    });
    return summary;
  });
  return result;
}
