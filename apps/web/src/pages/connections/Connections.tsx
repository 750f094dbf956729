import type { Connection, ConnectionTest, SyncOutcome } from "../../lib/api";
import { Fragment, useState } from "react";
import { Link } from "react-router";
import { StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { EmptyState, ErrorState, FormError, Loading, PageHeader } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import { formatRelative } from "../../lib/format";
import { nameById, useConnections, useEnvironments } from "../../lib/queries";
import { ConnectionFormDialog, transportLabel } from "./ConnectionForm";
import { SyncResultView, TestResultView } from "./results";
import { useConnectionActions } from "./useConnectionActions";

type RowResult =
  | { kind: "test"; result: ConnectionTest }
  | { kind: "sync"; result: SyncOutcome }
  | { kind: "error"; error: unknown };

export function connectionTarget(connection: Connection): string {
  if (connection.transport === "stdio") return `stdio: ${connection.stdio_server ?? "none"}`;
  return connection.url ?? "";
}

export default function Connections() {
  const { org, can, path } = useOrg();
  const list = useConnections(org.id);
  const environments = useEnvironments(org.id);
  const envNames = nameById(environments.data?.results);
  const [creating, setCreating] = useState(false);
  const [results, setResults] = useState<Record<string, RowResult>>({});
  const record = (id: string, result: RowResult) => {
    setResults((current) => ({ ...current, [id]: result }));
  };
  const { test, sync } = useConnectionActions({
    onTested: (id, result) => {
      record(id, { kind: "test", result });
    },
    onSynced: (id, result) => {
      record(id, { kind: "sync", result });
    },
  });
  const isAdmin = can("admin");

  return (
    <div className="page">
      <PageHeader
        title="Connections"
        description="MCP servers the platform connects to. Test a connection, then sync to import its tools."
        actions={
          isAdmin ? (
            <Button
              variant="primary"
              onClick={() => {
                setCreating(true);
              }}
            >
              New connection
            </Button>
          ) : null
        }
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.results.length === 0 ? (
        <EmptyState
          title="No connections yet"
          action={
            isAdmin ? (
              <Button
                variant="primary"
                onClick={() => {
                  setCreating(true);
                }}
              >
                Add your first MCP server
              </Button>
            ) : null
          }
        >
          {isAdmin
            ? "Register an MCP server over Streamable HTTP, SSE or stdio."
            : "An admin can register MCP servers."}
        </EmptyState>
      ) : (
        <div className="card card--flush">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Transport</th>
                <th scope="col">Target</th>
                <th scope="col">Environment</th>
                <th scope="col">Last synced</th>
                {isAdmin ? (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.results.map((connection) => {
                const result = results[connection.id];
                const testing = test.isPending && test.variables.id === connection.id;
                const syncing = sync.isPending && sync.variables.id === connection.id;
                return (
                  <Fragment key={connection.id}>
                    <tr>
                      <td>
                        <Link to={path("connections", connection.id)} className="strong">
                          {connection.name}
                        </Link>
                        <div className="muted small mono">{connection.slug}</div>
                      </td>
                      <td>
                        <span title={connection.last_error ?? undefined}>
                          <StatusBadge status={connection.status} />
                        </span>
                      </td>
                      <td>{transportLabel(connection.transport)}</td>
                      <td className="mono truncate" title={connectionTarget(connection)}>
                        {connectionTarget(connection)}
                      </td>
                      <td>
                        {connection.environment_id
                          ? (envNames.get(connection.environment_id) ?? "—")
                          : "—"}
                      </td>
                      <td>{formatRelative(connection.last_synced_at)}</td>
                      {isAdmin ? (
                        <td className="table__actions">
                          <Button
                            size="sm"
                            busy={testing}
                            aria-label={`Test ${connection.name}`}
                            onClick={() => {
                              test.mutate(
                                { id: connection.id },
                                {
                                  onError: (error) => {
                                    record(connection.id, { kind: "error", error });
                                  },
                                },
                              );
                            }}
                          >
                            Test
                          </Button>
                          <Button
                            size="sm"
                            busy={syncing}
                            aria-label={`Sync ${connection.name}`}
                            onClick={() => {
                              sync.mutate(
                                { id: connection.id },
                                {
                                  onError: (error) => {
                                    record(connection.id, { kind: "error", error });
                                  },
                                },
                              );
                            }}
                          >
                            Sync
                          </Button>
                        </td>
                      ) : null}
                    </tr>
                    {result || (connection.status === "unhealthy" && connection.last_error) ? (
                      <tr className="table__detail">
                        <td colSpan={isAdmin ? 7 : 6}>
                          {result?.kind === "test" ? (
                            <TestResultView result={result.result} />
                          ) : result?.kind === "sync" ? (
                            <SyncResultView result={result.result} />
                          ) : result?.kind === "error" ? (
                            <FormError error={result.error} />
                          ) : (
                            <div className="result result--error">
                              <strong>Last error:</strong>{" "}
                              <span className="mono wrap">{connection.last_error}</span>
                            </div>
                          )}
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {creating ? (
        <ConnectionFormDialog
          connection={null}
          onClose={() => {
            setCreating(false);
          }}
        />
      ) : null}
    </div>
  );
}
