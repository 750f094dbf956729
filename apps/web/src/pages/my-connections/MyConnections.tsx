import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { Badge, type Tone } from "../../components/Badge";
import { Button } from "../../components/Button";
import { DataTable, type Column } from "../../components/DataTable";
import { ListPage } from "../../components/ListPage";
import { EmptyState, ErrorState, FormError, Loading } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import type { RouterOutputs } from "../../lib/api";
import { trpc } from "../../lib/trpc";
import { useOAuthCredential } from "../connections/useOAuthCredential";

type MyConnection = RouterOutputs["connections"]["mine"]["results"][number];

const STATUS: Record<MyConnection["status"], { label: string; tone: Tone }> = {
  connected: { label: "Connected", tone: "green" },
  needs_reauthorization: { label: "Needs re-authorization", tone: "amber" },
  not_connected: { label: "Not connected", tone: "neutral" },
};

/** What the platform's OAuth callback reported (`?oauth=connected|error&message=…`). */
function CallbackOutcome({ connections }: { connections: readonly MyConnection[] | undefined }) {
  const [params] = useSearchParams();
  const outcome = params.get("oauth");
  if (outcome === "connected") {
    const connected = connections?.find(
      (connection) => connection.connection_id === params.get("connection_id"),
    );
    return (
      <div className="alert alert--success" role="status">
        {connected ? `Connected ${connected.name}.` : "Connected."} Its tools can now be called with
        this account.
      </div>
    );
  }
  if (outcome === "error") {
    return (
      <div className="alert alert--error" role="alert">
        Could not connect: {params.get("message") ?? "the authorization did not complete"}.
      </div>
    );
  }
  return null;
}

export default function MyConnections() {
  const { org, can, path } = useOrg();
  const list = useQuery(trpc.connections.mine.queryOptions({ org_id: org.id }));
  const oauth = useOAuthCredential();

  const mayConnect = (connection: MyConnection) =>
    connection.credential_mode === "shared" ? can("admin") : can("member");

  const columns: Column<MyConnection>[] = [
    {
      id: "name",
      header: "Connection",
      cell: (connection) => (
        <>
          <Link to={path("connections", connection.connection_id)}>{connection.name}</Link>
          {connection.url ? <div className="muted small mono">{connection.url}</div> : null}
        </>
      ),
    },
    {
      id: "credential",
      header: "Account",
      cell: (connection) =>
        connection.credential_mode === "shared" ? "The organization's (shared)" : "Your own",
    },
    {
      id: "status",
      header: "Status",
      cell: (connection) => (
        <Badge tone={STATUS[connection.status].tone}>{STATUS[connection.status].label}</Badge>
      ),
    },
    {
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (connection) =>
        mayConnect(connection) ? (
          <>
            <Button
              size="sm"
              variant={connection.status === "connected" ? "secondary" : "primary"}
              busy={
                oauth.connect.isPending && oauth.connect.variables.id === connection.connection_id
              }
              aria-label={`${connection.status === "not_connected" ? "Connect" : "Reconnect"} ${connection.name}`}
              onClick={() => {
                oauth.connect.mutate({
                  id: connection.connection_id,
                  credential: connection.credential_mode,
                });
              }}
            >
              {connection.status === "not_connected" ? "Connect" : "Reconnect"}
            </Button>
            {connection.status !== "not_connected" ? (
              <Button
                size="sm"
                aria-label={`Disconnect ${connection.name}`}
                onClick={() => {
                  oauth.disconnect({
                    id: connection.connection_id,
                    name: connection.name,
                    credential: connection.credential_mode,
                  });
                }}
              >
                Disconnect
              </Button>
            ) : null}
          </>
        ) : (
          <span className="muted small">An admin connects this one</span>
        ),
    },
  ];

  return (
    <ListPage
      title="My connections"
      description="The OAuth-protected servers of this organization and whether the account each one uses for you is connected."
    >
      <CallbackOutcome connections={list.data?.results} />
      <FormError error={oauth.connect.error} />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.results.length === 0 ? (
        <EmptyState title="No OAuth connections">
          {can("admin")
            ? "Set a connection's authentication to OAuth to have it listed here."
            : "None of this organization's connections use OAuth."}
        </EmptyState>
      ) : (
        <DataTable
          label="My connections"
          columns={columns}
          rows={list.data.results}
          rowKey={(connection) => connection.connection_id}
        />
      )}
    </ListPage>
  );
}
