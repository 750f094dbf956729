import { and, eq, isNotNull, sql, type Placeholder } from "drizzle-orm";
import type { Db } from "../db/client";
import {
  agents,
  policies,
  type GuardrailHook,
  type JsonObject,
  type RateLimit,
} from "../db/schema";
import { recordAudit } from "../audit/audit";
import { assertEnvironmentInOrg } from "../connections/connections";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { assertValidJsonSchema } from "../lib/json-schema-thread";
import { tenantResource } from "../lib/tenant-table";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { conflictMapper } from "../lib/pg-errors";
import { uuidv7 } from "../lib/ids";
import { newWebhookSecret } from "../lib/signed-webhook";
import {
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  DEFAULT_APPROVER_ROLE,
  isValidToolPattern,
} from "./evaluate";
import { checkGuardrailFields, hookSecretBinding, type GuardrailDeps } from "./guardrails";
import {
  assertMemberInOrg,
  resolvePolicySubject,
  type PolicySubjectChanges,
  type PolicySubjectFields,
} from "./subjects";

type PolicyRow = typeof policies.$inferSelect;
/** A policy as it is shown: never its hook secret, only whether it has one. */
export type Policy = Omit<PolicyRow, "hook_secret_ciphertext"> & { has_hook_secret: boolean };
/** A created or updated policy, with its new hook signing secret when one was just made. */
export type PolicyWithSecret = Policy & { hook_secret?: string };

function policyView(row: PolicyRow): Policy {
  const { hook_secret_ciphertext: ciphertext, ...rest } = row;
  return { ...rest, has_hook_secret: ciphertext !== null };
}

export interface PolicyFields extends PolicySubjectChanges {
  name: string;
  description?: string | undefined;
  effect: Policy["effect"];
  /** What the policy governs; tools when absent. */
  target?: Policy["target"] | undefined;
  tool_pattern: string;
  environment_id?: string | null | undefined;
  input_schema?: JsonObject | null | undefined;
  rate_limit?: RateLimit | null | undefined;
  pre_call_hook?: GuardrailHook | null | undefined;
  post_call_hook?: GuardrailHook | null | undefined;
  redact_patterns?: string[] | undefined;
  /** For require_approval: the least role that may decide (default admin). */
  approver_role?: Policy["approver_role"] | undefined;
  /** For require_approval: how long a call waits for a decision (default an hour). */
  approval_timeout_seconds?: number | null | undefined;
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
  await assertMemberInOrg(db, orgId, fields.user_id);
  await assertEnvironmentInOrg(db, orgId, fields.environment_id);
}

/** A hook for the audit trail: where it goes by origin only (a path or query may carry a token). */
function auditedHook(hook: GuardrailHook | null): JsonObject | null {
  return hook
    ? { origin: new URL(hook.url).origin, timeout_ms: hook.timeout_ms, fail_mode: hook.fail_mode }
    : null;
}

/**
 * Guardrails act on the tool calls a policy allows and their results: a deny policy's calls never
 * run, and prompts and resources are not guarded.
 */
function assertGuardrailsFit(policy: PolicyRow): void {
  if (policy.target === "tool" && policy.effect === "allow") return;
  const field = policy.pre_call_hook
    ? "pre_call_hook"
    : policy.post_call_hook
      ? "post_call_hook"
      : policy.redact_patterns.length > 0
        ? "redact_patterns"
        : null;
  if (field)
    throw AppError.invalidField(
      field,
      `Guardrails apply to the tool calls an allow policy allows; this policy is ${policy.effect} for ${policy.target}s`,
    );
}

/**
 * A require_approval policy governs tool calls and has an approver role and timeout (defaults
 * filled in); other effects have neither. Returns the columns to set when they need filling or
 * clearing (an edit changed the effect), or null when the row is as it should be.
 */
