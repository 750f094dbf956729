import { createHash, randomBytes } from "node:crypto";
import { DrizzlePostgreSQLAdapter } from "@lucia-auth/adapter-drizzle";
import { eq } from "drizzle-orm";
import { Lucia, TimeSpan } from "lucia";
import type { Db } from "../db/client";
import { sessions, users } from "../db/schema";

export const SESSION_COOKIE_NAME = "mcpa_session";

/** The database only ever sees sha256(token): a stolen sessions table opens no session. */
export function sessionIdFromToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function createLucia(db: Db) {
  return new Lucia(new DrizzlePostgreSQLAdapter(db, sessions, users), {
    // Lucia renews a session once half of this has passed.
    sessionExpiresIn: new TimeSpan(30, "d"),
    sessionCookie: { name: SESSION_COOKIE_NAME },
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

export async function createSession(db: Db, userId: string): Promise<IssuedSession> {
  const token = randomBytes(32).toString("base64url");
  const session = await luciaFor(db).createSession(
    userId,
    {},
    { sessionId: sessionIdFromToken(token) },
  );
  return { token, expires_at: session.expiresAt };
}

export interface ValidSession {
  userId: string;
  sessionId: string;
  expires_at: Date;
  /** True when the expiry was just extended, so a cookie should be re-issued. */
  renewed: boolean;
}

export async function validateSessionToken(db: Db, token: string): Promise<ValidSession | null> {
  const { session } = await luciaFor(db).validateSession(sessionIdFromToken(token));
  if (!session) return null;
  return {
    userId: session.userId,
    sessionId: session.id,
    expires_at: session.expiresAt,
    renewed: session.fresh,
  };
}

export async function invalidateSession(db: Db, sessionId: string): Promise<void> {
  await luciaFor(db).invalidateSession(sessionId);
}

export async function invalidateUserSessions(db: Db, userId: string): Promise<number> {
  const ended = await db
    .delete(sessions)
    .where(eq(sessions.userId, userId))
    .returning({ id: sessions.id });
  return ended.length;
}

export async function deleteExpiredSessions(db: Db): Promise<void> {
  await luciaFor(db).deleteExpiredSessions();
}
