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
 * Counts one call against a fixed window aligned to `floor(epoch / perSeconds)` of the database's
 * clock (`now` overrides it, for tests): replicas whose clocks disagree still share one window.
 *
 * A single upsert both creates and increments the counter, so concurrent callers, even in other
 * processes, can never both see the last free slot. That makes one counter row the serialisation
 * point of all calls of a policy × subject: each increment holds the row lock until its commit.
 * The commit does not wait for the WAL flush (`synchronous_commit = off` for this transaction
 * only), which cuts the lock hold time from a disk flush to a few microseconds and so raises the
 * calls per second one row can take several-fold (`pnpm bench` measures it). What that gives up:
 * if PostgreSQL itself crashes, increments of its last few hundred milliseconds are forgotten, and
 * a window may allow that many calls again. Exactness is kept otherwise: sharding the counter
 * over several rows would spread the lock, but no single statement could then see the others'
 * counts without locking them all, so the limit would no longer be exact.
 */
export async function consumeRateLimit(
  db: Db,
  options: ConsumeRateLimitOptions,
): Promise<RateLimitResult> {
  const { policyId, subject, maxCalls, perSeconds, now } = options;
  if (!Number.isInteger(maxCalls) || maxCalls < 0) {
    throw new RangeError(`maxCalls must be a non-negative integer, got ${maxCalls}`);
  }
  if (!Number.isInteger(perSeconds) || perSeconds < 1) {
    throw new RangeError(`perSeconds must be a positive integer, got ${perSeconds}`);
  }

  const result = await db.execute(sql`
    with clock as materialized (
      select coalesce(${now?.toISOString() ?? null}::timestamptz, now()) as now,
        set_config('synchronous_commit', 'off', true) as relaxed
    ),
    counted as (
      insert into rate_limit_counters as c (policy_id, subject, window_start, count)
      select ${policyId}::uuid, ${subject},
        to_timestamp(floor(extract(epoch from clock.now) / ${perSeconds}) * ${perSeconds}), 1
      from clock
      on conflict (policy_id, subject, window_start) do update set count = c.count + 1
      returning c.count, c.window_start
    )
    select counted.count,
      (extract(epoch from counted.window_start - clock.now) * 1000 + ${perSeconds * 1000})::text
        as remaining_ms
    from counted, clock
  `);
  // Both drivers answer with `{ rows }`.
  const row = (result as { rows: { count: number; remaining_ms: string }[] }).rows[0];
  if (!row) throw new Error("Rate limit upsert returned no row");
  const allowed = row.count <= maxCalls;
  const retryAfter = allowed ? 0 : Math.max(1, Math.ceil(Number(row.remaining_ms) / 1000));
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