function approvalColumns(
  policy: PolicyRow,
  given: Pick<Partial<PolicyFields>, "approver_role" | "approval_timeout_seconds">,
): Pick<PolicyRow, "approver_role" | "approval_timeout_seconds"> | null {
  if (policy.effect === "require_approval") {
    if (policy.target !== "tool")
      throw AppError.invalidField(
        "target",
        "require_approval applies to tool calls only; prompts and resources are allowed or denied",
      );
    if (policy.approver_role !== null && policy.approval_timeout_seconds !== null) return null;
    return {
      approver_role: policy.approver_role ?? DEFAULT_APPROVER_ROLE,
      approval_timeout_seconds: policy.approval_timeout_seconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    };
  }
  const field =
    given.approver_role != null
      ? "approver_role"
      : given.approval_timeout_seconds != null
        ? "approval_timeout_seconds"
        : null;
  if (field) throw AppError.invalidField(field, `Only a require_approval policy has ${field}`);
  return policy.approver_role === null && policy.approval_timeout_seconds === null
    ? null
    : { approver_role: null, approval_timeout_seconds: null };
}

/** The row with its approval columns as approvalColumns says, written in `tx` when they change. */
async function withApprovalColumns(
  tx: Db,
  policy: PolicyRow,
  given: Pick<Partial<PolicyFields>, "approver_role" | "approval_timeout_seconds">,
): Promise<PolicyRow> {
  const columns = approvalColumns(policy, given);
  if (columns === null) return policy;
  const [fixed] = await tx
    .update(policies)
    .set(columns)
    .where(eq(policies.id, policy.id))
    .returning();
  return fixed ?? policy;
}

function auditMetadata(policy: PolicyRow): JsonObject {
  return {
    name: policy.name,
    effect: policy.effect,
    target: policy.target,
    tool_pattern: policy.tool_pattern,
    subject: policy.subject,
    agent_id: policy.agent_id,
    user_id: policy.user_id,
    min_role: policy.min_role,
    environment_id: policy.environment_id,
    enabled: policy.enabled,
    rate_limit: policy.rate_limit ? { ...policy.rate_limit } : null,
    pre_call_hook: auditedHook(policy.pre_call_hook),
    post_call_hook: auditedHook(policy.post_call_hook),
    redact_patterns: [...policy.redact_patterns],
    approver_role: policy.approver_role,
    approval_timeout_seconds: policy.approval_timeout_seconds,
  };
}

/**
 * Creates a policy. With a hook, a signing secret is made for it and returned here once (and by
 * `rotatePolicyHookSecret`); it is stored encrypted.
 */
export async function createPolicy(
  db: Db,
  deps: GuardrailDeps,
  context: ActionContext,
  input: PolicyFields & { orgId: string },
): Promise<PolicyWithSecret> {
  await validatePolicyFields(db, input.orgId, input);
  const subject = resolvePolicySubject(null, input);
  const hooks = await checkGuardrailFields(deps.outbound, input);
  const id = uuidv7();
  const secret = hooks.pre_call_hook || hooks.post_call_hook ? newWebhookSecret() : null;
  try {
    return await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(policies)
        .values({
          id,
          org_id: input.orgId,
          name: input.name,
          description: input.description ?? "",
          effect: input.effect,
          ...subject,
          target: input.target ?? "tool",
          tool_pattern: input.tool_pattern,
          environment_id: input.environment_id ?? null,
          input_schema: input.input_schema ?? null,
          rate_limit: input.rate_limit ?? null,
          pre_call_hook: hooks.pre_call_hook ?? null,
          post_call_hook: hooks.post_call_hook ?? null,
          hook_secret_ciphertext:
            secret === null ? null : deps.secrets.encrypt(secret, hookSecretBinding(id)),
          redact_patterns: input.redact_patterns ?? [],
          approver_role: input.approver_role ?? null,
          approval_timeout_seconds: input.approval_timeout_seconds ?? null,
          enabled: input.enabled ?? true,
        })
        .returning();
      if (!inserted) throw new Error("insert returned no policy");
      assertGuardrailsFit(inserted);
      const policy = await withApprovalColumns(tx, inserted, input);
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "policy.create",
        target_type: "policy",
        target_id: policy.id,
        metadata: auditMetadata(policy),
      });
      return { ...policyView(policy), ...(secret === null ? {} : { hook_secret: secret }) };
    });
  } catch (error) {
    throw toConflict(error);
  }
}

