import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { PlatformRouter } from "./generated/router";

/** Input of every procedure, e.g. `RouterInputs["connections"]["create"]`. */
export type RouterInputs = inferRouterInputs<PlatformRouter>;
/** Output of every procedure, e.g. `RouterOutputs["tools"]["run"]`. */
export type RouterOutputs = inferRouterOutputs<PlatformRouter>;

export type User = RouterOutputs["auth"]["me"];
export type AuthResult = RouterOutputs["auth"]["login"];
export type Org = RouterOutputs["orgs"]["get"];
export type OrgRole = Org["role"];
export type Member = RouterOutputs["orgs"]["members"]["list"]["results"][number];
export type Environment = RouterOutputs["environments"]["get"];
export type Connection = RouterOutputs["connections"]["get"];
export type ConnectionTestResult = RouterOutputs["connections"]["test"];
export type SyncResult = RouterOutputs["connections"]["sync"];
export type Tool = RouterOutputs["tools"]["get"];
export type Agent = RouterOutputs["agents"]["get"];
export type AgentKey = RouterOutputs["agents"]["keys"]["list"]["results"][number];
export type CreatedAgentKey = RouterOutputs["agents"]["keys"]["create"];
export type Policy = RouterOutputs["policies"]["get"];
export type PolicyDecision = RouterOutputs["policies"]["evaluate"];
export type Run = RouterOutputs["runs"]["get"];
export type RunStatus = Run["status"];
export type RunStats = RouterOutputs["runs"]["stats"];
export type AuditEvent = RouterOutputs["audit"]["list"]["results"][number];

/** The shape of every list endpoint: a page of results and the cursor of the next one. */
export interface Page<T> {
  results: T[];
  next_cursor: string | null;
}
