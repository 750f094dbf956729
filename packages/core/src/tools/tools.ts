import { and, eq, ilike, isNotNull, isNull, or, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { toolDefinitions, tools, type JsonObject, type ToolDefinition } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { assertValidJsonSchema } from "../lib/json-schema-thread";
import { tenantResource } from "../lib/tenant-table";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { conflictMapper } from "../lib/pg-errors";
import { getConnection } from "../connections/connections";
import { definitionHash } from "./definitions";
import {
  definitionUnderReview,
  recordApprovedDefinition,
  type ToolDefinitionEntry,
} from "./history";

export type Tool = typeof tools.$inferSelect;

/**
 * A tool as people and agents read it: the title and description agents see (the admin's
 * override, else the approved one from the server) beside the server's approved ones.
 */
export function toolView(tool: Tool): Tool & {
  upstream_title: string | null;
  upstream_description: string;
} {
  return {
    ...tool,
    title: tool.title_override ?? tool.title,
    description: tool.description_override ?? tool.description,
    upstream_title: tool.title,
    upstream_description: tool.description,
  };
}

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
  quarantined?: boolean | undefined;
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
    filter.quarantined === undefined
      ? undefined
      : filter.quarantined
        ? isNotNull(tools.quarantine)
        : isNull(tools.quarantine),
    pattern
      ? or(
          ilike(tools.name, pattern),
          ilike(tools.upstream_name, pattern),
          ilike(tools.description, pattern),
          ilike(tools.description_override, pattern),
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
  const definition = {
    title: input.title ?? null,
    description: input.description ?? "",
    input_schema: input.input_schema ?? { type: "object" },
    output_schema: input.output_schema ?? null,
    annotations: input.annotations ?? null,
  };
  await assertValidJsonSchema(definition.input_schema, "input_schema");
  if (definition.output_schema)
    await assertValidJsonSchema(definition.output_schema, "output_schema");
  try {
    return await db.transaction(async (tx) => {
      const [tool] = await tx
        .insert(tools)
        .values({
          org_id: input.orgId,
          connection_id: connection.id,
          name: input.name ?? input.upstream_name,
          upstream_name: input.upstream_name,
          ...definition,
          // The admin wrote this definition: it is approved as written.
          definition_hash: definitionHash(definition),
          enabled: input.enabled ?? true,
          source: "manual",
        })
        .returning();
      if (!tool) throw new Error("insert returned no tool");
      await recordApprovedDefinition(tx, context, {
        orgId: input.orgId,
        toolId: tool.id,
        hash: definitionHash(definition),
        definition,
        source: "manual",
      });
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

/**
 * Renames, enables or disables a tool, or sets the title and description agents see instead of
 * the server's (null goes back to the server's). Overrides are kept across syncs.
 */
export async function updateTool(
  db: Db,
  context: ActionContext,
  input: {
    orgId: string;
    id: string;
    name?: string | undefined;
    title?: string | null | undefined;
    description?: string | null | undefined;
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
          ...(input.title !== undefined ? { title_override: input.title } : {}),
          ...(input.description !== undefined ? { description_override: input.description } : {}),
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
      if (before.title_override !== tool.title_override) changes.title = true;
      if (before.description_override !== tool.description_override) changes.description = true;
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

export interface ToolDefinitionHistory extends Page<ToolDefinitionEntry> {
  /**
   * The definition waiting for review, ahead of the approved ones: the server's changed one
   * (`changed`, or `rejected` while the server still offers it) or a new tool's first. Null when
   * nothing is under review.
   */
  pending: {
    hash: string;
    definition: ToolDefinition;
    quarantine: NonNullable<Tool["quarantine"]>;
  } | null;
}

/** A tool's approved definitions, newest first, with the one under review ahead of them. */
export async function listToolDefinitions(
  db: Db,
  input: PageRequest & { orgId: string; toolId: string },
): Promise<ToolDefinitionHistory> {
  const tool = await getTool(db, { orgId: input.orgId, id: input.toolId });
  const query = keyset(
    toolDefinitions.id,
    input,
    and(eq(toolDefinitions.org_id, input.orgId), eq(toolDefinitions.tool_id, tool.id)),
    "desc",
  );
  const rows = await db
    .select()
    .from(toolDefinitions)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  const review = tool.quarantine === null ? null : definitionUnderReview(tool);
  return {
    ...toPage(rows, query),
    pending:
      review === null || tool.quarantine === null
        ? null
        : { ...review, quarantine: tool.quarantine },
  };
}