export interface PolicyFilter extends PageRequest {
  orgId: string;
  agent_id?: string | undefined;
  subject?: Policy["subject"] | undefined;
  user_id?: string | undefined;
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
      filter.subject ? eq(policies.subject, filter.subject) : undefined,
      filter.user_id ? eq(policies.user_id, filter.user_id) : undefined,
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
  return toPage(rows.map(policyView), query);
}

const policyResource = tenantResource(policies, "Policy", "policy");
export const findPolicyOrgId = policyResource.findOrgId;

export async function getPolicy(db: Db, input: { orgId: string; id: string }): Promise<Policy> {
  return policyView(await policyResource.get(db, input));
}

/** Updates a policy; the first hook it gets comes with a new signing secret, returned once. */
export async function updatePolicy(
  db: Db,
  deps: GuardrailDeps,
  context: ActionContext,
  input: Partial<PolicyFields> & { orgId: string; id: string },
): Promise<PolicyWithSecret> {
  await validatePolicyFields(db, input.orgId, input);
  const hooks = await checkGuardrailFields(deps.outbound, input);
  const secret = hooks.pre_call_hook || hooks.post_call_hook ? newWebhookSecret() : null;
  try {
    return await db.transaction(async (tx) => {
      const [current] = await tx
        .select({
          subject: policies.subject,
          agent_id: policies.agent_id,
          user_id: policies.user_id,
          min_role: policies.min_role,
        })
        .from(policies)
        .where(and(eq(policies.org_id, input.orgId), eq(policies.id, input.id)))
        .for("update");
      if (!current) throw AppError.notFound("Policy");
      const subject: PolicySubjectFields = resolvePolicySubject(current, input);
      const [updated] = await tx
        .update(policies)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.effect !== undefined ? { effect: input.effect } : {}),
          ...subject,
          ...(input.target !== undefined ? { target: input.target } : {}),
          ...(input.tool_pattern !== undefined ? { tool_pattern: input.tool_pattern } : {}),
          ...(input.environment_id !== undefined ? { environment_id: input.environment_id } : {}),
          ...(input.input_schema !== undefined ? { input_schema: input.input_schema } : {}),
          ...(input.rate_limit !== undefined ? { rate_limit: input.rate_limit } : {}),
          ...(hooks.pre_call_hook !== undefined ? { pre_call_hook: hooks.pre_call_hook } : {}),
          ...(hooks.post_call_hook !== undefined ? { post_call_hook: hooks.post_call_hook } : {}),
          ...(input.redact_patterns !== undefined
            ? { redact_patterns: input.redact_patterns }
            : {}),
          ...(input.approver_role !== undefined ? { approver_role: input.approver_role } : {}),
          ...(input.approval_timeout_seconds !== undefined
            ? { approval_timeout_seconds: input.approval_timeout_seconds }
            : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          updated_at: new Date(),
        })
        .where(and(eq(policies.org_id, input.orgId), eq(policies.id, input.id)))
        .returning();
      if (!updated) throw AppError.notFound("Policy");
      assertGuardrailsFit(updated);
      // A policy keeps its secret across edits; the first hook it gets brings one.
      let policy = await withApprovalColumns(tx, updated, input);
      let madeSecret: string | null = null;
      if (secret !== null && policy.hook_secret_ciphertext === null) {
        const [withSecret] = await tx
          .update(policies)
          .set({
            hook_secret_ciphertext: deps.secrets.encrypt(secret, hookSecretBinding(policy.id)),
          })
          .where(eq(policies.id, policy.id))
          .returning();
        if (withSecret) {
          policy = withSecret;
          madeSecret = secret;
        }
      }
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "policy.update",
        target_type: "policy",
        target_id: policy.id,
        metadata: auditMetadata(policy),
      });
      return { ...policyView(policy), ...(madeSecret === null ? {} : { hook_secret: madeSecret }) };
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

