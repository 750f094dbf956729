import { sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";

/*
 * Conditions drizzle has no operator for. Each is parenthesised as a whole: `and()` and `or()`
 * join their arguments without wrapping them, so a raw fragment with its own `or` (or `and`) would
 * otherwise bind to its neighbours, as `id = $1 and a <> $2 or b <> $3` once did.
 */

/** `column is distinct from value`: unlike `<>`, true when exactly one side is NULL. */
export function isDistinctFrom(column: PgColumn, value: unknown): SQL {
  return sql`(${column} is distinct from ${value})`;
}
