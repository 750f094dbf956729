import { and, eq, inArray, isNull, lte, sql, type SQL } from "drizzle-orm";
import { recordAudit } from "../audit/audit";
import { APPROVAL_CHANNEL } from "../db/changes";
import type { Db } from "../db/client";
import { agents, approvals, replicas, runs, type ApprovalCall, type JsonValue } from "../db/schema";
import { AppError } from "../errors";
import { SYSTEM_CONTEXT, type ActionContext } from "../lib/context";
import { uuidv7 } from "../lib/ids";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { roleAtLeast, type OrgRole } from "../orgs/roles";
import type { ApprovalRequirement } from "../policies/evaluate";

/*
 * Human approval of tool calls. A call a `require_approval` policy allows is recorded at once as a
 * run in `awaiting_approval` with an approval beside it (policy, approver role, expiry), in one
 * transaction. Every change of an approval's status is announced on APPROVAL_CHANNEL in the
 * transaction that made it, so whichever replica holds the call (a gateway request, held or as a
 * task) wakes when a person on any replica decides; a call nobody holds (REST, the SPA) is
 * claimed by one replica once approved and run there. Denied, expired and cancelled approvals
 * end their run in the same transaction as the decision.
 */

export type ApprovalRow = typeof approvals.$inferSelect;
export type ApprovalStatus = ApprovalRow["status"];

/** An approval as approvers see it: with the call it holds (tool, agent, input, who asked). */
export interface Approval extends Omit<ApprovalRow, "notify_lease_until"> {
  tool_id: string | null;
  tool_name: string;
  agent_id: string | null;
  agent_name: string | null;
  /** The person who made the call, if one did. */
  user_id: string | null;
  input: JsonValue | null;
  run_status: typeof runs.$inferSelect.status;
}

/** The statement's NOTIFY of each changed approval: its id and new status, as JSON. */
const announced = sql`pg_notify(${APPROVAL_CHANNEL}, json_build_object('id', id, 'status', status)::text)`;

async function announce(tx: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.execute(sql`select ${announced} from ${approvals} where ${inArray(approvals.id, ids)}`);
}

const approvalColumns = {
  id: approvals.id,
  org_id: approvals.org_id,
  run_id: approvals.run_id,
  policy_id: approvals.policy_id,
  policy_name: approvals.policy_name,
  approver_role: approvals.approver_role,
  status: approvals.status,
  mode: approvals.mode,
  holder_replica_id: approvals.holder_replica_id,
  call: approvals.call,
  expires_at: approvals.expires_at,
  decided_at: approvals.decided_at,
  decided_by: approvals.decided_by,
  comment: approvals.comment,
  claimed_at: approvals.claimed_at,
  approvers_notified_at: approvals.approvers_notified_at,
  created_at: approvals.created_at,
  tool_id: runs.tool_id,
  tool_name: runs.tool_name,
  agent_id: runs.agent_id,
  agent_name: agents.name,
  user_id: runs.user_id,
  input: runs.input,
  run_status: runs.status,
};

function selectApprovals(db: Db) {
  return db
    .select(approvalColumns)
    .from(approvals)
    .innerJoin(runs, eq(runs.id, approvals.run_id))
    .leftJoin(agents, eq(agents.id, runs.agent_id));
}

export interface ApprovalRequest {
  /** The run as it waits: status `awaiting_approval`, not yet written. */
  run: typeof runs.$inferInsert & { id: string; org_id: string };
  requirement: ApprovalRequirement;
  /** `held`: this replica holds the request and runs the call once approved. */
  mode: ApprovalRow["mode"];
  holderReplicaId: string | null;
  call: ApprovalCall;
}

