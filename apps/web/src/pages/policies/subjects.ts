import type { POLICY_SUBJECTS } from "@mcp/api/contracts";
import type { Policy } from "../../lib/api";

export type Subject = (typeof POLICY_SUBJECTS)[number];

export const SUBJECT_LABELS: Record<Subject, string> = {
  agent: "Agents",
  user: "A member",
  role: "Members with a role",
  everyone: "Everyone (agents and people)",
};

/** Whom a policy covers, in a few words: the agent, member or role by name. */
export function subjectText(
  policy: Pick<Policy, "subject" | "agent_id" | "user_id" | "min_role">,
  names: { agents: Map<string, string>; members: Map<string, string> },
): string {
  switch (policy.subject) {
    case "agent":
      return policy.agent_id
        ? `Agent ${names.agents.get(policy.agent_id) ?? "(deleted)"}`
        : "Any agent";
    case "user":
      return policy.user_id
        ? `Member ${names.members.get(policy.user_id) ?? "(unknown)"}`
        : "Member (unknown)";
    case "role":
      return `Members with ${policy.min_role ?? "?"} or higher`;
    case "everyone":
      return "Everyone (agents and people)";
  }
}
