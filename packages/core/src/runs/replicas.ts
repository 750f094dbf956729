import { randomUUID } from "node:crypto";
import { and, eq, gt, isNotNull, isNull, lt, notExists, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { connections, replicas, runs, tools } from "../db/schema";
import { expireApprovals, sweepHeldApprovals } from "../approvals/approvals";
import { sweepInterruptedTasks } from "../mcp-tasks/mcp-tasks";

/** How often a replica says it is alive. */
export const REPLICA_HEARTBEAT_MS = 5_000;
/**
 * A replica without a heartbeat for this long is dead: its `running` runs are swept. Four missed
 * heartbeats, so a replica whose event loop or database stalls briefly is not taken for dead.
 */
export const REPLICA_DEAD_AFTER_MS = 20_000;

const INTERRUPTED =
  "Interrupted: the server running this call stopped before recording its outcome";
/** Runs of processes that kept no heartbeat: past their connection's timeout plus this. */
const STUCK_GRACE_MS = 60_000;

const seconds = (ms: number) => sql`make_interval(secs => ${ms / 1000})`;

/**
 * Marks failed the runs left `running` by replicas that are gone: whose replica has not
 * heartbeated within `deadAfterMs` (by the database's clock) or has no row at all. A live replica
 * heartbeats far more often, so no replica sweeps another live one's runs; a stalled replica that
 * comes back still records the true outcome over the sweep's. Runs of processes that predate
 * replica tracking are swept once past their connection's timeout. Then forgets dead replicas.
 */
export async function sweepInterruptedRuns(
  db: Db,
  options: { deadAfterMs?: number } = {},
): Promise<number> {
  const deadAfter = seconds(options.deadAfterMs ?? REPLICA_DEAD_AFTER_MS);
  const ownerAlive = db
    .select({ id: replicas.id })
    .from(replicas)
    .where(
      and(eq(replicas.id, runs.replica_id), gt(replicas.heartbeat_at, sql`now() - ${deadAfter}`)),
    );
  const connectionTimeoutMs = sql`coalesce((select ${connections.timeout_ms} from ${connections}
    where ${connections.id} = (select ${tools.connection_id} from ${tools} where ${tools.id} = ${runs.tool_id})), 300000)`;
  const swept = await db
    .update(runs)
    .set({
      status: "failed",
      error: INTERRUPTED,
      finished_at: sql`now()`,
      duration_ms: sql`(extract(epoch from (now() - ${runs.started_at})) * 1000)::int`,
    })
    .where(
      and(
        eq(runs.status, "running"),
        or(
          and(isNotNull(runs.replica_id), notExists(ownerAlive)),
          and(
            isNull(runs.replica_id),
            lt(
              runs.started_at,
              sql`now() - ${seconds(STUCK_GRACE_MS)} - make_interval(secs => ${connectionTimeoutMs} / 1000.0)`,
            ),
          ),
        ),
      ),
    )
    .returning({ id: runs.id });
  // Tasks follow their runs: the replica that would have recorded their outcome is gone.
  await sweepInterruptedTasks(db, deadAfter);
  // So do calls held for approval; and approvals nobody decided in time end as expired.
  const held = await sweepHeldApprovals(db, deadAfter);
  await expireApprovals(db);
  await db.delete(replicas).where(lt(replicas.heartbeat_at, sql`now() - ${deadAfter}`));
  return swept.length + held;
}

export interface Replica {
  /** Random per process start: a restarted process is a new replica. */
  id: string;
  /**
   * Stops the heartbeat and removes the row (never throws): call once this process's records are
   * written.
   */
  retire(): Promise<void>;
}

/**
 * Registers this process as a replica, sweeps the runs of dead ones, then heartbeats and sweeps
 * every REPLICA_HEARTBEAT_MS. A heartbeat that finds its row gone (swept while this process was
 * stalled) puts it back.
 */
export async function startReplica(
  db: Db,
  hooks: {
    onSwept: (runs: number) => void;
    onError: (error: unknown) => void;
    heartbeatMs?: number;
  },
): Promise<Replica> {
  const id = randomUUID();
  const beat = () =>
    db
      .insert(replicas)
      .values({ id })
      .onConflictDoUpdate({ target: replicas.id, set: { heartbeat_at: sql`now()` } });
  const sweep = async () => {
    const swept = await sweepInterruptedRuns(db);
    if (swept > 0) hooks.onSwept(swept);
  };
  await beat();
  await sweep();
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    // A database slower than the interval gets one tick at a time.
    running ??= (async () => {
      await beat();
      await sweep();
    })()
      .catch(hooks.onError)
      .finally(() => {
        running = null;
      });
  }, hooks.heartbeatMs ?? REPLICA_HEARTBEAT_MS);
  timer.unref();
  return {
    id,
    retire: async () => {
      clearInterval(timer);
      await running;
      // Without the database the row simply goes stale: it is forgotten as a dead replica's.
      await db.delete(replicas).where(eq(replicas.id, id)).catch(hooks.onError);
    },
  };
}
