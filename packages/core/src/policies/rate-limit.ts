import { lt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { rateLimitCounters } from "../db/schema";

export interface ConsumeRateLimitOptions {
  policyId: string;
  /** Who the limit is counted for, e.g. `agent:<id>` or `user:<id>`. */
  subject: string;
  maxCalls: number;
  perSeconds: number;
  now?: Date;
}

export interface RateLimitResult {
  allowed: boolean;
  /** Calls counted in the current window, including this one (refused calls count too). */
  count: number;
  /** Seconds until the window resets; 0 when allowed. */
  retry_after_seconds: number;
}

/**
 * Counts one call against a fixed window aligned to `floor(epoch / perSeconds)`. A single upsert
 * both creates and increments the counter, so concurrent callers, even in other processes, can
 * never both see the last free slot.
 */
export async function consumeRateLimit(
  db: Db,
  options: ConsumeRateLimitOptions,
): Promise<RateLimitResult> {
  const { policyId, subject, maxCalls, perSeconds, now = new Date() } = options;
  if (!Number.isInteger(maxCalls) || maxCalls < 0) {
    throw new RangeError(`maxCalls must be a non-negative integer, got ${maxCalls}`);
  }
  if (!Number.isInteger(perSeconds) || perSeconds < 1) {
    throw new RangeError(`perSeconds must be a positive integer, got ${perSeconds}`);
  }

  const windowMs = perSeconds * 1000;
  const windowStartMs = Math.floor(now.getTime() / windowMs) * windowMs;
  const rows = await db
    .insert(rateLimitCounters)
    .values({ policy_id: policyId, subject, window_start: new Date(windowStartMs), count: 1 })
    .onConflictDoUpdate({
      target: [
        rateLimitCounters.policy_id,
        rateLimitCounters.subject,
        rateLimitCounters.window_start,
      ],
      // Qualified by table name: inside DO UPDATE a bare "count" would be ambiguous with EXCLUDED.
      set: { count: sql`${sql.identifier("rate_limit_counters")}.${sql.identifier("count")} + 1` },
    })
    .returning({ count: rateLimitCounters.count });

  const row = rows[0];
  if (!row) throw new Error("Rate limit upsert returned no row");
  const allowed = row.count <= maxCalls;
  const retryAfter = allowed
    ? 0
    : Math.max(1, Math.ceil((windowStartMs + windowMs - now.getTime()) / 1000));
  return { allowed, count: row.count, retry_after_seconds: retryAfter };
}

/**
 * Deletes counters whose window started before `olderThan`. Pass a time at least the longest
 * `per_seconds` in use in the past, or a still-open window would be reset early.
 */
export async function pruneRateLimitCounters(db: Db, olderThan: Date): Promise<number> {
  const deleted = await db
    .delete(rateLimitCounters)
    .where(lt(rateLimitCounters.window_start, olderThan))
    .returning({ policy_id: rateLimitCounters.policy_id });
  return deleted.length;
}
