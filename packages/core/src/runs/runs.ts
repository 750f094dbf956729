import { and, eq, gte, lt, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { runs } from "../db/schema";
import { AppError } from "../errors";
import { uuidv7Floor } from "../lib/ids";
import { keyset, orgNewestFirst, toPage, type Page, type PageRequest } from "../lib/pagination";
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

const ID_TIME_MARGIN_MS = 60_000;

/** Newest first. */
export async function listRuns(db: Db, filter: RunFilter): Promise<Page<Run>> {
  const { statement, query } = runsPage(db, filter);
  return toPage(await statement, query);
}

/** The statement of one page of runs; also explained by the index test (db/list-plans.test.ts). */
export function runsPage(db: Db, filter: RunFilter) {
  const order = orgNewestFirst(
    runs.org_id,
    runs.id,
    filter.orgId,
    Boolean(filter.status ?? filter.kind ?? filter.agent_id ?? filter.tool_id),
  );
  const conditions: (SQL | undefined)[] = [
    order.org,
    filter.status ? eq(runs.status, filter.status) : undefined,
    filter.kind ? eq(runs.kind, filter.kind) : undefined,
    filter.agent_id ? eq(runs.agent_id, filter.agent_id) : undefined,
    filter.tool_id ? eq(runs.tool_id, filter.tool_id) : undefined,
    filter.since ? gte(runs.started_at, filter.since) : undefined,
    filter.until ? lt(runs.started_at, filter.until) : undefined,
    // The same window on the id the list is ordered by: a run's UUIDv7 is minted with its start
    // time (orchestrator), so the planner can start the newest-first walk at the window instead
    // of reading every newer run (it cannot know that ids and start times rise together). The
    // margin only widens the range; the started_at conditions above decide.
    filter.since
      ? order.idAtLeast(uuidv7Floor(filter.since.getTime() - ID_TIME_MARGIN_MS))
      : undefined,
    filter.until
      ? order.idBelow(uuidv7Floor(filter.until.getTime() + ID_TIME_MARGIN_MS))
      : undefined,
  ];
  const query = keyset(runs.id, filter, and(...conditions), "desc", order.idBelow);
  const statement = db
    .select()
    .from(runs)
    .where(query.where)
    .orderBy(...order.orderBy)
    .limit(query.limit);
  return { statement, query };
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
