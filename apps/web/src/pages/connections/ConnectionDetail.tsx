import type { ConnectionTest, SyncOutcome } from "../../lib/api";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { Badge, StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { EmptyState, ErrorState, FormError, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { formatDateTime, formatDuration, pretty } from "../../lib/format";
import { nameById, useEnvironments } from "../../lib/queries";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { ConnectionFormDialog, transportLabel } from "./ConnectionForm";
import { SyncResultView, TestResultView } from "./results";
import { useConnectionActions } from "./useConnectionActions";
import { useOAuthCredential } from "./useOAuthCredential";

const AUTH_LABELS = { none: "None", headers: "Secret headers", oauth: "OAuth" } as const;

export default function ConnectionDetail() {
  const { connectionId = "" } = useParams();
  const { org, can, path } = useOrg();
  const navigate = useNavigate();
  const confirm = useConfirm();
  const toast = useToast();
  const connection = useQuery(trpc.connections.get.queryOptions({ id: connectionId }));
  const tools = useQuery(
    trpc.tools.list.queryOptions({ org_id: org.id, connection_id: connectionId, limit: 200 }),
  );
  const environments = useEnvironments(org.id);
  const [editing, setEditing] = useState(false);
  const [testResult, setTestResult] = useState<ConnectionTest | null>(null);
  const [syncResult, setSyncResult] = useState<SyncOutcome | null>(null);
  const { test, sync } = useConnectionActions({
    onTested: (_id, result) => {
      setTestResult(result);
    },
    onSynced: (_id, result) => {
      setSyncResult(result);
    },
  });
  const oauth = useOAuthCredential();
  const isAdmin = can("admin");

  if (connection.isPending) return <Loading />;
  if (connection.isError) {
    return (
      <div className="page">
        <ErrorState error={connection.error} onRetry={() => void connection.refetch()} />
      </div>
    );
  }
  const c = connection.data;
  const envName = c.environment_id
    ? nameById(environments.data?.results).get(c.environment_id)
    : undefined;

  const remove = () => {
    confirm({
      title: `Delete connection “${c.name}”?`,
      body: `Its ${tools.data?.results.length ?? ""} tools are removed with it; agents lose access to them. This cannot be undone.`,
      confirmLabel: "Delete connection",
      typeToConfirm: c.name,
      action: async () => {
        await trpcClient.connections.delete.mutate({ id: c.id });
        await Promise.all([
          queryClient.invalidateQueries(trpc.connections.pathFilter()),
          queryClient.invalidateQueries(trpc.tools.pathFilter()),
        ]);
        toast(`Deleted ${c.name}`);
        await navigate(path("connections"));
      },
    });
  };

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to={path("connections")}>Connections</Link> /{" "}
        <span aria-current="page">{c.name}</span>
      </nav>
      <PageHeader
        title={
          <>
            {c.name} <StatusBadge status={c.status} />{" "}
            {c.needs_reauthorization ? <Badge tone="amber">Needs re-authorization</Badge> : null}
          </>
        }
        description={c.description || undefined}
        actions={
          isAdmin ? (
            <>
              {c.oauth?.credential_mode === "shared" ? (
                <>
                  <Button
                    variant={c.needs_reauthorization ? "primary" : "secondary"}
                    busy={oauth.connect.isPending}
                    onClick={() => {
                      oauth.connect.mutate({ id: c.id, credential: "shared" });
                    }}
                  >
                    Connect
                  </Button>
                  <Button
                    onClick={() => {
                      oauth.disconnect({ id: c.id, name: c.name, credential: "shared" });
                    }}
                  >
                    Disconnect
                  </Button>
                </>
              ) : null}
              <Button
                busy={test.isPending}
                onClick={() => {
                  setSyncResult(null);
                  test.mutate({ id: c.id });
                }}
              >
                Test
              </Button>
              <Button
                busy={sync.isPending}
                onClick={() => {
                  setTestResult(null);
                  sync.mutate({ id: c.id });
                }}
              >
                Sync tools
              </Button>
              <Button
                onClick={() => {
                  setEditing(true);
                }}
              >
                Edit
              </Button>
              <Button variant="danger" onClick={remove}>
                Delete
              </Button>
            </>
          ) : null
        }
      />
      <div className="stack">
        {testResult ? <TestResultView result={testResult} /> : null}
        {syncResult ? <SyncResultView result={syncResult} /> : null}
        <FormError error={test.error ?? sync.error ?? oauth.connect.error} />
        {c.needs_reauthorization ? (
          <div className="alert alert--warning">
            The organization&apos;s OAuth tokens for this server could not be refreshed: an admin
            must Connect again before its tools can be called.
          </div>
        ) : null}
        {c.last_error && !testResult ? (
          <div className="result result--error">
            <strong>Last error</strong>
            <p className="mono wrap">{c.last_error}</p>
          </div>
        ) : null}
      </div>

      <div className="grid grid--2">
        <section className="card" aria-labelledby="config-title">
          <h2 id="config-title">Configuration</h2>
          <dl className="dl">
            <dt>Transport</dt>
            <dd>{transportLabel(c.transport)}</dd>
            {c.transport === "stdio" ? (
              <>
                <dt>Stdio server</dt>
                <dd className="mono">{c.stdio_server ?? "None: edit to pick a declared server"}</dd>
              </>
            ) : (
              <>
                <dt>URL</dt>
                <dd className="mono wrap">{c.url}</dd>
                <dt>Headers</dt>
                <dd>
                  {Object.keys(c.headers).length === 0 ? (
                    "—"
                  ) : (
                    <ul className="plain mono">
                      {Object.entries(c.headers).map(([key, value]) => (
                        <li key={key}>
                          {key}: {value}
                        </li>
                      ))}
                    </ul>
                  )}
                </dd>
              </>
            )}
            <dt>Authentication</dt>
            <dd>
              {AUTH_LABELS[c.auth]}
              {c.oauth ? (
                <>
                  {" · "}
                  {c.oauth.credential_mode === "shared" ? (
                    "one account for the organization"
                  ) : (
                    <>
                      each member connects their own (
                      <Link to={path("my-connections")}>My connections</Link>)
                    </>
                  )}
                  {" · client "}
                  {c.oauth.client_registration === "manual"
                    ? "entered by an admin"
                    : c.oauth.client_registration === "dynamic"
                      ? "registered dynamically"
                      : c.oauth.client_registration === "metadata_document"
                        ? "identified by the platform's metadata document"
                        : "registered at first Connect"}
                  {c.oauth.scope ? (
                    <>
                      {" · scope "}
                      <span className="mono">{c.oauth.scope}</span>
                    </>
                  ) : null}
                </>
              ) : null}
            </dd>
            <dt>Secrets</dt>
            <dd>
              {[...c.secret_keys.headers, ...c.secret_keys.env].length === 0 ? (
                "None"
              ) : (
                <span className="chips">
                  {[...c.secret_keys.headers, ...c.secret_keys.env].map((key) => (
                    <Badge key={key} tone="violet">
                      {key}: set
                    </Badge>
                  ))}
                </span>
              )}
            </dd>
            <dt>Timeout</dt>
            <dd>{formatDuration(c.timeout_ms)}</dd>
            <dt>Environment</dt>
            <dd>{envName ?? "—"}</dd>
            <dt>Slug</dt>
            <dd className="mono">{c.slug}</dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="server-title">
          <h2 id="server-title">Server</h2>
          <dl className="dl">
            <dt>Last tested</dt>
            <dd>{formatDateTime(c.last_tested_at)}</dd>
            <dt>Last synced</dt>
            <dd>{formatDateTime(c.last_synced_at)}</dd>
            <dt>Created</dt>
            <dd>{formatDateTime(c.created_at)}</dd>
          </dl>
          {c.server_info ? (
            <details>
              <summary>Server info</summary>
              <pre className="code">{pretty(c.server_info)}</pre>
            </details>
          ) : (
            <p className="muted">Test the connection to see what the server reports.</p>
          )}
        </section>
      </div>

      <section className="card card--flush" aria-labelledby="tools-title">
        <div className="card__header">
          <h2 id="tools-title">Tools</h2>
          <Link to={`${path("tools")}?connection=${c.id}`}>Manage in Tools →</Link>
        </div>
        {tools.isPending ? (
          <Loading />
        ) : tools.isError ? (
          <ErrorState error={tools.error} onRetry={() => void tools.refetch()} />
        ) : tools.data.results.length === 0 ? (
          <EmptyState title="No tools yet">
            {isAdmin ? "Sync the connection to import its tools." : "Nothing synced yet."}
          </EmptyState>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Upstream name</th>
                <th scope="col">Description</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {tools.data.results.map((tool) => (
                <tr key={tool.id}>
                  <td className="mono strong">{tool.name}</td>
                  <td className="mono muted">{tool.upstream_name}</td>
                  <td className="muted truncate" title={tool.description}>
                    {tool.description || "—"}
                  </td>
                  <td>
                    <StatusBadge status={tool.enabled ? "enabled" : "disabled"} />{" "}
                    {tool.stale ? <StatusBadge status="stale" /> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {editing ? (
        <ConnectionFormDialog
          connection={c}
          onClose={() => {
            setEditing(false);
          }}
        />
      ) : null}
    </div>
  );
}
