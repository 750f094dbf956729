import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import type { auditEvents, runs } from "../db/schema";
import { briefError, isRefusedStatement } from "../lib/pg-errors";

export type RunRow = typeof runs.$inferSelect;
export type AuditRow = Required<
  Pick<
    typeof auditEvents.$inferInsert,
    | "id"
    | "org_id"
    | "actor_type"
    | "actor_id"
    | "action"
    | "target_type"
    | "target_id"
    | "metadata"
    | "ip"
    | "user_agent"
    | "created_at"
  >
>;

/**
 * A write that failed, for the operator's log: what happened and to which records, never the
 * records' data nor the statement (which carries it).
 */
export interface RecordFailure {
  /** The cause in a few words (see `briefError`). */
  reason: string;
  /**
   * `retrying`: the write is tried again; `stripped`: the record is written without its input and
   * output, with the reason in its `error`; `lost`: the records could not be written at all.
   */
  outcome: "retrying" | "stripped" | "lost";
  records: number;
  /** Size of the records' JSON. */
  bytes: number;
  /** The runs concerned (the first few of a large batch). */
  runIds: string[];
}

export interface RunRecorderOptions {
  onError: (failure: RecordFailure) => void;
  /**
   * How long a `running` row may wait in memory. A call that ends sooner is written once, with
   * its outcome; a longer one becomes visible as running after this delay.
   */
  runningDelayMs?: number;
  /**
   * How long the outcome of a call nobody waits for may wait to be written with others: at low
   * rates this turns one statement per call into one per few calls.
   */
  outcomeDelayMs?: number;
  /** Records held in memory at most; calls wait for room beyond it (the database is behind). */
  maxQueued?: number;
  /** Records per statement. */
  maxBatch?: number;
  /** JSON characters per statement: a batch closes once it reaches this (one record may exceed it). */
  maxBatchBytes?: number;
  /** How long `close` keeps retrying a database that refuses writes before giving records up. */
  closeBudgetMs?: number;
  /** A batch was written (or given up): how long it took, retries included, and its records. */
  onFlushed?: (seconds: number, records: number) => void;
}

interface Pending {
  /** When the `running` row was queued, or once the outcome is in, when the outcome was. */
  queuedAt: number;
  run: RunRow;
  audit: AuditRow | null;
  /** A caller waits for this record to be committed: it is written without delay. */
  awaited: boolean;
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

/** A record taken for writing, as the JSON the statement reads. */
interface Serialised {
  pending: Pending;
  run: string;
  audit: string | null;
  /** Already written without input and output: if refused again, it cannot be written. */
  stripped: boolean;
}

const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;
/** Ids named in a failure report: enough to find the records, not a whole batch. */
const REPORTED_IDS = 10;

/**
 * JSON as `jsonb_to_recordset` reads it: a null column is left out so it becomes SQL NULL. Only
 * the row's own fields: nulls inside a call's input, output or audit metadata are data and stay.
 */
function recordJson(row: object): string {
  const fields: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) if (value !== null) fields[column] = value;
  return JSON.stringify(fields);
}

/** The run without its input and output, saying why; NUL, which text columns refuse, is dropped. */
function withoutPayload(run: RunRow, reason: string): RunRow {
  const note = `input and output could not be stored: ${reason}`;
  const error = (run.error ? `${run.error}; ${note}` : note).replaceAll("\u0000", "");
  return { ...run, input: null, output: null, error };
}

/**
 * The record's JSON, or, when its input or output cannot be serialised (nested deeper than the
 * stack allows, a value JSON has no form for), the record without them saying why.
 */
function serialise(pending: Pending): Serialised {
  const audit = pending.audit ? recordJson(pending.audit) : null;
  try {
    return { pending, run: recordJson(pending.run), audit, stripped: false };
  } catch (error) {
    const reason =
      error instanceof RangeError ? "nested too deeply to serialise" : briefError(error);
    pending.run = withoutPayload(pending.run, reason);
    return { pending, run: recordJson(pending.run), audit, stripped: true };
  }
}

