import type { Run } from "./api";

const SURFACES: Record<string, string> = {
  trpc: "the admin UI",
  rest: "the REST API",
  mcp: "the MCP gateway",
};

/** "Ada Admin via the admin UI", "Support bot via the MCP gateway": who started a run, and where. */
export function describeTrigger(
  run: Pick<Run, "user_id" | "agent_id" | "triggered_by">,
  people: ReadonlyMap<string, string>,
  agents: ReadonlyMap<string, string>,
): string {
  const agent = run.agent_id ? (agents.get(run.agent_id) ?? "a deleted agent") : null;
  const person = run.user_id ? (people.get(run.user_id) ?? "a former member") : null;
  const who = person && agent ? `${person} as ${agent}` : (person ?? agent ?? "Someone");
  const surface = run.triggered_by.surface;
  const where = typeof surface === "string" ? SURFACES[surface] : undefined;
  return where ? `${who} via ${where}` : who;
}
