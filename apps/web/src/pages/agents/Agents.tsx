import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { Agent } from "../../lib/api";
import { errorInfo } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { nameById, useAgents, useEnvironments } from "../../lib/queries";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { AgentFormDialog } from "./AgentForm";

export function useAgentStatusToggle() {
  const toast = useToast();
  return useMutation(
    trpc.agents.update.mutationOptions({
      onSuccess: async (agent) => {
        toast(`${agent.name} is now ${agent.status}`);
        await queryClient.invalidateQueries(trpc.agents.pathFilter());
      },
      onError: (error) => {
        toast(errorInfo(error).message, "error");
      },
    }),
  );
}

export function useDeleteAgent() {
  const confirm = useConfirm();
  const toast = useToast();
  return (agent: Agent, after?: () => Promise<void>) => {
    confirm({
      title: `Delete agent “${agent.name}”?`,
      body: "Its API keys stop working at once and its policies no longer apply. Run history is kept.",
      confirmLabel: "Delete agent",
      action: async () => {
        await trpcClient.agents.delete.mutate({ id: agent.id });
        await queryClient.invalidateQueries(trpc.agents.pathFilter());
        toast(`Deleted ${agent.name}`);
        await after?.();
      },
    });
  };
}

export default function Agents() {
  const { org, can, path } = useOrg();
  const navigate = useNavigate();
  const list = useAgents(org.id);
  const environments = useEnvironments(org.id);
  const envNames = nameById(environments.data?.results);
  const [creating, setCreating] = useState(false);
  const toggle = useAgentStatusToggle();
  const remove = useDeleteAgent();
  const isAdmin = can("admin");

  const newButton = isAdmin ? (
    <Button
      variant="primary"
      onClick={() => {
        setCreating(true);
      }}
    >
      New agent
    </Button>
  ) : null;

  return (
    <div className="page">
      <PageHeader
        title="Agents"
        description="MCP clients that call your tools through the platform, each with its own endpoint, keys and policies."
        actions={newButton}
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.results.length === 0 ? (
        <EmptyState title="No agents yet" action={newButton}>
          Create an agent, give it an API key and point your MCP client at its endpoint.
        </EmptyState>
      ) : (
        <div className="card card--flush">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Environment</th>
                <th scope="col">Created</th>
                {isAdmin ? (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.results.map((agent) => (
                <tr key={agent.id}>
                  <td>
                    <Link className="strong" to={path("agents", agent.id)}>
                      {agent.name}
                    </Link>
                    {agent.description ? (
                      <div className="muted small clamp">{agent.description}</div>
                    ) : null}
                  </td>
                  <td>
                    <StatusBadge status={agent.status} />
                  </td>
                  <td>
                    {agent.environment_id ? (envNames.get(agent.environment_id) ?? "—") : "Any"}
                  </td>
                  <td>{formatDateTime(agent.created_at)}</td>
                  {isAdmin ? (
                    <td className="table__actions">
                      <Button
                        size="sm"
                        busy={toggle.isPending && toggle.variables.id === agent.id}
                        onClick={() => {
                          toggle.mutate({
                            id: agent.id,
                            status: agent.status === "active" ? "disabled" : "active",
                          });
                        }}
                      >
                        {agent.status === "active" ? "Disable" : "Enable"}
                      </Button>
                      <Button
                        size="sm"
                        variant="ghost"
                        className="text-danger"
                        aria-label={`Delete ${agent.name}`}
                        onClick={() => {
                          remove(agent);
                        }}
                      >
                        Delete
                      </Button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating ? (
        <AgentFormDialog
          agent={null}
          onClose={() => {
            setCreating(false);
          }}
          onSaved={(agent) => {
            void navigate(path("agents", agent.id));
          }}
        />
      ) : null}
    </div>
  );
}
