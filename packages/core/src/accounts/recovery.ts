import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { users, userTokens } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext, RequestOrigin } from "../lib/context";
import { deliver, type MailDelivery, type Mailer } from "../mail/mailer";
import { getUser, normalizeEmail, type User } from "./accounts";
import { hashOneTimeToken, newOneTimeToken } from "./one-time-tokens";
import { assertAcceptablePassword } from "./password-policy";
import { hashPassword } from "./passwords";
import { createSession, invalidateUserSessions, type IssuedSession } from "./sessions";
import { countAttempts, throttleAddress, throttleKey, type AuthThrottleConfig } from "./throttle";

/** A reset link is a password in the mail: short-lived. */
export const PASSWORD_RESET_TTL_SECONDS = 60 * 60;
export const EMAIL_VERIFICATION_TTL_SECONDS = 48 * 60 * 60;

type Purpose = (typeof userTokens.$inferSelect)["purpose"];

export interface MailedLinks {
  mailer: Mailer | null;
  /** The page the link opens, carrying the token. */
  linkFor: (token: string) => string;
}

async function issueUserToken(
  db: Db,
  user: { id: string; email: string },
  purpose: Purpose,
  ttlSeconds: number,
): Promise<string> {
  const { token, hash } = newOneTimeToken();
  await db.insert(userTokens).values({
    user_id: user.id,
    purpose,
    token_hash: hash,
    email: user.email,
    expires_at: sql`now() + ${ttlSeconds}::integer * interval '1 second'`,
  });
  return token;
}

async function countMailRequest(
  db: Db,
  throttle: AuthThrottleConfig,
  origin: RequestOrigin,
  email: string,
): Promise<void> {
  const outcome = await countAttempts(db, throttle, [
    throttleKey("mailPerAddress", email),
    throttleKey("mailPerIp", throttleAddress(origin.ip)),
  ]);
  if (!outcome.allowed)
    throw AppError.rateLimited(
      `Too many requests for e-mailed links; try again in ${outcome.retryAfterSeconds} seconds`,
      outcome.retryAfterSeconds,
    );
}

/**
 * Mails a reset link when the address has an account. The answer, and the work done before it,
 * are the same either way: the request is counted and audited for every address, and the mail goes
 * out after the answer, so neither the response nor its timing tells whether the account exists.
 */
export async function requestPasswordReset(
  db: Db,
  origin: RequestOrigin,
  input: { email: string },
  options: MailedLinks & { throttle: AuthThrottleConfig },
): Promise<void> {
  const email = normalizeEmail(input.email);
  await countMailRequest(db, options.throttle, origin, email);
  const [user] = await db
    .select({ id: users.id, email: users.email, disabled_at: users.disabled_at })
    .from(users)
    .where(eq(users.email, email))
    .limit(1);
  await recordAudit(
    db,
    { ...origin, actor: { type: "user", id: user?.id ?? null } },
    {
      org_id: null,
      action: "user.password_reset_request",
      target_type: "user",
      target_id: user?.id ?? null,
      metadata: { email },
    },
  );
  // No account, or a disabled one (a reset would sign it in): no link, and the same answer.
  if (user?.disabled_at !== null || !options.mailer) return;
  const token = await issueUserToken(db, user, "password_reset", PASSWORD_RESET_TTL_SECONDS);
  options.mailer.sendInBackground({
    to: user.email,
    subject: "Reset your password",
    text:
      "Someone (hopefully you) asked to reset the password of your MCP Agents Platform account.\n\n" +
      `Open this link to choose a new one; it works once, for an hour:\n\n${options.linkFor(token)}\n\n` +
      "Resetting signs your account out everywhere. If you did not ask, ignore this message: your " +
      "password stays as it is.\n",
  });
}

const INVALID_LINK = "This link is invalid, was already used or has expired; ask for a new one";

/** Spends a token of `purpose`: refused when unknown, used or expired (by the database's clock). */
async function consumeUserToken(tx: Db, token: string, purpose: Purpose) {
  const [row] = await tx
    .update(userTokens)
    .set({ used_at: sql`now()` })
    .where(
      and(
        eq(userTokens.token_hash, hashOneTimeToken(token)),
        eq(userTokens.purpose, purpose),
        isNull(userTokens.used_at),
        sql`${userTokens.expires_at} > now()`,
      ),
    )
    .returning({ user_id: userTokens.user_id, email: userTokens.email });
  if (!row) throw AppError.invalidField("token", INVALID_LINK);
  return row;
}

