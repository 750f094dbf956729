import { and, eq, sql } from "drizzle-orm";
import type { Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import type { Db } from "../db/client";
import {
  auditEvents,
  connections,
  orgs,
  toolDefinitions,
  tools,
  type ToolDefinition,
} from "../db/schema";
import { auditRow, recordAudit, type AuditEntry } from "../audit/audit";
import { AppError, isAppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { isMcpCallError } from "../mcp/errors";
import { getConnection, recordConnectionHealth } from "../connections/connections";
import { withConnectionSession } from "../connections/sessions";
import type { McpRuntime } from "../runtime";
import { definitionHash, pinnedDefinition, upstreamDefinition } from "./definitions";
import {
  definitionUnderReview,
  historyRows,
  recordApprovedDefinition,
  type ApprovedDefinition,
} from "./history";
import { getTool, type Tool } from "./tools";

/**
 * What a sync found, compared with the registry: tools it had not seen, tools whose definition
 * differs from the one the registry last saw (now quarantined for review), tools as they were,
 * and tools the server no longer offers.
 */
export interface SyncResult {
  created: number;
  changed: number;
  unchanged: number;
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

type KnownTool = Pick<
  Tool,
  | "id"
  | "name"
  | "upstream_name"
  | "title"
  | "description"
  | "input_schema"
  | "output_schema"
  | "annotations"
  | "definition_hash"
  | "pending_hash"
  | "quarantine"
  | "stale"
>;

type ToolChange = Partial<
  Pick<
    typeof tools.$inferInsert,
    | "definition_hash"
    | "pending_definition"
    | "pending_hash"
    | "quarantine"
    | "stale"
    | "enabled"
    | keyof ToolDefinition
  >
>;

/**
 * What a sync does to a tool it already knows, given the server's definition now: null when
 * nothing is to be written. A definition equal to the approved one is unchanged (and lifts a
 * quarantine for a change the server has since taken back); one equal to the definition waiting
 * for review is unchanged too; any other is a change, quarantined until an admin approves it. A
 * tool never approved (quarantined as new) simply takes the server's latest definition.
 */
function reconcile(
  known: KnownTool,
  definition: ToolDefinition,
  hash: string,
): {
  outcome: "changed" | "unchanged";
  change: ToolChange | null;
  audit: AuditEntry["action"] | null;
} {
  const pinnedHash = known.definition_hash ?? definitionHash(pinnedDefinition(known));
  const change: ToolChange = {};
  // A tool that comes back was disabled only for being stale: it is offered again.
  if (known.stale) Object.assign(change, { stale: false, enabled: true });
  if (known.definition_hash === null) change.definition_hash = pinnedHash;
  let outcome: "changed" | "unchanged" = "unchanged";
  let audit: string | null = null;

  if (hash === pinnedHash) {
    if (known.quarantine === "changed" || known.quarantine === "rejected") {
      Object.assign(change, { quarantine: null, pending_definition: null, pending_hash: null });
      audit = "tool.quarantine_lift";
    }
  } else if (hash !== known.pending_hash) {
    outcome = "changed";
    if (known.quarantine === "new") {
      Object.assign(change, { ...definition, definition_hash: hash });
    } else {
      Object.assign(change, {
        pending_definition: definition,
        pending_hash: hash,
        quarantine: "changed",
      });
      audit = "tool.quarantine";
    }
  }
  return { outcome, change: Object.keys(change).length > 0 ? change : null, audit };
}

/**
 * Lists the server's tools (every page) and reconciles the registry in one transaction. New tools
 * are inserted (quarantined when the org says so). A known tool whose definition is unchanged is
 * not written at all; a changed one keeps its approved definition and is quarantined with the new
 * one pending (see reconcile). Names, enabled flags and the admin's title and description
 * overrides are the admin's and are kept. Tools the server no longer offers are marked stale and
 * disabled, never deleted, since runs refer to them. Every quarantine is audited; the call cache
 * follows the tools' rows through the change feed.
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
  const offered = upstream
    .filter((tool) => !seen.has(tool.name) && seen.add(tool.name))
    .map((tool) => {
      const definition = upstreamDefinition(tool);
      return { upstreamName: tool.name, definition, hash: definitionHash(definition) };
    });

  return db.transaction(async (tx) => {
    // One sync per connection at a time: concurrent ones would race on names and stale flags.
    await tx
      .select({ id: connections.id })
      .from(connections)
      .where(eq(connections.id, connection.id))
      .for("update");
    const existing: KnownTool[] = await tx
      .select({
        id: tools.id,
        name: tools.name,
        upstream_name: tools.upstream_name,
        title: tools.title,
        description: tools.description,
        input_schema: tools.input_schema,
        output_schema: tools.output_schema,
        annotations: tools.annotations,
        definition_hash: tools.definition_hash,
        pending_hash: tools.pending_hash,
        quarantine: tools.quarantine,
        stale: tools.stale,
      })
      .from(tools)
      .where(eq(tools.connection_id, connection.id));
    const known = new Map(existing.map((row) => [row.upstream_name, row]));
    const taken = new Set(
      (await tx.select({ name: tools.name }).from(tools).where(eq(tools.org_id, input.orgId))).map(
        (row) => row.name,
      ),
    );
    const [org] = await tx
      .select({ quarantine_new_tools: orgs.quarantine_new_tools })
      .from(orgs)
      .where(eq(orgs.id, input.orgId));
    const quarantineNew = org?.quarantine_new_tools ?? false;

    const now = new Date();
    const audits: AuditEntry[] = [];
    const approved: ApprovedDefinition[] = [];
    const summary: SyncResult = { created: 0, changed: 0, unchanged: 0, stale: 0, total: 0 };
    const fresh: (typeof tools.$inferInsert)[] = [];
    for (const tool of offered) {
      const row = known.get(tool.upstreamName);
      if (!row) {
        fresh.push({
          org_id: input.orgId,
          connection_id: connection.id,
          name: assignName(tool.upstreamName, connection.slug, taken),
          upstream_name: tool.upstreamName,
          ...tool.definition,
          definition_hash: tool.hash,
          quarantine: quarantineNew ? "new" : null,
          source: "synced",
          created_at: now,
          updated_at: now,
        });
        continue;
      }
      const { outcome, change, audit } = reconcile(row, tool.definition, tool.hash);
      summary[outcome]++;
      // A tool pinned before hashes existed gets its hash now, and with it its history's start.
      if (row.definition_hash === null && row.quarantine !== "new" && change?.definition_hash)
        approved.push({
          orgId: input.orgId,
          toolId: row.id,
          hash: change.definition_hash,
          definition: pinnedDefinition(row),
          source: "backfill",
        });
      if (change)
        await tx
          .update(tools)
          .set({ ...change, updated_at: now })
          .where(and(eq(tools.org_id, input.orgId), eq(tools.id, row.id)));
      if (audit)
        audits.push({
          org_id: input.orgId,
          action: audit,
          target_type: "tool",
          target_id: row.id,
          metadata:
            audit === "tool.quarantine"
              ? {
                  name: row.name,
                  reason: "changed",
                  approved_hash: change?.definition_hash ?? row.definition_hash ?? "",
                  pending_hash: tool.hash,
                }
              : { name: row.name, reason: "definition restored upstream", hash: tool.hash },
        });
    }

    for (let start = 0; start < fresh.length; start += SYNC_BATCH_SIZE) {
      const inserted = await tx
        .insert(tools)
        .values(fresh.slice(start, start + SYNC_BATCH_SIZE))
        .returning({
          id: tools.id,
          name: tools.name,
          hash: tools.definition_hash,
          title: tools.title,
          description: tools.description,
          input_schema: tools.input_schema,
          output_schema: tools.output_schema,
          annotations: tools.annotations,
        });
      summary.created += inserted.length;
      for (const tool of inserted) {
        if (quarantineNew)
          audits.push({
            org_id: input.orgId,
            action: "tool.quarantine",
            target_type: "tool",
            target_id: tool.id,
            metadata: { name: tool.name, reason: "new", pending_hash: tool.hash ?? "" },
          });
        // Where new tools are not quarantined, the first definition a sync sees is approved.
        else if (tool.hash !== null)
          approved.push({
            orgId: input.orgId,
            toolId: tool.id,
            hash: tool.hash,
            definition: pinnedDefinition(tool),
            source: "sync",
          });
      }
    }
    for (let start = 0; start < approved.length; start += SYNC_BATCH_SIZE)
      await tx
        .insert(toolDefinitions)
        .values(historyRows(context, approved.slice(start, start + SYNC_BATCH_SIZE)));

    const offeredNames = offered.map((tool) => tool.upstreamName);
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
    summary.stale = staled.length;
    summary.total = offered.length;

    await tx
      .update(connections)
      .set({ last_synced_at: now, status: "healthy", last_error: null })
      .where(and(eq(connections.org_id, input.orgId), eq(connections.id, connection.id)));
    for (let start = 0; start < audits.length; start += SYNC_BATCH_SIZE)
      await tx
        .insert(auditEvents)
        .values(
          audits.slice(start, start + SYNC_BATCH_SIZE).map((entry) => auditRow(context, entry)),
        );
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "connection.sync",
      target_type: "connection",
      target_id: connection.id,
      metadata: { ...summary },
    });
    return summary;
  });
}

/**
 * The tool locked for a review decision, refused unless `hash` is the definition under review:
 * an admin approves exactly what they read, never a definition the server changed since.
 */
async function lockForReview(
  tx: Db,
  input: { orgId: string; id: string; hash: string },
): Promise<{ tool: Tool; review: { definition: ToolDefinition; hash: string } }> {
  const [tool] = await tx
    .select()
    .from(tools)
    .where(and(eq(tools.org_id, input.orgId), eq(tools.id, input.id)))
    .for("update");
  if (!tool) throw AppError.notFound("Tool");
  const review = tool.quarantine === null ? null : definitionUnderReview(tool);
  if (!review) throw AppError.conflict(`Tool '${tool.name}' has no definition waiting for review`);
  if (review.hash !== input.hash)
    throw AppError.conflict(
      `The definition of '${tool.name}' under review is ${review.hash}, not ${input.hash}: it changed since it was read; review it again`,
      [{ path: ["hash"], message: "Not the definition under review" }],
    );
  return { tool, review };
}

/**
 * Approves the definition under review (hash as read by the admin): it becomes the pinned one and
 * the tool callable again. The admin's title and description overrides stay.
 */
export async function approveToolDefinition(
  db: Db,
  context: ActionContext,
  input: {
    orgId: string;
    id: string;
    hash: string;
    /** Recorded in the tool's history: an admin's review (default) or a configuration document. */
    source?: "approval" | "config" | undefined;
  },
): Promise<Tool> {
  await db.transaction(async (tx) => {
    const { tool, review } = await lockForReview(tx, input);
    await tx
      .update(tools)
      .set({
        ...review.definition,
        definition_hash: review.hash,
        pending_definition: null,
        pending_hash: null,
        quarantine: null,
        updated_at: new Date(),
      })
      .where(eq(tools.id, tool.id));
    await recordApprovedDefinition(tx, context, {
      orgId: input.orgId,
      toolId: tool.id,
      hash: review.hash,
      definition: review.definition,
      source: input.source ?? "approval",
    });
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "tool.definition_approve",
      target_type: "tool",
      target_id: tool.id,
      metadata: {
        name: tool.name,
        reason: tool.quarantine ?? "",
        previous_hash: tool.quarantine === "new" ? null : tool.definition_hash,
        hash: review.hash,
      },
    });
  });
  return getTool(db, input);
}

/**
 * Rejects the definition under review. A changed tool keeps its approved definition and stays
 * quarantined (`rejected`): its server now runs something other than what was approved, so
 * calling it would run the unapproved tool under the approved description. It becomes callable
 * again when the server goes back to the approved definition, or when an admin approves the
 * rejected one after all. A new tool is disabled instead (and no longer quarantined): enabling it
 * later is the admin's explicit decision.
 */
export async function rejectToolDefinition(
  db: Db,
  context: ActionContext,
  input: { orgId: string; id: string; hash: string },
): Promise<Tool> {
  await db.transaction(async (tx) => {
    const { tool, review } = await lockForReview(tx, input);
    await tx
      .update(tools)
      .set({
        ...(tool.quarantine === "new"
          ? { quarantine: null, enabled: false }
          : { quarantine: "rejected" as const }),
        updated_at: new Date(),
      })
      .where(eq(tools.id, tool.id));
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "tool.definition_reject",
      target_type: "tool",
      target_id: tool.id,
      metadata: {
        name: tool.name,
        reason: tool.quarantine ?? "",
        approved_hash: tool.quarantine === "new" ? null : tool.definition_hash,
        rejected_hash: review.hash,
      },
    });
  });
  return getTool(db, input);
}