/** Writes the waiting run, its approval and the audit event; announces it to approvers. */
export async function requestApproval(
  db: Db,
  context: ActionContext,
  request: ApprovalRequest,
): Promise<ApprovalRow> {
  const { requirement } = request;
  return db.transaction(async (tx) => {
    await tx.insert(runs).values(request.run);
    const [row] = await tx
      .insert(approvals)
      .values({
        id: uuidv7(),
        org_id: request.run.org_id,
        run_id: request.run.id,
        policy_id: requirement.policy_id,
        policy_name: requirement.name,
        approver_role: requirement.approver_role,
        mode: request.mode,
        holder_replica_id: request.holderReplicaId,
        call: request.call,
        expires_at: sql`now() + make_interval(secs => ${requirement.timeout_seconds})`,
      })
      .returning();
    if (!row) throw new Error("insert returned no approval");
    await recordAudit(tx, context, {
      org_id: row.org_id,
      action: "approval.request",
      target_type: "approval",
      target_id: row.id,
      metadata: {
        run_id: row.run_id,
        tool_id: request.run.tool_id ?? null,
        tool_name: request.run.tool_name,
        agent_id: request.run.agent_id ?? null,
        policy_id: row.policy_id,
        policy_name: row.policy_name,
        approver_role: row.approver_role,
        mode: row.mode,
        expires_at: row.expires_at.toISOString(),
      },
    });
    await announce(tx, [row.id]);
    return row;
  });
}

export interface ApprovalFilter extends PageRequest {
  orgId: string;
  status?: ApprovalStatus | undefined;
  run_id?: string | undefined;
}

