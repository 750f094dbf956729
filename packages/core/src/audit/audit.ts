import { and, desc, eq, gte, isNull, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditEvents, type JsonObject } from "../db/schema";
import type { ActionContext } from "../lib/context";
import { keyset, orgNewestFirst, toPage, type Page, type PageRequest } from "../lib/pagination";

export type AuditEvent = typeof auditEvents.$inferSelect;

export interface AuditEntry {
  org_id: string | null;
  action: string;
  target_type?: string | null;
  target_id?: string | null;
  /** Never secrets: callers pass names and counts, not values. */
  metadata?: JsonObject;
}

/** The row an entry becomes; for callers that insert it as part of a larger statement. */
export function auditRow(
  context: ActionContext,
  entry: AuditEntry,
): typeof auditEvents.$inferInsert {
  return {
    org_id: entry.org_id,
    actor_type: context.actor.type,
    actor_id: context.actor.id,
    action: entry.action,
    target_type: entry.target_type ?? null,
    target_id: entry.target_id ?? null,
    metadata: {
      ...entry.metadata,
      ...(context.acting_user === undefined ? {} : { acting_user: context.acting_user }),
      ...(context.actor.type === "token" && context.actor.name !== undefined
        ? { token_name: context.actor.name }
        : {}),
    },
    ip: context.ip,
    user_agent: context.user_agent,
  };
}

/** Written inside the caller's transaction so an event exists exactly when its change does. */
export async function recordAudit(
  db: Db,
  context: ActionContext,
  entry: AuditEntry,
): Promise<void> {
  await db.insert(auditEvents).values(auditRow(context, entry));
}

export interface AuditFilter extends PageRequest {
  /** null: the platform's own events, of no org (sign-ins, platform admin actions). */
  orgId: string | null;
  action?: string | undefined;
  actor_id?: string | undefined;
  target_type?: string | undefined;
  target_id?: string | undefined;
  since?: Date | undefined;
}

export async function listAuditEvents(db: Db, filter: AuditFilter): Promise<Page<AuditEvent>> {
  const { statement, query } = auditEventsPage(db, filter);
  return toPage(await statement, query);
}

/** The statement of one page of events; also explained by the index test (db/list-plans.test.ts). */
export function auditEventsPage(db: Db, filter: AuditFilter) {
  const order =
    filter.orgId === null
      ? {
          org: isNull(auditEvents.org_id),
          idBelow: (id: string) => lt(auditEvents.id, id),
          orderBy: [desc(auditEvents.id)],
        }
      : orgNewestFirst(
          auditEvents.org_id,
          auditEvents.id,
          filter.orgId,
          Boolean(filter.action ?? filter.actor_id ?? filter.target_type ?? filter.target_id),
        );
  const conditions: (SQL | undefined)[] = [
    order.org,
    filter.action ? eq(auditEvents.action, filter.action) : undefined,
    filter.actor_id ? eq(auditEvents.actor_id, filter.actor_id) : undefined,
    filter.target_type ? eq(auditEvents.target_type, filter.target_type) : undefined,
    filter.target_id ? eq(auditEvents.target_id, filter.target_id) : undefined,
    filter.since ? gte(auditEvents.created_at, filter.since) : undefined,
  ];
  const query = keyset(auditEvents.id, filter, and(...conditions), "desc", order.idBelow);
  const statement = db
    .select()
    .from(auditEvents)
    .where(query.where)
    .orderBy(...order.orderBy)
    .limit(query.limit);
  return { statement, query };
}

/**
 * The distinct actions in an org's log, sorted, for the audit page's action picker. A loose index
 * scan over (org_id, action, id): one index probe per distinct action, however long the log is.
 */
export async function listAuditActions(db: Db, input: { orgId: string }): Promise<string[]> {
  const result = await db.execute(sql`
    WITH RECURSIVE distinct_actions(action) AS (
      SELECT min(${auditEvents.action}) FROM ${auditEvents} WHERE ${auditEvents.org_id} = ${input.orgId}
      UNION ALL
      SELECT (
        SELECT min(${auditEvents.action}) FROM ${auditEvents}
        WHERE ${auditEvents.org_id} = ${input.orgId} AND ${auditEvents.action} > distinct_actions.action
      )
      FROM distinct_actions WHERE distinct_actions.action IS NOT NULL
    )
    SELECT action FROM distinct_actions WHERE action IS NOT NULL ORDER BY action`);
  // Both drivers answer with `{ rows }`.
  return (result as { rows: { action: string }[] }).rows.map((row) => row.action);
}
