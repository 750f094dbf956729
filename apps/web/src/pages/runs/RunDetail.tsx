import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { Badge, StatusBadge, type Tone } from "../../components/Badge";
import { DecisionSummary } from "../../components/RunOutcome";
import { ErrorState, Loading, PageHeader } from "../../components/States";
import { ToolResult } from "../../components/ToolResult";
import { useOrg } from "../../layout/org-context";
import { formatDateTime, formatDuration, pretty } from "../../lib/format";
import { nameById, personName, useAgents, useMembers } from "../../lib/queries";
import { trpc } from "../../lib/trpc";
import type { Run } from "../../lib/api";
import { describeTrigger } from "../../lib/runs";

const TARGET_LABELS: Record<Run["kind"], string> = {
  tool: "Tool",
  prompt: "Prompt",
  resource: "Resource",
};

const HOOK_OUTCOMES: Record<
  NonNullable<Run["guardrails"]>["hooks"][number]["outcome"],
  { label: string; tone: Tone }
> = {
  allowed: { label: "allowed", tone: "green" },
  rewrote: { label: "rewrote", tone: "amber" },
  denied: { label: "denied", tone: "red" },
  failed_open: { label: "failed, allowed (fail open)", tone: "amber" },
  failed_closed: { label: "failed, denied (fail closed)", tone: "red" },
};

/** The guardrail hooks that ran, in order, and what redaction replaced. */
function Guardrails({ record }: { record: NonNullable<Run["guardrails"]> }) {
  const { secrets, patterns } = record.redacted;
  return (
    <section className="card" aria-labelledby="run-guardrails">
      <h2 id="run-guardrails">Guardrails</h2>
      {record.hooks.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Hook</th>
              <th scope="col">Policy</th>
              <th scope="col">Outcome</th>
              <th scope="col">Reason</th>
              <th scope="col">Took</th>
            </tr>
          </thead>
          <tbody>
            {record.hooks.map((hook, index) => (
              <tr key={index}>
                <td className="mono">{hook.stage}</td>
                <td>{hook.policy_name}</td>
                <td>
                  <Badge tone={HOOK_OUTCOMES[hook.outcome].tone}>
                    {HOOK_OUTCOMES[hook.outcome].label}
                  </Badge>
                </td>
                <td className="wrap">{hook.reason ?? "—"}</td>
                <td>{formatDuration(hook.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <p className="muted">
        {secrets + patterns === 0
          ? "Nothing was redacted."
          : `Redacted: ${secrets} connection secret ${secrets === 1 ? "value" : "values"}, ${patterns} pattern ${patterns === 1 ? "match" : "matches"}.`}
      </p>
    </section>
  );
}

export default function RunDetail() {
  const { runId = "" } = useParams();
  const { org, path } = useOrg();
  const agents = useAgents(org.id);
  const members = useMembers(org.id);
  const run = useQuery({
    ...trpc.runs.get.queryOptions({ id: runId }),
    refetchInterval: (query) => (query.state.data?.status === "running" ? 2000 : false),
  });

  if (run.isPending) return <Loading />;
  if (run.isError) {
    return (
      <div className="page">
        <ErrorState error={run.error} onRetry={() => void run.refetch()} />
      </div>
    );
  }
  const r = run.data;
  const agentNames = nameById(agents.data?.results);
  const agentName = r.agent_id ? (agentNames.get(r.agent_id) ?? "deleted agent") : null;
  const people = new Map(
    (members.data?.results ?? []).map((member) => [member.user_id, personName(member)]),
  );
  const refused = r.status === "denied" || r.status === "rate_limited";

  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to={path("runs")}>Runs</Link> /{" "}
        <span aria-current="page" className="mono">
          {r.id.slice(0, 8)}
        </span>
      </nav>
      <PageHeader
        title={
          <>
            <span className="mono">{r.tool_name}</span> <StatusBadge status={r.status} />
          </>
        }
        description={`Started ${formatDateTime(r.started_at)}`}
      />
      <div className="grid grid--2">
        <section className="card" aria-labelledby="run-summary">
          <h2 id="run-summary">Summary</h2>
          <dl className="dl">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={r.status} />
            </dd>
            <dt>{TARGET_LABELS[r.kind]}</dt>
            <dd className="mono">
              {r.tool_id ? (
                <Link to={`${path("tools")}?q=${encodeURIComponent(r.tool_name)}`}>
                  {r.tool_name}
                </Link>
              ) : (
                r.tool_name
              )}
            </dd>
            <dt>Agent</dt>
            <dd>{r.agent_id ? <Link to={path("agents", r.agent_id)}>{agentName}</Link> : "—"}</dd>
            <dt>Started</dt>
            <dd>{formatDateTime(r.started_at)}</dd>
            <dt>Finished</dt>
            <dd>{r.finished_at ? formatDateTime(r.finished_at) : "still running"}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(r.duration_ms)}</dd>
            <dt>Trace</dt>
            <dd className="mono small">{r.trace_id ?? "—"}</dd>
            <dt>Triggered by</dt>
            <dd>{describeTrigger(r, people, agentNames)}</dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="run-decision">
          <h2 id="run-decision">Policy decision</h2>
          <p>
            <DecisionSummary run={r} />
          </p>
          {r.decision ? (
            <details>
              <summary>Full decision</summary>
              <pre className="code">{pretty(r.decision)}</pre>
            </details>
          ) : null}
        </section>
      </div>
      {/* A refusal's error is the decision above; only a failure says more. */}
      {r.error && !refused ? (
        <section className="result result--error" role="alert">
          <strong>Error</strong>
          <p className="mono wrap">{r.error}</p>
        </section>
      ) : null}
      {r.guardrails ? <Guardrails record={r.guardrails} /> : null}
      <section className="card" aria-labelledby="run-input">
        <h2 id="run-input">Input</h2>
        <pre className="code">{pretty(r.input) || "{}"}</pre>
      </section>
      <section className="card" aria-labelledby="run-output">
        <h2 id="run-output">Output</h2>
        {r.status === "running" ? (
          <Loading label="Waiting for the tool…" />
        ) : r.kind !== "tool" ? (
          <pre className="code">{pretty(r.output) || "—"}</pre>
        ) : (
          <ToolResult output={r.output} truncated={r.output_truncated} />
        )}
      </section>
    </div>
  );
}
