import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { environments } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { tenantResource } from "../lib/tenant-table";
import { removeReferencingPolicies } from "../policies/references";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { conflictMapper } from "../lib/pg-errors";
import { slugify } from "../lib/slug";

export type Environment = typeof environments.$inferSelect;

const toConflict = conflictMapper({
  environments_org_name_uq: {
    field: "name",
    message: "An environment with this name already exists in the organization",
  },
  environments_org_slug_uq: {
    field: "slug",
    message: "An environment with this slug already exists in the organization",
  },
});

export async function createEnvironment(
  db: Db,
  context: ActionContext,
  input: {
    orgId: string;
    name: string;
    slug?: string | undefined;
    description?: string | undefined;
  },
): Promise<Environment> {
  try {
    return await db.transaction(async (tx) => {
      const [environment] = await tx
        .insert(environments)
        .values({
          org_id: input.orgId,
          name: input.name,
          slug: input.slug ?? slugify(input.name),
          description: input.description ?? "",
        })
        .returning();
      if (!environment) throw new Error("insert returned no environment");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "environment.create",
        target_type: "environment",
        target_id: environment.id,
        metadata: { name: environment.name },
      });
      return environment;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

export async function listEnvironments(
  db: Db,
  input: PageRequest & { orgId: string },
): Promise<Page<Environment>> {
  const query = keyset(environments.id, input, eq(environments.org_id, input.orgId));
  const rows = await db
    .select()
    .from(environments)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

const environmentResource = tenantResource(environments, "Environment", "environment");
export const getEnvironment = environmentResource.get;
export const findEnvironmentOrgId = environmentResource.findOrgId;

/**
 * Refused (CONFLICT, listing them) while policies name the environment, unless `confirmPolicyRemoval`:
 * then those policies are deleted with it, each audited.
 */
export function deleteEnvironment(
  db: Db,
  context: ActionContext,
  input: { orgId: string; id: string; confirmPolicyRemoval?: boolean | undefined },
): Promise<void> {
  return environmentResource.remove(db, context, input, (tx) =>
    removeReferencingPolicies(tx, context, {
      orgId: input.orgId,
      id: input.id,
      subject: "environment",
      confirmed: input.confirmPolicyRemoval === true,
    }),
  );
}

export async function updateEnvironment(
  db: Db,
  context: ActionContext,
  input: {
    orgId: string;
    id: string;
    name?: string | undefined;
    slug?: string | undefined;
    description?: string | undefined;
  },
): Promise<Environment> {
  try {
    return await db.transaction(async (tx) => {
      const [environment] = await tx
        .update(environments)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.slug !== undefined ? { slug: input.slug } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          updated_at: new Date(),
        })
        .where(and(eq(environments.org_id, input.orgId), eq(environments.id, input.id)))
        .returning();
      if (!environment) throw AppError.notFound("Environment");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "environment.update",
        target_type: "environment",
        target_id: environment.id,
        metadata: { name: environment.name },
      });
      return environment;
    });
  } catch (error) {
    throw toConflict(error);
  }
}