/** `serialise`, or null when not even the record without its payload can be (it is given up). */
function trySerialise(pending: Pending, onError: RunRecorderOptions["onError"]): Serialised | null {
  try {
    return serialise(pending);
  } catch (error) {
    onError({
      reason: briefError(error),
      outcome: "lost",
      records: 1,
      bytes: 0,
      runIds: [pending.run.id],
    });
    for (const waiter of pending.waiters) waiter.reject(error);
    return null;
  }
}

function failure(
  batch: readonly Serialised[],
  error: unknown,
  outcome: RecordFailure["outcome"],
): RecordFailure {
  return {
    reason: briefError(error),
    outcome,
    records: batch.length,
    bytes: batch.reduce(
      (sum, item) => sum + Buffer.byteLength(item.run) + Buffer.byteLength(item.audit ?? ""),
      0,
    ),
    runIds: batch.slice(0, REPORTED_IDS).map((item) => item.pending.run.id),
  };
}

/**
 * Writes runs and their audit events in batches, off the path of the call.
 *
 * A governed call must not wait for the database more than it has to: on a small machine each
 * commit is a round trip plus an fsync, which alone is more than the whole overhead budget of the
 * gateway. So a call hands its records here and goes on. A record a caller waits for is written
 * as soon as the previous write finished, with everything that accumulated meanwhile in one
 * statement (a group commit); outcomes nobody waits for collect for `outcomeDelayMs` first, so a
 * steady stream of calls costs one statement per delay rather than one per few calls; and a
 * `running` row that its outcome overtakes is never written at all. What this gives up, and why
 * it is bounded:
 *   - records of calls that finished in the last moments before a crash of this process (a
 *     normal stop drains the queue first): at most `outcomeDelayMs` plus one write's worth;
 *   - a caller that needs the record to exist before it answers (the REST run endpoint returns
 *     the run) awaits `finished`, which resolves once the record is committed;
 *   - readers (the runs and audit lists, stats) read what is committed, on every replica alike:
 *     waiting for this queue would make every read as slow as the busiest writer. A call made
 *     through the gateway shows in them a write after its answer.
 * One record must never hold back the others: a record whose input or output cannot be serialised
 * is written without them, saying why; a statement PostgreSQL refuses is split in halves until the
 * record at fault is alone, and that one is written without its input and output, with the short
 * reason in its `error`. Failures the statement is not the cause of (the connection, a timeout)
 * are retried with backoff.
 */
export class RunRecorder {
  private readonly queue = new Map<string, Pending>();
  private readonly runningDelayMs: number;
  private readonly outcomeDelayMs: number;
  private timerDue = Infinity;
  private readonly maxQueued: number;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  /** Set by `close`: past it, writes that keep failing are given up. */
  private closeDeadline: number | null = null;
  private roomWaiters: (() => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly options: RunRecorderOptions,
  ) {
    this.runningDelayMs = options.runningDelayMs ?? 100;
    this.outcomeDelayMs = options.outcomeDelayMs ?? 50;
    this.maxQueued = options.maxQueued ?? 20_000;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxBatchBytes = options.maxBatchBytes ?? 16 * 1024 * 1024;
  }

  /** Records waiting in memory or being written. */
  get queued(): number {
    return this.queue.size + this.inFlight;
  }

