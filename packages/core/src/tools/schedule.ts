import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { connections } from "../db/schema";
import { SYSTEM_CONTEXT } from "../lib/context";
import type { McpRuntime } from "../runtime";
import { syncConnection, type SyncResult } from "./sync";

/*
 * Scheduled syncs: a connection with `sync_interval_minutes` is synced that often, so a server
 * changing a tool's definition is caught (and the tool quarantined) without anyone pressing Sync.
 * Every replica looks for due connections; claiming one moves its `next_sync_at` an interval on in
 * the same statement, under FOR UPDATE SKIP LOCKED, so each due sync is claimed by exactly one
 * replica. A replica that dies mid-sync loses that round; the next interval syncs again.
 */

export interface ScheduledSyncOutcome {
  connectionId: string;
  orgId: string;
  result: SyncResult | null;
  error: unknown;
}

/** Claims one due connection, or null when none is due (or every due one is being claimed). */
async function claimDueSync(db: Db): Promise<{ id: string; org_id: string } | null> {
  const due = sql`select id from ${connections}
    where sync_interval_minutes is not null and next_sync_at <= now()
    order by next_sync_at
    limit 1
    for update skip locked`;
  const [claimed] = await db
    .update(connections)
    .set({ next_sync_at: sql`now() + make_interval(mins => ${connections.sync_interval_minutes})` })
    .where(sql`${connections.id} = (${due})`)
    .returning({ id: connections.id, org_id: connections.org_id });
  return claimed ?? null;
}

/**
 * Syncs every connection that is due, one at a time, until none is left to claim; each outcome is
 * reported (a failed sync does not stop the others). Safe to run on every replica at once.
 */
export async function runScheduledSyncs(
  db: Db,
  runtime: McpRuntime,
  onOutcome: (outcome: ScheduledSyncOutcome) => void,
): Promise<number> {
  let synced = 0;
  for (;;) {
    const connection = await claimDueSync(db);
    if (!connection) return synced;
    const outcome: ScheduledSyncOutcome = {
      connectionId: connection.id,
      orgId: connection.org_id,
      result: null,
      error: null,
    };
    try {
      outcome.result = await syncConnection(db, runtime, SYSTEM_CONTEXT, {
        orgId: connection.org_id,
        id: connection.id,
      });
    } catch (error) {
      outcome.error = error;
    }
    synced++;
    onOutcome(outcome);
  }
}

export interface SyncScheduler {
  /** Runs one round now (after the one in progress), as the timer does; resolves with its count. */
  tick(): Promise<number>;
  /** Stops the timer and waits for the round in progress. */
  close(): Promise<void>;
}

/** Runs `runScheduledSyncs` every `intervalMs` on this replica, never two rounds at once. */
export function startSyncScheduler(
  db: Db,
  runtime: McpRuntime,
  options: {
    intervalMs: number;
    onOutcome: (outcome: ScheduledSyncOutcome) => void;
    onError: (error: unknown) => void;
  },
): SyncScheduler {
  let round: Promise<number> = Promise.resolve(0);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const run = (): Promise<number> => {
    round = round.then(
      () => runScheduledSyncs(db, runtime, options.onOutcome),
      () => runScheduledSyncs(db, runtime, options.onOutcome),
    );
    round.catch(options.onError);
    return round;
  };
  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      void run()
        .catch(() => 0)
        .then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    tick: run,
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await round.catch(() => 0);
    },
  };
}
