import { createHash } from "node:crypto";
import { isIPv4 } from "node:net";
import { and, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { authThrottles } from "../db/schema";
import { parseIpv6 } from "../mcp/outbound";

/**
 * Throttling of sign-in, sign-up and mailed-link requests, shared by every server process through the
 * `auth_throttles` table. Each attempt is counted *before* the password is checked, with one atomic
 * upsert timed by the database clock, so concurrent attempts (a tRPC batch, many replicas) cannot
 * all slip through before the first failure is written; a successful sign-in gives its attempt back.
 *
 * A rule allows `maxAttempts` in a fixed window of `windowSeconds`; the attempt after that starts a
 * lockout of `lockoutSeconds`, doubled at each further lockout up to `maxLockoutSeconds`. Attempts
 * refused during a lockout change nothing (so hammering a locked key does not lengthen it). A key
 * untouched for a day (after its window or lockout ended) is forgotten, lockout count included.
 */
export interface ThrottleRule {
  maxAttempts: number;
  windowSeconds: number;
  lockoutSeconds: number;
  maxLockoutSeconds: number;
}

export interface AuthThrottleConfig {
  /**
   * Failed sign-ins for one account from one client address: the strict limit. Scoping it to the
   * address means an attacker elsewhere cannot lock the owner out with it.
   */
  loginPerAccountAndIp: ThrottleRule;
  /**
   * Failed sign-ins for one account from anywhere: looser, and its lockout short, so guessing
   * spread over many addresses is slowed while the owner is at most briefly delayed.
   */
  loginPerAccount: ThrottleRule;
  /** Failed sign-ins from one client address to any accounts (credential stuffing). */
  loginPerIp: ThrottleRule;
  /** Registrations (successful or not) from one client address. */
  registerPerIp: ThrottleRule;
  /**
   * Requests that mail a link (password reset, e-mail verification) for one address, counted
   * whether or not it has an account, so the limit itself tells nothing.
   */
  mailPerAddress: ThrottleRule;
  /** Requests that mail a link, from one client address, for any addresses. */
  mailPerIp: ThrottleRule;
  /**
   * OAuth dynamic client registrations (RFC 7591) from one client address: unauthenticated by
   * design, so without a limit anyone could fill the clients table.
   */
  oauthClientRegistrationPerIp: ThrottleRule;
}

const MINUTE = 60;
const HOUR = 3600;

export const DEFAULT_AUTH_THROTTLE: AuthThrottleConfig = {
  loginPerAccountAndIp: {
    maxAttempts: 5,
    windowSeconds: 15 * MINUTE,
    lockoutSeconds: MINUTE,
    maxLockoutSeconds: HOUR,
  },
  loginPerAccount: {
    maxAttempts: 30,
    windowSeconds: 15 * MINUTE,
    lockoutSeconds: MINUTE,
    maxLockoutSeconds: 15 * MINUTE,
  },
  loginPerIp: {
    maxAttempts: 100,
    windowSeconds: 15 * MINUTE,
    lockoutSeconds: MINUTE,
    maxLockoutSeconds: HOUR,
  },
  registerPerIp: {
    maxAttempts: 20,
    windowSeconds: HOUR,
    lockoutSeconds: HOUR,
    maxLockoutSeconds: HOUR,
  },
  mailPerAddress: {
    maxAttempts: 5,
    windowSeconds: HOUR,
    lockoutSeconds: HOUR,
    maxLockoutSeconds: HOUR,
  },
  mailPerIp: {
    maxAttempts: 50,
    windowSeconds: HOUR,
    lockoutSeconds: HOUR,
    maxLockoutSeconds: HOUR,
  },
  oauthClientRegistrationPerIp: {
    maxAttempts: 20,
    windowSeconds: HOUR,
    lockoutSeconds: HOUR,
    maxLockoutSeconds: HOUR,
  },
};

/** How long a key is remembered after its window or lockout ended (lockouts keep doubling). */
const MEMORY_SECONDS = 24 * HOUR;
/** 2^20 × the base lockout is far beyond any sensible maximum; keeps power() finite. */
const MAX_DOUBLINGS = 20;

export type ThrottleScope = keyof AuthThrottleConfig;

export interface ThrottleKey {
  scope: ThrottleScope;
  key: string;
}

/**
 * The address a client is counted under: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by its
 * /64, since one subscriber commonly holds a whole /64 and could otherwise rotate through it.
 */
export function throttleAddress(ip: string | null): string {
  if (!ip) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  if (isIPv4(ip)) return ip;
  const groups = parseIpv6(ip);
  if (!groups) return ip;
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

/** Subjects are hashed: keys stay short whatever was typed, and attempted emails are not stored. */
export function throttleKey(scope: ThrottleScope, ...subject: string[]): ThrottleKey {
  const digest = createHash("sha256").update(subject.join("\u0000")).digest("hex");
  return { scope, key: `${scope}:${digest}` };
}

export type ThrottleOutcome =
  | { allowed: true }
  | {
      allowed: false;
      scope: ThrottleScope;
      retryAfterSeconds: number;
      /** This attempt started the lockout (an earlier one did not). */
      lockedNow: boolean;
    };

const column = (name: string): SQL =>
  sql`${sql.identifier("auth_throttles")}.${sql.identifier(name)}`;
const seconds = (value: number): SQL => sql`(${value}::integer * interval '1 second')`;

/**
 * Counts one attempt under `key`. Refused when the key is locked, or when this attempt exceeds the
 * rule (which starts the lockout).
 */
async function countAttempt(
  db: Db,
  { scope, key }: ThrottleKey,
  rule: ThrottleRule,
): Promise<ThrottleOutcome> {
  // Each condition parenthesised: they are combined with `or` below.
  const locked = sql`coalesce(${column("locked_until")} > now(), false)`;
  const forgotten = sql`(${column("expires_at")} <= now())`;
  const windowOver = sql`(${column("window_start")} + ${seconds(rule.windowSeconds)} <= now())`;
  const attempt = sql`case when ${forgotten} or ${windowOver} then 1 else ${column("attempts")} + 1 end`;
  const priorLockouts = sql`case when ${forgotten} then 0 else ${column("lockouts")} end`;
  const exceeded = sql`(${attempt}) > ${rule.maxAttempts}::integer`;
  const lockout = sql`make_interval(secs => least(
    ${rule.lockoutSeconds}::integer * power(2, least(${priorLockouts}, ${MAX_DOUBLINGS}::integer)),
    ${rule.maxLockoutSeconds}::integer))`;
  const memory = seconds(MEMORY_SECONDS);
  const unlessLocked = (value: SQL, name: string): SQL =>
    sql`case when ${locked} then ${column(name)} else ${value} end`;

  const [row] = await db
    .insert(authThrottles)
    .values({
      key,
      attempts: 1,
      window_start: sql`now()`,
      lockouts: 0,
      expires_at: sql`now() + ${seconds(rule.windowSeconds)} + ${memory}`,
    })
    .onConflictDoUpdate({
      target: authThrottles.key,
      set: {
        attempts: unlessLocked(sql`case when ${exceeded} then 0 else ${attempt} end`, "attempts"),
        window_start: unlessLocked(
          sql`case when ${exceeded} or ${forgotten} or ${windowOver} then now()
            else ${column("window_start")} end`,
          "window_start",
        ),
        lockouts: unlessLocked(
          sql`${priorLockouts} + case when ${exceeded} then 1 else 0 end`,
          "lockouts",
        ),
        locked_at: unlessLocked(
          sql`case when ${exceeded} then now() else ${column("locked_at")} end`,
          "locked_at",
        ),
        locked_until: unlessLocked(
          sql`case when ${exceeded} then now() + ${lockout} else ${column("locked_until")} end`,
          "locked_until",
        ),
        expires_at: unlessLocked(
          sql`greatest(now() + ${seconds(rule.windowSeconds)},
            case when ${exceeded} then now() + ${lockout} end) + ${memory}`,
          "expires_at",
        ),
      },
    })
    .returning({
      refused: sql<boolean>`coalesce(${authThrottles.locked_until} > now(), false)`,
      lockedNow: sql<boolean>`coalesce(${authThrottles.locked_at} = now(), false)`,
      retryAfterSeconds: sql<number>`coalesce(ceil(extract(epoch from
        ${authThrottles.locked_until} - now()))::integer, 0)`,
    });
  if (!row) throw new Error("auth throttle upsert returned no row");
  if (!row.refused) return { allowed: true };
  return {
    allowed: false,
    scope,
    retryAfterSeconds: Math.max(1, row.retryAfterSeconds),
    lockedNow: row.lockedNow,
  };
}

/**
 * Counts one attempt under every key, in order; at the first refusal the attempts already counted
 * for this request are given back, so a refused request costs nothing under the other keys.
 */
export async function countAttempts(
  db: Db,
  config: AuthThrottleConfig,
  keys: readonly ThrottleKey[],
): Promise<ThrottleOutcome> {
  const counted: ThrottleKey[] = [];
  for (const key of keys) {
    const outcome = await countAttempt(db, key, config[key.scope]);
    if (!outcome.allowed) {
      await giveBackAttempts(db, counted);
      return outcome;
    }
    counted.push(key);
  }
  return { allowed: true };
}

/** Uncounts one attempt per key (a sign-in that succeeded, or one refused under another key). */
export async function giveBackAttempts(db: Db, keys: readonly ThrottleKey[]): Promise<void> {
  if (keys.length === 0) return;
  await db
    .update(authThrottles)
    .set({ attempts: sql`greatest(${authThrottles.attempts} - 1, 0)` })
    .where(
      and(
        inArray(
          authThrottles.key,
          keys.map((key) => key.key),
        ),
        sql`coalesce(${authThrottles.locked_until} <= now(), true)`,
      ),
    );
}

/** Forgets keys entirely: their attempts and the lockouts they led to. */
export async function resetThrottles(db: Db, keys: readonly ThrottleKey[]): Promise<void> {
  if (keys.length === 0) return;
  await db.delete(authThrottles).where(
    inArray(
      authThrottles.key,
      keys.map((key) => key.key),
    ),
  );
}

/** Deletes the keys that are past remembering; the server runs it periodically. */
export async function pruneAuthThrottles(db: Db): Promise<number> {
  const deleted = await db
    .delete(authThrottles)
    .where(lt(authThrottles.expires_at, sql`now()`))
    .returning({ key: authThrottles.key });
  return deleted.length;
}
