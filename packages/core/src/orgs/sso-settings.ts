import { asc, eq } from "drizzle-orm";
import type { SsoProvider } from "../accounts/sso";
import { recordAudit } from "../audit/audit";
import type { Db } from "../db/client";
import { orgs, orgSsoDomains } from "../db/schema";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import type { OrgRole } from "./roles";

/*
 * An org's SSO settings: "SSO only" (its members' password sign-in is refused) and the e-mail
 * domains whose users join it at SSO sign-in, each with a role. Both only make sense while the
 * platform has an identity provider, and a domain rule may only name a domain the operator
 * allows (OIDC_ALLOWED_DOMAINS): otherwise any tenant could claim another company's domain and
 * collect its people as members.
 */

export type SsoDomainRole = Exclude<OrgRole, "owner">;

export interface OrgSsoSettings {
  sso_only: boolean;
  domain_roles: { domain: string; role: SsoDomainRole }[];
}

export async function getOrgSsoSettings(db: Db, input: { orgId: string }): Promise<OrgSsoSettings> {
  const [org] = await db
    .select({ sso_only: orgs.sso_only })
    .from(orgs)
    .where(eq(orgs.id, input.orgId))
    .limit(1);
  if (!org) throw AppError.notFound("Organization");
  const rules = await db
    .select({ domain: orgSsoDomains.domain, role: orgSsoDomains.role })
    .from(orgSsoDomains)
    .where(eq(orgSsoDomains.org_id, input.orgId))
    .orderBy(asc(orgSsoDomains.domain));
  return {
    sso_only: org.sso_only,
    // Owners are never granted by a rule (the contract refuses it), so none is stored.
    domain_roles: rules.map((rule) => ({ domain: rule.domain, role: rule.role as SsoDomainRole })),
  };
}

/** Replaces what the input names; the domain list is replaced whole. */
export async function updateOrgSsoSettings(
  db: Db,
  context: ActionContext,
  provider: SsoProvider | null,
  input: {
    orgId: string;
    sso_only?: boolean | undefined;
    domain_roles?: OrgSsoSettings["domain_roles"] | undefined;
  },
): Promise<OrgSsoSettings> {
  const notConfigured = "The platform has no SSO identity provider (OIDC_ISSUER is not set)";
  if (input.sso_only === true && !provider) throw AppError.invalidField("sso_only", notConfigured);
  const domainRoles = input.domain_roles ?? [];
  if (domainRoles.length > 0 && !provider)
    throw AppError.invalidField("domain_roles", notConfigured);
  const allowed = provider?.config.allowedDomains ?? [];
  const seen = new Set<string>();
  for (const [index, rule] of domainRoles.entries()) {
    if (allowed.length === 0)
      throw AppError.invalidField(
        ["domain_roles", index, "domain"],
        "Domain rules need the operator to list the platform's domains in OIDC_ALLOWED_DOMAINS",
      );
    if (!allowed.includes(rule.domain))
      throw AppError.invalidField(
        ["domain_roles", index, "domain"],
        `${rule.domain} is not one of the platform's SSO domains (${allowed.join(", ")})`,
      );
    if (seen.has(rule.domain))
      throw AppError.invalidField(
        ["domain_roles", index, "domain"],
        `${rule.domain} is listed twice`,
      );
    seen.add(rule.domain);
  }
  return db.transaction(async (tx) => {
    const [org] = await tx
      .update(orgs)
      .set({
        ...(input.sso_only !== undefined ? { sso_only: input.sso_only } : {}),
        updated_at: new Date(),
      })
      .where(eq(orgs.id, input.orgId))
      .returning({ id: orgs.id });
    if (!org) throw AppError.notFound("Organization");
    if (input.domain_roles !== undefined) {
      await tx.delete(orgSsoDomains).where(eq(orgSsoDomains.org_id, input.orgId));
      if (domainRoles.length > 0)
        await tx
          .insert(orgSsoDomains)
          .values(domainRoles.map((rule) => ({ org_id: input.orgId, ...rule })));
    }
    const settings = await getOrgSsoSettings(tx, { orgId: input.orgId });
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "org.sso_update",
      target_type: "org",
      target_id: input.orgId,
      metadata: { sso_only: settings.sso_only, domain_roles: settings.domain_roles },
    });
    return settings;
  });
}
