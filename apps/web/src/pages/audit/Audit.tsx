import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Badge, type Tone } from "../../components/Badge";
import { Button } from "../../components/Button";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import type { AuditEvent } from "../../lib/api";
import { formatDateTime, formatRelative, localInputToIso, pretty } from "../../lib/format";
import { useDebounced } from "../../lib/hooks";
import { nameById, useAgents, useConnections, useEnvironments, useTools } from "../../lib/queries";
import { trpc } from "../../lib/trpc";
import { AuditWebhook } from "./AuditWebhook";

const TEXT_FILTERS = [
  { key: "action", label: "Action", placeholder: "e.g. connection.create" },
  { key: "actor_id", label: "Actor id", placeholder: "user or agent id" },
  { key: "target_type", label: "Target type", placeholder: "e.g. tool" },
  { key: "target_id", label: "Target id", placeholder: "" },
] as const;
type TextFilter = (typeof TEXT_FILTERS)[number]["key"];

function actionTone(action: string): Tone {
  if (/delete|revoke|remove|denied|fail/.test(action)) return "red";
  if (/create|add|register/.test(action)) return "green";
  if (/update|rename|enable|disable|rotate/.test(action)) return "blue";
  return "neutral";
}

function Target({
  event,
  names,
  runsPath,
}: {
  event: AuditEvent;
  names: Map<string, string>;
  runsPath: string;
}) {
  const id = event.target_id;
  if (!id) return null;
  if (event.target_type === "run") {
    return (
      <Link className="mono small" to={`${runsPath}/${id}`}>
        {id.slice(-8)}
      </Link>
    );
  }
  const name = names.get(id) ?? (event.target_type === "org" ? null : undefined);
  if (name === null) return null;
  // UUIDv7 ids share their leading (time) digits; the tail tells entries apart.
  return name ? (
    <span className="strong">{name}</span>
  ) : (
    <span className="mono small">…{id.slice(-8)}</span>
  );
}

