import { createAgentInput, type AGENT_STATUSES } from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { FormDialog } from "../../components/FormDialog";
import { Field, SelectField, TextField } from "../../components/Field";
import { useOrg } from "../../layout/org-context";
import type { Agent } from "../../lib/api";
import { validate, type FieldErrors } from "../../lib/errors";
import { useFormSave } from "../../lib/hooks";
import { useEnvironments } from "../../lib/queries";
import { trpc } from "../../lib/trpc";

export function AgentFormDialog({
  agent,
  onClose,
  onSaved,
}: {
  agent: Agent | null;
  onClose: () => void;
  onSaved?: (agent: Agent) => void;
}) {
  const { org } = useOrg();
  const environments = useEnvironments(org.id);
  const [name, setName] = useState(agent?.name ?? "");
  const [description, setDescription] = useState(agent?.description ?? "");
  const [environmentId, setEnvironmentId] = useState(agent?.environment_id ?? "");
  const [status, setStatus] = useState<(typeof AGENT_STATUSES)[number]>(agent?.status ?? "active");
  const [errors, setErrors] = useState<FieldErrors>({});

  const save = useFormSave<Agent>({
    invalidate: trpc.agents.pathFilter(),
    setErrors,
    onClose,
    onSaved,
  });
  const create = useMutation(trpc.agents.create.mutationOptions(save.create));
  const update = useMutation(trpc.agents.update.mutationOptions(save.update));
  const mutation = agent ? update : create;

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(createAgentInput, {
      name,
      description,
      environment_id: environmentId === "" ? null : environmentId,
      status,
    });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    if (agent) update.mutate({ id: agent.id, ...parsed.data });
    else create.mutate({ org_id: org.id, ...parsed.data });
  };

  return (
    <FormDialog
      onClose={onClose}
      title={agent ? `Edit ${agent.name}` : "New agent"}
      description="An agent is an MCP client (an AI assistant, a job) with its own keys, endpoint and policies."
      submitLabel={agent ? "Save" : "Create agent"}
      busy={mutation.isPending}
      error={mutation.error}
      fieldErrors={errors}
      onSubmit={submit}
    >
      <TextField
        label="Name"
        error={errors.name}
        required
        value={name}
        autoFocus
        onChange={setName}
      />
      <Field label="Description" error={errors.description}>
        {(props) => (
          <textarea
            {...props}
            className="input"
            rows={2}
            value={description}
            onChange={(event) => {
              setDescription(event.target.value);
            }}
          />
        )}
      </Field>
      <div className="form-row">
        <SelectField
          label="Environment"
          error={errors.environment_id}
          hint="Limits the agent to tools of this environment's connections."
          value={environmentId}
          onChange={setEnvironmentId}
          emptyLabel="Any environment"
          options={(environments.data?.results ?? []).map(
            (environment) => [environment.id, environment.name] as const,
          )}
        />
        <Field label="Status" error={errors.status}>
          {(props) => (
            <select
              {...props}
              className="input"
              value={status}
              onChange={(event) => {
                setStatus(event.target.value === "disabled" ? "disabled" : "active");
              }}
            >
              <option value="active">Active</option>
              <option value="disabled">Disabled</option>
            </select>
          )}
        </Field>
      </div>
    </FormDialog>
  );
}
