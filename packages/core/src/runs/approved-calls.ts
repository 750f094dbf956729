import { and, eq, sql } from "drizzle-orm";
import {
  approvalActionContext,
  claimApprovedCalls,
  type ClaimedApproval,
} from "../approvals/approvals";
import type { ApprovedCallRunner } from "../approvals/hub";
import type { Db } from "../db/client";
import { runs, type JsonObject } from "../db/schema";
import { isAppError } from "../errors";
import type { McpRuntime } from "../runtime";
import { runTool } from "./orchestrator";

/**
 * Claims the approved calls nobody holds (made over REST or from the SPA) and returns them to be
 * run on this replica, each through the governed path as its run (policies are asked again: a
 * deny added meanwhile still wins; the rate limit was used when the call was made).
 */
export function approvedCallRunner(db: Db, runtime: McpRuntime): ApprovedCallRunner {
  return async () => {
    const claimed = await claimApprovedCalls(db, runtime.replicaId);
    return claimed.map((call) => () => runApprovedCall(db, runtime, call));
  };
}

async function runApprovedCall(
  db: Db,
  runtime: McpRuntime,
  { approval, run }: ClaimedApproval,
): Promise<void> {
  const { call } = approval;
  const gone =
    run.tool_id === null
      ? "the tool was deleted while the call waited for approval"
      : call.agent_id !== null && run.agent_id === null
        ? "the agent was deleted while the call waited for approval"
        : null;
  if (gone !== null || run.tool_id === null) {
    await failRun(db, run.id, gone ?? "the tool was deleted");
    return;
  }
  try {
    await runTool(db, runtime, approvalActionContext(call), {
      orgId: run.org_id,
      tool: { id: run.tool_id },
      agent: call.agent_id,
      input: (run.input ?? {}) as JsonObject,
      trigger: call.trigger,
      approved: { runId: run.id },
    });
  } catch (error) {
    // A tool or agent gone meanwhile explains itself; anything else is the operator's (onError).
    await failRun(db, run.id, isAppError(error) ? error.message : "internal error");
    if (!isAppError(error)) throw error;
  }
}

async function failRun(db: Db, runId: string, reason: string): Promise<void> {
  await db
    .update(runs)
    .set({
      status: "failed",
      error: `The approved call could not run: ${reason}`,
      finished_at: sql`now()`,
      duration_ms: sql`(extract(epoch from (now() - ${runs.started_at})) * 1000)::int`,
    })
    .where(and(eq(runs.id, runId), eq(runs.status, "running")));
}
