import { and, eq, inArray, isNull, ne, sql } from "drizzle-orm";
import { recordAudit } from "../audit/audit";
import type { ChangeFeed } from "../db/changes";
import type { Db } from "../db/client";
import { agents, approvals, memberships, orgs, runs, users } from "../db/schema";
import { SYSTEM_CONTEXT } from "../lib/context";
import type { Mailer, MailMessage } from "../mail/mailer";
import { ORG_ROLES, roleAtLeast, type OrgRole } from "../orgs/roles";
import type { ApprovalStatus } from "./approvals";

/*
 * E-mail to the people who may decide a call waiting for approval, sent when it starts waiting.
 *
 * Delivery is at-least-once across replicas and restarts, without an outbox: every replica hears
 * a new approval on the change feed and tries to claim it, the claim (FOR UPDATE SKIP LOCKED and a
 * lease) lets one replica send, and only after sending does it mark the approval notified. A
 * replica that dies while sending leaves the lease to run out and another sends again (a
 * recipient may then get the mail twice). Approvals that expire or are decided before anyone
 * sent their mail are not mailed about.
 *
 * The mail names the tool, the caller, the policy and the deadline, and links to the Approvals
 * page; never the call's input, which may hold what only the platform's members should read.
 */

/** How long one replica has to e-mail an approval's approvers before another may take over. */
const NOTIFY_LEASE_SECONDS = 120;
/** When no approver could be mailed at all (SMTP down), the next attempt waits this long. */
const RETRY_SECONDS = 60;
const BATCH = 20;

export interface ApprovalNotifierOptions {
  mailer: Mailer;
  /** The Approvals page of an org in the SPA; null when the platform's public address is unknown. */
  approvalsPage: (orgId: string) => string | null;
}

interface Claimed {
  id: string;
  org_id: string;
  run_id: string;
  policy_name: string;
  approver_role: OrgRole;
  expires_at: Date;
}

