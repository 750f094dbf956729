import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { users } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import { SYSTEM_CONTEXT, type ActionContext, type RequestOrigin } from "../lib/context";
import { isUniqueViolation } from "../lib/pg-errors";
import { acceptLockedInvitation, lockPendingInvitation } from "../orgs/invitations";
import type { OrgRole } from "../orgs/roles";
import { assertAcceptablePassword } from "./password-policy";
import { ssoOnlyOrgOf, type SsoProvider } from "./sso";
import { burnPasswordCheck, hashPassword, verifyPassword } from "./passwords";
import { domainRefusal, emailDomainAllowed, type SignupPolicy } from "./signup";
import {
  ACCOUNT_DISABLED,
  createSession,
  invalidateSession,
  invalidateUserSessionByPublicId,
  invalidateUserSessions,
  type IssuedSession,
} from "./sessions";
import {
  countAttempts,
  giveBackAttempts,
  resetThrottles,
  throttleAddress,
  throttleKey,
  type AuthThrottleConfig,
  type ThrottleOutcome,
} from "./throttle";

/** An account as the services pass it on; `disabled_at` and `last_sign_in_at` are platform/'s. */
export type User = Omit<
  typeof users.$inferSelect,
  "password_hash" | "disabled_at" | "last_sign_in_at"
>;

/** A user as the API shows it: everything but the password hash. */
export const publicUserColumns = {
  id: users.id,
  email: users.email,
  first_name: users.first_name,
  last_name: users.last_name,
  is_platform_admin: users.is_platform_admin,
  email_verified_at: users.email_verified_at,
  date_joined: users.date_joined,
  updated_at: users.updated_at,
};

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface RegisterInput {
  email: string;
  password: string;
  first_name?: string | undefined;
  last_name?: string | undefined;
  /** Signs up through an invitation: allowed in `invite` mode, and joins the org at once. */
  invitation_token?: string | undefined;
}

/** `null` for the operator's own tools (the seed), which no client can reach. */
export type AuthThrottleOption = AuthThrottleConfig | null;

function throttled(outcome: Exclude<ThrottleOutcome, { allowed: true }>, what: string): AppError {
  return AppError.rateLimited(
    `Too many ${what}; try again in ${outcome.retryAfterSeconds} seconds`,
    outcome.retryAfterSeconds,
  );
}

/** Serialises sign-ups while deciding whether this one is the platform's first account. */
const FIRST_ACCOUNT_LOCK = 0x6d637061;

export interface Registered {
  user: User;
  session: IssuedSession;
  /** The org joined through `invitation_token`. */
  joined: { org_id: string; role: OrgRole } | null;
}

/**
 * Creates an account as the sign-up policy allows (see SignupPolicy). The first account of an
 * empty platform is always allowed and becomes the platform admin; a lock taken for that check
 * keeps two racing first sign-ups from both becoming admin.
 */
