import { randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { memberships, orgs, users } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { isUniqueViolation } from "../lib/pg-errors";
import { slugify } from "../lib/slug";
import { revokeApiTokensCreatedBy } from "./api-tokens";
import { removeMemberPolicies } from "../policies/references";
import { roleAtLeast, type OrgRole } from "./roles";

export type Org = typeof orgs.$inferSelect;
export type OrgWithRole = Org & { role: OrgRole };

export async function getMembershipRole(
  db: Db,
  orgId: string,
  userId: string,
): Promise<OrgRole | null> {
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.org_id, orgId), eq(memberships.user_id, userId)))
    .limit(1);
  return row?.role ?? null;
}

const slugTaken = () =>
  AppError.conflict("An organization with this slug already exists", [
    { path: ["slug"], message: "This slug is already taken" },
  ]);

/** Attempts at a free slug derived from the name before giving up with a conflict. */
const DERIVED_SLUG_ATTEMPTS = 5;

/**
 * Slugs are unique platform-wide (they may appear in URLs), names are not: two companies called
 * "Acme" can both sign up. A slug the caller chose is theirs or a 409; a slug derived from the
 * name gets a short random suffix when it is taken.
 */
export async function createOrg(
  db: Db,
  context: ActionContext & { actor: { type: "user"; id: string } },
  input: { name: string; slug?: string | undefined },
): Promise<OrgWithRole> {
  const derived = slugify(input.name);
  for (let attempt = 0; ; attempt++) {
    const slug =
      input.slug ??
      (attempt === 0
        ? derived
        : `${derived.slice(0, 57).replace(/-+$/, "")}-${randomBytes(3).toString("hex").slice(0, 5)}`);
    try {
      return await insertOrg(db, context, input.name, slug);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (input.slug !== undefined || attempt + 1 >= DERIVED_SLUG_ATTEMPTS) throw slugTaken();
    }
  }
}

async function insertOrg(
  db: Db,
  context: ActionContext & { actor: { type: "user"; id: string } },
  name: string,
  slug: string,
): Promise<OrgWithRole> {
  return db.transaction(async (tx) => {
    const [org] = await tx.insert(orgs).values({ name, slug }).returning();
    if (!org) throw new Error("insert returned no org");
    await tx
      .insert(memberships)
      .values({ org_id: org.id, user_id: context.actor.id, role: "owner" });
    await recordAudit(tx, context, {
      org_id: org.id,
      action: "org.create",
      target_type: "org",
      target_id: org.id,
      metadata: { name: org.name, slug: org.slug },
    });
    return { ...org, role: "owner" as const };
  });
}

export async function listOrgsForUser(
  db: Db,
  input: PageRequest & { userId: string },
): Promise<Page<OrgWithRole>> {
  const query = keyset(orgs.id, input, eq(memberships.user_id, input.userId));
  const rows = await db
    .select({
      id: orgs.id,
      name: orgs.name,
      slug: orgs.slug,
      oauth_approver_role: orgs.oauth_approver_role,
      sso_only: orgs.sso_only,
      quarantine_new_tools: orgs.quarantine_new_tools,
      email_approvers: orgs.email_approvers,
      created_at: orgs.created_at,
      updated_at: orgs.updated_at,
      role: memberships.role,
    })
    .from(orgs)
    .innerJoin(memberships, eq(memberships.org_id, orgs.id))
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

export async function getOrg(db: Db, orgId: string): Promise<Org> {
  const [org] = await db.select().from(orgs).where(eq(orgs.id, orgId)).limit(1);
  if (!org) throw AppError.notFound("Organization");
  return org;
}

export async function updateOrg(
  db: Db,
  context: ActionContext,
  input: {
    orgId: string;
    name?: string | undefined;
    slug?: string | undefined;
    oauth_approver_role?: Org["oauth_approver_role"] | undefined;
    quarantine_new_tools?: boolean | undefined;
    email_approvers?: boolean | undefined;
  },
): Promise<Org> {
  try {
    return await db.transaction(async (tx) => {
      const [org] = await tx
        .update(orgs)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.slug !== undefined ? { slug: input.slug } : {}),
          ...(input.oauth_approver_role !== undefined
            ? { oauth_approver_role: input.oauth_approver_role }
            : {}),
          ...(input.quarantine_new_tools !== undefined
            ? { quarantine_new_tools: input.quarantine_new_tools }
            : {}),
          ...(input.email_approvers !== undefined
            ? { email_approvers: input.email_approvers }
            : {}),
          updated_at: new Date(),
        })
        .where(eq(orgs.id, input.orgId))
        .returning();
      if (!org) throw AppError.notFound("Organization");
      await recordAudit(tx, context, {
        org_id: org.id,
        action: "org.update",
        target_type: "org",
        target_id: org.id,
        metadata: {
          name: org.name,
          slug: org.slug,
          oauth_approver_role: org.oauth_approver_role,
          quarantine_new_tools: org.quarantine_new_tools,
          email_approvers: org.email_approvers,
        },
      });
      return org;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw slugTaken();
    throw error;
  }
}

