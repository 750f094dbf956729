import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { connections, runs } from "../db/schema";
import { AppError } from "../errors";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import type { Run, RunStatus } from "./orchestrator";

export interface RunFilter extends PageRequest {
  orgId: string;
  status?: RunStatus | undefined;
  kind?: Run["kind"] | undefined;
  agent_id?: string | undefined;
  tool_id?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** Newest first. */
export async function listRuns(db: Db, filter: RunFilter): Promise<Page<Run>> {
  const conditions: (SQL | undefined)[] = [
    eq(runs.org_id, filter.orgId),
    filter.status ? eq(runs.status, filter.status) : undefined,
    filter.kind ? eq(runs.kind, filter.kind) : undefined,
    filter.agent_id ? eq(runs.agent_id, filter.agent_id) : undefined,
    filter.tool_id ? eq(runs.tool_id, filter.tool_id) : undefined,
    filter.since ? gte(runs.started_at, filter.since) : undefined,
    filter.until ? lt(runs.started_at, filter.until) : undefined,
  ];
  const query = keyset(runs.id, filter, and(...conditions), "desc");
  const rows = await db
    .select()
    .from(runs)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

export async function getRun(db: Db, input: { orgId: string; id: string }): Promise<Run> {
  const [run] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.org_id, input.orgId), eq(runs.id, input.id)))
    .limit(1);
  if (!run) throw AppError.notFound("Run");
  return run;
}

export async function findRunOrgId(db: Db, id: string): Promise<string | null> {
  const [row] = await db.select({ org_id: runs.org_id }).from(runs).where(eq(runs.id, id));
  return row?.org_id ?? null;
}

const INTERRUPTED = "Interrupted: the server stopped before the call finished";
/** Past its connection's timeout plus this, a running call cannot still be in flight anywhere. */
const STUCK_GRACE_MS = 60_000;

/**
 * Marks runs left `running` by a crash as failed. With `everything` (an embedded database only one
 * process can open) every running run is orphaned; on a shared PostgreSQL other processes may be
 * mid-call, so only runs older than their connection's timeout are.
 */
export async function failInterruptedRuns(
  db: Db,
  options: { everything: boolean },
): Promise<number> {
  const now = new Date();
  const orphaned = options.everything
    ? eq(runs.status, "running")
    : and(
        eq(runs.status, "running"),
        sql`(${runs.started_at} < ${now.toISOString()}::timestamptz - make_interval(secs => (coalesce((select ${connections.timeout_ms} from ${connections} where ${connections.id} = (select connection_id from tools where tools.id = ${runs.tool_id})), 300000) + ${STUCK_GRACE_MS}) / 1000.0))`,
      );
  const failed = await db
    .update(runs)
    .set({
      status: "failed",
      error: INTERRUPTED,
      finished_at: now,
      duration_ms: sql`(extract(epoch from (${now.toISOString()}::timestamptz - ${runs.started_at})) * 1000)::int`,
    })
    .where(orphaned)
    .returning({ id: runs.id });
  return failed.length;
}
