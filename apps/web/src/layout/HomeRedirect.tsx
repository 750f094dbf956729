import { useQuery } from "@tanstack/react-query";
import { Navigate } from "react-router";
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

export function HomeRedirect() {
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
  return <Navigate to={`/orgs/${target.id}/overview`} replace />;
}
