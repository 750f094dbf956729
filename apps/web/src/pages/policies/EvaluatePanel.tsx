import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Badge, StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { Field, SelectField } from "../../components/Field";
import { FormError } from "../../components/States";
import { useOrg } from "../../layout/org-context";
import { asJsonObject, type PolicyDecision } from "../../lib/api";
import { type FieldErrors } from "../../lib/errors";
import { personName, useAgents, useMembers, useTools } from "../../lib/queries";
import { ORG_ROLES } from "@mcp/api/contracts";
import { parseRawJson } from "../../lib/schema-form/draft";
import { trpc } from "../../lib/trpc";

/** The caller a decision is asked for: an agent, a member, or anyone with a role (`kind:value`). */
function callerFields(caller: string) {
  const [kind, value] = [
    caller.slice(0, caller.indexOf(":")),
    caller.slice(caller.indexOf(":") + 1),
  ];
  if (kind === "agent") return { agent_id: value };
  if (kind === "user") return { user_id: value };
  const role = ORG_ROLES.find((option) => option === value);
  return role ? { role } : { agent_id: null };
}

/** Dry-runs the policy engine: what would happen if this caller called this tool with this input. */
export function EvaluatePanel() {
  const { org } = useOrg();
  const agents = useAgents(org.id);
  const members = useMembers(org.id);
  const tools = useTools(org.id);
  const [caller, setCaller] = useState("");
  const [toolId, setToolId] = useState("");
  const [input, setInput] = useState("{}");
  const [errors, setErrors] = useState<FieldErrors>({});
  const evaluate = useMutation(trpc.policies.evaluate.mutationOptions());
  // A decision answers one agent, tool and input: once any of them changes, it is no longer shown.
  const changed =
    <T,>(set: (value: T) => void) =>
    (value: T) => {
      set(value);
      evaluate.reset();
    };

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const found: FieldErrors = {};
    if (toolId === "") found.tool_id = "Choose a tool";
    const parsed = parseRawJson(input);
    const value = asJsonObject(parsed.value);
    if (parsed.issues[0]) found.input = parsed.issues[0].message;
    setErrors(found);
    if (Object.keys(found).length > 0 || value === null) return;
    evaluate.mutate({
      org_id: org.id,
      ...callerFields(caller),
      tool_id: toolId,
      input: value,
    });
  };

  return (
    <section className="card" aria-labelledby="evaluate-title">
      <h2 id="evaluate-title">Evaluate</h2>
      <p className="muted small">Check which policies apply to a call, without running the tool.</p>
      <form onSubmit={submit} noValidate className="stack">
        <Field label="Caller">
          {(props) => (
            <select
              {...props}
              className="input"
              value={caller}
              onChange={(event) => {
                changed(setCaller)(event.target.value);
              }}
            >
              <option value="">Unknown caller (only policies for everyone)</option>
              <optgroup label="Agents">
                {(agents.data?.results ?? []).map((agent) => (
                  <option key={agent.id} value={`agent:${agent.id}`}>
                    {agent.name}
                  </option>
                ))}
              </optgroup>
              <optgroup label="Members">
                {(members.data?.results ?? []).map((member) => (
                  <option key={member.user_id} value={`user:${member.user_id}`}>
                    {personName(member)} ({member.role})
                  </option>
                ))}
              </optgroup>
              <optgroup label="Anyone with the role">
                {ORG_ROLES.map((role) => (
                  <option key={role} value={`role:${role}`}>
                    {role}
                  </option>
                ))}
              </optgroup>
            </select>
          )}
        </Field>
        <SelectField
          label="Tool"
          error={errors.tool_id}
          required
          value={toolId}
          onChange={changed(setToolId)}
          emptyLabel="— choose a tool —"
          options={(tools.data?.results ?? []).map((tool) => [tool.id, tool.name] as const)}
        />
        <Field label="Input (JSON)" error={errors.input}>
          {(props) => (
            <textarea
              {...props}
              className="input mono"
              rows={4}
              spellCheck={false}
              value={input}
              onChange={(event) => {
                changed(setInput)(event.target.value);
              }}
            />
          )}
        </Field>
        <Button type="submit" variant="primary" busy={evaluate.isPending}>
          Evaluate
        </Button>
      </form>
      <FormError error={evaluate.error} />
      {evaluate.data ? <DecisionView decision={evaluate.data} /> : null}
    </section>
  );
}

export function DecisionView({ decision }: { decision: PolicyDecision }) {
  return (
    <div
      className={`result ${decision.allowed ? "result--ok" : "result--error"}`}
      role="status"
      data-testid="decision"
    >
      <div className="decision__head">
        <StatusBadge status={decision.allowed ? "allow" : "deny"} />
        <strong>{decision.allowed ? "Allowed" : "Denied"}</strong>
      </div>
      <p>{decision.reason}</p>
      {decision.matched.length > 0 ? (
        <>
          <h4 className="small-heading">Matched policies</h4>
          <ul className="plain">
            {decision.matched.map((match) => (
              <li key={match.policy_id}>
                <Badge tone={match.effect === "allow" ? "green" : "red"}>{match.effect}</Badge>{" "}
                {match.name}
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p className="muted small">No policy matched.</p>
      )}
      {decision.input_mismatches.length > 0 ? (
        <>
          <h4 className="small-heading">Input conditions not met</h4>
          <ul className="plain">
            {decision.input_mismatches.map((mismatch) => (
              <li key={mismatch.policy_id}>
                <strong>{mismatch.name}</strong>:{" "}
                {mismatch.issues
                  .map((issue) => `${issue.path.join(".") || "(input)"} ${issue.message}`)
                  .join("; ")}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {decision.rate_limited_by.length > 0 ? (
        <>
          <h4 className="small-heading">Rate limited by</h4>
          <ul className="plain">
            {decision.rate_limited_by.map((limit) => (
              <li key={limit.policy_id}>
                {limit.name}: {limit.max_calls} calls per {limit.per_seconds} s
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}
