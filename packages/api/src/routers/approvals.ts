import { decideApproval, findApprovalOrgId, getApproval, listApprovals } from "@mcp/core";
import { pageOf } from "../contracts/common";
import { approval, decideApprovalInput, listApprovalsInput } from "../contracts/approvals";
import { orgProcedure, personOnly, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["approvals"];

/** Approvals decide a person's question: API tokens read them but cannot decide. */
export const approvalsRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/approvals",
        tags,
        summary: "List tool calls waiting for (or given) human approval, newest first",
        protect: true,
      },
    })
    .input(listApprovalsInput)
    .output(pageOf(approval))
    .query(async ({ ctx, input }) =>
      toWire(await listApprovals(ctx.db, { ...input, orgId: ctx.org.id })),
    ),

  get: resourceProcedure("Approval", "viewer", findApprovalOrgId)
    .meta({
      openapi: {
        method: "GET",
        path: "/approvals/{id}",
        tags,
        summary: "Get an approval",
        protect: true,
      },
    })
    .output(approval)
    .query(async ({ ctx, input }) =>
      toWire(await getApproval(ctx.db, { orgId: ctx.org.id, id: input.id })),
    ),

  decide: resourceProcedure("Approval", "member", findApprovalOrgId)
    .use(personOnly)
    .meta({
      openapi: {
        method: "POST",
        path: "/approvals/{id}/decide",
        tags,
        summary: "Approve or deny a call waiting for approval",
        description:
          "Needs a signed-in person with at least the policy's approver role; nobody approves their own call (they may deny it). Approved, the call runs (the held MCP request, or for a REST call any server); denied, its run ends as denied with the comment. A decided or expired approval answers 409.",
        protect: true,
      },
      leavesGovernance: true,
    })
    .input(decideApprovalInput)
    .output(approval)
    .mutation(async ({ ctx, input }) =>
      toWire(
        await decideApproval(ctx.db, ctx.action, {
          orgId: ctx.org.id,
          id: input.id,
          decision: input.decision,
          comment: input.comment,
          decider: { userId: ctx.user.id, role: ctx.org.role },
        }),
      ),
    ),
});
