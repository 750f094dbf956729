import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { NEXT_PAGE, PAGE_SIZE, PagedTable, type Column } from "../../components/DataTable";
import { ListPage } from "../../components/ListPage";
import { EmptyState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { Agent } from "../../lib/api";
import { errorInfo } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { useDeleteWithPolicies } from "../../lib/governed-delete";
import { nameById, useEnvironments } from "../../lib/queries";
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
  const deleteWithPolicies = useDeleteWithPolicies();
  const toast = useToast();
  return (agent: Agent, after?: () => Promise<void>) => {
    deleteWithPolicies({
      kind: "agent",
      name: agent.name,
      body: "Its API keys stop working at once. Run history is kept.",
      remove: (confirmPolicyRemoval) =>
        trpcClient.agents.delete.mutate({
          id: agent.id,
          confirm_policy_removal: confirmPolicyRemoval,
        }),
      done: async () => {
        await Promise.all([
          queryClient.invalidateQueries(trpc.agents.pathFilter()),
          queryClient.invalidateQueries(trpc.policies.pathFilter()),
        ]);
        toast(`Deleted ${agent.name}`);
        await after?.();
      },
    });
  };
}

export default function Agents() {
  const { org, can, path } = useOrg();
  const navigate = useNavigate();
  const list = useInfiniteQuery(
    trpc.agents.list.infiniteQueryOptions({ org_id: org.id, limit: PAGE_SIZE }, NEXT_PAGE),
  );
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

  const columns: Column<Agent>[] = [
    {
      id: "name",
      header: "Name",
      cell: (agent) => (
        <>
          <Link className="strong" to={path("agents", agent.id)}>
            {agent.name}
          </Link>
          {agent.description ? <div className="muted small clamp">{agent.description}</div> : null}
        </>
      ),
    },
    { id: "status", header: "Status", cell: (agent) => <StatusBadge status={agent.status} /> },
    {
      id: "environment",
      header: "Environment",
      cell: (agent) => (agent.environment_id ? (envNames.get(agent.environment_id) ?? "—") : "Any"),
    },
    { id: "created", header: "Created", cell: (agent) => formatDateTime(agent.created_at) },
  ];
  if (isAdmin)
    columns.push({
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (agent) => (
        <>
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
        </>
      ),
    });

  return (
    <ListPage
      title="Agents"
      description="MCP clients that call your tools through the platform, each with its own endpoint, keys and policies."
      actions={newButton}
    >
      <PagedTable
        list={list}
        label="Agents"
        noun="agents"
        columns={columns}
        rowKey={(agent) => agent.id}
        empty={
          <EmptyState title="No agents yet" action={newButton}>
            {isAdmin
              ? "Create an agent, give it an API key and point your MCP client at its endpoint."
              : "An admin can create agents."}
          </EmptyState>
        }
      />
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
    </ListPage>
  );
}
