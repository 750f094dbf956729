import { asJsonObject, type Tool } from "../../lib/api";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link } from "react-router";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { SelectField } from "../../components/Field";
import { RunOutcome } from "../../components/RunOutcome";
import { SchemaForm, useSchemaForm } from "../../components/SchemaForm";
import { FormError } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import { argumentErrors, errorInfo, type FieldErrors } from "../../lib/errors";
import { useAgents } from "../../lib/queries";
import { queryClient, trpc } from "../../lib/trpc";

export function RunToolDialog({ tool, onClose }: { tool: Tool; onClose: () => void }) {
  const { org, path, can } = useOrg();
  const agents = useAgents(org.id);
  const form = useSchemaForm(tool.input_schema);
  const [agentId, setAgentId] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});

  const run = useMutation(
    trpc.tools.run.mutationOptions({
      onSuccess: async () => {
        setErrors({});
        await queryClient.invalidateQueries(trpc.runs.pathFilter());
      },
      onError: (error) => {
        setErrors(argumentErrors(errorInfo(error).issues));
      },
    }),
  );

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const { value, issues } = form.collect();
    const found: FieldErrors = {};
    for (const issue of issues) found[issue.path] ??= issue.message;
    setErrors(found);
    const input = asJsonObject(value);
    if (issues.length > 0 || input === null) return;
    run.mutate({ id: tool.id, input, ...(agentId ? { agent_id: agentId } : {}) });
  };

  const activeAgents = agents.data?.results.filter((agent) => agent.status === "active") ?? [];

  return (
    <Dialog
      open
      onClose={onClose}
      size="lg"
      title={`Run ${tool.name}`}
      description={tool.description || undefined}
      footer={
        <>
          <Button onClick={onClose}>Close</Button>
          <Button type="submit" form="run-tool-form" variant="primary" busy={run.isPending}>
            Run tool
          </Button>
        </>
      }
    >
      <form id="run-tool-form" onSubmit={submit} noValidate className="stack">
        {/* Running as an agent uses its policies and quota, which only admins may do. */}
        {can("admin") ? (
          <SelectField
            label="Run as"
            hint="Running on behalf of an agent applies that agent's policies and uses its rate limits; otherwise the run is yours."
            value={agentId}
            onChange={setAgentId}
            emptyLabel="Myself (no agent)"
            options={activeAgents.map((agent) => [agent.id, `Agent: ${agent.name}`] as const)}
          />
        ) : null}
        <SchemaForm state={form} errors={errors} disabled={run.isPending} />
      </form>
      {run.isError ? <FormError error={run.error} /> : null}
      {run.data ? (
        <section className="run-result" aria-labelledby="run-result-title" aria-live="polite">
          <h3 id="run-result-title">
            Result{" "}
            <Link className="small" to={path("runs", run.data.id)}>
              View run →
            </Link>
          </h3>
          <RunOutcome run={run.data} />
        </section>
      ) : null}
    </Dialog>
  );
}
