import { useQuery } from "@tanstack/react-query";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { EmptyState, ErrorState, Loading } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { Agent, RouterOutputs } from "../../lib/api";
import { formatDateTime, formatRelative } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

type Grant = RouterOutputs["agents"]["oauthClients"]["list"]["results"][number];

function personName(person: Grant["approved_by"]): string {
  const name = `${person.first_name} ${person.last_name}`.trim();
  return name === "" ? person.email : name;
}

/**
 * The MCP clients people connected to this agent by OAuth, who approved each, and a revoke that
 * stops the client's tokens on its next request.
 */
export function AuthorizedClients({ agent }: { agent: Agent }) {
  const { can } = useOrg();
  const confirm = useConfirm();
  const toast = useToast();
  const grants = useQuery(trpc.agents.oauthClients.list.queryOptions({ id: agent.id, limit: 200 }));
  const isAdmin = can("admin");

  const revoke = (grant: Grant) => {
    const client = grant.client_name ?? grant.client_id;
    confirm({
      title: `Revoke ${client}?`,
      body: `${client} can no longer act as ${agent.name}; someone must approve it again to reconnect.`,
      confirmLabel: "Revoke access",
      action: async () => {
        await trpcClient.agents.oauthClients.revoke.mutate({ id: agent.id, grant_id: grant.id });
        await queryClient.invalidateQueries(trpc.agents.oauthClients.pathFilter());
        toast(`Revoked ${client}`);
      },
    });
  };

  return (
    <section className="card card--flush" aria-labelledby="oauth-clients-title">
      <div className="card__header">
        <h2 id="oauth-clients-title">Authorized clients</h2>
      </div>
      {grants.isPending ? (
        <Loading />
      ) : grants.isError ? (
        <ErrorState error={grants.error} onRetry={() => void grants.refetch()} />
      ) : grants.data.results.length === 0 ? (
        <EmptyState title="No OAuth clients">
          Point an MCP client that supports OAuth (Claude, Cursor, VS Code, …) at this agent&apos;s
          MCP URL without a key: it asks someone to sign in and approve it here.
        </EmptyState>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Client</th>
              <th scope="col">Approved by</th>
              <th scope="col">Approved</th>
              <th scope="col">Last used</th>
              {isAdmin ? (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {grants.data.results.map((grant) => (
              <tr key={grant.id}>
                <td>
                  <div className="strong">{grant.client_name ?? "Unnamed client"}</div>
                  <div className="mono small muted">{grant.client_id}</div>
                </td>
                <td title={grant.approved_by.email}>{personName(grant.approved_by)}</td>
                <td>{formatDateTime(grant.created_at)}</td>
                <td>{formatRelative(grant.last_used_at)}</td>
                {isAdmin ? (
                  <td className="table__actions">
                    <Button
                      size="sm"
                      variant="ghost"
                      className="text-danger"
                      aria-label={`Revoke ${grant.client_name ?? grant.client_id}`}
                      onClick={() => {
                        revoke(grant);
                      }}
                    >
                      Revoke
                    </Button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
