import { and, asc, desc, gt, lt, type SQL } from "drizzle-orm";
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
): KeysetQuery {
  const limit = Math.min(Math.max(page.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  const position =
    after === undefined
      ? undefined
      : direction === "asc"
        ? gt(idColumn, after)
        : lt(idColumn, after);
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