/**
 * Deleting an org cascades to everything it owns, its audit trail included, so the deletion itself
 * is recorded outside the org.
 */
export async function deleteOrg(db: Db, context: ActionContext, orgId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [deleted] = await tx
      .delete(orgs)
      .where(eq(orgs.id, orgId))
      .returning({ id: orgs.id, name: orgs.name, slug: orgs.slug });
    if (!deleted) throw AppError.notFound("Organization");
    await recordAudit(tx, context, {
      org_id: null,
      action: "org.delete",
      target_type: "org",
      target_id: deleted.id,
      metadata: { name: deleted.name, slug: deleted.slug },
    });
  });
}

export interface Member {
  user_id: string;
  email: string;
  first_name: string;
  last_name: string;
  role: OrgRole;
  created_at: Date;
  updated_at: Date;
}

const memberColumns = {
  user_id: memberships.user_id,
  email: users.email,
  first_name: users.first_name,
  last_name: users.last_name,
  role: memberships.role,
  created_at: memberships.created_at,
  updated_at: memberships.updated_at,
};

export async function listMembers(
  db: Db,
  input: PageRequest & { orgId: string },
): Promise<Page<Member>> {
  const query = keyset(users.id, input, eq(memberships.org_id, input.orgId));
  const rows = await db
    .select({ ...memberColumns, id: users.id })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.user_id))
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  const page = toPage(rows, query);
  return { ...page, results: page.results.map(({ id: _id, ...member }) => member) };
}

async function getMember(db: Db, orgId: string, userId: string): Promise<Member> {
  const [member] = await db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.user_id))
    .where(and(eq(memberships.org_id, orgId), eq(memberships.user_id, userId)))
    .limit(1);
  if (!member) throw AppError.notFound("Member");
  return member;
}

/**
 * The org must keep an owner. Locking the org's owner rows first makes concurrent demotions of the
 * last two owners serialise instead of both succeeding.
 */
async function assertOwnerRemains(db: Db, orgId: string, leavingUserId: string): Promise<void> {
  const owners = await db
    .select({ user_id: memberships.user_id })
    .from(memberships)
    .where(and(eq(memberships.org_id, orgId), eq(memberships.role, "owner")))
    .for("update");
  if (owners.every((owner) => owner.user_id === leavingUserId)) {
    throw AppError.conflict("An organization must keep at least one owner", [
      { path: ["role"], message: "Promote another member to owner first" },
    ]);
  }
}

export async function updateMemberRole(
  db: Db,
  context: ActionContext,
  input: { orgId: string; userId: string; role: OrgRole },
): Promise<Member> {
  return db.transaction(async (tx) => {
    const current = await getMember(tx, input.orgId, input.userId);
    if (current.role === "owner" && input.role !== "owner") {
      await assertOwnerRemains(tx, input.orgId, input.userId);
    }
    await tx
      .update(memberships)
      .set({ role: input.role, updated_at: new Date() })
      .where(and(eq(memberships.org_id, input.orgId), eq(memberships.user_id, input.userId)));
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "member.role_change",
      target_type: "user",
      target_id: input.userId,
      metadata: { from: current.role, to: input.role },
    });
    if (!roleAtLeast(input.role, "admin")) {
      await revokeApiTokensCreatedBy(tx, context, { ...input, reason: "role_lowered" });
    }
    return { ...current, role: input.role };
  });
}

export async function removeMember(
  db: Db,
  context: ActionContext,
  input: { orgId: string; userId: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    const current = await getMember(tx, input.orgId, input.userId);
    if (current.role === "owner") await assertOwnerRemains(tx, input.orgId, input.userId);
    await tx
      .delete(memberships)
      .where(and(eq(memberships.org_id, input.orgId), eq(memberships.user_id, input.userId)));
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "member.remove",
      target_type: "user",
      target_id: input.userId,
      metadata: { role: current.role },
    });
    await revokeApiTokensCreatedBy(tx, context, { ...input, reason: "member_removed" });
    await removeMemberPolicies(tx, context, input);
  });
}
