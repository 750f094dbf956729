import { and, asc, desc, eq, gt, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { AppError } from "../errors";
import { isUuid } from "./ids";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | null | undefined;
}

export interface Page<T> {
  results: T[];
  next_cursor: string | null;
}

/**
 * Keyset pagination over UUIDv7 primary keys: ids sort by creation time, so "after this id" is a
 * stable position even while rows are inserted. The cursor is the last id, base64url-encoded so
 * clients treat it as opaque.
 */
export function encodeCursor(id: string): string {
  return Buffer.from(id, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!isUuid(id))
    throw AppError.invalidField("cursor", "Invalid cursor: pass back a next_cursor value");
  return id;
}

export interface KeysetQuery {
  where: SQL | undefined;
  orderBy: SQL;
  limit: number;
}

/** Builds the where/order/limit for one page; fetches one row more than asked to know if more exist. */
export function keyset(
  idColumn: PgColumn,
  page: PageRequest,
  filter: SQL | undefined,
  direction: "asc" | "desc" = "asc",
  /** How "before this id" is written, when not as `id < $cursor` (see `orgNewestFirst`). */
  before: (id: string) => SQL = (id) => lt(idColumn, id),
): KeysetQuery {
  const limit = Math.min(Math.max(page.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  const position =
    after === undefined ? undefined : direction === "asc" ? gt(idColumn, after) : before(after);
  return {
    where: and(filter, position),
    orderBy: direction === "asc" ? asc(idColumn) : desc(idColumn),
    limit: limit + 1,
  };
}

export function toPage<T extends { id: string }>(rows: T[], query: KeysetQuery): Page<T> {
  const pageSize = query.limit - 1;
  if (rows.length <= pageSize) return { results: rows, next_cursor: null };
  const results = rows.slice(0, pageSize);
  const last = results[results.length - 1];
  return { results, next_cursor: last ? encodeCursor(last.id) : null };
}

/**
 * The org condition, id bounds and order of one org's newest-first list (runs, audit events).
 *
 * With a column filter, `org_id = $1` and that column's (org_id, column, id) index serve the page.
 * Without one, the planner may instead walk the whole table's primary key backwards (or a range of
 * it) and filter on the org: cheap while the org's rows are the newest, but when a large org went
 * quiet while other orgs kept writing, it first reads every newer row of theirs (half a second at
 * a million rows). So the order is (org_id, id), which only the (org_id, id) index delivers, and id
 * bounds are row comparisons on (org_id, id), which the primary key cannot use. The org is written
 * as a closed range because the planner drops a column an equality pins from an ORDER BY, which
 * would let the primary key back in; the range still estimates the org's share from statistics.
 */
export function orgNewestFirst(
  orgColumn: PgColumn,
  idColumn: PgColumn,
  orgId: string,
  columnFiltered: boolean,
): {
  org: SQL | undefined;
  idAtLeast: (id: string) => SQL;
  idBelow: (id: string) => SQL;
  orderBy: SQL[];
} {
  if (columnFiltered)
    return {
      org: eq(orgColumn, orgId),
      idAtLeast: (id) => gte(idColumn, id),
      idBelow: (id) => lt(idColumn, id),
      orderBy: [desc(idColumn)],
    };
  return {
    org: and(gte(orgColumn, orgId), lte(orgColumn, orgId)),
    idAtLeast: (id) => sql`(${orgColumn}, ${idColumn}) >= (${orgId}::uuid, ${id}::uuid)`,
    idBelow: (id) => sql`(${orgColumn}, ${idColumn}) < (${orgId}::uuid, ${id}::uuid)`,
    orderBy: [desc(orgColumn), desc(idColumn)],
  };
}
