import { z } from "zod";
import { email, mailDelivery, oneTimeToken } from "./accounts";
import { description, slug, timestamp, trimmedName, uuid } from "./common";

export const ORG_ROLES = ["owner", "admin", "member", "viewer"] as const;
export const orgRole = z.enum(ORG_ROLES);
export type OrgRole = z.infer<typeof orgRole>;

export const org = z.object({
  id: uuid,
  name: z.string(),
  slug: z.string(),
  role: orgRole.describe("The caller's role in this organization"),
  oauth_approver_role: orgRole.describe(
    "The lowest role allowed to approve an OAuth client acting as one of the org's agents",
  ),
  quarantine_new_tools: z
    .boolean()
    .describe(
      "Tools a sync finds for the first time arrive quarantined (not callable until an admin approves each) instead of enabled",
    ),
  email_approvers: z
    .boolean()
    .describe(
      "The members who may decide a call waiting for approval are e-mailed when it starts waiting (where the platform has SMTP)",
    ),
  created_at: timestamp,
  updated_at: timestamp,
});
export type OrgDto = z.infer<typeof org>;

export const createOrgInput = z.object({ name: trimmedName, slug: slug.optional() });
/** Viewers cannot run tools, so they cannot let a client run them either. */
export const OAUTH_APPROVER_ROLES = ["owner", "admin", "member"] as const;

export const updateOrgInput = z.object({
  name: trimmedName.optional(),
  slug: slug.optional(),
  oauth_approver_role: z.enum(OAUTH_APPROVER_ROLES).optional(),
  quarantine_new_tools: z.boolean().optional(),
  email_approvers: z.boolean().optional(),
});

export const member = z.object({
  user_id: uuid,
  email: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  role: orgRole,
  created_at: timestamp,
  updated_at: timestamp,
});
export type MemberDto = z.infer<typeof member>;

export const addMemberInput = z.object({ email, role: orgRole });

export const INVITATION_STATUSES = ["pending", "accepted", "revoked", "expired"] as const;

export const invitation = z.object({
  id: uuid,
  org_id: uuid,
  email: z.string(),
  role: orgRole,
  status: z.enum(INVITATION_STATUSES),
  invited_by: uuid.nullable(),
  expires_at: timestamp,
  accepted_at: timestamp.nullable(),
  accepted_by: uuid.nullable(),
  revoked_at: timestamp.nullable(),
  created_at: timestamp,
});
export type InvitationDto = z.infer<typeof invitation>;

export const createdInvitation = z.object({
  invitation,
  url: z
    .string()
    .describe("The link to accept it, shown only now (and mailed when SMTP is configured)"),
  email_delivery: mailDelivery,
});
export type CreatedInvitationDto = z.infer<typeof createdInvitation>;

export const invitationTokenInput = z.object({ token: oneTimeToken });

export const invitationPreview = z.object({
  org_name: z.string(),
  email: z.string().describe("Only an account with this address can accept"),
  role: orgRole,
  expires_at: timestamp,
});
export type InvitationPreviewDto = z.infer<typeof invitationPreview>;

export const acceptedInvitation = z.object({ org_id: uuid, role: orgRole });
export const updateMemberInput = z.object({ role: orgRole });

export const environment = z.object({
  id: uuid,
  org_id: uuid,
  name: z.string(),
  slug: z.string(),
  description: z.string(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type EnvironmentDto = z.infer<typeof environment>;

export const createEnvironmentInput = z.object({
  name: trimmedName,
  slug: slug.optional(),
  description: description.optional(),
});
export const updateEnvironmentInput = createEnvironmentInput.partial();

/** Roles a domain rule may grant: ownership is always given by a person, never by a rule. */
export const SSO_DOMAIN_ROLES = ["admin", "member", "viewer"] as const;

export const ssoDomainRole = z.object({
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .max(253)
    // The length as maxLength, not a lookahead: the OpenAPI pattern stays portable (RE2-like
    // engines and test-input generators have no lookaround).
    .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
      error: "Must be an e-mail domain such as example.com",
    })
    .describe("An e-mail domain; one of the platform's OIDC_ALLOWED_DOMAINS"),
  role: z.enum(SSO_DOMAIN_ROLES).describe("The role a user of this domain joins with"),
});

export const orgSsoSettings = z.object({
  sso_only: z
    .boolean()
    .describe(
      "Members must sign in with the platform's SSO: their password sign-in is refused (in every org they belong to)",
    ),
  domain_roles: z
    .array(ssoDomainRole)
    .describe("Users signing in with SSO with a verified e-mail at a domain join with its role"),
});
export type OrgSsoSettingsDto = z.infer<typeof orgSsoSettings>;

export const updateOrgSsoSettingsInput = z.object({
  sso_only: z.boolean().optional(),
  domain_roles: z.array(ssoDomainRole).max(100, "At most 100 domains").optional(),
});
