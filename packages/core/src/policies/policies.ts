import { and, eq, isNull, or, type Placeholder } from "drizzle-orm";
import type { Db } from "../db/client";
import { agents, policies, type JsonObject, type RateLimit } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { assertEnvironmentInOrg } from "../connections/connections";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { assertValidJsonSchema } from "../lib/json-schema-thread";
import { tenantResource } from "../lib/tenant-table";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { conflictMapper } from "../lib/pg-errors";
import { isValidToolPattern } from "./evaluate";

export type Policy = typeof policies.$inferSelect;

export interface PolicyFields {
  name: string;
  description?: string | undefined;
  effect: Policy["effect"];
  agent_id?: string | null | undefined;
  /** What the policy governs; tools when absent. */
  target?: Policy["target"] | undefined;
  tool_pattern: string;
  environment_id?: string | null | undefined;
  input_schema?: JsonObject | null | undefined;
  rate_limit?: RateLimit | null | undefined;
  enabled?: boolean | undefined;
}

const toConflict = conflictMapper({
  policies_org_name_uq: {
    field: "name",
    message: "A policy with this name already exists in the organization",
  },
});

export async function assertAgentInOrg(
  db: Db,
  orgId: string,
  agentId: string | null | undefined,
): Promise<void> {
  if (!agentId) return;
  const [row] = await db
    .select({ id: agents.id })
    .from(agents)
    .where(and(eq(agents.org_id, orgId), eq(agents.id, agentId)));
  if (!row) throw AppError.invalidField("agent_id", "No such agent in this organization");
}

export async function validatePolicyFields(
  db: Db,
  orgId: string,
  fields: Partial<PolicyFields>,
): Promise<void> {
  if (fields.tool_pattern !== undefined && !isValidToolPattern(fields.tool_pattern)) {
    throw AppError.invalidField("tool_pattern", "Not a valid glob pattern (or tool id)");
  }
  if (fields.input_schema) await assertValidJsonSchema(fields.input_schema, "input_schema");
  await assertAgentInOrg(db, orgId, fields.agent_id);
  await assertEnvironmentInOrg(db, orgId, fields.environment_id);
}

function auditMetadata(policy: Policy): JsonObject {
  return {
    name: policy.name,
    effect: policy.effect,
    target: policy.target,
    tool_pattern: policy.tool_pattern,
    agent_id: policy.agent_id,
    environment_id: policy.environment_id,
    enabled: policy.enabled,
    rate_limit: policy.rate_limit ? { ...policy.rate_limit } : null,
  };
}

export async function createPolicy(
  db: Db,
  context: ActionContext,
  input: PolicyFields & { orgId: string },
): Promise<Policy> {
  await validatePolicyFields(db, input.orgId, input);
  try {
    return await db.transaction(async (tx) => {
      const [policy] = await tx
        .insert(policies)
        .values({
          org_id: input.orgId,
          name: input.name,
          description: input.description ?? "",
          effect: input.effect,
          agent_id: input.agent_id ?? null,
          target: input.target ?? "tool",
          tool_pattern: input.tool_pattern,
          environment_id: input.environment_id ?? null,
          input_schema: input.input_schema ?? null,
          rate_limit: input.rate_limit ?? null,
          enabled: input.enabled ?? true,
        })
        .returning();
      if (!policy) throw new Error("insert returned no policy");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "policy.create",
        target_type: "policy",
        target_id: policy.id,
        metadata: auditMetadata(policy),
      });
      return policy;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

export interface PolicyFilter extends PageRequest {
  orgId: string;
  agent_id?: string | undefined;
  effect?: Policy["effect"] | undefined;
  target?: Policy["target"] | undefined;
  enabled?: boolean | undefined;
}

export async function listPolicies(db: Db, filter: PolicyFilter): Promise<Page<Policy>> {
  const query = keyset(
    policies.id,
    filter,
    and(
      eq(policies.org_id, filter.orgId),
      filter.agent_id ? eq(policies.agent_id, filter.agent_id) : undefined,
      filter.effect ? eq(policies.effect, filter.effect) : undefined,
      filter.target ? eq(policies.target, filter.target) : undefined,
      filter.enabled !== undefined ? eq(policies.enabled, filter.enabled) : undefined,
    ),
  );
  const rows = await db
    .select()
    .from(policies)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

const policyResource = tenantResource(policies, "Policy", "policy");
export const getPolicy = policyResource.get;
export const findPolicyOrgId = policyResource.findOrgId;

export async function updatePolicy(
  db: Db,
  context: ActionContext,
  input: Partial<PolicyFields> & { orgId: string; id: string },
): Promise<Policy> {
  await validatePolicyFields(db, input.orgId, input);
  try {
    return await db.transaction(async (tx) => {
      const [policy] = await tx
        .update(policies)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.effect !== undefined ? { effect: input.effect } : {}),
          ...(input.agent_id !== undefined ? { agent_id: input.agent_id } : {}),
          ...(input.target !== undefined ? { target: input.target } : {}),
          ...(input.tool_pattern !== undefined ? { tool_pattern: input.tool_pattern } : {}),
          ...(input.environment_id !== undefined ? { environment_id: input.environment_id } : {}),
          ...(input.input_schema !== undefined ? { input_schema: input.input_schema } : {}),
          ...(input.rate_limit !== undefined ? { rate_limit: input.rate_limit } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          updated_at: new Date(),
        })
        .where(and(eq(policies.org_id, input.orgId), eq(policies.id, input.id)))
        .returning();
      if (!policy) throw AppError.notFound("Policy");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "policy.update",
        target_type: "policy",
        target_id: policy.id,
        metadata: auditMetadata(policy),
      });
      return policy;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

export async function deletePolicy(
  db: Db,
  context: ActionContext,
  input: { orgId: string; id: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    const [deleted] = await tx
      .delete(policies)
      .where(and(eq(policies.org_id, input.orgId), eq(policies.id, input.id)))
      .returning();
    if (!deleted) throw AppError.notFound("Policy");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "policy.delete",
      target_type: "policy",
      target_id: deleted.id,
      metadata: auditMetadata(deleted),
    });
  });
}

/**
 * Which policies can apply to calls by this agent (or by no agent); shared with the orchestrator's
 * prepared query, which passes placeholders (a null agent then matches no `agent_id`, as here).
 */
export function applicablePoliciesWhere(
  orgId: string | Placeholder,
  agentId: string | Placeholder | null,
) {
  return and(
    eq(policies.org_id, orgId),
    eq(policies.enabled, true),
    agentId
      ? or(isNull(policies.agent_id), eq(policies.agent_id, agentId))
      : isNull(policies.agent_id),
  );
}

/** The enabled policies that can apply to calls by this agent (or by no agent). */
export async function loadApplicablePolicies(
  db: Db,
  orgId: string,
  agentId: string | null,
): Promise<Policy[]> {
  return db
    .select()
    .from(policies)
    .where(applicablePoliciesWhere(orgId, agentId))
    .orderBy(policies.id);
}
