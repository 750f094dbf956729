import { z } from "zod";
import { pageInput, timestamp, uuid } from "./common";
import { ORG_ROLES } from "./orgs";
import { runStatus } from "./runs";

export const APPROVAL_STATUSES = ["pending", "approved", "denied", "expired", "cancelled"] as const;
export const approvalStatus = z.enum(APPROVAL_STATUSES);
export const APPROVAL_COMMENT_MAX = 2000;

export const approval = z.object({
  id: uuid,
  org_id: uuid,
  run_id: uuid.describe("The run of the call; it waits in awaiting_approval while pending"),
  run_status: runStatus,
  status: approvalStatus.describe(
    "pending; approved (the call runs, see its run); denied; expired (nobody decided in time: the call was denied); cancelled (the caller went away, or the server holding the call stopped)",
  ),
  mode: z
    .enum(["held", "detached"])
    .describe(
      "held: an MCP client's request waits for the decision; detached: nobody waits (REST, the console), the call runs on a server once approved",
    ),
  policy_id: uuid.nullable().describe("The require_approval policy (null once deleted)"),
  policy_name: z.string(),
  approver_role: z.enum(ORG_ROLES).describe("The least role that may decide"),
  tool_id: uuid.nullable(),
  tool_name: z.string(),
  agent_id: uuid.nullable(),
  agent_name: z.string().nullable(),
  user_id: uuid.nullable().describe("The person who made the call, if one did"),
  input: z.unknown().describe("The call's input, as the approver is asked to approve it"),
  expires_at: timestamp,
  decided_at: timestamp.nullable(),
  decided_by: uuid.nullable().describe("The person who approved or denied"),
  comment: z
    .string()
    .nullable()
    .describe("The approver's comment, or why it expired or was cancelled"),
  approvers_notified_at: timestamp
    .nullable()
    .describe(
      "When the members who may decide were e-mailed; null: not yet, or the org does not e-mail them, or the platform has no SMTP",
    ),
  created_at: timestamp,
});
export type ApprovalDto = z.infer<typeof approval>;

export const listApprovalsInput = pageInput.extend({
  status: approvalStatus.optional(),
  run_id: uuid.optional().describe("The approval of this run"),
});

export const decideApprovalInput = z.object({
  decision: z.enum(["approve", "deny"]),
  comment: z
    .string()
    .max(APPROVAL_COMMENT_MAX, `At most ${APPROVAL_COMMENT_MAX} characters`)
    .optional()
    .describe("Recorded with the decision and its audit event; a denial's reaches the caller"),
});
