import { and, asc, eq } from "drizzle-orm";
import { recordAudit } from "../audit/audit";
import type { Db } from "../db/client";
import { agents, environments, policies } from "../db/schema";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";

const SUBJECTS = {
  agent: { table: agents, column: policies.agent_id },
  environment: { table: environments, column: policies.environment_id },
} as const;

/**
 * Deleting an agent or an environment cascades to the policies that name it, deny rules included:
 * governance must not vanish as a side effect. Run inside the deleting transaction: locks the
 * agent or environment (a policy attached to it meanwhile waits, and then fails, instead of being
 * swept along unseen), refuses with the list of its policies unless the caller confirmed their
 * removal, and otherwise deletes and audits each one before the delete itself.
 */
export async function removeReferencingPolicies(
  tx: Db,
  context: ActionContext,
  input: {
    orgId: string;
    id: string;
    subject: keyof typeof SUBJECTS;
    confirmed: boolean;
  },
): Promise<void> {
  const { table, column } = SUBJECTS[input.subject];
  const [subject] = await tx
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.org_id, input.orgId), eq(table.id, input.id)))
    .for("update");
  // Missing or another org's: the delete that follows answers NOT_FOUND.
  if (!subject) return;
  const referencing = await tx
    .select({ id: policies.id, name: policies.name, effect: policies.effect })
    .from(policies)
    .where(and(eq(policies.org_id, input.orgId), eq(column, input.id)))
    .orderBy(asc(policies.name))
    .for("update");
  if (referencing.length === 0) return;
  if (!input.confirmed) {
    const names = referencing.map((policy) => `"${policy.name}"`).join(", ");
    throw new AppError(
      "CONFLICT",
      `This ${input.subject} is used by ${referencing.length === 1 ? "policy" : `${referencing.length} policies`} ${names}; deleting it deletes ${referencing.length === 1 ? "it" : "them"}. Repeat with confirm_policy_removal=true to delete them too.`,
      {
        issues: [{ path: ["confirm_policy_removal"], message: "Confirm the policies' removal" }],
        policies: referencing.map(({ id, name }) => ({ id, name })),
      },
    );
  }
  for (const policy of referencing) {
    await tx.delete(policies).where(eq(policies.id, policy.id));
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "policy.delete",
      target_type: "policy",
      target_id: policy.id,
      metadata: {
        name: policy.name,
        effect: policy.effect,
        reason: `${input.subject}_deleted`,
        [`${input.subject}_id`]: input.id,
      },
    });
  }
}

/**
 * A member leaving the org (removed, or leaving) takes the policies naming them: such a policy
 * governs only that person's own calls, which end with the membership, and left in place it would
 * apply again were they re-invited. Unlike an agent's or environment's delete this is never refused
 * (offboarding must not wait on policies); each removed policy is audited instead. Run inside the
 * removing transaction.
 */
export async function removeMemberPolicies(
  tx: Db,
  context: ActionContext,
  input: { orgId: string; userId: string },
): Promise<void> {
  const removed = await tx
    .delete(policies)
    .where(and(eq(policies.org_id, input.orgId), eq(policies.user_id, input.userId)))
    .returning({ id: policies.id, name: policies.name, effect: policies.effect });
  for (const policy of removed.sort((a, b) => a.name.localeCompare(b.name))) {
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "policy.delete",
      target_type: "policy",
      target_id: policy.id,
      metadata: {
        name: policy.name,
        effect: policy.effect,
        reason: "member_removed",
        user_id: input.userId,
      },
    });
  }
}
