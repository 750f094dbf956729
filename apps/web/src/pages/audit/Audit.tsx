import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Badge, type Tone } from "../../components/Badge";
import { Button } from "../../components/Button";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import type { AuditEvent } from "../../lib/api";
import { formatDateTime, formatRelative, localInputToIso, pretty } from "../../lib/format";
import {
  nameById,
  personName,
  useAgents,
  useConnections,
  useEnvironments,
  useMembers,
  useTools,
} from "../../lib/queries";
import { trpc } from "../../lib/trpc";
import { AuditWebhook } from "./AuditWebhook";

/** Something the log can name as an actor or a target: picked by its label, filtered by its id. */
interface Subject {
  id: string;
  label: string;
}

/** The label of each subject, told apart by kind, e.g. "Helper bot (agent)". */
function subjects(kind: string, items: readonly { id: string; name: string }[] | undefined) {
  return (items ?? []).map((item) => ({ id: item.id, label: `${item.name} (${kind})` }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A search box over named subjects (the browser's own suggestion list, searched as one types):
 * choosing a suggestion filters by its id; a raw id (of something since deleted) works too.
 */
function SubjectFilter({
  id,
  label,
  options,
  value,
  onChange,
}: {
  id: string;
  label: string;
  options: readonly Subject[];
  value: string;
  onChange: (id: string) => void;
}) {
  const chosen = options.find((option) => option.id === value)?.label ?? value;
  const [text, setText] = useState<string | null>(null);
  const shown = text ?? chosen;
  const unmatched = shown.trim() !== "" && value === "";
  return (
    <div className="field field--inline">
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      <input
        id={id}
        className="input"
        type="search"
        list={`${id}-options`}
        placeholder="Search by name"
        autoComplete="off"
        value={shown}
        aria-invalid={unmatched || undefined}
        aria-describedby={unmatched ? `${id}-hint` : undefined}
        onChange={(event) => {
          const typed = event.target.value;
          setText(typed);
          const match = options.find((option) => option.label === typed.trim());
          const raw = UUID.test(typed.trim()) ? typed.trim() : "";
          onChange(match?.id ?? raw);
        }}
      />
      <datalist id={`${id}-options`}>
        {options.map((option) => (
          <option key={option.id} value={option.label} />
        ))}
      </datalist>
      {unmatched ? (
        <span id={`${id}-hint`} className="field__hint">
          Pick one of the suggestions.
        </span>
      ) : null}
    </div>
  );
}

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
  const action = params.get("action") ?? "";
  const actorId = params.get("actor_id") ?? "";
  const targetId = params.get("target_id") ?? "";
  const sinceLocal = params.get("since") ?? "";
  const since = localInputToIso(sinceLocal);
  const actions = useQuery(trpc.audit.actions.queryOptions({ org_id: org.id }));
  const members = useMembers(org.id);
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
    (members.data?.results ?? []).map((member) => [member.user_id, personName(member)]),
  );
  const people = subjects(
    "member",
    members.data?.results.map((member) => ({
      id: member.user_id,
      name:
        personName(member) === member.email
          ? member.email
          : `${personName(member)}, ${member.email}`,
    })),
  );
  const agentSubjects = subjects("agent", agents.data?.results);
  const actorOptions = [...people, ...agentSubjects];
  const targetOptions = [
    ...subjects("connection", connections.data?.results),
    ...subjects("tool", tools.data?.results),
    ...agentSubjects,
    ...subjects("policy", policies.data?.results),
    ...subjects("environment", environments.data?.results),
    ...people,
  ];

  const setFilter = (key: "action" | "actor_id" | "target_id", value: string) => {
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
    ...(action ? { action } : {}),
    ...(actorId ? { actor_id: actorId } : {}),
    ...(targetId ? { target_id: targetId } : {}),
    ...(since ? { since } : {}),
  };
  const list = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions(input, {
      getNextPageParam: (page) => page.next_cursor ?? undefined,
    }),
  );
  const events = list.data?.pages.flatMap((page) => page.results) ?? [];
  const filtered = Boolean(action || actorId || targetId || since);

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
        <div className="field field--inline">
          <label htmlFor="audit-action" className="field__label">
            Action
          </label>
          <select
            id="audit-action"
            className="input"
            value={action}
            onChange={(event) => {
              setFilter("action", event.target.value);
            }}
          >
            <option value="">Any action</option>
            {/* A linked action the log no longer holds stays selectable, so the filter shows. */}
            {[...new Set([...(action ? [action] : []), ...(actions.data?.actions ?? [])])]
              .sort()
              .map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
          </select>
        </div>
        <SubjectFilter
          id="audit-actor"
          label="Actor"
          options={actorOptions}
          value={actorId}
          onChange={(id) => {
            setFilter("actor_id", id);
          }}
        />
        <SubjectFilter
          id="audit-target"
          label="Target"
          options={targetOptions}
          value={targetId}
          onChange={(id) => {
            setFilter("target_id", id);
          }}
        />
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
