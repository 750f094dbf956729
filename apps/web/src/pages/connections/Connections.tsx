import type { Connection, ConnectionTest, SyncOutcome } from "../../lib/api";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { Badge, StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { NEXT_PAGE, PAGE_SIZE, PagedTable, type Column } from "../../components/DataTable";
import { ListPage } from "../../components/ListPage";
import { EmptyState, FormError } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import { formatRelative } from "../../lib/format";
import { nameById, useEnvironments } from "../../lib/queries";
import { trpc } from "../../lib/trpc";
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
  const list = useInfiniteQuery(
    trpc.connections.list.infiniteQueryOptions({ org_id: org.id, limit: PAGE_SIZE }, NEXT_PAGE),
  );
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

  const newButton = (label: string) =>
    isAdmin ? (
      <Button
        variant="primary"
        onClick={() => {
          setCreating(true);
        }}
      >
        {label}
      </Button>
    ) : null;
  const columns: Column<Connection>[] = [
    {
      id: "name",
      header: "Name",
      cell: (connection) => (
        <>
          <Link to={path("connections", connection.id)} className="strong">
            {connection.name}
          </Link>
          <div className="muted small mono">{connection.slug}</div>
        </>
      ),
    },
    {
      id: "status",
      header: "Status",
      cell: (connection) => (
        <span title={connection.last_error ?? undefined}>
          <StatusBadge status={connection.status} />
          {connection.needs_reauthorization ? (
            <>
              {" "}
              <Badge tone="amber">Needs re-authorization</Badge>
            </>
          ) : null}
        </span>
      ),
    },
    {
      id: "transport",
      header: "Transport",
      cell: (connection) => transportLabel(connection.transport),
    },
    {
      id: "target",
      header: "Target",
      className: "mono truncate",
      cell: (connection) => (
        <span title={connectionTarget(connection)}>{connectionTarget(connection)}</span>
      ),
    },
    {
      id: "environment",
      header: "Environment",
      cell: (connection) =>
        connection.environment_id ? (envNames.get(connection.environment_id) ?? "—") : "—",
    },
    {
      id: "synced",
      header: "Last synced",
      cell: (connection) => formatRelative(connection.last_synced_at),
    },
  ];
  if (isAdmin)
    columns.push({
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (connection) => (
        <>
          <Button
            size="sm"
            busy={test.isPending && test.variables.id === connection.id}
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
            busy={sync.isPending && sync.variables.id === connection.id}
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
        </>
      ),
    });

  return (
    <ListPage
      title="Connections"
      description="MCP servers the platform connects to. Test a connection, then sync to import its tools."
      actions={newButton("New connection")}
    >
      <PagedTable
        list={list}
        label="Connections"
        noun="connections"
        columns={columns}
        rowKey={(connection) => connection.id}
        rowDetail={(connection) => {
          const result = results[connection.id];
          if (result?.kind === "test") return <TestResultView result={result.result} />;
          if (result?.kind === "sync") return <SyncResultView result={result.result} />;
          if (result?.kind === "error") return <FormError error={result.error} />;
          if (connection.status === "unhealthy" && connection.last_error)
            return (
              <div className="result result--error">
                <strong>Last error:</strong>{" "}
                <span className="mono wrap">{connection.last_error}</span>
              </div>
            );
          return null;
        }}
        empty={
          <EmptyState title="No connections yet" action={newButton("Add your first MCP server")}>
            {isAdmin
              ? "Register an MCP server over Streamable HTTP, SSE or stdio, then sync to import its tools."
              : "An admin can register MCP servers."}
          </EmptyState>
        }
      />
      {creating ? (
        <ConnectionFormDialog
          connection={null}
          onClose={() => {
            setCreating(false);
          }}
        />
      ) : null}
    </ListPage>
  );
}
