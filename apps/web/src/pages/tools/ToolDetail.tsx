import { uuid } from "@mcp/api/contracts";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";
import { Badge, StatusBadge, type Tone } from "../../components/Badge";
import { Button } from "../../components/Button";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import type { RouterOutputs, Tool } from "../../lib/api";
import { errorInfo } from "../../lib/errors";
import {
  formatDateTime,
  formatDuration,
  formatNumber,
  formatPercent,
  pretty,
} from "../../lib/format";
import { nameById, useAgents, useEnvironments, usePeopleNames } from "../../lib/queries";
import { describeTrigger } from "../../lib/runs";
import { trpc } from "../../lib/trpc";
import { approvedDefinition, DefinitionDiff, type Definition } from "./DefinitionDiff";
import { ReviewDefinitionDialog } from "./ReviewDefinitionDialog";
import { RunToolDialog } from "./RunToolDialog";
import { QUARANTINE_LABELS } from "./Tools";

type History = RouterOutputs["tools"]["definitions"];
type Version = History["results"][number];
type Access = RouterOutputs["tools"]["access"];
type AccessDecision = Access["results"][number];

const SOURCE_LABELS: Record<Version["source"], string> = {
  sync: "First sync (new tools are not quarantined)",
  manual: "Registered by hand",
  approval: "Approved on review",
  config: "Approved by a configuration document",
  backfill: "Approved before the history was kept",
};

const DECISIONS: Record<AccessDecision["decision"], { label: string; tone: Tone }> = {
  allow: { label: "allow", tone: "green" },
  deny: { label: "deny", tone: "red" },
  require_approval: { label: "needs approval", tone: "violet" },
  no_policy: { label: "no policy (denied)", tone: "neutral" },
};

const PAGE = 50;
const RECENT_RUNS = 10;
const HOUR_MS = 3_600_000;

export default function ToolDetail() {
  const { toolId = "" } = useParams();
  const { org, can, path } = useOrg();
  // An address that cannot name a tool is not asked about.
  const wellFormed = uuid.safeParse(toolId).success;
  const tool = useQuery({ ...trpc.tools.get.queryOptions({ id: toolId }), enabled: wellFormed });
  const [running, setRunning] = useState(false);
  const [reviewing, setReviewing] = useState(false);

  const t = tool.data;
  // Another organization's tool is as unknown here as one that does not exist.
  const missing =
    !wellFormed ||
    (tool.isError && errorInfo(tool.error).code === "NOT_FOUND") ||
    (t !== undefined && t.org_id !== org.id);
  if (missing) {
    return (
      <div className="page">
        <EmptyState
          title="Tool not found"
          action={
            <Link to={path("tools")} className="btn btn--primary">
              Back to tools
            </Link>
          }
        >
          There is no such tool in {org.name}.
        </EmptyState>
      </div>
    );
  }
  if (tool.isError) {
    return (
      <div className="page">
        <ErrorState error={tool.error} onRetry={() => void tool.refetch()} />
      </div>
    );
  }
  if (t === undefined) return <Loading />;
  const isAdmin = can("admin");
  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to={path("tools")}>Tools</Link> / <span aria-current="page">{t.name}</span>
      </nav>
      <PageHeader
        title={
          <>
            <span className="mono">{t.name}</span>{" "}
            {t.enabled ? null : <StatusBadge status="disabled" />}
            {t.stale ? <StatusBadge status="stale" /> : null}
            {t.quarantine ? <Badge tone="red">quarantined: {t.quarantine}</Badge> : null}
          </>
        }
        description={t.title ? `${t.title} — ${t.description}` : t.description}
        actions={
          can("member") ? (
            <Button
              variant="primary"
              disabled={!t.enabled || t.quarantine !== null}
              onClick={() => {
                setRunning(true);
              }}
            >
              Run
            </Button>
          ) : null
        }
      />
      {t.quarantine ? (
        <div className="alert alert--warning" role="status">
          Quarantined: {QUARANTINE_LABELS[t.quarantine]}. Agents do not see it and calls are refused
          until an admin decides.{" "}
          {isAdmin ? (
            <Button
              size="sm"
              variant="primary"
              onClick={() => {
                setReviewing(true);
              }}
            >
              Review the definition
            </Button>
          ) : null}
        </div>
      ) : null}

      <DefinitionCard tool={t} />
      <HistoryCard tool={t} />
      <AccessCard tool={t} />
      <div className="grid grid--2">
        <LatencyCard tool={t} />
        <RecentRunsCard tool={t} />
      </div>

      {running ? (
        <RunToolDialog
          tool={t}
          onClose={() => {
            setRunning(false);
          }}
        />
      ) : null}
      {reviewing ? (
        <ReviewDefinitionDialog
          tool={t}
          onClose={() => {
            setReviewing(false);
          }}
        />
      ) : null}
    </div>
  );
}

