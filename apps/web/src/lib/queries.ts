import { useQuery } from "@tanstack/react-query";
import { trpc } from "./trpc";

/*
 * Lookup lists for pickers and for showing names instead of ids. One page of 200 covers real
 * organizations; screens that list these resources page through them properly.
 */
const LOOKUP = 200;

export function useEnvironments(orgId: string) {
  return useQuery(trpc.environments.list.queryOptions({ org_id: orgId, limit: LOOKUP }));
}

export function useConnections(orgId: string) {
  return useQuery(trpc.connections.list.queryOptions({ org_id: orgId, limit: LOOKUP }));
}

export function useStdioServers(orgId: string) {
  return useQuery(trpc.connections.stdioServers.queryOptions({ org_id: orgId }));
}

export function useAgents(orgId: string) {
  return useQuery(trpc.agents.list.queryOptions({ org_id: orgId, limit: LOOKUP }));
}

export function useTools(orgId: string) {
  return useQuery(trpc.tools.list.queryOptions({ org_id: orgId, limit: LOOKUP }));
}

export function nameById(
  items: readonly { id: string; name: string }[] | undefined,
): Map<string, string> {
  return new Map((items ?? []).map((item) => [item.id, item.name]));
}

export function useMembers(orgId: string) {
  return useQuery(trpc.orgs.members.list.queryOptions({ org_id: orgId, limit: LOOKUP }));
}

/** A member's name as people read it: first and last name, or the email when there is none. */
export function personName(person: { first_name: string; last_name: string; email: string }) {
  return [person.first_name, person.last_name].filter(Boolean).join(" ") || person.email;
}