export async function registerUser(
  db: Db,
  origin: RequestOrigin,
  input: RegisterInput,
  options: { throttle: AuthThrottleOption; signup: SignupPolicy },
): Promise<Registered> {
  const email = normalizeEmail(input.email);
  const { throttle, signup } = options;
  await assertAcceptablePassword(input.password, email);
  if (throttle) {
    const outcome = await countAttempts(db, throttle, [
      throttleKey("registerPerIp", throttleAddress(origin.ip)),
    ]);
    if (!outcome.allowed) throw throttled(outcome, "registrations from your address");
  }
  const passwordHash = await hashPassword(input.password);
  try {
    return await db.transaction(async (tx) => {
      const invitation =
        input.invitation_token === undefined
          ? null
          : await lockPendingInvitation(tx, input.invitation_token);
      if (invitation && invitation.email !== email)
        throw AppError.invalidField(
          "email",
          `This invitation is for ${invitation.email}; sign up with that address`,
        );
      const first = await isFirstAccount(tx);
      if (!first) assertSignupAllowed(signup, email, invitation !== null);
      const [user] = await tx
        .insert(users)
        .values({
          email,
          password_hash: passwordHash,
          first_name: input.first_name?.trim() ?? "",
          last_name: input.last_name?.trim() ?? "",
          is_platform_admin: first,
        })
        .returning(publicUserColumns);
      if (!user) throw new Error("insert returned no user");
      const context = { ...origin, actor: { type: "user" as const, id: user.id } };
      await recordAudit(tx, context, {
        org_id: null,
        action: "user.register",
        target_type: "user",
        target_id: user.id,
        metadata: first ? { platform_admin: true } : {},
      });
      const joined = invitation
        ? await acceptLockedInvitation(tx, context, invitation, user)
        : null;
      const session = await createSession(tx, user.id, origin);
      return { user, session, joined };
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw AppError.conflict("An account with this email already exists", [
        { path: ["email"], message: "An account with this email already exists" },
      ]);
    }
    throw error;
  }
}

/**
 * The operator's `admin:create`: an account that operates the platform, made whatever the
 * sign-up policy says (the command runs on the server, with the database's credentials).
 */
export async function createPlatformAdmin(
  db: Db,
  input: { email: string; password: string; first_name?: string; last_name?: string },
): Promise<User> {
  const email = normalizeEmail(input.email);
  await assertAcceptablePassword(input.password, email);
  const passwordHash = await hashPassword(input.password);
  try {
    return await db.transaction(async (tx) => {
      const [user] = await tx
        .insert(users)
        .values({
          email,
          password_hash: passwordHash,
          first_name: input.first_name?.trim() ?? "",
          last_name: input.last_name?.trim() ?? "",
          is_platform_admin: true,
        })
        .returning(publicUserColumns);
      if (!user) throw new Error("insert returned no user");
      await recordAudit(tx, SYSTEM_CONTEXT, {
        org_id: null,
        action: "user.create_platform_admin",
        target_type: "user",
        target_id: user.id,
        metadata: { email },
      });
      return user;
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw AppError.conflict("An account with this email already exists", [
        { path: ["email"], message: "An account with this email already exists" },
      ]);
    throw error;
  }
}

/** Refusals name the rule, never whether the address has an account. */
/**
 * Why the sign-up policy refuses a new account for `email`, or null when it allows one.
 * `invited`: the address holds a pending invitation (checked against the domains when it was made).
 */
export function signupRefusal(
  signup: SignupPolicy,
  email: string,
  invited: boolean,
): string | null {
  if (signup.mode === "closed")
    return "Sign-up is closed on this platform; ask its administrator for an account";
  if (signup.mode === "invite" && !invited)
    return "Sign-up is by invitation only; open the link of your invitation";
  if (!invited && !emailDomainAllowed(signup, email)) return domainRefusal(signup);
  return null;
}

function assertSignupAllowed(signup: SignupPolicy, email: string, invited: boolean): void {
  const refusal = signupRefusal(signup, email, invited);
  if (refusal === null) return;
  // Only open sign-up gets as far as the domain: then the address is what to change.
  if (signup.mode === "open") throw AppError.invalidField("email", refusal);
  throw AppError.forbidden(refusal);
}

/**
 * Serialises the choice of the platform's first account, which becomes its admin: of two
 * sign-ups on an empty platform, one only.
 */
export async function isFirstAccount(tx: Db): Promise<boolean> {
  await tx.execute(sql`select pg_advisory_xact_lock(${FIRST_ACCOUNT_LOCK})`);
  return !(await platformHasUsers(tx));
}

const INVALID_CREDENTIALS = "Invalid email or password";

/**
 * `sso`: the platform's identity provider, when it has one; members of an SSO-only org must use
 * it. Without one, SSO-only is not enforced, so removing the IdP locks no one out.
 */
export async function loginUser(
  db: Db,
  origin: RequestOrigin,
  input: { email: string; password: string },
  throttle: AuthThrottleConfig,
  sso: SsoProvider | null,
): Promise<{ user: User; session: IssuedSession }> {
  const email = normalizeEmail(input.email);
  const address = throttleAddress(origin.ip);
  const accountAndIp = throttleKey("loginPerAccountAndIp", email, address);
  const account = throttleKey("loginPerAccount", email);
  const ip = throttleKey("loginPerIp", address);
  const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  // Counted before the password is checked: concurrent guesses cannot outrun the count.
  const outcome = await countAttempts(db, throttle, [accountAndIp, account, ip]);
  if (!outcome.allowed) {
    if (outcome.lockedNow) {
      await recordAudit(
        db,
        { ...origin, actor: { type: "user", id: row?.id ?? null } },
        {
          org_id: null,
          action: "user.login_locked",
          target_type: "user",
          target_id: row?.id ?? null,
          metadata: { email, scope: outcome.scope, seconds: outcome.retryAfterSeconds },
        },
      );
    }
    throw throttled(outcome, "failed sign-in attempts");
  }
  // An account made by SSO sign-in has no password: it fails like a wrong one, in the same time.
  const valid = row?.password_hash
    ? await verifyPassword(row.password_hash, input.password)
    : false;
  if (!row?.password_hash) await burnPasswordCheck(input.password);
  if (!row || !valid) {
    await recordAudit(
      db,
      { ...origin, actor: { type: "user", id: row?.id ?? null } },
      {
        org_id: null,
        action: "user.login_failed",
        target_type: "user",
        target_id: row?.id ?? null,
        // The attempted address helps spot credential stuffing; it is not a secret.
        metadata: { email },
      },
    );
    throw AppError.unauthorized(INVALID_CREDENTIALS);
  }
  // Checked after the password, so only the password's owner learns the account is disabled.
  if (row.disabled_at !== null) {
    await recordAudit(
      db,
      { ...origin, actor: { type: "user", id: row.id } },
      {
        org_id: null,
        action: "user.login_failed",
        target_type: "user",
        target_id: row.id,
        metadata: { email, reason: "disabled" },
      },
    );
    throw AppError.forbidden(ACCOUNT_DISABLED);
  }
  // Checked after the password, so a refusal tells only the password's owner where they belong.
  const ssoOnlyOrg = sso ? await ssoOnlyOrgOf(db, row.id) : null;
  if (sso && ssoOnlyOrg !== null) {
    await recordAudit(
      db,
      { ...origin, actor: { type: "user", id: row.id } },
      {
        org_id: null,
        action: "user.login_failed",
        target_type: "user",
        target_id: row.id,
        metadata: { email, reason: "sso_required" },
      },
    );
    throw AppError.forbidden(
      `${ssoOnlyOrg} requires signing in with ${sso.config.displayName}; use "Sign in with ${sso.config.displayName}"`,
    );
  }
  // The owner proved the password: this account's failures are forgiven. The address's are not
  // (one working account must not reset a stuffing run), but this attempt was no failure.
  await resetThrottles(db, [accountAndIp, account]);
  await giveBackAttempts(db, [ip]);
  const {
    password_hash: _passwordHash,
    disabled_at: _disabledAt,
    last_sign_in_at: _lastSignInAt,
    ...user
  } = row;
  return db.transaction(async (tx) => {
    const session = await createSession(tx, user.id, origin);
    await recordAudit(
      tx,
      { ...origin, actor: { type: "user", id: user.id } },
      {
        org_id: null,
        action: "user.login",
        target_type: "user",
        target_id: user.id,
      },
    );
    return { user, session };
  });
}

export async function logoutSession(
  db: Db,
  context: ActionContext,
  sessionId: string,
): Promise<void> {
  await db.transaction(async (tx) => {
    await invalidateSession(tx, sessionId);
    await recordAudit(tx, context, {
      org_id: null,
      action: "user.logout",
      target_type: "user",
      target_id: context.actor.id,
    });
  });
}

/**
 * "Sign out everywhere": ends every session of the user, the one making the request included (a
 * stolen token is as likely to be this browser's as another's). Returns how many ended.
 */
export async function logoutAllSessions(
  db: Db,
  context: ActionContext,
  userId: string,
): Promise<number> {
  return db.transaction(async (tx) => {
    const ended = await invalidateUserSessions(tx, userId);
    await recordAudit(tx, context, {
      org_id: null,
      action: "user.logout_all",
      target_type: "user",
      target_id: userId,
      metadata: { sessions: ended },
    });
    return ended;
  });
}

/**
 * Ends one of the user's own sessions from the sessions page (the current one included: that is a
 * sign-out). Another user's session, or one already ended, is NOT_FOUND.
 */
export async function endUserSession(
  db: Db,
  context: ActionContext,
  input: { userId: string; publicId: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await invalidateUserSessionByPublicId(tx, input))) throw AppError.notFound("Session");
    await recordAudit(tx, context, {
      org_id: null,
      action: "user.session_end",
      target_type: "user",
      target_id: input.userId,
      metadata: { session: input.publicId },
    });
  });
}