/** Takes approvals whose approvers are not yet mailed, in orgs that mail them, leased to this call. */
async function claim(db: Db): Promise<Claimed[]> {
  const due = sql`select a.id from ${approvals} a join ${orgs} o on o.id = a.org_id
    where a.status = 'pending' and a.approvers_notified_at is null and o.email_approvers
      and a.expires_at > now()
      and (a.notify_lease_until is null or a.notify_lease_until < now())
    order by a.id
    limit ${BATCH}
    for update of a skip locked`;
  const rows = await db
    .update(approvals)
    .set({ notify_lease_until: sql`now() + make_interval(secs => ${NOTIFY_LEASE_SECONDS})` })
    .where(sql`${approvals.id} in (${due})`)
    .returning({
      id: approvals.id,
      org_id: approvals.org_id,
      run_id: approvals.run_id,
      policy_name: approvals.policy_name,
      approver_role: approvals.approver_role,
      expires_at: approvals.expires_at,
    });
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Who may decide: members with at least the approver role, not locked out, not the caller. */
async function recipients(
  db: Db,
  approval: Claimed,
  callerId: string | null,
): Promise<{ email: string }[]> {
  const roles = ORG_ROLES.filter((role) => roleAtLeast(role, approval.approver_role));
  return db
    .select({ email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.user_id))
    .where(
      and(
        eq(memberships.org_id, approval.org_id),
        inArray(memberships.role, roles),
        isNull(users.disabled_at),
        callerId === null ? undefined : ne(users.id, callerId),
      ),
    )
    .orderBy(users.email);
}

function message(
  approval: Claimed,
  call: { orgName: string; toolName: string; caller: string },
  page: string | null,
  to: string,
): MailMessage {
  const where = page
    ? `Approve or deny it here (the call's input is shown there, never by mail):\n\n${page}\n`
    : `Open the Approvals page of ${call.orgName} on the platform to approve or deny it (the call's input is shown there, never by mail).\n`;
  return {
    to,
    subject: `Approval needed: ${call.toolName} in ${call.orgName}`,
    text:
      `${call.caller} called the tool ${call.toolName} in ${call.orgName}. The policy '${approval.policy_name}' ` +
      `holds the call until a ${approval.approver_role} (or higher) approves it.\n\n` +
      where +
      `\nIf nobody decides by ${approval.expires_at.toUTCString()}, the call is denied.\n` +
      `You get this mail because your role in ${call.orgName} lets you decide; an owner can turn these mails off in the org's settings.\n`,
  };
}

async function callDetails(db: Db, approval: Claimed) {
  const [row] = await db
    .select({
      orgName: orgs.name,
      toolName: runs.tool_name,
      agentName: agents.name,
      userId: runs.user_id,
      userEmail: users.email,
    })
    .from(runs)
    .innerJoin(orgs, eq(orgs.id, runs.org_id))
    .leftJoin(agents, eq(agents.id, runs.agent_id))
    .leftJoin(users, eq(users.id, runs.user_id))
    .where(eq(runs.id, approval.run_id))
    .limit(1);
  if (!row) return null;
  const caller =
    row.agentName !== null ? `The agent '${row.agentName}'` : (row.userEmail ?? "Someone");
  return { orgName: row.orgName, toolName: row.toolName, caller, userId: row.userId };
}

/**
 * E-mails the approvers of every approval not yet mailed about (as many batches as there are);
 * returns how many approvals were dealt with. Safe to run on every replica at once.
 */
export async function notifyApprovers(db: Db, options: ApprovalNotifierOptions): Promise<number> {
  let handled = 0;
  for (;;) {
    const claimed = await claim(db);
    if (claimed.length === 0) return handled;
    for (const approval of claimed) {
      const call = await callDetails(db, approval);
      const people = call ? await recipients(db, approval, call.userId) : [];
      const page = options.approvalsPage(approval.org_id);
      let failed = 0;
      if (call)
        for (const person of people) {
          try {
            await options.mailer.send(message(approval, call, page, person.email));
          } catch {
            // The mailer logged why; the count goes to the audit event.
            failed += 1;
          }
        }
      const held = and(eq(approvals.id, approval.id), eq(approvals.status, "pending"));
      if (people.length > 0 && failed === people.length) {
        await db
          .update(approvals)
          .set({ notify_lease_until: sql`now() + make_interval(secs => ${RETRY_SECONDS})` })
          .where(held);
        continue;
      }
      await db.transaction(async (tx) => {
        await tx
          .update(approvals)
          .set({ approvers_notified_at: sql`now()`, notify_lease_until: null })
          .where(eq(approvals.id, approval.id));
        await recordAudit(tx, SYSTEM_CONTEXT, {
          org_id: approval.org_id,
          action: "approval.notify",
          target_type: "approval",
          target_id: approval.id,
          metadata: {
            run_id: approval.run_id,
            approver_role: approval.approver_role,
            recipients: people.length - failed,
            failed,
          },
        });
      });
      handled += 1;
    }
  }
}

/**
 * Runs `notifyApprovers` when an approval starts waiting (heard on the change feed from any
 * replica), when the feed reconnects (announcements may have been missed), and every
 * `intervalMs` (a lease that ran out, a retry after SMTP failed). Never two rounds at once.
 */
export function startApprovalNotifier(
  db: Db,
  feed: ChangeFeed,
  options: ApprovalNotifierOptions & { intervalMs: number; onError: (error: unknown) => void },
): { close(): Promise<void> } {
  let round: Promise<void> | null = null;
  // Set while a round runs: announcements it may have missed, or closing.
  const state = { again: false, closed: false };
  const repeat = () => state.again && !state.closed;
  const kick = () => {
    if (state.closed) return;
    if (round) {
      state.again = true;
      return;
    }
    round = (async () => {
      do {
        state.again = false;
        await notifyApprovers(db, options);
      } while (repeat());
    })()
      .catch(options.onError)
      .finally(() => {
        round = null;
      });
  };
  const unsubscribe = feed.subscribe({
    changed: () => undefined,
    reset: kick,
    approval: (payload) => {
      if (announcedStatus(payload) === "pending") kick();
    },
  });
  const timer = setInterval(kick, options.intervalMs);
  timer.unref();
  kick();
  return {
    close: async () => {
      state.closed = true;
      clearInterval(timer);
      unsubscribe();
      await round;
    },
  };
}

function announcedStatus(payload: string): ApprovalStatus | null {
  try {
    const message = JSON.parse(payload) as { status?: unknown };
    return typeof message.status === "string" ? (message.status as ApprovalStatus) : null;
  } catch {
    return null;
  }
}
