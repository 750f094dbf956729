import { AGENT_KEY_PLACEHOLDER, createAgentKeyInput } from "@mcp/api/contracts";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { Badge, StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { CopyButton } from "../../components/CopyButton";
import { Dialog } from "../../components/Dialog";
import { TextField } from "../../components/Field";
import { EmptyState, ErrorState, FormError, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { Agent, CreatedAgentKey } from "../../lib/api";
import { absoluteUrl, CLIENT_SNIPPETS } from "../../lib/client-config";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { formatDateTime, formatRelative } from "../../lib/format";
import { nameById, personName, useEnvironments, useMembers } from "../../lib/queries";
import { useMe } from "../../layout/AuthGate";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { AgentFormDialog } from "./AgentForm";
import { AuthorizedClients } from "./AuthorizedClients";
import { useAgentStatusToggle, useDeleteAgent } from "./Agents";

export default function AgentDetail() {
  const { agentId = "" } = useParams();
  const { org, can, path } = useOrg();
  const navigate = useNavigate();
  const agent = useQuery(trpc.agents.get.queryOptions({ id: agentId }));
  const environments = useEnvironments(org.id);
  const [editing, setEditing] = useState(false);
  const [creatingKey, setCreatingKey] = useState(false);
  // The one moment the full key exists in the browser: kept to fill in the snippets, never stored.
  const [newKey, setNewKey] = useState<CreatedAgentKey | null>(null);
  const toggle = useAgentStatusToggle();
  const remove = useDeleteAgent();
  const isAdmin = can("admin");

  if (agent.isPending) return <Loading />;
  if (agent.isError) {
    return (
      <div className="page">
        <ErrorState error={agent.error} onRetry={() => void agent.refetch()} />
      </div>
    );
  }
  const a = agent.data;
  const envName = a.environment_id
    ? nameById(environments.data?.results).get(a.environment_id)
    : undefined;

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to={path("agents")}>Agents</Link> / <span aria-current="page">{a.name}</span>
      </nav>
      <PageHeader
        title={
          <>
            {a.name} <StatusBadge status={a.status} />
          </>
        }
        description={a.description || undefined}
        actions={
          isAdmin ? (
            <>
              <Button
                busy={toggle.isPending}
                onClick={() => {
                  toggle.mutate({
                    id: a.id,
                    status: a.status === "active" ? "disabled" : "active",
                  });
                }}
              >
                {a.status === "active" ? "Disable" : "Enable"}
              </Button>
              <Button
                onClick={() => {
                  setEditing(true);
                }}
              >
                Edit
              </Button>
              <Button
                variant="danger"
                onClick={() => {
                  remove(a, async () => {
                    await navigate(path("agents"));
                  });
                }}
              >
                Delete
              </Button>
            </>
          ) : null
        }
      />
      {a.status === "disabled" ? (
        <div className="alert alert--warning">
          This agent is disabled: its keys are refused until it is enabled again.
        </div>
      ) : null}

      <div className="grid grid--2">
        <Connect agent={a} keyValue={newKey?.key ?? null} />
        <section className="card" aria-labelledby="agent-details-title">
          <h2 id="agent-details-title">Details</h2>
          <dl className="dl">
            <dt>Environment</dt>
            <dd>{envName ?? "Any"}</dd>
            <dt>Created</dt>
            <dd>{formatDateTime(a.created_at)}</dd>
            <dt>Updated</dt>
            <dd>{formatDateTime(a.updated_at)}</dd>
            <dt>Runs as</dt>
            <dd>
              <RunsAs agent={a} />
            </dd>
            <dt>Policies</dt>
            <dd>
              <Link to={path("policies")}>Manage policies →</Link>
            </dd>
            <dt>Runs</dt>
            <dd>
              <Link to={`${path("runs")}?agent=${a.id}`}>This agent&apos;s runs →</Link>
            </dd>
          </dl>
        </section>
      </div>

      <Keys
        agent={a}
        onCreate={() => {
          setCreatingKey(true);
        }}
      />
      <AuthorizedClients agent={a} />

      {editing ? (
        <AgentFormDialog
          agent={a}
          onClose={() => {
            setEditing(false);
          }}
        />
      ) : null}
      {creatingKey ? (
        <CreateKeyDialog
          agent={a}
          onCreated={setNewKey}
          onClose={() => {
            setCreatingKey(false);
          }}
        />
      ) : null}
    </div>
  );
}

type SnippetId = (typeof CLIENT_SNIPPETS)[number]["id"];

function Connect({ agent, keyValue }: { agent: Agent; keyValue: string | null }) {
  const [format, setFormat] = useState<SnippetId>("json");
  const url = absoluteUrl(agent.mcp_url, window.location.origin);
  const key = keyValue ?? AGENT_KEY_PLACEHOLDER;
  const current = CLIENT_SNIPPETS.find((option) => option.id === format) ?? CLIENT_SNIPPETS[0];
  const snippet = current.render(agent.name, url, key);
  return (
    <section className="card" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect a client</h2>
      <div className="field">
        <span className="field__label" id="mcp-url-label">
          MCP endpoint (Streamable HTTP)
        </span>
        <div className="copy-row">
          <code className="code code--inline" aria-labelledby="mcp-url-label" data-testid="mcp-url">
            {url}
          </code>
          <CopyButton text={url} label="Copy URL" />
        </div>
        <p className="field__hint">
          Speaks MCP over Streamable HTTP with the agent&apos;s key as a bearer token.{" "}
          <a href="/api/docs" target="_blank" rel="noreferrer">
            API reference
          </a>{" "}
          ·{" "}
          <a
            href="https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#streamable-http"
            target="_blank"
            rel="noreferrer"
          >
            MCP endpoint protocol
          </a>
        </p>
      </div>
      <div className="tabs tabs--wrap" role="tablist" aria-label="Client">
        {CLIENT_SNIPPETS.map((option, index) => (
          <button
            key={option.id}
            id={`snippet-tab-${option.id}`}
            type="button"
            role="tab"
            aria-selected={format === option.id}
            aria-controls="snippet-panel"
            // Roving tabindex: Tab reaches the selected tab, the arrow keys move between tabs.
            tabIndex={format === option.id ? 0 : -1}
            className={`tab ${format === option.id ? "tab--active" : ""}`}
            onClick={() => {
              setFormat(option.id);
            }}
            onKeyDown={(event) => {
              if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
              event.preventDefault();
              const step = event.key === "ArrowRight" ? 1 : -1;
              const next =
                CLIENT_SNIPPETS[(index + step + CLIENT_SNIPPETS.length) % CLIENT_SNIPPETS.length];
              if (!next) return;
              setFormat(next.id);
              document.getElementById(`snippet-tab-${next.id}`)?.focus();
            }}
          >
            {option.label}
          </button>
        ))}
      </div>
      <p className="muted small">{current.where}</p>
      <pre
        id="snippet-panel"
        className="code code--wrap"
        role="tabpanel"
        tabIndex={0}
        aria-label={
          format === "json" ? "MCP client configuration" : `${current.label} configuration`
        }
      >
        {snippet}
      </pre>
      <div className="copy-row copy-row--end">
        <span className="muted small">
          {keyValue
            ? "Includes the key you just created."
            : `Replace ${AGENT_KEY_PLACEHOLDER} with one of this agent's keys.`}
        </span>
        <CopyButton text={snippet} label="Copy snippet" />
      </div>
    </section>
  );
}

function Keys({ agent, onCreate }: { agent: Agent; onCreate: () => void }) {
  const { can } = useOrg();
  const confirm = useConfirm();
  const toast = useToast();
  const keys = useQuery(trpc.agents.keys.list.queryOptions({ id: agent.id, limit: 200 }));
  const isAdmin = can("admin");

  const revoke = (key: { id: string; name: string; prefix: string }) => {
    confirm({
      title: `Revoke key “${key.name || key.prefix}”?`,
      body: "Clients using it are refused from now on. This cannot be undone.",
      confirmLabel: "Revoke key",
      action: async () => {
        await trpcClient.agents.keys.revoke.mutate({ id: agent.id, key_id: key.id });
        await queryClient.invalidateQueries(trpc.agents.keys.pathFilter());
        toast("Key revoked");
      },
    });
  };

  return (
    <section className="card card--flush" aria-labelledby="keys-title">
      <div className="card__header">
        <h2 id="keys-title">API keys</h2>
        {isAdmin ? (
          <Button variant="primary" size="sm" onClick={onCreate}>
            Create key
          </Button>
        ) : null}
      </div>
      {keys.isPending ? (
        <Loading />
      ) : keys.isError ? (
        <ErrorState error={keys.error} onRetry={() => void keys.refetch()} />
      ) : keys.data.results.length === 0 ? (
        <EmptyState title="No keys yet">
          {isAdmin
            ? "Create a key to let a client connect as this agent."
            : "An admin can create keys."}
        </EmptyState>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              {isAdmin ? (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {keys.data.results.map((key) => (
              <tr key={key.id} className={key.revoked_at ? "row--muted" : undefined}>
                <td className="strong">{key.name || "—"}</td>
                <td className="mono">{key.prefix}…</td>
                <td>{formatDateTime(key.created_at)}</td>
                <td>{formatRelative(key.last_used_at)}</td>
                <td>
                  {key.revoked_at ? (
                    <Badge tone="red" title={formatDateTime(key.revoked_at)}>
                      revoked
                    </Badge>
                  ) : (
                    <Badge tone="green">active</Badge>
                  )}
                </td>
                {isAdmin ? (
                  <td className="table__actions">
                    {key.revoked_at ? null : (
                      <Button
                        size="sm"
                        variant="ghost"
                        className="text-danger"
                        aria-label={`Revoke key ${key.name || key.prefix}`}
                        onClick={() => {
                          revoke(key);
                        }}
                      >
                        Revoke
                      </Button>
                    )}
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

function CreateKeyDialog({
  agent,
  onCreated,
  onClose,
}: {
  agent: Agent;
  onCreated: (key: CreatedAgentKey) => void;
  onClose: () => void;
}) {
  const [name, setName] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [shown, setShown] = useState<CreatedAgentKey | null>(null);
  const create = useMutation(
    trpc.agents.keys.create.mutationOptions({
      onSuccess: async (key) => {
        setShown(key);
        onCreated(key);
        await queryClient.invalidateQueries(trpc.agents.keys.pathFilter());
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(createAgentKeyInput, { name: name.trim() === "" ? undefined : name });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    create.mutate({ id: agent.id, ...parsed.data });
  };

  return (
    <Dialog
      open
      onClose={onClose}
      title={shown ? "Copy your new key" : `New key for ${agent.name}`}
      footer={
        shown ? (
          <Button variant="primary" onClick={onClose}>
            I have stored it
          </Button>
        ) : (
          <>
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" form="create-key-form" variant="primary" busy={create.isPending}>
              Create key
            </Button>
          </>
        )
      }
    >
      {shown ? (
        <div className="stack">
          <div className="alert alert--warning">
            This is the only time the key is shown. Store it in your client or secret manager now.
          </div>
          <div className="copy-row">
            <code className="code code--inline code--key" data-testid="new-key">
              {shown.key}
            </code>
            <CopyButton text={shown.key} label="Copy key" />
          </div>
          <p className="muted small">
            Send it as an <span className="mono">Authorization: Bearer</span> header. The snippets
            on the page now include it.
          </p>
        </div>
      ) : (
        <form id="create-key-form" onSubmit={submit} noValidate>
          <FormError error={create.error} shownAtFields={errors} />
          <TextField
            label="Key name"
            error={errors.name}
            hint="Optional: where the key will be used, e.g. “laptop” or “CI”."
            value={name}
            autoFocus
            onChange={setName}
          />
        </form>
      )}
    </Dialog>
  );
}

/**
 * Whose own credentials the agent's keys use on per-user OAuth connections. Only a member can make
 * an agent run as themselves (the API refuses anyone else); any admin can clear it.
 */
function RunsAs({ agent }: { agent: Agent }) {
  const { org, can } = useOrg();
  const me = useMe();
  const members = useMembers(org.id);
  const toast = useToast();
  const update = useMutation(
    trpc.agents.update.mutationOptions({
      onSuccess: async (saved) => {
        await queryClient.invalidateQueries(trpc.agents.pathFilter());
        toast(
          saved.runs_as_user_id
            ? `${saved.name} now uses your own connected accounts`
            : `${saved.name} no longer runs as a member`,
        );
      },
    }),
  );
  const runsAs = agent.runs_as_user_id;
  const myId = me.data?.id;
  const member = members.data?.results.find((candidate) => candidate.user_id === runsAs);
  const who =
    runsAs === null
      ? "Nobody: per-user connections use the credential of whoever calls"
      : runsAs === myId
        ? "You"
        : member
          ? personName(member)
          : "A member";
  return (
    <>
      <span>{who}</span>
      {can("admin") && myId ? (
        <div className="chips">
          {runsAs !== myId ? (
            <Button
              size="sm"
              busy={update.isPending && update.variables.runs_as_user_id !== null}
              onClick={() => {
                update.mutate({ id: agent.id, runs_as_user_id: myId });
              }}
            >
              Run as me
            </Button>
          ) : null}
          {runsAs !== null ? (
            <Button
              size="sm"
              busy={update.isPending && update.variables.runs_as_user_id === null}
              onClick={() => {
                update.mutate({ id: agent.id, runs_as_user_id: null });
              }}
            >
              Run as nobody
            </Button>
          ) : null}
        </div>
      ) : null}
      <FormError error={update.error} />
    </>
  );
}
