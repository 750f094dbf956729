import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { EnabledSwitch, FilterSelect } from "../../components/Field";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { Policy } from "../../lib/api";
import { errorInfo } from "../../lib/errors";
import { nameById, useAgents, useEnvironments } from "../../lib/queries";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { EvaluatePanel } from "./EvaluatePanel";
import { PolicyFormDialog } from "./PolicyForm";

type Editing = { policy: Policy | null } | null;

const TARGET_LABELS: Record<Policy["target"], string> = {
  tool: "Tools",
  prompt: "Prompts",
  resource: "Resources",
};

export default function Policies() {
  const { org, can } = useOrg();
  const confirm = useConfirm();
  const toast = useToast();
  const agents = useAgents(org.id);
  const environments = useEnvironments(org.id);
  const agentNames = nameById(agents.data?.results);
  const envNames = nameById(environments.data?.results);
  const [agentFilter, setAgentFilter] = useState("");
  const [effectFilter, setEffectFilter] = useState<"" | "allow" | "deny">("");
  const [editing, setEditing] = useState<Editing>(null);
  const isAdmin = can("admin");

  const list = useQuery(
    trpc.policies.list.queryOptions({
      org_id: org.id,
      limit: 200,
      ...(agentFilter ? { agent_id: agentFilter } : {}),
      ...(effectFilter ? { effect: effectFilter } : {}),
    }),
  );

  const toggle = useMutation(
    trpc.policies.update.mutationOptions({
      onSuccess: async (policy) => {
        toast(`${policy.name} ${policy.enabled ? "enabled" : "disabled"}`);
        await queryClient.invalidateQueries(trpc.policies.pathFilter());
      },
      onError: (error) => {
        toast(errorInfo(error).message, "error");
      },
    }),
  );

  const remove = (policy: Policy) => {
    confirm({
      title: `Delete policy “${policy.name}”?`,
      body: "Calls it allowed or denied are decided by the remaining policies from now on.",
      confirmLabel: "Delete policy",
      action: async () => {
        await trpcClient.policies.delete.mutate({ id: policy.id });
        await queryClient.invalidateQueries(trpc.policies.pathFilter());
        toast(`Deleted ${policy.name}`);
      },
    });
  };

  const newButton = isAdmin ? (
    <Button
      variant="primary"
      onClick={() => {
        setEditing({ policy: null });
      }}
    >
      New policy
    </Button>
  ) : null;

  return (
    <div className="page">
      <PageHeader
        title="Policies"
        description="Decide which agents may call which tools, with which arguments, how often. Nothing is allowed without an allow policy."
        actions={newButton}
      />
      <div className="layout-aside">
        <div className="stack">
          <div className="toolbar">
            <FilterSelect
              label="Agent"
              allLabel="All"
              value={agentFilter}
              onChange={setAgentFilter}
              options={(agents.data?.results ?? []).map((agent) => [agent.id, agent.name] as const)}
            />
            <FilterSelect
              label="Effect"
              allLabel="All"
              value={effectFilter}
              onChange={(value) => {
                setEffectFilter(value === "allow" || value === "deny" ? value : "");
              }}
              options={[
                ["allow", "Allow"],
                ["deny", "Deny"],
              ]}
            />
          </div>
          {list.isPending ? (
            <Loading />
          ) : list.isError ? (
            <ErrorState error={list.error} onRetry={() => void list.refetch()} />
          ) : list.data.results.length === 0 ? (
            <EmptyState
              title={agentFilter || effectFilter ? "No policies match" : "No policies yet"}
              action={agentFilter || effectFilter ? null : newButton}
            >
              {agentFilter || effectFilter
                ? null
                : "Without an allow policy, agents cannot call any tool."}
            </EmptyState>
          ) : (
            <div className="card card--flush">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Policy</th>
                    <th scope="col">Effect</th>
                    <th scope="col">Applies to</th>
                    <th scope="col">Conditions</th>
                    <th scope="col">Enabled</th>
                    {isAdmin ? (
                      <th scope="col">
                        <span className="sr-only">Actions</span>
                      </th>
                    ) : null}
                  </tr>
                </thead>
                <tbody>
                  {list.data.results.map((policy) => (
                    <tr key={policy.id} className={policy.enabled ? undefined : "row--muted"}>
                      <td>
                        <div className="strong">{policy.name}</div>
                        {policy.description ? (
                          <div className="muted small clamp">{policy.description}</div>
                        ) : null}
                      </td>
                      <td>
                        <Badge tone={policy.effect === "allow" ? "green" : "red"}>
                          {policy.effect}
                        </Badge>
                      </td>
                      <td>
                        <div>
                          <span className="muted small">Agent:</span>{" "}
                          {policy.agent_id
                            ? (agentNames.get(policy.agent_id) ?? "deleted agent")
                            : "any"}
                        </div>
                        <div>
                          <span className="muted small">{TARGET_LABELS[policy.target]}:</span>{" "}
                          <span className="mono">{policy.tool_pattern}</span>
                        </div>
                        {policy.environment_id ? (
                          <div>
                            <span className="muted small">Env:</span>{" "}
                            {envNames.get(policy.environment_id) ?? "—"}
                          </div>
                        ) : null}
                      </td>
                      <td className="small">
                        {policy.input_schema ? <Badge tone="blue">input schema</Badge> : null}{" "}
                        {policy.rate_limit ? (
                          <Badge tone="violet">
                            {policy.rate_limit.max_calls}/{policy.rate_limit.per_seconds}s
                          </Badge>
                        ) : null}
                        {!policy.input_schema && !policy.rate_limit ? (
                          <span className="muted">—</span>
                        ) : null}
                      </td>
                      <td>
                        <EnabledSwitch
                          editable={isAdmin}
                          name={policy.name}
                          enabled={policy.enabled}
                          busy={toggle.isPending && toggle.variables.id === policy.id}
                          onChange={(checked) => {
                            toggle.mutate({ id: policy.id, enabled: checked });
                          }}
                        />
                      </td>
                      {isAdmin ? (
                        <td className="table__actions">
                          <Button
                            size="sm"
                            aria-label={`Edit ${policy.name}`}
                            onClick={() => {
                              setEditing({ policy });
                            }}
                          >
                            Edit
                          </Button>
                          <Button
                            size="sm"
                            variant="ghost"
                            className="text-danger"
                            aria-label={`Delete ${policy.name}`}
                            onClick={() => {
                              remove(policy);
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
        </div>
        <EvaluatePanel />
      </div>
      {editing ? (
        <PolicyFormDialog
          policy={editing.policy}
          onClose={() => {
            setEditing(null);
          }}
        />
      ) : null}
    </div>
  );
}
