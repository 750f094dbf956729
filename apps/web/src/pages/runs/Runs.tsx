import { RUN_STATUSES } from "@mcp/api/contracts";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { Badge, StatusBadge } from "../../components/Badge";
import { FilterSelect } from "../../components/Field";
import { Button } from "../../components/Button";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import { formatDateTime, formatDuration, localInputToIso } from "../../lib/format";
import { nameById, useAgents, useTools } from "../../lib/queries";
import { trpc } from "../../lib/trpc";

type RunStatus = (typeof RUN_STATUSES)[number];

function isRunStatus(value: string | null): value is RunStatus {
  return RUN_STATUSES.some((status) => status === value);
}

const POLL_MS = 2000;

export default function Runs() {
  const { org, path } = useOrg();
  const [params, setParams] = useSearchParams();
  const agents = useAgents(org.id);
  const tools = useTools(org.id);
  const agentNames = nameById(agents.data?.results);

  const statusParam = params.get("status");
  const status = isRunStatus(statusParam) ? statusParam : undefined;
  const agentId = params.get("agent") ?? "";
  const toolId = params.get("tool") ?? "";
  const sinceLocal = params.get("since") ?? "";
  const untilLocal = params.get("until") ?? "";
  const since = localInputToIso(sinceLocal);
  const until = localInputToIso(untilLocal);

  const setFilter = (key: string, value: string) => {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value === "") next.delete(key);
        else next.set(key, value);
        return next;
      },
      { replace: true },
    );
  };

  const list = useInfiniteQuery({
    ...trpc.runs.list.infiniteQueryOptions(
      {
        org_id: org.id,
        limit: 50,
        ...(status ? { status } : {}),
        ...(agentId ? { agent_id: agentId } : {}),
        ...(toolId ? { tool_id: toolId } : {}),
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
      },
      { getNextPageParam: (page) => page.next_cursor ?? undefined },
    ),
    // Poll only while something is still running; finished runs never change.
    refetchInterval: (query) =>
      query.state.data?.pages.some((page) => page.results.some((run) => run.status === "running"))
        ? POLL_MS
        : false,
  });
  const runs = list.data?.pages.flatMap((page) => page.results) ?? [];
  const anyRunning = runs.some((run) => run.status === "running");
  const filtered =
    status !== undefined ||
    agentId !== "" ||
    toolId !== "" ||
    since !== undefined ||
    until !== undefined;

  return (
    <div className="page">
      <PageHeader
        title="Runs"
        description="Every governed tool call: who made it, what the policies decided, and what the tool returned."
        actions={
          <Button
            size="sm"
            busy={list.isRefetching && !list.isFetchingNextPage}
            onClick={() => void list.refetch()}
          >
            Refresh
          </Button>
        }
      />
      <div className="toolbar" role="search" aria-label="Filter runs">
        <FilterSelect
          label="Status"
          value={status ?? ""}
          onChange={(value) => {
            setFilter("status", value);
          }}
          options={RUN_STATUSES.map((option) => [option, option.replaceAll("_", " ")] as const)}
        />
        <FilterSelect
          label="Agent"
          value={agentId}
          onChange={(value) => {
            setFilter("agent", value);
          }}
          options={(agents.data?.results ?? []).map((agent) => [agent.id, agent.name] as const)}
        />
        <FilterSelect
          label="Tool"
          value={toolId}
          onChange={(value) => {
            setFilter("tool", value);
          }}
          options={(tools.data?.results ?? []).map((tool) => [tool.id, tool.name] as const)}
        />
        <div className="field field--inline">
          <label htmlFor="run-since" className="field__label">
            From
          </label>
          <input
            id="run-since"
            className="input"
            type="datetime-local"
            value={sinceLocal}
            onChange={(event) => {
              setFilter("since", event.target.value);
            }}
          />
        </div>
        <div className="field field--inline">
          <label htmlFor="run-until" className="field__label">
            To
          </label>
          <input
            id="run-until"
            className="input"
            type="datetime-local"
            value={untilLocal}
            onChange={(event) => {
              setFilter("until", event.target.value);
            }}
          />
        </div>
      </div>
      {anyRunning ? (
        <p className="muted small live" aria-live="polite">
          <span className="pulse" aria-hidden="true" /> Runs in progress — refreshing every{" "}
          {POLL_MS / 1000} s.
        </p>
      ) : null}
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : runs.length === 0 ? (
        <EmptyState title={filtered ? "No runs match these filters" : "No runs yet"}>
          {filtered
            ? null
            : "Runs appear when agents call tools, or when you run a tool from the Tools page."}
        </EmptyState>
      ) : (
        <div className="card card--flush">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Tool</th>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Duration
                </th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link to={path("runs", run.id)}>{formatDateTime(run.started_at)}</Link>
                  </td>
                  <td className="mono">
                    {run.kind === "tool" ? null : <Badge tone="blue">{run.kind}</Badge>}{" "}
                    {run.tool_name}
                  </td>
                  <td>
                    {run.agent_id ? (
                      (agentNames.get(run.agent_id) ?? "deleted agent")
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td>
                    <StatusBadge status={run.status} />
                  </td>
                  <td className="num">{formatDuration(run.duration_ms)}</td>
                  <td className="muted truncate" title={run.error ?? undefined}>
                    {run.error ?? ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.hasNextPage ? (
            <div className="card__footer">
              <Button busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
                Load older runs
              </Button>
            </div>
          ) : null}
        </div>
      )}
    </div>
  );
}
