import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { invitations, memberships, orgs, users } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { normalizeEmail } from "../accounts/accounts";
import { hashOneTimeToken, newOneTimeToken } from "../accounts/one-time-tokens";
import { domainRefusal, emailDomainAllowed, type SignupPolicy } from "../accounts/signup";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { isUniqueViolation } from "../lib/pg-errors";
import { deliver, type MailDelivery, type Mailer } from "../mail/mailer";
import type { OrgRole } from "./roles";

export type InvitationStatus = "pending" | "accepted" | "revoked" | "expired";

export interface Invitation {
  id: string;
  org_id: string;
  email: string;
  role: OrgRole;
  status: InvitationStatus;
  invited_by: string | null;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_by: string | null;
  revoked_at: Date | null;
  created_at: Date;
}

type InvitationRow = typeof invitations.$inferSelect;

function statusOf(row: InvitationRow, expired: boolean): InvitationStatus {
  if (row.accepted_at) return "accepted";
  if (row.revoked_at) return "revoked";
  return expired ? "expired" : "pending";
}

/** Expiry by the database's clock, which every replica shares. */
const expiredNow = sql<boolean>`${invitations.expires_at} <= now()`;

function toInvitation(row: InvitationRow, expired: boolean): Invitation {
  const { token_hash: _tokenHash, ...rest } = row;
  return { ...rest, status: statusOf(row, expired) };
}

export interface InvitationSettings {
  signup: SignupPolicy;
  ttlSeconds: number;
  mailer: Mailer | null;
  /** The link the invitee opens, carrying the token. */
  linkFor: (token: string) => string;
}

export interface CreatedInvitation {
  invitation: Invitation;
  /** Shown once, to the inviter, whatever became of the mail. */
  url: string;
  email_delivery: MailDelivery;
}

/**
 * Adding someone by e-mail always makes an invitation, whether or not the address has an account:
 * the answer is the same either way, so it tells the inviter nothing about who is registered.
 * Inviting an address again replaces its open invitation (a fresh link, the old one dead). An
 * owner's role can be given only by an owner.
 */
export async function createInvitation(
  db: Db,
  context: ActionContext,
  input: { orgId: string; inviterRole: OrgRole; email: string; role: OrgRole },
  settings: InvitationSettings,
): Promise<CreatedInvitation> {
  const email = normalizeEmail(input.email);
  if (input.role === "owner" && input.inviterRole !== "owner")
    throw new AppError("FORBIDDEN", "Only owners can invite owners", {
      issues: [{ path: ["role"], message: "Only owners can invite owners" }],
    });
  if (!emailDomainAllowed(settings.signup, email))
    throw AppError.invalidField("email", domainRefusal(settings.signup));
  const { token, hash } = newOneTimeToken();
  const { invitation, orgName, inviter } = await db
    .transaction(async (tx) => {
      // Members are listed to the org already: saying so reveals nothing about the platform.
      const [existing] = await tx
        .select({ user_id: memberships.user_id })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.user_id))
        .where(and(eq(memberships.org_id, input.orgId), eq(users.email, email)))
        .limit(1);
      if (existing)
        throw AppError.conflict("This address is already a member", [
          { path: ["email"], message: "This address is already a member" },
        ]);
      await tx
        .update(invitations)
        .set({ revoked_at: sql`now()` })
        .where(
          and(
            eq(invitations.org_id, input.orgId),
            eq(invitations.email, email),
            isNull(invitations.accepted_at),
            isNull(invitations.revoked_at),
          ),
        );
      const [row] = await tx
        .insert(invitations)
        .values({
          org_id: input.orgId,
          email,
          role: input.role,
          token_hash: hash,
          invited_by: context.actor.type === "user" ? context.actor.id : null,
          expires_at: sql`now() + ${settings.ttlSeconds}::integer * interval '1 second'`,
        })
        .returning();
      if (!row) throw new Error("insert returned no invitation");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "invitation.create",
        target_type: "invitation",
        target_id: row.id,
        metadata: { email, role: input.role, expires_at: row.expires_at.toISOString() },
      });
      const [org] = await tx
        .select({ name: orgs.name })
        .from(orgs)
        .where(eq(orgs.id, input.orgId))
        .limit(1);
      const [person] = row.invited_by
        ? await tx
            .select({ first: users.first_name, last: users.last_name, email: users.email })
            .from(users)
            .where(eq(users.id, row.invited_by))
            .limit(1)
        : [];
      const inviterName = person ? `${person.first} ${person.last}`.trim() || person.email : "";
      return {
        invitation: toInvitation(row, false),
        orgName: org?.name ?? "an organization",
        inviter: inviterName || "An administrator",
      };
    })
    .catch((error: unknown) => {
      // Two invitations of one address racing: the loser's unique index hit.
      if (isUniqueViolation(error))
        throw AppError.conflict("This address is being invited right now; try again", [
          { path: ["email"], message: "This address is being invited right now; try again" },
        ]);
      throw error;
    });
  const url = settings.linkFor(token);
  const emailDelivery = await deliver(settings.mailer, {
    to: email,
    subject: `${inviter} invited you to ${orgName}`,
    text:
      `${inviter} invited you to join ${orgName} on the MCP Agents Platform as ${input.role}.\n\n` +
      `Open this link to accept (sign up with this address, ${email}, or sign in if you have an account):\n\n` +
      `${url}\n\nThe link works once and expires on ${invitation.expires_at.toUTCString()}.\n` +
      "If you did not expect this invitation, ignore this message.\n",
  });
  return { invitation, url, email_delivery: emailDelivery };
}