function DefinitionCard({ tool }: { tool: Tool }) {
  const { org, path } = useOrg();
  const connections = useQuery(trpc.connections.get.queryOptions({ id: tool.connection_id }));
  return (
    <section className="card" aria-labelledby="tool-definition-title">
      <h2 id="tool-definition-title">Definition</h2>
      <dl className="dl">
        <dt>Title</dt>
        <dd>
          {tool.title ?? <span className="muted">none</span>}{" "}
          {tool.title_override !== null ? <Badge tone="blue">override</Badge> : null}
        </dd>
        {tool.title_override !== null ? (
          <>
            <dt>Server&apos;s title</dt>
            <dd>{tool.upstream_title ?? <span className="muted">none</span>}</dd>
          </>
        ) : null}
        <dt>Description</dt>
        <dd className="wrap">
          {tool.description || <span className="muted">none</span>}{" "}
          {tool.description_override !== null ? <Badge tone="blue">override</Badge> : null}
        </dd>
        {tool.description_override !== null ? (
          <>
            <dt>Server&apos;s description</dt>
            <dd className="wrap">{tool.upstream_description}</dd>
          </>
        ) : null}
        <dt>Connection</dt>
        <dd>
          <Link to={path("connections", tool.connection_id)}>
            {connections.data?.org_id === org.id ? connections.data.name : "Connection"}
          </Link>{" "}
          <span className="muted mono small">upstream name: {tool.upstream_name}</span>
        </dd>
        <dt>Source</dt>
        <dd>{tool.source === "manual" ? "Registered by hand" : "Synced from the server"}</dd>
        <dt>Approved hash</dt>
        <dd className="mono small wrap">{tool.definition_hash ?? "not yet computed"}</dd>
      </dl>
      <h3>Input schema</h3>
      <pre className="code" aria-label="Input schema">
        {pretty(tool.input_schema)}
      </pre>
      {tool.output_schema ? (
        <>
          <h3>Output schema</h3>
          <pre className="code">{pretty(tool.output_schema)}</pre>
        </>
      ) : null}
      {tool.annotations ? (
        <>
          <h3>Annotations</h3>
          <pre className="code">{pretty(tool.annotations)}</pre>
        </>
      ) : null}
    </section>
  );
}

/** Who a history entry names: a member, an API token, or the platform itself (a scheduled sync). */
function useActorName(): (version: Version) => string {
  const { org } = useOrg();
  const people = usePeopleNames(org.id);
  return (version) =>
    version.actor_type === "user"
      ? (people.get(version.actor_id ?? "") ?? "a former member")
      : version.actor_type === "token"
        ? "an API token"
        : version.actor_type === "agent"
          ? "an agent"
          : "the platform";
}

