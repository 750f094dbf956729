import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import type { Agent, Connection, Environment, Member, Tool } from "./api";
import { trpc } from "./trpc";

/*
 * Lookup lists for pickers and for showing names instead of ids: every page, fetched 200 at a
 * time, so the 201st agent is in the picker too.
 */
const LOOKUP = 200;
const NEXT = {
  getNextPageParam: (page: { next_cursor: string | null }) => page.next_cursor ?? undefined,
};

function useEveryPage<Row>(query: {
  data: { pages: readonly { results: Row[] }[] } | undefined;
  error: unknown;
  isError: boolean;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => Promise<unknown>;
  refetch: () => Promise<unknown>;
}) {
  const { hasNextPage, isFetchingNextPage, fetchNextPage, isError } = query;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && !isError) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, isError, fetchNextPage]);
  return {
    data: query.data ? { results: query.data.pages.flatMap((page) => page.results) } : undefined,
    isPending: query.data === undefined && !query.isError,
    isError: query.isError,
    error: query.error,
    refetch: query.refetch,
  };
}

export function useEnvironments(orgId: string) {
  return useEveryPage<Environment>(
    useInfiniteQuery(
      trpc.environments.list.infiniteQueryOptions({ org_id: orgId, limit: LOOKUP }, NEXT),
    ),
  );
}

export function useConnections(orgId: string) {
  return useEveryPage<Connection>(
    useInfiniteQuery(
      trpc.connections.list.infiniteQueryOptions({ org_id: orgId, limit: LOOKUP }, NEXT),
    ),
  );
}

export function useStdioServers(orgId: string) {
  return useQuery(trpc.connections.stdioServers.queryOptions({ org_id: orgId }));
}

export function useAgents(orgId: string) {
  return useEveryPage<Agent>(
    useInfiniteQuery(trpc.agents.list.infiniteQueryOptions({ org_id: orgId, limit: LOOKUP }, NEXT)),
  );
}

export function useTools(orgId: string) {
  return useEveryPage<Tool>(
    useInfiniteQuery(trpc.tools.list.infiniteQueryOptions({ org_id: orgId, limit: LOOKUP }, NEXT)),
  );
}

export function nameById(
  items: readonly { id: string; name: string }[] | undefined,
): Map<string, string> {
  return new Map((items ?? []).map((item) => [item.id, item.name]));
}

export function useMembers(orgId: string) {
  return useEveryPage<Member>(
    useInfiniteQuery(
      trpc.orgs.members.list.infiniteQueryOptions({ org_id: orgId, limit: LOOKUP }, NEXT),
    ),
  );
}

/** A member's name as people read it: first and last name, or the email when there is none. */
export function personName(person: { first_name: string; last_name: string; email: string }) {
  return [person.first_name, person.last_name].filter(Boolean).join(" ") || person.email;
}

/** Members' names by user id, for showing who did something. */
export function usePeopleNames(orgId: string): ReadonlyMap<string, string> {
  const members = useMembers(orgId);
  return new Map(
    (members.data?.results ?? []).map((member) => [member.user_id, personName(member)]),
  );
}
