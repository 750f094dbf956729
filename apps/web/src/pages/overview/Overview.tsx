import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Badge, StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import type { RunStats } from "../../lib/api";
import { formatDuration, formatNumber, formatPercent, formatRelative } from "../../lib/format";
import { useConnections } from "../../lib/queries";
import { trpc } from "../../lib/trpc";
import { LatencyChart, RunsOverTimeChart } from "./Charts";
import { Onboarding } from "./Onboarding";
import {
  agentLabel,
  isRangeKey,
  mostDeniedTools,
  RANGES,
  slowestTools,
  statsWindow,
  successRate,
  successTone,
  errorTone,
  type RateTone,
  type RangeKey,
} from "./stats";

export default function Overview() {
  const { org, path } = useOrg();
  const [params, setParams] = useSearchParams();
  const rangeParam = params.get("range");
  const range: RangeKey = isRangeKey(rangeParam) ? rangeParam : "24h";
  const [now, setNow] = useState(() => Date.now());
  const period = statsWindow(range, now);
  const stats = useQuery(trpc.runs.stats.queryOptions({ org_id: org.id, ...period }));
  const connections = useConnections(org.id);

  return (
    <div className="page">
      <PageHeader
        title="Overview"
        description={`Activity in ${org.name}.`}
        actions={
          <div className="toolbar toolbar--tight">
            <label htmlFor="overview-range" className="sr-only">
              Time range
            </label>
            <select
              id="overview-range"
              className="input input--compact"
              value={range}
              onChange={(event) => {
                setNow(Date.now());
                setParams({ range: event.target.value }, { replace: true });
              }}
            >
              {Object.entries(RANGES).map(([key, option]) => (
                <option key={key} value={key}>
                  {option.label}
                </option>
              ))}
            </select>
            <Button
              size="sm"
              busy={stats.isFetching}
              onClick={() => {
                setNow(Date.now());
              }}
            >
              Refresh
            </Button>
          </div>
        }
      />
      <Onboarding
        hasConnections={
          connections.data === undefined ? undefined : connections.data.results.length > 0
        }
      />
      {stats.isPending ? (
        <Loading label="Loading statistics…" />
      ) : stats.isError ? (
        <ErrorState error={stats.error} onRetry={() => void stats.refetch()} />
      ) : (
        <StatsView stats={stats.data} runsPath={path("runs")} />
      )}
      <ConnectionHealth connections={connections} connectionsPath={path("connections")} />
    </div>
  );
}

function Kpi({
  label,
  value,
  tone,
}: {
  label: string;
  value: string;
  tone?: RateTone | undefined;
}) {
  return (
    <div className={`kpi ${tone ? `kpi--${tone}` : ""}`}>
      <div className="kpi__label">{label}</div>
      <div className="kpi__value">{value}</div>
    </div>
  );
}