/** "Sign out other sessions": every session of the user but the one asking. Returns how many. */
export async function endOtherSessions(
  db: Db,
  context: ActionContext,
  input: { userId: string; currentSessionId: string },
): Promise<number> {
  return db.transaction(async (tx) => {
    const ended = await invalidateUserSessions(tx, input.userId, input.currentSessionId);
    await recordAudit(tx, context, {
      org_id: null,
      action: "user.logout_others",
      target_type: "user",
      target_id: input.userId,
      metadata: { sessions: ended },
    });
    return ended;
  });
}

/**
 * Changes the password of a signed-in user, who proves the current one. Every other session ends:
 * whoever else held one (perhaps the reason for the change) must sign in with the new password.
 * Wrong current passwords count against the account like failed sign-ins, so a stolen session
 * cannot guess it faster than the sign-in page allows.
 */
export async function changePassword(
  db: Db,
  context: ActionContext,
  input: {
    userId: string;
    currentSessionId: string;
    currentPassword: string;
    newPassword: string;
  },
  throttle: AuthThrottleConfig,
): Promise<{ sessionsEnded: number }> {
  const [row] = await db.select().from(users).where(eq(users.id, input.userId)).limit(1);
  if (!row) throw AppError.notFound("User");
  if (row.password_hash === null) {
    throw AppError.invalidField(
      "current_password",
      "This account has no password: it signs in with SSO",
    );
  }
  const address = throttleAddress(context.ip);
  const keys = [
    throttleKey("loginPerAccountAndIp", row.email, address),
    throttleKey("loginPerAccount", row.email),
  ];
  const outcome = await countAttempts(db, throttle, keys);
  if (!outcome.allowed) throw throttled(outcome, "wrong current passwords");
  if (!(await verifyPassword(row.password_hash, input.currentPassword))) {
    await recordAudit(db, context, {
      org_id: null,
      action: "user.password_change_failed",
      target_type: "user",
      target_id: row.id,
    });
    throw AppError.invalidField("current_password", "The current password is not correct");
  }
  await resetThrottles(db, keys);
  await assertAcceptablePassword(input.newPassword, row.email, "new_password");
  const passwordHash = await hashPassword(input.newPassword);
  return db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ password_hash: passwordHash, updated_at: new Date() })
      .where(eq(users.id, row.id));
    const sessionsEnded = await invalidateUserSessions(tx, row.id, input.currentSessionId);
    await recordAudit(tx, context, {
      org_id: null,
      action: "user.password_change",
      target_type: "user",
      target_id: row.id,
      metadata: { sessions_ended: sessionsEnded },
    });
    return { sessionsEnded };
  });
}

export async function getUser(db: Db, userId: string): Promise<User> {
  const [user] = await db
    .select(publicUserColumns)
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!user) throw AppError.notFound("User");
  return user;
}

/** False only on a fresh platform, whose first sign-up is always allowed. */
export async function platformHasUsers(db: Db): Promise<boolean> {
  const [anyone] = await db.select({ id: users.id }).from(users).limit(1);
  return anyone !== undefined;
}