export default function Audit() {
  const { org, path, can } = useOrg();
  const [params, setParams] = useSearchParams();
  const [draft, setDraft] = useState<Record<TextFilter, string>>({
    action: params.get("action") ?? "",
    actor_id: params.get("actor_id") ?? "",
    target_type: params.get("target_type") ?? "",
    target_id: params.get("target_id") ?? "",
  });
  const filters = useDebounced(draft);
  const sinceLocal = params.get("since") ?? "";
  const since = localInputToIso(sinceLocal);
  const members = useQuery(trpc.orgs.members.list.queryOptions({ org_id: org.id, limit: 200 }));
  const agents = useAgents(org.id);
  const agentNames = nameById(agents.data?.results);
  const connections = useConnections(org.id);
  const tools = useTools(org.id);
  const environments = useEnvironments(org.id);
  const policies = useQuery(trpc.policies.list.queryOptions({ org_id: org.id, limit: 200 }));
  // Names of things that still exist; deleted ones fall back to a short id.
  const targetNames = new Map([
    ...nameById(connections.data?.results),
    ...nameById(tools.data?.results),
    ...nameById(environments.data?.results),
    ...nameById(policies.data?.results),
    ...agentNames,
  ]);
  const userNames = new Map(
    (members.data?.results ?? []).map((member) => [member.user_id, member.email]),
  );

  const setText = (key: TextFilter, value: string) => {
    setDraft((current) => ({ ...current, [key]: value }));
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value.trim() === "") next.delete(key);
        else next.set(key, value.trim());
        return next;
      },
      { replace: true },
    );
  };

  const input = {
    org_id: org.id,
    limit: 50,
    ...Object.fromEntries(
      Object.entries(filters)
        .map(([key, value]) => [key, value.trim()] as const)
        .filter(([, value]) => value !== ""),
    ),
    ...(since ? { since } : {}),
  };
  const list = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions(input, {
      getNextPageParam: (page) => page.next_cursor ?? undefined,
    }),
  );
  const events = list.data?.pages.flatMap((page) => page.results) ?? [];
  const filtered =
    Object.values(filters).some((value) => value.trim() !== "") || since !== undefined;

  const actorLabel = (event: AuditEvent): string => {
    if (event.actor_type === "system") return "System";
    if (!event.actor_id) return event.actor_type;
    const name =
      event.actor_type === "user" ? userNames.get(event.actor_id) : agentNames.get(event.actor_id);
    return name ?? `${event.actor_type} ${event.actor_id.slice(0, 8)}`;
  };

  return (
    <div className="page">
      <PageHeader
        title="Audit log"
        description="Who changed what, and when. Entries cannot be edited or deleted."
      />
      {can("admin") ? <AuditWebhook /> : null}
      <div className="toolbar" role="search" aria-label="Filter the audit log">
        {TEXT_FILTERS.map((filter) => (
          <div className="field field--inline" key={filter.key}>
            <label htmlFor={`audit-${filter.key}`} className="field__label">
              {filter.label}
            </label>
            <input
              id={`audit-${filter.key}`}
              className="input"
              value={draft[filter.key]}
              placeholder={filter.placeholder}
              onChange={(event) => {
                setText(filter.key, event.target.value);
              }}
            />
          </div>
        ))}
        <div className="field field--inline">
          <label htmlFor="audit-since" className="field__label">
            Since
          </label>
          <input
            id="audit-since"
            className="input"
            type="datetime-local"
            value={sinceLocal}
            onChange={(event) => {
              setParams(
                (current) => {
                  const next = new URLSearchParams(current);
                  if (event.target.value === "") next.delete("since");
                  else next.set("since", event.target.value);
                  return next;
                },
                { replace: true },
              );
            }}
          />
        </div>
      </div>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : events.length === 0 ? (
        <EmptyState title={filtered ? "No entries match these filters" : "Nothing recorded yet"} />
      ) : (
        <div className="card">
          <ol className="timeline" aria-label="Audit events, newest first">
            {events.map((event) => (
              <li key={event.id} className="timeline__item">
                <div className="timeline__dot" aria-hidden="true" />
                <div className="timeline__body">
                  <div className="timeline__head">
                    <Badge tone={actionTone(event.action)}>{event.action}</Badge>
                    <span className="strong">{actorLabel(event)}</span>
                    {event.target_type ? (
                      <span className="muted">
                        on {event.target_type.replace(/_/g, " ")}{" "}
                        <Target event={event} names={targetNames} runsPath={path("runs")} />
                      </span>
                    ) : null}
                    <time
                      className="muted small timeline__time"
                      dateTime={event.created_at}
                      title={formatDateTime(event.created_at)}
                    >
                      {formatRelative(event.created_at)}
                    </time>
                  </div>
                  {Object.keys(event.metadata).length > 0 || event.ip ? (
                    <details className="timeline__details">
                      <summary>Details</summary>
                      <dl className="dl dl--compact">
                        <dt>When</dt>
                        <dd>{formatDateTime(event.created_at)}</dd>
                        {event.actor_id ? (
                          <>
                            <dt>Actor id</dt>
                            <dd className="mono">{event.actor_id}</dd>
                          </>
                        ) : null}
                        {event.target_id ? (
                          <>
                            <dt>Target id</dt>
                            <dd className="mono">{event.target_id}</dd>
                          </>
                        ) : null}
                        {event.ip ? (
                          <>
                            <dt>IP</dt>
                            <dd className="mono">{event.ip}</dd>
                          </>
                        ) : null}
                        {event.user_agent ? (
                          <>
                            <dt>User agent</dt>
                            <dd className="small">{event.user_agent}</dd>
                          </>
                        ) : null}
                      </dl>
                      {Object.keys(event.metadata).length > 0 ? (
                        <pre className="code">{pretty(event.metadata)}</pre>
                      ) : null}
                    </details>
                  ) : null}
                </div>
              </li>
            ))}
          </ol>
          {list.hasNextPage ? (
            <div className="card__footer">
              <Button busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
                Load older entries
              </Button>
            </div>
          ) : (
            <p className="muted small center">Beginning of the log.</p>
          )}
        </div>
      )}
    </div>
  );
}
