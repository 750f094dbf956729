import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";

export interface RetentionPolicy {
  /** Runs older than this many days are deleted; 0 keeps them for ever. */
  runsDays: number;
  /** Audit events older than this many days are deleted; 0 keeps them for ever. */
  auditDays: number;
  /** Rows per delete statement: each is its own short transaction. */
  batchSize?: number;
  /** Statements per table and pass at most, so one pass never runs for long. */
  maxBatches?: number;
}

export interface RetentionResult {
  /** False when another process held the lock: it is doing this work, this one did none. */
  ran: boolean;
  runs: number;
  audit: number;
  sessions: number;
}

/**
 * Key of the transaction-level advisory lock each delete statement takes first, so that one
 * process at a time prunes however many replicas run the job (chosen at random, as the
 * migrator's, to collide with nothing else).
 */
export const RETENTION_LOCK_KEY = 7_243_109_381;

/**
 * One batch: takes the lock, deletes up to `batchSize` rows that `victims` selects, and tells
 * whether the lock was free and how many rows went. A statement is one transaction, so the row
 * locks and the advisory lock last only for the batch.
 */
async function deleteBatch(
  db: Db,
  table: SQL,
  victims: SQL,
): Promise<{ held: boolean; deleted: number }> {
  const result = await db.execute(sql`
    with lock as materialized (select pg_try_advisory_xact_lock(${RETENTION_LOCK_KEY}) as held),
    gone as (
      delete from ${table} where id in (${victims}) and (select held from lock)
      returning 1
    )
    select (select held from lock) as held, (select count(*) from gone)::int as deleted
  `);
  // Both drivers answer with `{ rows }`.
  const row = (result as { rows: { held: boolean; deleted: number }[] }).rows[0];
  return { held: row?.held ?? false, deleted: row?.deleted ?? 0 };
}

/**
 * Deletes runs and audit events past their retention and expired sessions, oldest first, in
 * small batches against the database's clock. Safe to call from every replica at once: a batch
 * runs only under the advisory lock, and a process that finds it taken stops its pass, leaving
 * the work to the holder. Indexes `runs_org_started_at_idx` (per organization, so the same index
 * serves the stats), `audit_events_created_at_idx` and `sessions_expires_at_idx` find the rows.
 */
export async function applyRetention(db: Db, policy: RetentionPolicy): Promise<RetentionResult> {
  const batch = policy.batchSize ?? 1_000;
  const maxBatches = policy.maxBatches ?? 100;
  const result: RetentionResult = { ran: true, runs: 0, audit: 0, sessions: 0 };

  const prune = async (kind: "runs" | "audit" | "sessions", table: SQL, victims: SQL) => {
    for (let done = 0; done < maxBatches; done++) {
      const { held, deleted } = await deleteBatch(db, table, victims);
      if (!held) return false;
      result[kind] += deleted;
      if (deleted < batch) break;
    }
    return true;
  };

  const steps: (() => Promise<boolean>)[] = [];
  if (policy.runsDays > 0) {
    const cutoff = sql`now() - make_interval(days => ${policy.runsDays})`;
    steps.push(() =>
      prune(
        "runs",
        sql`runs`,
        // Per organization, through the (org_id, started_at) index.
        sql`select r.id from orgs o cross join lateral (
          select id from runs where runs.org_id = o.id and runs.started_at < ${cutoff} limit ${batch}
        ) r limit ${batch}`,
      ),
    );
  }
  if (policy.auditDays > 0) {
    const cutoff = sql`now() - make_interval(days => ${policy.auditDays})`;
    steps.push(() =>
      prune(
        "audit",
        sql`audit_events`,
        sql`select id from audit_events where created_at < ${cutoff} order by created_at limit ${batch}`,
      ),
    );
  }
  steps.push(() =>
    prune(
      "sessions",
      sql`sessions`,
      sql`select id from sessions where expires_at < now() order by expires_at limit ${batch}`,
    ),
  );

  for (const step of steps) {
    if (!(await step())) return { ...result, ran: false };
  }
  return result;
}
