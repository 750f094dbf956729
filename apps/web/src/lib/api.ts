import type { PlatformRouter as AppRouter } from "@mcp/router-types";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

export type { AppRouter };

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/* The shapes as they arrive over tRPC (JSON-serialised), for components to type their props. */
export type Org = RouterOutputs["orgs"]["get"];
export type Member = RouterOutputs["orgs"]["members"]["list"]["results"][number];
export type Invitation = RouterOutputs["orgs"]["invitations"]["list"]["results"][number];
export type CreatedInvitation = RouterOutputs["orgs"]["members"]["add"];
export type Environment = RouterOutputs["environments"]["get"];
export type Connection = RouterOutputs["connections"]["get"];
export type ConnectionTest = RouterOutputs["connections"]["test"];
export type SyncOutcome = RouterOutputs["connections"]["sync"];
export type Tool = RouterOutputs["tools"]["get"];
export type Agent = RouterOutputs["agents"]["get"];
export type AgentKey = RouterOutputs["agents"]["keys"]["list"]["results"][number];
export type CreatedAgentKey = RouterOutputs["agents"]["keys"]["create"];
export type ApiToken = RouterOutputs["apiTokens"]["list"]["results"][number];
export type CreatedApiToken = RouterOutputs["apiTokens"]["create"];
export type UserSession = RouterOutputs["auth"]["sessions"]["list"]["results"][number];
export type Policy = RouterOutputs["policies"]["get"];
export type PolicyDecision = RouterOutputs["policies"]["evaluate"];
export type Run = RouterOutputs["runs"]["get"];
export type RunStats = RouterOutputs["runs"]["stats"];
export type AuditEvent = RouterOutputs["audit"]["list"]["results"][number];
export type PlatformUser = RouterOutputs["platform"]["users"]["list"]["results"][number];
export type PlatformOrg = RouterOutputs["platform"]["orgs"]["results"][number];
export type OrgSsoSettings = RouterOutputs["orgs"]["sso"]["get"];

/** A JSON object as tool arguments and policy inputs are typed on the wire. */
export type JsonObject = RouterInputs["tools"]["run"]["input"];

/**
 * Values reach this point from JSON.parse or from the schema form, so they are JSON already; the
 * check keeps the type honest about being an object.
 */
export function asJsonObject(value: unknown): JsonObject | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return value as JsonObject;
}
