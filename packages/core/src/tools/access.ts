import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { policies } from "../db/schema";
import { listAgents } from "../agents/agents";
import { getConnection } from "../connections/connections";
import type { Page, PageRequest } from "../lib/pagination";
import { ORG_ROLES, roleAtLeast, type OrgRole } from "../orgs/roles";
import {
  evaluatePolicies,
  isUnconditional,
  policyScopeCovers,
  type JsonValidate,
  type MatchedPolicy,
  type PolicyCall,
  type PolicyRule,
} from "../policies/evaluate";
import { callEnvironment } from "../runs/orchestrator";
import { getTool } from "./tools";

/*
 * Who may call a tool: the policy engine's own decision for each agent of the org, and for people
 * by role, as the gateway and REST runs would make it. A decision can hinge on the call's input
 * (policies with input schemas): access is decided for an input that every such schema accepts,
 * so a conditional deny shows as a deny, and `input_dependent` says real calls may differ.
 */

export type AccessVerdict = "allow" | "deny" | "require_approval" | "no_policy";

export interface ToolAccessDecision {
  /** `no_policy`: no policy applies, so calls are denied by default. */
  decision: AccessVerdict;
  /** The policy that decides: the first deny, the strictest require_approval, else the first allow. */
  policy: { id: string; name: string } | null;
  /** Some policy that applies has an input schema: a call's input may decide otherwise. */
  input_dependent: boolean;
  reason: string;
  matched: MatchedPolicy[];
}

export interface AgentToolAccess extends ToolAccessDecision {
  agent_id: string;
  agent_name: string;
  agent_status: "active" | "disabled";
  /** The environment the agent's calls run in, whose policies apply (the agent's, else the tool's connection's). */
  environment_id: string | null;
}

export interface ToolAccess extends Page<AgentToolAccess> {
  people: {
    /** The environment people's calls of this tool run in: its connection's. */
    environment_id: string | null;
    /**
     * A member (or an API token) with each role that may run tools, who has no policy of their own
     * for this tool.
     */
    roles: (ToolAccessDecision & { role: OrgRole })[];
    /** The enabled user, role and everyone policies whose pattern and environment cover this tool. */
    policies: {
      id: string;
      name: string;
      effect: PolicyRule["effect"];
      subject: PolicyRule["subject"];
      user_id: string | null;
      min_role: OrgRole | null;
      environment_id: string | null;
      input_dependent: boolean;
    }[];
  };
}

/** Every input schema accepts the input: the call as strict as any policy's schema can make it. */
const ACCEPT_EVERY_INPUT: JsonValidate = () => ({ valid: true });

function accessOf(rules: readonly PolicyRule[], call: PolicyCall): ToolAccessDecision {
  const decision = evaluatePolicies(rules, call, ACCEPT_EVERY_INPUT);
  const byId = new Map(rules.map((rule) => [rule.id, rule]));
  const named = (id: string | undefined) => {
    const rule = id === undefined ? undefined : byId.get(id);
    return rule ? { id: rule.id, name: rule.name } : null;
  };
  const [verdict, policy]: [AccessVerdict, ToolAccessDecision["policy"]] =
    decision.deny_policies.length > 0
      ? ["deny", named(decision.deny_policies[0])]
      : decision.approval
        ? ["require_approval", named(decision.approval.policy_id)]
        : decision.allowed
          ? ["allow", named(decision.allow_policies[0])]
          : ["no_policy", null];
  return {
    decision: verdict,
    policy,
    input_dependent: decision.matched.some(
      (match) => !isUnconditional(byId.get(match.policy_id)?.input_schema ?? null),
    ),
    reason: decision.reason,
    matched: decision.matched,
  };
}

/**
 * Who may call the tool: one page of the org's agents (in id order) with the decision for each,
 * and the people's side (by role, and the people policies that cover the tool).
 */
export async function toolAccess(
  db: Db,
  input: PageRequest & { orgId: string; toolId: string },
): Promise<ToolAccess> {
  const tool = await getTool(db, { orgId: input.orgId, id: input.toolId });
  const [connection, page, rules] = await Promise.all([
    getConnection(db, { orgId: input.orgId, id: tool.connection_id }),
    listAgents(db, { orgId: input.orgId, limit: input.limit, cursor: input.cursor }),
    db
      .select()
      .from(policies)
      .where(
        and(
          eq(policies.org_id, input.orgId),
          eq(policies.enabled, true),
          eq(policies.target, "tool"),
        ),
      )
      .orderBy(asc(policies.id)),
  ]);
  const target = { tool: { id: tool.id, name: tool.name } };
  // Only the policies whose pattern names this tool (in whichever environment) can decide anything
  // about it; evaluation checks their subjects and environments per caller.
  const covering = rules.filter((rule) =>
    policyScopeCovers(rule, { ...target, environment_id: rule.environment_id }),
  );
  const peopleEnvironment = callEnvironment(null, connection);
  return {
    results: page.results.map((agent) => ({
      agent_id: agent.id,
      agent_name: agent.name,
      agent_status: agent.status,
      environment_id: callEnvironment(agent, connection),
      ...accessOf(covering, {
        ...target,
        agent_id: agent.id,
        environment_id: callEnvironment(agent, connection),
        input: null,
      }),
    })),
    next_cursor: page.next_cursor,
    people: {
      environment_id: peopleEnvironment,
      // Viewers run nothing, whatever the policies say.
      roles: ORG_ROLES.filter((role) => roleAtLeast(role, "member")).map((role) => ({
        role,
        ...accessOf(covering, {
          ...target,
          agent_id: null,
          person: { user_id: null, role },
          environment_id: peopleEnvironment,
          input: null,
        }),
      })),
      policies: covering
        .filter(
          (rule) =>
            rule.subject !== "agent" &&
            policyScopeCovers(rule, { ...target, environment_id: peopleEnvironment }),
        )
        .map((rule) => ({
          id: rule.id,
          name: rule.name,
          effect: rule.effect,
          subject: rule.subject,
          user_id: rule.user_id,
          min_role: rule.min_role,
          environment_id: rule.environment_id,
          input_dependent: !isUnconditional(rule.input_schema),
        })),
    },
  };
}
