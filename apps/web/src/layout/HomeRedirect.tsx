import { useQuery } from "@tanstack/react-query";
import { Navigate, useLocation } from "react-router";
import { ErrorState, Loading } from "../components/States";
import { trpc } from "../lib/trpc";

const LAST_ORG_KEY = "mcpa:last-org";

export function rememberOrg(orgId: string): void {
  try {
    localStorage.setItem(LAST_ORG_KEY, orgId);
  } catch {
    // Storage can be unavailable (private mode); the first org is a fine default then.
  }
}

function lastOrg(): string | null {
  try {
    return localStorage.getItem(LAST_ORG_KEY);
  } catch {
    return null;
  }
}

/**
 * Sends the browser into an organization: the last one used, else the first. `page` is the page
 * inside it, with this URL's query kept (the OAuth callback's `/my-connections?oauth=…` carries no
 * org).
 */
export function HomeRedirect({ page = "overview" }: { page?: string }) {
  const { search } = useLocation();
  const orgs = useQuery(trpc.orgs.list.queryOptions({ limit: 200 }));
  if (orgs.isPending) return <Loading />;
  if (orgs.isError) {
    return (
      <div className="page">
        <ErrorState error={orgs.error} onRetry={() => void orgs.refetch()} />
      </div>
    );
  }
  const remembered = lastOrg();
  const target = orgs.data.results.find((org) => org.id === remembered) ?? orgs.data.results[0];
  if (!target) return <Navigate to="/orgs/new" replace />;
  return <Navigate to={`/orgs/${target.id}/${page}${page === "overview" ? "" : search}`} replace />;
}