export async function listInvitations(
  db: Db,
  input: PageRequest & { orgId: string },
): Promise<Page<Invitation>> {
  const query = keyset(invitations.id, input, eq(invitations.org_id, input.orgId), "desc");
  const rows = await db
    .select({ row: invitations, expired: expiredNow, id: invitations.id })
    .from(invitations)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  const page = toPage(rows, query);
  return { ...page, results: page.results.map(({ row, expired }) => toInvitation(row, expired)) };
}

export async function revokeInvitation(
  db: Db,
  context: ActionContext,
  input: { orgId: string; invitationId: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(invitations)
      .where(and(eq(invitations.org_id, input.orgId), eq(invitations.id, input.invitationId)))
      .for("update")
      .limit(1);
    if (!row) throw AppError.notFound("Invitation");
    if (row.accepted_at) throw AppError.conflict("This invitation was already accepted");
    if (row.revoked_at) return;
    await tx
      .update(invitations)
      .set({ revoked_at: sql`now()` })
      .where(eq(invitations.id, row.id));
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "invitation.revoke",
      target_type: "invitation",
      target_id: row.id,
      metadata: { email: row.email, role: row.role },
    });
  });
}

export interface InvitationPreview {
  org_name: string;
  email: string;
  role: OrgRole;
  expires_at: Date;
}

const unusable = (status: InvitationStatus): AppError =>
  AppError.notFound(
    status === "accepted"
      ? "Invitation (it was already used)"
      : status === "revoked"
        ? "Invitation (it was revoked)"
        : status === "expired"
          ? "Invitation (it has expired)"
          : "Invitation",
  );

/** What the invitee sees before accepting; only the holder of the link can ask. */
export async function previewInvitation(db: Db, token: string): Promise<InvitationPreview> {
  const [row] = await db
    .select({ invitation: invitations, org_name: orgs.name, expired: expiredNow })
    .from(invitations)
    .innerJoin(orgs, eq(orgs.id, invitations.org_id))
    .where(eq(invitations.token_hash, hashOneTimeToken(token)))
    .limit(1);
  if (!row) throw AppError.notFound("Invitation");
  const status = statusOf(row.invitation, row.expired);
  if (status !== "pending") throw unusable(status);
  const { email, role, expires_at } = row.invitation;
  return { org_name: row.org_name, email, role, expires_at };
}

/** A pending invitation found by its token, locked for this transaction. */
export type PendingInvitation = InvitationRow;

export async function lockPendingInvitation(db: Db, token: string): Promise<InvitationRow> {
  const [found] = await db
    .select({ row: invitations, expired: expiredNow })
    .from(invitations)
    .where(eq(invitations.token_hash, hashOneTimeToken(token)))
    .for("update")
    .limit(1);
  if (!found) throw AppError.notFound("Invitation");
  const status = statusOf(found.row, found.expired);
  if (status !== "pending") throw unusable(status);
  return found.row;
}

/**
 * Joins the invited org, inside the caller's transaction (sign-up joins in the same one). Only the
 * account with the invited address may: a forwarded or leaked link is useless to anyone else.
 */
export async function acceptLockedInvitation(
  tx: Db,
  context: ActionContext,
  invitation: InvitationRow,
  user: { id: string; email: string },
): Promise<{ org_id: string; role: OrgRole }> {
  if (normalizeEmail(user.email) !== invitation.email)
    throw new AppError(
      "FORBIDDEN",
      `This invitation is for ${invitation.email}; sign in with that address to accept it`,
    );
  await tx
    .update(invitations)
    .set({ accepted_at: sql`now()`, accepted_by: user.id })
    .where(eq(invitations.id, invitation.id));
  const [joined] = await tx
    .insert(memberships)
    .values({ org_id: invitation.org_id, user_id: user.id, role: invitation.role })
    .onConflictDoNothing()
    .returning({ role: memberships.role });
  if (!joined) throw AppError.conflict("You are already a member of this organization");
  await recordAudit(tx, context, {
    org_id: invitation.org_id,
    action: "invitation.accept",
    target_type: "invitation",
    target_id: invitation.id,
    metadata: { email: invitation.email, role: invitation.role },
  });
  await recordAudit(tx, context, {
    org_id: invitation.org_id,
    action: "member.add",
    target_type: "user",
    target_id: user.id,
    metadata: { role: invitation.role, invitation_id: invitation.id },
  });
  return { org_id: invitation.org_id, role: invitation.role };
}

export async function acceptInvitation(
  db: Db,
  context: ActionContext,
  input: { token: string; user: { id: string; email: string } },
): Promise<{ org_id: string; role: OrgRole }> {
  return db.transaction(async (tx) => {
    const invitation = await lockPendingInvitation(tx, input.token);
    return acceptLockedInvitation(tx, context, invitation, input.user);
  });
}
