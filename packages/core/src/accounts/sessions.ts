import { createHash, randomBytes, randomUUID } from "node:crypto";
import { DrizzlePostgreSQLAdapter } from "@lucia-auth/adapter-drizzle";
import { and, desc, eq, gt, isNull, lt, ne, sql } from "drizzle-orm";
import { Lucia, TimeSpan } from "lucia";
import type { Db } from "../db/client";
import { sessions, users } from "../db/schema";
import { AppError } from "../errors";
import type { RequestOrigin } from "../lib/context";

export const SESSION_COOKIE_NAME = "mcpa_session";
/**
 * last_seen_at is a hint for the sessions page, not a log: written at most once this often per
 * session (a conditional update, so also across replicas), never on every request.
 */
const LAST_SEEN_RESOLUTION_MS = 60_000;

/** The session's own columns beyond Lucia's (id, userId, expiresAt). */
interface SessionDetails {
  public_id: string;
  created_at: Date;
  last_seen_at: Date;
  ip: string | null;
  user_agent: string | null;
}

/** What session validation reads of the user, in the same query (Lucia joins the user row). */
interface SessionUserDetails {
  disabled_at: Date | null;
}

declare module "lucia" {
  interface Register {
    Lucia: AuthLucia;
    DatabaseSessionAttributes: SessionDetails;
    DatabaseUserAttributes: SessionUserDetails;
  }
}

/** The refusal of every sign-in path (password, SSO, reset link) for a disabled account. */
export const ACCOUNT_DISABLED =
  "This account is disabled; ask the platform's administrator to enable it";

/** The database only ever sees sha256(token): a stolen sessions table opens no session. */
export function sessionIdFromToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function createLucia(db: Db) {
  return new Lucia(new DrizzlePostgreSQLAdapter(db, sessions, users), {
    // Lucia renews a session once half of this has passed.
    sessionExpiresIn: new TimeSpan(30, "d"),
    sessionCookie: { name: SESSION_COOKIE_NAME },
    getSessionAttributes: (details) => ({
      public_id: details.public_id,
      last_seen_at: details.last_seen_at,
    }),
    getUserAttributes: (details) => ({ disabled_at: details.disabled_at }),
  });
}

type AuthLucia = ReturnType<typeof createLucia>;
const luciaByDb = new WeakMap<Db, AuthLucia>();

function luciaFor(db: Db): AuthLucia {
  let lucia = luciaByDb.get(db);
  if (!lucia) {
    lucia = createLucia(db);
    luciaByDb.set(db, lucia);
  }
  return lucia;
}

export interface IssuedSession {
  token: string;
  expires_at: Date;
}

/** Whether a platform admin has disabled the account (false for an unknown id). */
export async function isUserDisabled(db: Db, userId: string): Promise<boolean> {
  const [row] = await db
    .select({ disabled_at: users.disabled_at })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  return row?.disabled_at != null;
}

/**
 * Opens a session for the user, and records the sign-in; every sign-in path ends here. A disabled
 * account is refused: the conditional update takes the user's row lock, so a session is either
 * opened before a concurrent disable (which then deletes it) or refused after it.
 */
export async function createSession(
  db: Db,
  userId: string,
  origin: RequestOrigin,
): Promise<IssuedSession> {
  const [enabled] = await db
    .update(users)
    .set({ last_sign_in_at: sql`now()` })
    .where(and(eq(users.id, userId), isNull(users.disabled_at)))
    .returning({ id: users.id });
  if (!enabled) throw AppError.forbidden(ACCOUNT_DISABLED);
  const token = randomBytes(32).toString("base64url");
  const now = new Date();
  const session = await luciaFor(db).createSession(
    userId,
    {
      public_id: randomUUID(),
      created_at: now,
      last_seen_at: now,
      ip: origin.ip,
      user_agent: origin.user_agent,
    },
    { sessionId: sessionIdFromToken(token) },
  );
  return { token, expires_at: session.expiresAt };
}

export interface ValidSession {
  userId: string;
  sessionId: string;
  /** The id the sessions page shows; see the `sessions` table. */
  publicId: string;
  expires_at: Date;
  /** True when the expiry was just extended, so a cookie should be re-issued. */
  renewed: boolean;
}

/**
 * The session of a token, or null. Read from the database on every request (no cache), with the
 * user's row: a disabled account's session is refused, on every replica, from the next request.
 */
export async function validateSessionToken(db: Db, token: string): Promise<ValidSession | null> {
  const { session, user } = await luciaFor(db).validateSession(sessionIdFromToken(token));
  if (!session) return null;
  // Disabling deletes the account's sessions; one opened concurrently is refused (and ended) here.
  if (user.disabled_at !== null) {
    await invalidateSession(db, session.id);
    return null;
  }
  const now = Date.now();
  if (now - session.last_seen_at.getTime() > LAST_SEEN_RESOLUTION_MS) {
    await db
      .update(sessions)
      .set({ last_seen_at: new Date(now) })
      .where(
        and(
          eq(sessions.id, session.id),
          lt(sessions.last_seen_at, new Date(now - LAST_SEEN_RESOLUTION_MS)),
        ),
      );
  }
  return {
    userId: session.userId,
    sessionId: session.id,
    publicId: session.public_id,
    expires_at: session.expiresAt,
    renewed: session.fresh,
  };
}

export async function invalidateSession(db: Db, sessionId: string): Promise<void> {
  await luciaFor(db).invalidateSession(sessionId);
}

/** Ends the user's sessions, all of them or all but `except` (a session id). Returns how many. */
export async function invalidateUserSessions(
  db: Db,
  userId: string,
  except?: string,
): Promise<number> {
  const ended = await db
    .delete(sessions)
    .where(and(eq(sessions.userId, userId), except ? ne(sessions.id, except) : undefined))
    .returning({ id: sessions.id });
  return ended.length;
}

export interface SessionSummary extends SessionDetails {
  expires_at: Date;
}

/** The user's unexpired sessions, most recently seen first. */
export async function listUserSessions(db: Db, userId: string): Promise<SessionSummary[]> {
  return db
    .select({
      public_id: sessions.public_id,
      created_at: sessions.created_at,
      last_seen_at: sessions.last_seen_at,
      ip: sessions.ip,
      user_agent: sessions.user_agent,
      expires_at: sessions.expiresAt,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.last_seen_at), desc(sessions.public_id));
}

/**
 * Ends one of the user's sessions by its public id; false when the user has no such session
 * (another user's session included: it is not theirs to end, nor to learn about).
 */
export async function invalidateUserSessionByPublicId(
  db: Db,
  input: { userId: string; publicId: string },
): Promise<boolean> {
  const ended = await db
    .delete(sessions)
    .where(and(eq(sessions.userId, input.userId), eq(sessions.public_id, input.publicId)))
    .returning({ id: sessions.id });
  return ended.length > 0;
}

export async function deleteExpiredSessions(db: Db): Promise<void> {
  await luciaFor(db).deleteExpiredSessions();
}