function HistoryCard({ tool }: { tool: Tool }) {
  const actorName = useActorName();
  const history = useInfiniteQuery(
    trpc.tools.definitions.infiniteQueryOptions(
      { id: tool.id, limit: PAGE },
      { getNextPageParam: (page) => page.next_cursor ?? undefined },
    ),
  );
  const versions = history.data?.pages.flatMap((page) => page.results) ?? [];
  const pending = history.data?.pages[0]?.pending ?? null;
  return (
    <section className="card" aria-labelledby="tool-history-title">
      <h2 id="tool-history-title">Definition history</h2>
      {history.isPending ? (
        <Loading />
      ) : history.isError ? (
        <ErrorState error={history.error} onRetry={() => void history.refetch()} />
      ) : versions.length === 0 && pending === null ? (
        <EmptyState title="No approved definition yet" />
      ) : (
        <ol className="history" aria-label="Definitions, newest first">
          {pending ? (
            <HistoryEntry
              title={
                <>
                  <Badge tone="red">
                    {pending.quarantine === "rejected" ? "rejected" : "pending"}
                  </Badge>{" "}
                  {pending.quarantine === "new"
                    ? "The server's first definition, waiting for review"
                    : "The server's changed definition, waiting for review"}
                </>
              }
              hash={pending.hash}
              before={
                pending.quarantine === "new"
                  ? null
                  : (versions[0]?.definition ?? approvedDefinition(tool))
              }
              after={pending.definition}
              open
            />
          ) : null}
          {versions.map((version, index) => {
            const previous = versions[index + 1];
            // The oldest loaded entry's predecessor may be on a page not read yet.
            const unknownPrevious = previous === undefined && history.hasNextPage;
            return (
              <HistoryEntry
                key={version.id}
                title={
                  <>
                    {index === 0 ? <Badge tone="green">current</Badge> : null}{" "}
                    {formatDateTime(version.created_at)} · {SOURCE_LABELS[version.source]}
                    {version.actor_type === "system" ? "" : ` by ${actorName(version)}`}
                  </>
                }
                hash={version.hash}
                before={unknownPrevious ? undefined : (previous?.definition ?? null)}
                after={version.definition}
                open={index === 0 && pending === null && previous !== undefined}
              />
            );
          })}
        </ol>
      )}
      {history.hasNextPage ? (
        <div className="card__footer">
          <Button busy={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
            Load older definitions
          </Button>
        </div>
      ) : null}
    </section>
  );
}

/** One definition, with its changes from the one before (`null`: the first; undefined: not loaded). */
function HistoryEntry({
  title,
  hash,
  before,
  after,
  open = false,
}: {
  title: ReactNode;
  hash: string;
  before: Definition | null | undefined;
  after: Definition;
  open?: boolean;
}) {
  return (
    <li className="history__entry">
      <details open={open}>
        <summary>
          {title} <span className="muted mono small">{hash.slice(0, 12)}</span>
        </summary>
        {before === undefined ? (
          <p className="muted small">Load older definitions to compare it with the one before.</p>
        ) : (
          <>
            {before === null ? (
              <p className="muted small">The first definition: every field as it was.</p>
            ) : null}
            <DefinitionDiff before={before} after={after} />
          </>
        )}
        <p className="muted small mono wrap">sha256 {hash}</p>
      </details>
    </li>
  );
}

function DecisionCell({
  access,
}: {
  access: Pick<AccessDecision, "decision" | "reason" | "input_dependent">;
}) {
  const { label, tone } = DECISIONS[access.decision];
  return (
    <>
      <Badge tone={tone} title={access.reason}>
        {label}
      </Badge>
      {access.input_dependent ? (
        <span className="muted small" title="A policy's input schema may decide a call otherwise">
          {" "}
          depends on input
        </span>
      ) : null}
    </>
  );
}

function PolicyCell({ policy }: { policy: AccessDecision["policy"] }) {
  const { path } = useOrg();
  return policy ? (
    <Link to={path("policies")}>{policy.name}</Link>
  ) : (
    <span className="muted">—</span>
  );
}

function AccessCard({ tool }: { tool: Tool }) {
  const { org, path } = useOrg();
  const environments = useEnvironments(org.id);
  const envNames = nameById(environments.data?.results);
  const people = usePeopleNames(org.id);
  const access = useInfiniteQuery(
    trpc.tools.access.infiniteQueryOptions(
      { id: tool.id, limit: PAGE },
      { getNextPageParam: (page) => page.next_cursor ?? undefined },
    ),
  );
  const agents = access.data?.pages.flatMap((page) => page.results) ?? [];
  const peopleSide = access.data?.pages[0]?.people;
  const environment = (id: string | null) => (id ? (envNames.get(id) ?? "—") : "Any");
  return (
    <section className="card" aria-labelledby="tool-access-title">
      <h2 id="tool-access-title">Who may call it</h2>
      <p className="muted small">
        The policy engine&apos;s decision for each caller, in the environment its calls run in.
        {tool.quarantine || !tool.enabled
          ? " While the tool is quarantined or disabled, every call is refused whatever the policies say."
          : ""}
      </p>
      {access.isPending ? (
        <Loading />
      ) : access.isError ? (
        <ErrorState error={access.error} onRetry={() => void access.refetch()} />
      ) : (
        <>
          <h3>Agents</h3>
          {agents.length === 0 ? (
            <EmptyState title="No agents yet" />
          ) : (
            <table className="table" aria-label="Agents' access">
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">Environment</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Deciding policy</th>
                </tr>
              </thead>
              <tbody>
                {agents.map((agent) => (
                  <tr key={agent.agent_id}>
                    <td>
                      <Link to={path("agents", agent.agent_id)}>{agent.agent_name}</Link>{" "}
                      {agent.agent_status === "disabled" ? <StatusBadge status="disabled" /> : null}
                    </td>
                    <td>{environment(agent.environment_id)}</td>
                    <td>
                      <DecisionCell access={agent} />
                    </td>
                    <td>
                      <PolicyCell policy={agent.policy} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {access.hasNextPage ? (
            <div className="card__footer">
              <Button busy={access.isFetchingNextPage} onClick={() => void access.fetchNextPage()}>
                Load more agents
              </Button>
            </div>
          ) : null}
          {peopleSide ? (
            <>
              <h3>People</h3>
              <table className="table" aria-label="People's access by role">
                <thead>
                  <tr>
                    <th scope="col">Members and API tokens with the role</th>
                    <th scope="col">Decision</th>
                    <th scope="col">Deciding policy</th>
                  </tr>
                </thead>
                <tbody>
                  {peopleSide.roles.map((role) => (
                    <tr key={role.role}>
                      <td>{role.role}</td>
                      <td>
                        <DecisionCell access={role} />
                      </td>
                      <td>
                        <PolicyCell policy={role.policy} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {peopleSide.policies.length > 0 ? (
                <ul className="muted small" aria-label="People's policies for this tool">
                  {peopleSide.policies.map((policy) => (
                    <li key={policy.id}>
                      <StatusBadge status={policy.effect} /> {policy.name}:{" "}
                      {policy.subject === "user"
                        ? (people.get(policy.user_id ?? "") ?? "a member")
                        : policy.subject === "role"
                          ? `${policy.min_role ?? ""} or higher`
                          : "everyone"}
                      {policy.input_dependent ? " (depends on input)" : ""}
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted small">No user, role or everyone policy names this tool.</p>
              )}
            </>
          ) : null}
        </>
      )}
    </section>
  );
}

function LatencyCard({ tool }: { tool: Tool }) {
  const { org } = useOrg();
  // Fixed when the page opens, so the windows (and the queries' keys) do not move on re-render.
  const [now] = useState(() => Date.now());
  const windows = [
    { label: "Last 24 hours", since: new Date(now - 24 * HOUR_MS).toISOString(), bucket: "hour" },
    { label: "Last 7 days", since: new Date(now - 7 * 24 * HOUR_MS).toISOString(), bucket: "day" },
  ] as const;
  const stats = [
    useQuery(
      trpc.runs.stats.queryOptions({
        org_id: org.id,
        tool_id: tool.id,
        since: windows[0].since,
        bucket: windows[0].bucket,
      }),
    ),
    useQuery(
      trpc.runs.stats.queryOptions({
        org_id: org.id,
        tool_id: tool.id,
        since: windows[1].since,
        bucket: windows[1].bucket,
      }),
    ),
  ];
  const failed = stats.find((query) => query.isError);
  return (
    <section className="card" aria-labelledby="tool-latency-title">
      <h2 id="tool-latency-title">Runs and latency</h2>
      {failed?.isError ? (
        <ErrorState error={failed.error} onRetry={() => void failed.refetch()} />
      ) : (
        <table className="table" aria-label="Runs and latency">
          <thead>
            <tr>
              <th scope="col">Window</th>
              <th scope="col" className="num">
                Runs
              </th>
              <th scope="col" className="num">
                Error rate
              </th>
              <th scope="col" className="num">
                p50
              </th>
              <th scope="col" className="num">
                p95
              </th>
            </tr>
          </thead>
          <tbody>
            {windows.map((window, index) => {
              const totals = stats[index]?.data?.totals;
              return (
                <tr key={window.label}>
                  <td>{window.label}</td>
                  <td className="num">{totals ? formatNumber(totals.runs) : "…"}</td>
                  <td className="num">{totals ? formatPercent(totals.error_rate) : "…"}</td>
                  <td className="num">{totals ? formatDuration(totals.p50_ms) : "…"}</td>
                  <td className="num">{totals ? formatDuration(totals.p95_ms) : "…"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RecentRunsCard({ tool }: { tool: Tool }) {
  const { org, path } = useOrg();
  const agentNames = nameById(useAgents(org.id).data?.results);
  const people = usePeopleNames(org.id);
  const runs = useQuery(
    trpc.runs.list.queryOptions({ org_id: org.id, tool_id: tool.id, limit: RECENT_RUNS }),
  );
  return (
    <section className="card" aria-labelledby="tool-runs-title">
      <h2 id="tool-runs-title">Recent runs</h2>
      {runs.isPending ? (
        <Loading />
      ) : runs.isError ? (
        <ErrorState error={runs.error} onRetry={() => void runs.refetch()} />
      ) : runs.data.results.length === 0 ? (
        <EmptyState title="No runs yet" />
      ) : (
        <table className="table" aria-label="Recent runs">
          <tbody>
            {runs.data.results.map((run) => (
              <tr key={run.id}>
                <td>
                  <Link to={path("runs", run.id)}>{formatDateTime(run.started_at)}</Link>
                </td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td className="small">{describeTrigger(run, people, agentNames)}</td>
                <td className="num">{formatDuration(run.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <Link to={`${path("runs")}?tool=${tool.id}`}>All runs of this tool →</Link>
      </p>
    </section>
  );
}