/** The org's approvals, newest first. */
export async function listApprovals(db: Db, filter: ApprovalFilter): Promise<Page<Approval>> {
  const query = keyset(
    approvals.id,
    filter,
    and(
      eq(approvals.org_id, filter.orgId),
      filter.status ? eq(approvals.status, filter.status) : undefined,
      filter.run_id ? eq(approvals.run_id, filter.run_id) : undefined,
    ),
    "desc",
  );
  const rows = await selectApprovals(db)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

export async function findApprovalOrgId(db: Db, id: string): Promise<string | null> {
  const [row] = await db
    .select({ org_id: approvals.org_id })
    .from(approvals)
    .where(eq(approvals.id, id))
    .limit(1);
  return row?.org_id ?? null;
}

export async function getApproval(db: Db, input: { orgId: string; id: string }): Promise<Approval> {
  const [row] = await selectApprovals(db)
    .where(and(eq(approvals.org_id, input.orgId), eq(approvals.id, input.id)))
    .limit(1);
  if (!row) throw AppError.notFound("Approval");
  return row;
}

/** How an approval that was not approved ends its run. */
const ENDINGS = {
  denied: { action: "approval.deny", runStatus: "denied" },
  expired: { action: "approval.expire", runStatus: "denied" },
  cancelled: { action: "approval.cancel", runStatus: "failed" },
} as const;

/**
 * Ends a pending approval as denied, expired or cancelled, with its run (`error` says why), in
 * the caller's transaction; the row must be locked. Audited and announced.
 */
async function endApproval(
  tx: Db,
  context: ActionContext,
  row: ApprovalRow,
  ending: {
    status: keyof typeof ENDINGS;
    error: string;
    comment: string | null;
    decidedBy: string | null;
  },
): Promise<void> {
  const { action, runStatus } = ENDINGS[ending.status];
  await tx
    .update(approvals)
    .set({
      status: ending.status,
      decided_at: sql`now()`,
      decided_by: ending.decidedBy,
      comment: ending.comment,
    })
    .where(eq(approvals.id, row.id));
  await tx
    .update(runs)
    .set({
      status: runStatus,
      error: ending.error,
      finished_at: sql`now()`,
      duration_ms: sql`(extract(epoch from (now() - ${runs.started_at})) * 1000)::int`,
    })
    .where(and(eq(runs.id, row.run_id), eq(runs.status, "awaiting_approval")));
  await recordAudit(tx, context, {
    org_id: row.org_id,
    action,
    target_type: "approval",
    target_id: row.id,
    metadata: {
      run_id: row.run_id,
      policy_id: row.policy_id,
      policy_name: row.policy_name,
      comment: ending.comment,
      reason: ending.error,
    },
  });
  await announce(tx, [row.id]);
}

function expiryError(row: Pick<ApprovalRow, "policy_name" | "approver_role">): string {
  return `Approval timed out: no ${row.approver_role} (or higher) decided in time (policy '${row.policy_name}' requires approval)`;
}

export interface ApprovalDecision {
  orgId: string;
  id: string;
  decision: "approve" | "deny";
  comment?: string | undefined;
  /** The person deciding and their role in the org. */
  decider: { userId: string; role: OrgRole };
}

/**
 * Approves or denies a pending approval. Only a person with at least the approver role decides,
 * and nobody approves their own call (they may deny it). A decided or expired approval is a
 * conflict; an expired one is ended as expired on the way.
 */
export async function decideApproval(
  db: Db,
  context: ActionContext,
  input: ApprovalDecision,
): Promise<Approval> {
  const comment = input.comment?.trim() ? input.comment.trim() : null;
  const outcome = await db.transaction(async (tx) => {
    const [locked] = await tx
      .select({
        approval: approvals,
        expired: sql<boolean>`${approvals.expires_at} <= now()`,
        user_id: runs.user_id,
      })
      .from(approvals)
      .innerJoin(runs, eq(runs.id, approvals.run_id))
      .where(and(eq(approvals.org_id, input.orgId), eq(approvals.id, input.id)))
      .for("update", { of: approvals });
    if (!locked) throw AppError.notFound("Approval");
    const row = locked.approval;
    if (!roleAtLeast(input.decider.role, row.approver_role))
      throw AppError.forbidden(
        `Deciding this call needs the ${row.approver_role} role or higher (policy '${row.policy_name}'); yours is ${input.decider.role}`,
      );
    if (row.status !== "pending")
      throw AppError.conflict(`This approval was already decided: it is ${row.status}`);
    if (locked.expired) {
      await endApproval(tx, SYSTEM_CONTEXT, row, {
        status: "expired",
        error: expiryError(row),
        comment: null,
        decidedBy: null,
      });
      return "expired" as const;
    }
    if (input.decision === "approve" && locked.user_id === input.decider.userId)
      throw AppError.forbidden("You cannot approve your own call; another approver must");
    if (input.decision === "deny") {
      await endApproval(tx, context, row, {
        status: "denied",
        error: comment
          ? `Denied by an approver: ${comment}`
          : "Denied by an approver (no comment given)",
        comment,
        decidedBy: input.decider.userId,
      });
      return "decided" as const;
    }
    await tx
      .update(approvals)
      .set({
        status: "approved",
        decided_at: sql`now()`,
        decided_by: input.decider.userId,
        comment,
      })
      .where(eq(approvals.id, row.id));
    await recordAudit(tx, context, {
      org_id: row.org_id,
      action: "approval.approve",
      target_type: "approval",
      target_id: row.id,
      metadata: {
        run_id: row.run_id,
        policy_id: row.policy_id,
        policy_name: row.policy_name,
        comment,
      },
    });
    await announce(tx, [row.id]);
    return "decided" as const;
  });
  if (outcome === "expired")
    throw AppError.conflict("This approval expired before it was decided; the call was denied");
  return getApproval(db, { orgId: input.orgId, id: input.id });
}

/**
 * Ends pending approvals past their expiry (one, or all of them) as expired, denying their runs.
 * Rows another transaction holds are skipped: it is deciding them.
 */
export async function expireApprovals(db: Db, scope: { id?: string } = {}): Promise<number> {
  return endPending(
    db,
    and(
      scope.id === undefined ? undefined : eq(approvals.id, scope.id),
      lte(approvals.expires_at, sql`now()`),
    ),
    (row) => ({ status: "expired", error: expiryError(row), comment: null, decidedBy: null }),
  );
}

/** Ends the pending approvals `where` selects, each as `ending` says, skipping locked ones. */
async function endPending(
  db: Db,
  where: SQL | undefined,
  ending: (row: ApprovalRow) => Parameters<typeof endApproval>[3],
): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(approvals)
      .where(and(eq(approvals.status, "pending"), where))
      .orderBy(approvals.id)
      .limit(500)
      .for("update", { skipLocked: true });
    for (const row of rows) await endApproval(tx, SYSTEM_CONTEXT, row, ending(row));
    return rows.length;
  });
}

/**
 * A held call whose request went away (the client hung up, its task was cancelled) before the
 * approval was decided: the approval is cancelled and the run failed. False when it had been
 * decided meanwhile.
 */
export async function cancelApproval(db: Db, id: string, reason: string): Promise<boolean> {
  const ended = await endPending(db, eq(approvals.id, id), () => ({
    status: "cancelled",
    error: reason,
    comment: reason,
    decidedBy: null,
  }));
  return ended > 0;
}

const HOLDER_GONE =
  "Interrupted: the server holding this call stopped while it waited for approval";

