import {
  createPolicy,
  deletePolicy,
  evaluateCall,
  findPolicyOrgId,
  getPolicy,
  listPolicies,
  policyWhatIf,
  rotatePolicyHookSecret,
  updatePolicy,
} from "@mcp/core";
import { z } from "zod";
import { pageOf } from "../contracts/common";
import {
  createPolicyInput,
  evaluatePolicyInput,
  listPoliciesInput,
  policy,
  policyDecision,
  policyWhatIf as policyWhatIfOutput,
  policyWhatIfInput,
  policyWithSecret,
  updatePolicyInput,
} from "../contracts/policies";
import { orgProcedure, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["policies"];
const policyProcedure = (minimum: "viewer" | "admin") =>
  resourceProcedure("Policy", minimum, findPolicyOrgId);

export const policiesRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/policies",
        tags,
        summary: "List policies",
        protect: true,
      },
    })
    .input(listPoliciesInput)
    .output(pageOf(policy))
    .query(async ({ ctx, input }) =>
      toWire(await listPolicies(ctx.db, { ...input, orgId: ctx.org.id })),
    ),

  create: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/policies",
        tags,
        summary: "Create an allow or deny policy",
        protect: true,
      },
      successStatus: 201,
    })
    .input(createPolicyInput)
    .output(policyWithSecret)
    .mutation(async ({ ctx, input }) =>
      toWire(await createPolicy(ctx.db, ctx.runtime, ctx.action, { ...input, orgId: ctx.org.id })),
    ),

  evaluate: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/policies/evaluate",
        tags,
        summary: "Decide a call without running it",
        description:
          "Returns the decision, its reason and the matching policies. Uses no rate limit quota.",
        protect: true,
      },
      leavesGovernance: true,
    })
    .input(evaluatePolicyInput)
    .output(policyDecision)
    .mutation(({ ctx, input }) => evaluateCall(ctx.db, { ...input, orgId: ctx.org.id })),

  whatIf: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/policies/what-if",
        tags,
        summary: "Preview what a policy change would do",
        description:
          "Replays the organization's newest runs (up to 10,000) under the policies as they are and as the change would leave them, and returns the decisions that would flip, per tool and agent. Changes nothing. Rate limits are not replayed.",
        protect: true,
      },
      leavesGovernance: true,
    })
    .input(policyWhatIfInput)
    .output(policyWhatIfOutput)
    .mutation(async ({ ctx, input }) =>
      toWire(await policyWhatIf(ctx.db, { ...input, orgId: ctx.org.id })),
    ),

  get: policyProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/policies/{id}",
        tags,
        summary: "Get a policy",
        protect: true,
      },
    })
    .output(policy)
    .query(async ({ ctx, input }) =>
      toWire(await getPolicy(ctx.db, { orgId: ctx.org.id, id: input.id })),
    ),

  update: policyProcedure("admin")
    .meta({
      openapi: {
        method: "PATCH",
        path: "/policies/{id}",
        tags,
        summary: "Update a policy",
        protect: true,
      },
    })
    .input(updatePolicyInput)
    .output(policyWithSecret)
    .mutation(async ({ ctx, input }) =>
      toWire(await updatePolicy(ctx.db, ctx.runtime, ctx.action, { ...input, orgId: ctx.org.id })),
    ),

  rotateHookSecret: policyProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/policies/{id}/rotate-hook-secret",
        tags,
        summary: "Make a new signing secret for the policy's guardrail hooks",
        description:
          "Returns the new secret once (hook_secret); requests are signed with it from now on, the old one stops at once.",
        protect: true,
      },
    })
    .output(policyWithSecret)
    .mutation(async ({ ctx, input }) =>
      toWire(
        await rotatePolicyHookSecret(ctx.db, ctx.runtime, ctx.action, {
          orgId: ctx.org.id,
          id: input.id,
        }),
      ),
    ),

  delete: policyProcedure("admin")
    .meta({
      openapi: {
        method: "DELETE",
        path: "/policies/{id}",
        tags,
        summary: "Delete a policy",
        protect: true,
      },
      successStatus: 204,
    })
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await deletePolicy(ctx.db, ctx.action, { orgId: ctx.org.id, id: input.id });
    }),
});