/**
 * Sets a new password from a reset link, ends every session of the account (whoever knew the
 * old password is out) and signs this browser in. Following the link proves the mailbox, so the
 * address counts as verified. Other reset links of the account die with this one. A disabled
 * account is refused by createSession, and the transaction leaves the password and link as they were.
 */
export async function resetPassword(
  db: Db,
  origin: RequestOrigin,
  input: { token: string; password: string },
): Promise<{ user: User; session: IssuedSession }> {
  // Hashing first keeps the token's row lock short; a bad token then costs an argon2 hash, which
  // the 256-bit token makes pointless to guess at anyway.
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    const spent = await consumeUserToken(tx, input.token, "password_reset");
    await assertAcceptablePassword(input.password, spent.email);
    await tx
      .update(users)
      .set({
        password_hash: passwordHash,
        email_verified_at: sql`case when ${users.email} = ${spent.email}
          then coalesce(${users.email_verified_at}, now()) else ${users.email_verified_at} end`,
        updated_at: new Date(),
      })
      .where(eq(users.id, spent.user_id));
    await tx
      .update(userTokens)
      .set({ used_at: sql`now()` })
      .where(
        and(
          eq(userTokens.user_id, spent.user_id),
          eq(userTokens.purpose, "password_reset"),
          isNull(userTokens.used_at),
        ),
      );
    const ended = await invalidateUserSessions(tx, spent.user_id);
    const context = { ...origin, actor: { type: "user" as const, id: spent.user_id } };
    await recordAudit(tx, context, {
      org_id: null,
      action: "user.password_reset",
      target_type: "user",
      target_id: spent.user_id,
      metadata: { sessions_ended: ended },
    });
    const session = await createSession(tx, spent.user_id, origin);
    return { user: await getUser(tx, spent.user_id), session };
  });
}

/** Mails the signed-in user a link proving their address. */
export async function requestEmailVerification(
  db: Db,
  context: ActionContext,
  input: { userId: string },
  options: MailedLinks & { throttle: AuthThrottleConfig },
): Promise<MailDelivery> {
  const user = await getUser(db, input.userId);
  if (user.email_verified_at) throw AppError.conflict("Your address is already verified");
  if (!options.mailer) return "not_configured";
  await countMailRequest(db, options.throttle, context, user.email);
  const token = await issueUserToken(
    db,
    user,
    "email_verification",
    EMAIL_VERIFICATION_TTL_SECONDS,
  );
  await recordAudit(db, context, {
    org_id: null,
    action: "user.email_verification_request",
    target_type: "user",
    target_id: user.id,
  });
  return deliver(options.mailer, verificationMail(user.email, options.linkFor(token)));
}

function verificationMail(email: string, link: string) {
  return {
    to: email,
    subject: "Confirm your e-mail address",
    text:
      `Open this link to confirm that ${email} is your address on the MCP Agents Platform ` +
      `(it works once, for 48 hours):\n\n${link}\n\nIf you did not sign up, ignore this message.\n`,
  };
}

/** After sign-up: the verification mail goes out without holding up the answer. */
export async function mailEmailVerification(
  db: Db,
  user: { id: string; email: string },
  links: MailedLinks,
): Promise<void> {
  if (!links.mailer) return;
  const token = await issueUserToken(
    db,
    user,
    "email_verification",
    EMAIL_VERIFICATION_TTL_SECONDS,
  );
  links.mailer.sendInBackground(verificationMail(user.email, links.linkFor(token)));
}

/** Marks the address verified, if it is still the account's address. */
export async function verifyEmail(
  db: Db,
  origin: RequestOrigin,
  input: { token: string },
): Promise<{ email: string }> {
  return db.transaction(async (tx) => {
    const spent = await consumeUserToken(tx, input.token, "email_verification");
    const [verified] = await tx
      .update(users)
      .set({ email_verified_at: sql`coalesce(${users.email_verified_at}, now())` })
      .where(and(eq(users.id, spent.user_id), eq(users.email, spent.email)))
      .returning({ email: users.email });
    if (!verified) throw AppError.invalidField("token", INVALID_LINK);
    await recordAudit(
      tx,
      { ...origin, actor: { type: "user", id: spent.user_id } },
      {
        org_id: null,
        action: "user.email_verified",
        target_type: "user",
        target_id: spent.user_id,
        metadata: { email: verified.email },
      },
    );
    return verified;
  });
}