/**
 * Held calls of replicas that are gone (no heartbeat within `deadAfter`, or no row): a pending
 * approval is cancelled, and a run still awaiting approval (approved, but its holder died before
 * running it) is failed. Part of the dead-replica sweep (see runs/replicas.ts).
 */
export async function sweepHeldApprovals(db: Db, deadAfter: SQL): Promise<number> {
  const holderDead = sql`not exists (select 1 from ${replicas} where ${replicas.id} = ${approvals.holder_replica_id}
    and ${replicas.heartbeat_at} > now() - ${deadAfter})`;
  const cancelled = await endPending(db, and(eq(approvals.mode, "held"), holderDead), () => ({
    status: "cancelled",
    error: HOLDER_GONE,
    comment: HOLDER_GONE,
    decidedBy: null,
  }));
  const orphaned = await db
    .update(runs)
    .set({
      status: "failed",
      error: HOLDER_GONE,
      finished_at: sql`now()`,
      duration_ms: sql`(extract(epoch from (now() - ${runs.started_at})) * 1000)::int`,
    })
    .where(
      and(
        eq(runs.status, "awaiting_approval"),
        sql`exists (select 1 from ${approvals} where ${approvals.run_id} = ${runs.id}
          and ${approvals.mode} = 'held' and ${approvals.status} = 'approved' and ${holderDead})`,
      ),
    )
    .returning({ id: runs.id });
  return cancelled + orphaned.length;
}

/** An approved call nobody holds, claimed by this replica to run it. */
export interface ClaimedApproval {
  approval: ApprovalRow;
  run: Pick<
    typeof runs.$inferSelect,
    "id" | "org_id" | "tool_id" | "tool_name" | "agent_id" | "input"
  >;
}

/**
 * Takes approved detached calls no replica has taken yet (rows another replica is taking are
 * skipped), marks their runs running on this replica, and returns them to be run. A replica that
 * dies while running one leaves a `running` run, swept as interrupted like any other.
 */
export async function claimApprovedCalls(
  db: Db,
  replicaId: string,
  limit = 20,
): Promise<ClaimedApproval[]> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(approvals)
      .where(
        and(
          eq(approvals.status, "approved"),
          eq(approvals.mode, "detached"),
          isNull(approvals.claimed_at),
        ),
      )
      .orderBy(approvals.id)
      .limit(limit)
      .for("update", { skipLocked: true });
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    await tx
      .update(approvals)
      .set({ claimed_at: sql`now()` })
      .where(inArray(approvals.id, ids));
    const claimedRuns = await tx
      .update(runs)
      .set({ status: "running", replica_id: replicaId })
      .where(
        and(
          inArray(
            runs.id,
            rows.map((row) => row.run_id),
          ),
          eq(runs.status, "awaiting_approval"),
        ),
      )
      .returning({
        id: runs.id,
        org_id: runs.org_id,
        tool_id: runs.tool_id,
        tool_name: runs.tool_name,
        agent_id: runs.agent_id,
        input: runs.input,
      });
    const byId = new Map(claimedRuns.map((run) => [run.id, run]));
    return rows.flatMap((approval) => {
      const run = byId.get(approval.run_id);
      return run ? [{ approval, run }] : [];
    });
  });
}

/** The approval's state for a held call: its status and how long until it expires. */
export async function heldApprovalState(
  db: Db,
  id: string,
): Promise<{ status: ApprovalStatus; msUntilExpiry: number } | null> {
  const [row] = await db
    .select({
      status: approvals.status,
      ms: sql<
        number | string
      >`greatest(0, extract(epoch from (${approvals.expires_at} - now())) * 1000)::float8`,
    })
    .from(approvals)
    .where(eq(approvals.id, id))
    .limit(1);
  return row ? { status: row.status, msUntilExpiry: Number(row.ms) } : null;
}

/** What a stored call context becomes when the call is run after approval. */
export function approvalActionContext(call: ApprovalCall): ActionContext {
  return {
    actor: {
      type: call.actor.type,
      id: call.actor.id,
      ...(call.actor.name === undefined ? {} : { name: call.actor.name }),
    },
    ip: call.ip,
    user_agent: call.user_agent,
    request_id: call.request_id,
    ...(call.acting_user === null ? {} : { acting_user: call.acting_user }),
  };
}