  /** Resolves when a new call may begin: immediately, unless the database is far behind. */
  async room(): Promise<void> {
    while (this.queue.size + this.inFlight >= this.maxQueued) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  /** A call went upstream: its `running` row, unless its outcome arrives first. */
  started(run: RunRow): void {
    this.queue.set(run.id, {
      queuedAt: Date.now(),
      run,
      audit: null,
      awaited: false,
      waiters: [],
    });
    if (!this.flushing) this.armTimer(this.runningDelayMs);
  }

  private armTimer(delayMs: number): void {
    const due = Date.now() + delayMs;
    if (this.timer) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush(false);
    }, delayMs);
    this.timer.unref();
  }

  /**
   * The final state of a run with its audit event; resolves once both are committed. `awaited`:
   * the caller waits for that, so it is written at once rather than batched with later calls.
   */
  finished(run: RunRow, audit: AuditRow, awaited = true): Promise<void> {
    return new Promise((resolve, reject) => {
      const pending = this.queue.get(run.id);
      if (pending) {
        pending.queuedAt = Date.now();
        pending.run = run;
        pending.audit = audit;
        pending.awaited ||= awaited;
        pending.waiters.push({ resolve, reject });
      } else {
        this.queue.set(run.id, {
          queuedAt: Date.now(),
          run,
          audit,
          awaited,
          waiters: [{ resolve, reject }],
        });
      }
      if (awaited) void this.flush(false);
      else if (!this.flushing) this.armTimer(this.outcomeDelayMs);
    });
  }

  /** Resolves once everything recorded before this call is written (or given up). */
  async idle(): Promise<void> {
    while (this.flushing || this.queue.size > 0) {
      await (this.flushing ?? this.flush(true));
    }
  }

  /** Writes what is left; call after the last request finished. */
  async close(): Promise<void> {
    this.closeDeadline = Date.now() + (this.options.closeBudgetMs ?? 10_000);
    await this.idle();
  }

  /** `everything`: also the `running` rows still within their delay. */
  private flush(everything: boolean): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.timerDue = Infinity;
    this.flushing ??= this.drain(everything).finally(() => {
      this.flushing = null;
      // What was queued after the drain's last look is written when it falls due.
      const due = this.nextDue();
      if (due === Infinity) return;
      const wait = due - Date.now();
      if (wait <= 0) void this.flush(false);
      else this.armTimer(wait);
    });
    return this.flushing;
  }

  /** When the earliest queued record must be written: awaited ones at once, others after their delay. */
  private nextDue(): number {
    let due = Infinity;
    for (const pending of this.queue.values()) {
      if (pending.awaited) return 0;
      const delay = pending.audit === null ? this.runningDelayMs : this.outcomeDelayMs;
      due = Math.min(due, pending.queuedAt + delay);
    }
    return due;
  }

  private takeBatch(everything: boolean): Serialised[] {
    const batch: Serialised[] = [];
    let bytes = 0;
    const youngSince = Date.now() - this.runningDelayMs;
    for (const [id, pending] of this.queue) {
      if (!everything && pending.audit === null && pending.queuedAt > youngSince) continue;
      this.queue.delete(id);
      const item = trySerialise(pending, this.options.onError);
      if (!item) continue;
      batch.push(item);
      bytes += item.run.length + (item.audit?.length ?? 0);
      if (batch.length === this.maxBatch || bytes >= this.maxBatchBytes) break;
    }
    return batch;
  }

  private async drain(everything: boolean): Promise<void> {
    // Let calls finishing in this same turn of the event loop join the batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let first = true; ; first = false) {
      // After a write, go on only for records already due (or a full batch): outcomes nobody
      // waits for keep collecting for their delay instead of trickling out a few per statement.
      if (!first && !everything && this.queue.size < this.maxBatch && this.nextDue() > Date.now()) {
        return;
      }
      const batch = this.takeBatch(everything);
      if (batch.length === 0) return;
      this.inFlight += batch.length;
      const started = performance.now();
      try {
        await this.writeWithRetry(batch);
      } finally {
        this.options.onFlushed?.((performance.now() - started) / 1000, batch.length);
        this.inFlight -= batch.length;
        const waiting = this.roomWaiters;
        this.roomWaiters = [];
        for (const wake of waiting) wake();
      }
    }
  }

  private async writeWithRetry(batch: Serialised[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await writeRecords(this.db, batch);
        for (const item of batch) for (const waiter of item.pending.waiters) waiter.resolve();
        return;
      } catch (error) {
        if (isRefusedStatement(error)) {
          await this.isolate(batch, error);
          return;
        }
        const gaveUp = this.closeDeadline !== null && Date.now() > this.closeDeadline;
        this.options.onError(failure(batch, error, gaveUp ? "lost" : "retrying"));
        if (gaveUp) {
          for (const item of batch) for (const waiter of item.pending.waiters) waiter.reject(error);
          return;
        }
        await sleep(Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt));
      }
    }
  }

  /**
   * PostgreSQL refused the statement: halves are written separately until the record at fault is
   * alone, so a bad record costs a logarithmic number of statements, not one per record.
   */
  private async isolate(batch: Serialised[], error: unknown): Promise<void> {
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.writeWithRetry(batch.slice(0, half));
      await this.writeWithRetry(batch.slice(half));
      return;
    }
    const [item] = batch;
    if (!item) return;
    if (item.stripped) {
      this.options.onError(failure(batch, error, "lost"));
      for (const waiter of item.pending.waiters) waiter.reject(error);
      return;
    }
    this.options.onError(failure(batch, error, "stripped"));
    item.pending.run = withoutPayload(item.pending.run, briefError(error));
    await this.writeWithRetry([{ ...item, run: recordJson(item.pending.run), stripped: true }]);
  }
}