/** A new hook signing secret for the policy, returned once; the old one stops signing at once. */
export async function rotatePolicyHookSecret(
  db: Db,
  deps: Pick<GuardrailDeps, "secrets">,
  context: ActionContext,
  input: { orgId: string; id: string },
): Promise<PolicyWithSecret> {
  const secret = newWebhookSecret();
  return db.transaction(async (tx) => {
    const [policy] = await tx
      .update(policies)
      .set({
        hook_secret_ciphertext: deps.secrets.encrypt(secret, hookSecretBinding(input.id)),
        updated_at: new Date(),
      })
      .where(and(eq(policies.org_id, input.orgId), eq(policies.id, input.id)))
      .returning();
    if (!policy) throw AppError.notFound("Policy");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "policy.hook_secret_rotate",
      target_type: "policy",
      target_id: policy.id,
      metadata: { name: policy.name },
    });
    return { ...policyView(policy), hook_secret: secret };
  });
}

/**
 * Re-encrypts the hook secrets not under the active key (after SECRET_KEYS gained a new first
 * key); returns how many were rotated and the policies whose secret cannot be opened.
 */
export async function rotatePolicyHookSecretKeys(
  db: Db,
  secrets: GuardrailDeps["secrets"],
  scope: { orgId?: string | undefined } = {},
): Promise<{ rotated: number; failed: { policy_id: string; org_id: string; reason: string }[] }> {
  const rows = await db
    .select({
      id: policies.id,
      org_id: policies.org_id,
      ciphertext: policies.hook_secret_ciphertext,
    })
    .from(policies)
    .where(
      and(
        isNotNull(policies.hook_secret_ciphertext),
        scope.orgId ? eq(policies.org_id, scope.orgId) : undefined,
      ),
    );
  let rotated = 0;
  const failed: { policy_id: string; org_id: string; reason: string }[] = [];
  for (const row of rows) {
    if (row.ciphertext === null) continue;
    let ciphertext: string;
    try {
      if (!secrets.needsRotation(row.ciphertext)) continue;
      ciphertext = secrets.rotate(row.ciphertext, hookSecretBinding(row.id));
    } catch (error) {
      failed.push({
        policy_id: row.id,
        org_id: row.org_id,
        reason: error instanceof Error ? error.message : String(error),
      });
      continue;
    }
    // Only if unchanged since read: a secret rotated meanwhile must not be overwritten.
    const updated = await db
      .update(policies)
      .set({ hook_secret_ciphertext: ciphertext })
      .where(and(eq(policies.id, row.id), eq(policies.hook_secret_ciphertext, row.ciphertext)))
      .returning({ id: policies.id });
    rotated += updated.length;
  }
  return { rotated, failed };
}

/**
 * Which policies can apply to calls by this agent, or with no agent to people's calls (every user
 * and role policy: which of them covers the caller is evaluation's business). Shared with the
 * orchestrator's prepared query, which passes placeholders (a null agent is a person's call, as
 * here).
 */
export function applicablePoliciesWhere(
  orgId: string | Placeholder,
  agentId: string | Placeholder | null,
) {
  const agent = sql`${agentId}::uuid`;
  return and(
    eq(policies.org_id, orgId),
    eq(policies.enabled, true),
    sql`(${policies.subject} = 'everyone' or case when ${agent} is null
      then ${policies.subject} in ('user', 'role')
      else ${policies.subject} = 'agent' and (${policies.agent_id} is null or ${policies.agent_id} = ${agent}) end)`,
  );
}

/** The enabled policies that can apply to calls by this agent (or by people, without one). */
export async function loadApplicablePolicies(
  db: Db,
  orgId: string,
  agentId: string | null,
): Promise<PolicyRow[]> {
  return db
    .select()
    .from(policies)
    .where(applicablePoliciesWhere(orgId, agentId))
    .orderBy(policies.id);
}
