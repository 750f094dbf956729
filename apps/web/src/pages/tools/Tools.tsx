import { updateToolInput } from "@mcp/api/contracts";
import type { Tool } from "../../lib/api";
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { Dialog } from "../../components/Dialog";
import { EnabledSwitch, FilterSelect, TextField } from "../../components/Field";
import { EmptyState, ErrorState, FormError, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { useDebounced } from "../../lib/hooks";
import { nameById, useConnections } from "../../lib/queries";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { ReviewDefinitionDialog } from "./ReviewDefinitionDialog";
import { RunToolDialog } from "./RunToolDialog";

const renameInput = updateToolInput.pick({ name: true }).required();

function triState(value: string | null): boolean | undefined {
  return value === "true" ? true : value === "false" ? false : undefined;
}

export const QUARANTINE_LABELS: Record<NonNullable<Tool["quarantine"]>, string> = {
  new: "New: waits for an admin to approve its definition",
  changed: "The server changed its definition since it was approved",
  rejected: "An admin rejected the server's changed definition",
};

export default function Tools() {
  const { org, can, path } = useOrg();
  const confirm = useConfirm();
  const toast = useToast();
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get("q") ?? "");
  const q = useDebounced(search.trim());
  const connectionId = params.get("connection") ?? "";
  const enabled = triState(params.get("enabled"));
  const stale = triState(params.get("stale"));
  const quarantined = triState(params.get("quarantined"));
  const connections = useConnections(org.id);
  const connectionNames = nameById(connections.data?.results);
  const [running, setRunning] = useState<Tool | null>(null);
  const [renaming, setRenaming] = useState<Tool | null>(null);
  const [reviewing, setReviewing] = useState<Tool | null>(null);
  const isAdmin = can("admin");
  const canRun = can("member");

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

  const list = useInfiniteQuery(
    trpc.tools.list.infiniteQueryOptions(
      {
        org_id: org.id,
        limit: 50,
        ...(q ? { q } : {}),
        ...(connectionId ? { connection_id: connectionId } : {}),
        ...(enabled !== undefined ? { enabled } : {}),
        ...(stale !== undefined ? { stale } : {}),
        ...(quarantined !== undefined ? { quarantined } : {}),
      },
      { getNextPageParam: (page) => page.next_cursor ?? undefined },
    ),
  );
  const tools = list.data?.pages.flatMap((page) => page.results) ?? [];
  const filtered =
    q !== "" ||
    connectionId !== "" ||
    enabled !== undefined ||
    stale !== undefined ||
    quarantined !== undefined;

  const toggle = useMutation(
    trpc.tools.update.mutationOptions({
      onSuccess: async (tool) => {
        toast(`${tool.name} ${tool.enabled ? "enabled" : "disabled"}`);
        await queryClient.invalidateQueries(trpc.tools.pathFilter());
      },
      onError: (error) => {
        toast(fieldErrorsOf(error).enabled ?? "Could not change the tool", "error");
      },
    }),
  );

  const remove = (tool: Tool) => {
    confirm({
      title: `Delete tool “${tool.name}”?`,
      body: tool.stale
        ? "The server no longer offers this tool. Its run history is kept."
        : "It comes back on the next sync unless you disable it instead. Its run history is kept.",
      confirmLabel: "Delete tool",
      action: async () => {
        await trpcClient.tools.delete.mutate({ id: tool.id });
        await queryClient.invalidateQueries(trpc.tools.pathFilter());
        toast(`Deleted ${tool.name}`);
      },
    });
  };

  return (
    <div className="page">
      <PageHeader
        title="Tools"
        description="Tools synced from your connections. Disabled and quarantined tools are hidden from agents."
      />
      <div className="toolbar" role="search">
        <div className="field field--inline">
          <label htmlFor="tool-search" className="field__label">
            Search
          </label>
          <input
            id="tool-search"
            className="input"
            type="search"
            placeholder="Name or description"
            value={search}
            onChange={(event) => {
              setSearch(event.target.value);
              setFilter("q", event.target.value.trim());
            }}
          />
        </div>
        <FilterSelect
          label="Connection"
          allLabel="All connections"
          value={connectionId}
          onChange={(value) => {
            setFilter("connection", value);
          }}
          options={(connections.data?.results ?? []).map(
            (connection) => [connection.id, connection.name] as const,
          )}
        />
        <FilterSelect
          label="Enabled"
          value={params.get("enabled") ?? ""}
          onChange={(value) => {
            setFilter("enabled", value);
          }}
          options={[
            ["true", "Enabled"],
            ["false", "Disabled"],
          ]}
        />
        <FilterSelect
          label="Stale"
          value={params.get("stale") ?? ""}
          onChange={(value) => {
            setFilter("stale", value);
          }}
          options={[
            ["false", "Current"],
            ["true", "Stale"],
          ]}
        />
        <FilterSelect
          label="Review"
          value={params.get("quarantined") ?? ""}
          onChange={(value) => {
            setFilter("quarantined", value);
          }}
          options={[
            ["true", "Quarantined"],
            ["false", "Approved"],
          ]}
        />
      </div>

      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : tools.length === 0 ? (
        filtered ? (
          <EmptyState title="No tools match these filters" />
        ) : (
          <EmptyState title="No tools yet">
            Tools appear here after you <Link to={path("connections")}>sync a connection</Link>.
          </EmptyState>
        )
      ) : (
        <div className="card card--flush">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Tool</th>
                <th scope="col">Connection</th>
                <th scope="col">Enabled</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tools.map((tool) => (
                <tr key={tool.id} className={tool.enabled ? undefined : "row--muted"}>
                  <td>
                    <div className="mono strong">
                      <Link to={path("tools", tool.id)}>{tool.name}</Link>{" "}
                      {tool.stale ? (
                        <Badge tone="amber" title="No longer offered by the server">
                          stale
                        </Badge>
                      ) : null}
                      {tool.source === "manual" ? <Badge tone="blue">manual</Badge> : null}
                      {tool.quarantine ? (
                        <Badge tone="red" title={QUARANTINE_LABELS[tool.quarantine]}>
                          quarantined: {tool.quarantine}
                        </Badge>
                      ) : null}
                    </div>
                    {tool.name !== tool.upstream_name ? (
                      <div className="muted small mono">upstream: {tool.upstream_name}</div>
                    ) : null}
                    <div className="muted small clamp" title={tool.description}>
                      {tool.title ? `${tool.title} — ` : ""}
                      {tool.description}
                    </div>
                  </td>
                  <td>
                    <Link to={path("connections", tool.connection_id)}>
                      {connectionNames.get(tool.connection_id) ?? "—"}
                    </Link>
                  </td>
                  <td>
                    <EnabledSwitch
                      editable={isAdmin}
                      name={tool.name}
                      enabled={tool.enabled}
                      busy={toggle.isPending && toggle.variables.id === tool.id}
                      onChange={(checked) => {
                        toggle.mutate({ id: tool.id, enabled: checked });
                      }}
                    />
                  </td>
                  <td className="table__actions">
                    {canRun ? (
                      <Button
                        size="sm"
                        variant="primary"
                        disabled={!tool.enabled || tool.quarantine !== null}
                        title={
                          tool.quarantine
                            ? "Quarantined: an admin must review its definition"
                            : tool.enabled
                              ? undefined
                              : "Enable the tool to run it"
                        }
                        aria-label={`Run ${tool.name}`}
                        onClick={() => {
                          setRunning(tool);
                        }}
                      >
                        Run
                      </Button>
                    ) : null}
                    {isAdmin ? (
                      <>
                        {tool.quarantine ? (
                          <Button
                            size="sm"
                            variant="primary"
                            aria-label={`Review ${tool.name}`}
                            onClick={() => {
                              setReviewing(tool);
                            }}
                          >
                            Review
                          </Button>
                        ) : null}
                        <Button
                          size="sm"
                          aria-label={`Rename ${tool.name}`}
                          onClick={() => {
                            setRenaming(tool);
                          }}
                        >
                          Rename
                        </Button>
                        <Button
                          size="sm"
                          variant="ghost"
                          className="text-danger"
                          aria-label={`Delete ${tool.name}`}
                          onClick={() => {
                            remove(tool);
                          }}
                        >
                          Delete
                        </Button>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.hasNextPage ? (
            <div className="card__footer">
              <Button busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
                Load more
              </Button>
            </div>
          ) : null}
        </div>
      )}
      {running ? (
        <RunToolDialog
          tool={running}
          onClose={() => {
            setRunning(null);
          }}
        />
      ) : null}
      {reviewing ? (
        <ReviewDefinitionDialog
          tool={reviewing}
          onClose={() => {
            setReviewing(null);
          }}
        />
      ) : null}
      {renaming ? (
        <RenameDialog
          tool={renaming}
          onClose={() => {
            setRenaming(null);
          }}
        />
      ) : null}
    </div>
  );
}

function RenameDialog({ tool, onClose }: { tool: Tool; onClose: () => void }) {
  const toast = useToast();
  const [name, setName] = useState(tool.name);
  const [errors, setErrors] = useState<FieldErrors>({});
  const rename = useMutation(
    trpc.tools.update.mutationOptions({
      onSuccess: async (updated) => {
        await queryClient.invalidateQueries(trpc.tools.pathFilter());
        toast(`Renamed to ${updated.name}`);
        onClose();
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(renameInput, { name });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    rename.mutate({ id: tool.id, name: parsed.data.name });
  };
  return (
    <Dialog
      open
      onClose={onClose}
      size="sm"
      title={`Rename ${tool.name}`}
      description="The name agents see. The upstream server keeps its own name."
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" form="rename-tool-form" variant="primary" busy={rename.isPending}>
            Rename
          </Button>
        </>
      }
    >
      <form id="rename-tool-form" onSubmit={submit} noValidate>
        <FormError error={rename.error} shownAtFields={errors} />
        <TextField
          label="Exposed name"
          error={errors.name}
          required
          hint={`Upstream name: ${tool.upstream_name}`}
          variant="mono"
          value={name}
          autoFocus
          onChange={setName}
        />
      </form>
    </Dialog>
  );
}
