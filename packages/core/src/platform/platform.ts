import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { memberships, orgs, users } from "../db/schema";
import { auditEventsPage, recordAudit, type AuditEvent, type AuditFilter } from "../audit/audit";
import { invalidateUserSessions } from "../accounts/sessions";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";

/*
 * What a platform admin (`users.is_platform_admin`) can do beyond any org: see every org and
 * account, and disable or re-enable an account. Nothing here reads an org's resources or secrets,
 * and being a platform admin makes no one a member of any org.
 *
 * Auditing: each change is written twice over. Once as a platform event (org_id null, where sign-ins
 * and sign-ups already live, outside every org's hash chain; listed by listPlatformAuditEvents),
 * and once in the chained log of every org the account belongs to, so each org's admins see that a
 * member was locked out (it stops the API tokens and OAuth grants that member made there).
 */

export interface PlatformOrg {
  id: string;
  name: string;
  slug: string;
  member_count: number;
  created_at: Date;
}

/** Every org on the platform, oldest first, with its member count. */
export async function listPlatformOrgs(db: Db, page: PageRequest): Promise<Page<PlatformOrg>> {
  const query = keyset(orgs.id, page, undefined);
  const rows = await db
    .select({
      id: orgs.id,
      name: orgs.name,
      slug: orgs.slug,
      member_count: sql<number>`(select count(*) from ${memberships}
        where ${memberships.org_id} = ${orgs.id})::integer`,
      created_at: orgs.created_at,
    })
    .from(orgs)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

/** An account as the platform admin sees it: no password hash, no secret of any kind. */
const platformUserColumns = {
  id: users.id,
  email: users.email,
  first_name: users.first_name,
  last_name: users.last_name,
  is_platform_admin: users.is_platform_admin,
  email_verified_at: users.email_verified_at,
  disabled_at: users.disabled_at,
  last_sign_in_at: users.last_sign_in_at,
  date_joined: users.date_joined,
};

export interface PlatformUser {
  id: string;
  email: string;
  first_name: string;
  last_name: string;
  is_platform_admin: boolean;
  email_verified_at: Date | null;
  disabled_at: Date | null;
  last_sign_in_at: Date | null;
  date_joined: Date;
}

/** Every account on the platform, oldest first. */
export async function listPlatformUsers(db: Db, page: PageRequest): Promise<Page<PlatformUser>> {
  const query = keyset(users.id, page, undefined);
  const rows = await db
    .select(platformUserColumns)
    .from(users)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

export async function getPlatformUser(db: Db, userId: string): Promise<PlatformUser> {
  const [row] = await db
    .select(platformUserColumns)
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!row) throw AppError.notFound("User");
  return row;
}

/**
 * Disables (locks out) or re-enables an account. Disabling deletes its sessions; from then on,
 * on every replica, every check reads `disabled_at` from the database: sessions and every sign-in
 * (password, SSO, reset link) are refused, API tokens the account created and OAuth grants it
 * approved stop working, and its per-user connection credentials are not used. Re-enabling lets it
 * sign in again; its old sessions stay ended, its unrevoked tokens and grants work again.
 *
 * Refused: disabling yourself, and so leaving the platform without an enabled platform admin: the
 * enabled admins' rows are locked first and the caller must still be one of them, so two admins
 * disabling each other at once cannot both succeed. Asking for the state the account is already
 * in changes and records nothing.
 */
export async function setUserDisabled(
  db: Db,
  context: ActionContext & { actor: { type: "user"; id: string } },
  input: { userId: string; disabled: boolean },
): Promise<PlatformUser> {
  return db.transaction(async (tx) => {
    const admins = await tx
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.is_platform_admin, true), isNull(users.disabled_at)))
      .orderBy(users.id)
      .for("update");
    // Rechecked under the lock: the caller may have been disabled since the request began.
    if (!admins.some((admin) => admin.id === context.actor.id))
      throw AppError.forbidden("This needs an enabled platform admin");
    // With the caller an enabled admin under the lock, refusing their own account is what keeps
    // the platform from losing its last enabled admin.
    if (input.disabled && input.userId === context.actor.id)
      throw AppError.forbidden("A platform admin cannot disable their own account");

    const [target] = await tx
      .select({ id: users.id, email: users.email, disabled_at: users.disabled_at })
      .from(users)
      .where(eq(users.id, input.userId))
      .for("update")
      .limit(1);
    if (!target) throw AppError.notFound("User");
    if ((target.disabled_at !== null) === input.disabled) return getPlatformUser(tx, target.id);

    await tx
      .update(users)
      .set({ disabled_at: input.disabled ? sql`now()` : null, updated_at: new Date() })
      .where(eq(users.id, target.id));
    const sessionsEnded = input.disabled ? await invalidateUserSessions(tx, target.id) : 0;
    const action = input.disabled ? "platform.user.disable" : "platform.user.enable";
    const metadata = {
      email: target.email,
      ...(input.disabled ? { sessions_ended: sessionsEnded } : {}),
    };
    await recordAudit(tx, context, {
      org_id: null,
      action,
      target_type: "user",
      target_id: target.id,
      metadata,
    });
    const memberOf = await tx
      .select({ org_id: memberships.org_id })
      .from(memberships)
      .where(eq(memberships.user_id, target.id))
      .orderBy(memberships.org_id);
    for (const { org_id } of memberOf) {
      await recordAudit(tx, context, {
        org_id,
        action,
        target_type: "user",
        target_id: target.id,
        metadata: { email: target.email, by: "platform_admin" },
      });
    }
    return getPlatformUser(tx, target.id);
  });
}

/** The platform's own events (org_id null: sign-ins, sign-ups, platform admin actions), newest first. */
export async function listPlatformAuditEvents(
  db: Db,
  filter: Omit<AuditFilter, "orgId">,
): Promise<Page<AuditEvent>> {
  const { statement, query } = auditEventsPage(db, { ...filter, orgId: null });
  return toPage(await statement, query);
}
