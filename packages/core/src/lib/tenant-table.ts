import { and, eq } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Db } from "../db/client";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "./context";

/** A tenant-owned table: a UUID key, the owning org and a display name. */
type TenantTable = PgTable & { id: PgColumn; org_id: PgColumn; name: PgColumn };

/**
 * The reads and the delete every org-owned resource shares, always filtered by org: a row of
 * another org is "not found", exactly like a missing one.
 */
export function tenantResource<T extends TenantTable>(table: T, what: string, targetType: string) {
  type Row = T["$inferSelect"];
  // Drizzle's select builders cannot take an open generic table; its base type is enough here.
  const source: PgTable = table;
  const inOrg = (input: { orgId: string; id: string }) =>
    and(eq(table.org_id, input.orgId), eq(table.id, input.id));

  return {
    get: async (db: Db, input: { orgId: string; id: string }): Promise<Row> => {
      const rows = (await db.select().from(source).where(inOrg(input)).limit(1)) as Row[];
      const [row] = rows;
      if (!row) throw AppError.notFound(what);
      return row;
    },

    /** The org a resource belongs to, to authorise a request that names only the resource. */
    findOrgId: async (db: Db, id: string): Promise<string | null> => {
      const rows = (await db
        .select({ org_id: table.org_id })
        .from(source)
        .where(eq(table.id, id))) as {
        org_id: string;
      }[];
      return rows[0]?.org_id ?? null;
    },

    /**
     * Deletes with its audit event in one transaction; `before` runs first in that transaction
     * (to lock, refuse or clean up what the delete would cascade to).
     */
    remove: async (
      db: Db,
      context: ActionContext,
      input: { orgId: string; id: string },
      before?: (tx: Db) => Promise<void>,
    ): Promise<void> => {
      await db.transaction(async (tx) => {
        await before?.(tx);
        const deleted = (await tx
          .delete(table)
          .where(inOrg(input))
          .returning({ id: table.id, name: table.name })) as { id: string; name: string }[];
        const [row] = deleted;
        if (!row) throw AppError.notFound(what);
        await recordAudit(tx, context, {
          org_id: input.orgId,
          action: `${targetType}.delete`,
          target_type: targetType,
          target_id: row.id,
          metadata: { name: row.name },
        });
      });
    },
  };
}