/**
 * One statement for the whole batch: runs are upserted (a `running` row written earlier gets its
 * outcome) and audit events inserted, from two JSON parameters, so the statement text is the same
 * whatever the batch size. References that vanished since the call (a tool, agent or environment
 * deleted meanwhile) are written as NULL, as their deletion would have left them, and records of
 * a deleted organization are dropped with it.
 */
async function writeRecords(db: Db, batch: readonly Serialised[]): Promise<void> {
  const runRows = `[${batch.map((item) => item.run).join(",")}]`;
  const auditRows = `[${batch.flatMap((item) => (item.audit === null ? [] : [item.audit])).join(",")}]`;
  await db.execute(sql`
    with r as (
      select * from jsonb_to_recordset(${runRows}::jsonb) as r(
        id uuid, org_id uuid, kind run_kind, tool_id uuid, tool_name text, agent_id uuid,
        user_id uuid, environment_id uuid, status run_status, input jsonb, output jsonb, output_truncated boolean, error text,
        decision jsonb, triggered_by jsonb, started_at timestamptz, finished_at timestamptz,
        duration_ms integer, replica_id uuid, request_id text, relayed jsonb, trace_id text,
        guardrails jsonb)
    ),
    written_runs as (
      insert into runs (id, org_id, kind, tool_id, tool_name, agent_id, user_id, environment_id, status, input,
        output, output_truncated, error, decision, triggered_by, started_at, finished_at, duration_ms,
        replica_id, request_id, relayed, trace_id, guardrails)
      select r.id, r.org_id, coalesce(r.kind, 'tool'),
        (select t.id from tools t where t.id = r.tool_id),
        r.tool_name,
        (select a.id from agents a where a.id = r.agent_id),
        (select u.id from users u where u.id = r.user_id),
        (select e.id from environments e where e.id = r.environment_id),
        r.status, r.input, r.output, coalesce(r.output_truncated, false), r.error, r.decision,
        r.triggered_by, r.started_at, r.finished_at, r.duration_ms, r.replica_id, r.request_id,
        r.relayed, r.trace_id, r.guardrails
      from r where exists (select 1 from orgs o where o.id = r.org_id)
      on conflict (id) do update set status = excluded.status, output = excluded.output,
        output_truncated = excluded.output_truncated, error = excluded.error,
        finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
        relayed = excluded.relayed, guardrails = excluded.guardrails
      returning 1
    ),
    a as (
      select * from jsonb_to_recordset(${auditRows}::jsonb) as a(
        id uuid, org_id uuid, actor_type actor_type, actor_id text, action text, target_type text,
        target_id text, metadata jsonb, ip text, user_agent text, created_at timestamptz)
    ),
    written_audit as (
      insert into audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id,
        metadata, ip, user_agent, created_at)
      select a.id, a.org_id, a.actor_type, a.actor_id, a.action, a.target_type, a.target_id,
        coalesce(a.metadata, '{}'::jsonb), a.ip, a.user_agent, a.created_at
      from a where exists (select 1 from orgs o where o.id = a.org_id)
      returning 1
    )
    select (select count(*) from written_runs) as runs, (select count(*) from written_audit) as audit
  `);
}