function StatsView({ stats, runsPath }: { stats: RunStats; runsPath: string }) {
  const { totals } = stats;
  const slowest = slowestTools(stats.tools);
  const denied = mostDeniedTools(stats.tools);
  const success = successRate(totals);
  return (
    <>
      <div className="kpis">
        <Kpi label="Runs" value={formatNumber(totals.runs)} />
        <Kpi label="Success rate" value={formatPercent(success)} tone={successTone(success)} />
        <Kpi
          label="Error rate"
          value={formatPercent(totals.error_rate)}
          tone={errorTone(totals.error_rate)}
        />
        <Kpi label="Denied" value={formatNumber(totals.denied)} />
        <Kpi label="p50 latency" value={formatDuration(totals.p50_ms)} />
        <Kpi label="p95 latency" value={formatDuration(totals.p95_ms)} />
      </div>

      <section className="card" aria-labelledby="runs-chart-title">
        <div className="card__header card__header--plain">
          <h2 id="runs-chart-title">Runs over time</h2>
          <Link to={runsPath}>All runs →</Link>
        </div>
        {totals.runs === 0 ? (
          <EmptyState title="No runs in this period">
            Run a tool from the Tools page, or connect an agent.
          </EmptyState>
        ) : (
          <RunsOverTimeChart stats={stats} />
        )}
      </section>

      {totals.runs > 0 ? (
        <>
          <div className="grid grid--2">
            <section className="card" aria-labelledby="slowest-title">
              <h2 id="slowest-title">Slowest tools (p95)</h2>
              {slowest.length === 0 ? (
                <p className="muted">No finished runs.</p>
              ) : (
                <LatencyChart
                  label="p50 and p95 latency of the slowest tools"
                  rows={slowest.map((tool) => ({
                    name: tool.tool_name,
                    p50_ms: tool.p50_ms,
                    p95_ms: tool.p95_ms,
                  }))}
                />
              )}
            </section>
            <section className="card" aria-labelledby="denied-title">
              <h2 id="denied-title">Most denied tools</h2>
              {denied.length === 0 ? (
                <p className="muted">No denials in this period.</p>
              ) : (
                <ol className="ranking">
                  {denied.map((tool) => (
                    <li key={tool.tool_name}>
                      <span className="mono">{tool.tool_name}</span>
                      <span className="ranking__bar" aria-hidden="true">
                        <span
                          style={{ width: `${(tool.denied / (denied[0]?.denied ?? 1)) * 100}%` }}
                        />
                      </span>
                      <Badge tone="amber">{tool.denied} denied</Badge>
                    </li>
                  ))}
                </ol>
              )}
            </section>
          </div>

          <section className="card card--flush" aria-labelledby="per-tool-title">
            <div className="card__header">
              <h2 id="per-tool-title">Per tool</h2>
            </div>
            <StatsTable
              label="Tool"
              rows={stats.tools.map((tool) => ({
                key: tool.tool_id ?? tool.tool_name,
                name: tool.tool_name,
                mono: true,
                ...tool,
              }))}
            />
          </section>
          <section className="card card--flush" aria-labelledby="per-agent-title">
            <div className="card__header">
              <h2 id="per-agent-title">Per agent</h2>
            </div>
            <StatsTable
              label="Agent"
              rows={stats.agents.map((agent) => ({
                key: agent.agent_id ?? "none",
                name: agentLabel(agent),
                mono: false,
                ...agent,
              }))}
            />
          </section>
        </>
      ) : null}
    </>
  );
}

interface StatsRow {
  key: string;
  name: string;
  mono: boolean;
  runs: number;
  succeeded: number;
  failed: number;
  denied: number;
  error_rate: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

function StatsTable({ label, rows }: { label: string; rows: StatsRow[] }) {
  if (rows.length === 0) return <p className="muted card__body">Nothing in this period.</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">{label}</th>
          <th scope="col" className="num">
            Runs
          </th>
          <th scope="col" className="num">
            Failed
          </th>
          <th scope="col" className="num">
            Denied
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
        {rows.map((row) => (
          <tr key={row.key}>
            <td className={row.mono ? "mono" : undefined}>{row.name}</td>
            <td className="num">{formatNumber(row.runs)}</td>
            <td className="num">{formatNumber(row.failed)}</td>
            <td className="num">{formatNumber(row.denied)}</td>
            <td className={`num rate--${errorTone(row.error_rate) ?? "none"}`}>
              {formatPercent(row.error_rate)}
            </td>
            <td className="num">{formatDuration(row.p50_ms)}</td>
            <td className="num">{formatDuration(row.p95_ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ConnectionHealth({
  connections,
  connectionsPath,
}: {
  connections: ReturnType<typeof useConnections>;
  connectionsPath: string;
}) {
  const results = connections.data?.results;
  return (
    <section className="card" aria-labelledby="health-title">
      <div className="card__header card__header--plain">
        <h2 id="health-title">Connection health</h2>
        <Link to={connectionsPath}>Connections →</Link>
      </div>
      {results === undefined ? (
        connections.isError ? (
          <ErrorState error={connections.error} onRetry={() => void connections.refetch()} />
        ) : (
          <Loading />
        )
      ) : results.length === 0 ? (
        <EmptyState title="No connections yet">Add an MCP server to get started.</EmptyState>
      ) : (
        <>
          <div className="health-summary">
            {(["healthy", "unhealthy", "unknown"] as const).map((status) => (
              <div key={status} className={`health-summary__item health-summary__item--${status}`}>
                <span className="health-summary__count">
                  {results.filter((connection) => connection.status === status).length}
                </span>
                <span>{status}</span>
              </div>
            ))}
          </div>
          <ul className="health-list">
            {results.map((connection) => (
              <li key={connection.id}>
                <StatusBadge status={connection.status} />
                <Link to={`${connectionsPath}/${connection.id}`} className="strong">
                  {connection.name}
                </Link>
                <span className="muted small">
                  tested {formatRelative(connection.last_tested_at)}
                </span>
                {connection.status === "unhealthy" && connection.last_error ? (
                  <span className="text-danger small truncate" title={connection.last_error}>
                    {connection.last_error}
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
