import type { Db } from "../db/client";
import { toolDefinitions, type ToolDefinition } from "../db/schema";
import type { ActionContext } from "../lib/context";
import { definitionHash, pinnedDefinition } from "./definitions";
import type { Tool } from "./tools";

export type ToolDefinitionSource = (typeof toolDefinitions.$inferSelect)["source"];
export type ToolDefinitionEntry = typeof toolDefinitions.$inferSelect;

export interface ApprovedDefinition {
  orgId: string;
  toolId: string;
  hash: string;
  definition: ToolDefinition;
  source: ToolDefinitionSource;
}

/**
 * Rows of the history for definitions that just became approved, for the caller to insert in the
 * transaction that pins them.
 */
export function historyRows(
  context: ActionContext,
  approved: readonly ApprovedDefinition[],
): (typeof toolDefinitions.$inferInsert)[] {
  return approved.map((entry) => ({
    org_id: entry.orgId,
    tool_id: entry.toolId,
    hash: entry.hash,
    definition: entry.definition,
    source: entry.source,
    actor_type: context.actor.type,
    actor_id: context.actor.id,
  }));
}

/** Records a definition that became the tool's approved one, inside the transaction that pinned it. */
export async function recordApprovedDefinition(
  tx: Db,
  context: ActionContext,
  approved: ApprovedDefinition,
): Promise<void> {
  await tx.insert(toolDefinitions).values(historyRows(context, [approved]));
}

/** The definition an admin is asked to approve: the pending one, or a new tool's first. */
export function definitionUnderReview(
  tool: Tool,
): { definition: ToolDefinition; hash: string } | null {
  if (tool.quarantine === "new")
    return {
      definition: pinnedDefinition(tool),
      hash: tool.definition_hash ?? definitionHash(pinnedDefinition(tool)),
    };
  if (tool.pending_definition && tool.pending_hash)
    return { definition: tool.pending_definition, hash: tool.pending_hash };
  return null;
}
