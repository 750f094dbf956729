import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { EnabledSwitch, FilterSelect } from "../../components/Field";
import { NEXT_PAGE, PAGE_SIZE, PagedTable, type Column } from "../../components/DataTable";
import { ListPage } from "../../components/ListPage";
import { EmptyState } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { Policy } from "../../lib/api";
import { errorInfo } from "../../lib/errors";
import { nameById, personName, useAgents, useEnvironments, useMembers } from "../../lib/queries";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { EvaluatePanel } from "./EvaluatePanel";
import { subjectText } from "./subjects";
import { PolicyFormDialog } from "./PolicyForm";
import { NewSecret } from "../../components/NewSecret";

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
  const members = useMembers(org.id);
  const memberNames = new Map(
    (members.data?.results ?? []).map((member) => [member.user_id, personName(member)]),
  );
  const envNames = nameById(environments.data?.results);
  const [agentFilter, setAgentFilter] = useState("");
  const [effectFilter, setEffectFilter] = useState<"" | "allow" | "deny">("");
  const [editing, setEditing] = useState<Editing>(null);
  const [hookSecret, setHookSecret] = useState<string | null>(null);
  const isAdmin = can("admin");

  const list = useInfiniteQuery(
    trpc.policies.list.infiniteQueryOptions(
      {
        org_id: org.id,
        limit: PAGE_SIZE,
        ...(agentFilter ? { agent_id: agentFilter } : {}),
        ...(effectFilter ? { effect: effectFilter } : {}),
      },
      NEXT_PAGE,
    ),
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

  const filtered = agentFilter !== "" || effectFilter !== "";
  const columns: Column<Policy>[] = [
    {
      id: "policy",
      header: "Policy",
      cell: (policy) => (
        <>
          <div className="strong">{policy.name}</div>
          {policy.description ? (
            <div className="muted small clamp">{policy.description}</div>
          ) : null}
        </>
      ),
    },
    {
      id: "effect",
      header: "Effect",
      cell: (policy) => (
        <Badge tone={policy.effect === "allow" ? "green" : "red"}>{policy.effect}</Badge>
      ),
    },
    {
      id: "applies",
      header: "Applies to",
      cell: (policy) => (
        <>
          <div data-testid="policy-subject">
            {subjectText(policy, { agents: agentNames, members: memberNames })}
          </div>
          <div>
            <span className="muted small">{TARGET_LABELS[policy.target]}:</span>{" "}
            <span className="mono">{policy.tool_pattern}</span>
          </div>
          {policy.environment_id ? (
            <div>
              <span className="muted small">Env:</span> {envNames.get(policy.environment_id) ?? "—"}
            </div>
          ) : null}
        </>
      ),
    },
    {
      id: "conditions",
      header: "Conditions",
      className: "small",
      cell: (policy) => (
        <>
          {policy.input_schema ? <Badge tone="blue">input schema</Badge> : null}{" "}
          {policy.rate_limit ? (
            <Badge tone="violet">
              {policy.rate_limit.max_calls}/{policy.rate_limit.per_seconds}s
            </Badge>
          ) : null}
          {!policy.input_schema && !policy.rate_limit ? <span className="muted">—</span> : null}
        </>
      ),
    },
    {
      id: "enabled",
      header: "Enabled",
      cell: (policy) => (
        <EnabledSwitch
          editable={isAdmin}
          name={policy.name}
          enabled={policy.enabled}
          busy={toggle.isPending && toggle.variables.id === policy.id}
          onChange={(checked) => {
            toggle.mutate({ id: policy.id, enabled: checked });
          }}
        />
      ),
    },
  ];
  if (isAdmin)
    columns.push({
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (policy) => (
        <>
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
        </>
      ),
    });

  return (
    <ListPage
      title="Policies"
      description="Decide which agents may call which tools, with which arguments, how often. Nothing is allowed without an allow policy."
      actions={newButton}
      aside={<EvaluatePanel />}
      filters={
        <>
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
        </>
      }
    >
      {hookSecret ? (
        <NewSecret
          secret={hookSecret}
          header="X-Guardrail-Signature"
          testId="policy-hook-secret"
          onDone={() => {
            setHookSecret(null);
          }}
        />
      ) : null}
      <PagedTable
        list={list}
        label="Policies"
        noun="policies"
        columns={columns}
        rowKey={(policy) => policy.id}
        rowClassName={(policy) => (policy.enabled ? undefined : "row--muted")}
        empty={
          <EmptyState
            title={filtered ? "No policies match these filters" : "No policies yet"}
            action={filtered ? null : newButton}
          >
            {filtered
              ? "Clear a filter to see more."
              : "Nothing is allowed until a policy allows it: start with one that allows an agent the tools it needs."}
          </EmptyState>
        }
      />
      {editing ? (
        <PolicyFormDialog
          policy={editing.policy}
          onClose={() => {
            setEditing(null);
          }}
          onHookSecret={setHookSecret}
        />
      ) : null}
    </ListPage>
  );
}
