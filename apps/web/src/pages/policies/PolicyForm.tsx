import type { HOOK_FAIL_MODES } from "@mcp/api/contracts";
import {
  createPolicyInput,
  GUARDRAIL_HOOK_TIMEOUT_DEFAULT_MS,
  ORG_ROLES,
  APPROVAL_TIMEOUT_DEFAULT_SECONDS,
  APPROVER_ROLES,
  POLICY_EFFECTS,
  POLICY_SUBJECTS,
  POLICY_TARGETS,
  type GuardrailHookDto,
  type OrgRole,
} from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useId, useState, type SubmitEvent } from "react";
import { Button } from "../../components/Button";
import { FormDialog } from "../../components/FormDialog";
import { FormError } from "../../components/States";
import { Checkbox, Field, SelectField, TextField } from "../../components/Field";
import { useOrg } from "../../layout/org-context";
import type { Policy } from "../../lib/api";
import { validate, type FieldErrors } from "../../lib/errors";
import { useFormSave } from "../../lib/hooks";
import { pretty } from "../../lib/format";
import { personName, useAgents, useEnvironments, useMembers, useTools } from "../../lib/queries";
import { isRecord } from "../../lib/schema-form/schema";
import { trpc } from "../../lib/trpc";
import { WhatIfResult } from "./WhatIfPanel";
import { SUBJECT_LABELS, type Subject } from "./subjects";

type Effect = (typeof POLICY_EFFECTS)[number];
type ApproverRole = (typeof APPROVER_ROLES)[number];
const EFFECT_LABELS: Record<Effect, string> = {
  allow: "Allow",
  deny: "Deny",
  require_approval: "Require approval",
};
type Target = (typeof POLICY_TARGETS)[number];

function isTarget(value: string): value is Target {
  return POLICY_TARGETS.some((target) => target === value);
}

function isSubject(value: string): value is Subject {
  return POLICY_SUBJECTS.some((subject) => subject === value);
}

function isRole(value: string): value is OrgRole {
  return ORG_ROLES.some((role) => role === value);
}

const SUBJECT_HINTS: Record<Subject, string> = {
  agent: "Calls made through an agent: the MCP gateway, or REST with an agent key.",
  user: "This member's own calls, from the console or REST. No agent gains anything.",
  role: "The own calls of members (and API tokens) with at least this role. No agent gains anything.",
  everyone: "Both agents' calls and people's own calls.",
};

const TARGETS: Record<Target, { label: string; pattern: string; hint: string }> = {
  tool: {
    label: "Tool calls",
    pattern: "Tool pattern",
    hint: "A glob over exposed tool names (github_*, *), or a tool's id.",
  },
  prompt: {
    label: "Prompts",
    pattern: "Prompt pattern",
    hint: "A glob over the prompt names agents see (summarize_*, *).",
  },
  resource: {
    label: "Resources",
    pattern: "Resource URI pattern",
    hint: "A glob over resource URIs; * also spans slashes (file:///docs/*).",
  },
};

type FailMode = (typeof HOOK_FAIL_MODES)[number];

/** One hook's fields as typed: an empty URL means no hook. */
interface HookDraft {
  url: string;
  timeout: string;
  failMode: FailMode;
}

function hookDraft(hook: GuardrailHookDto | null | undefined): HookDraft {
  return {
    url: hook?.url ?? "",
    timeout: String(hook?.timeout_ms ?? GUARDRAIL_HOOK_TIMEOUT_DEFAULT_MS),
    failMode: hook?.fail_mode ?? "closed",
  };
}

function hookValue(draft: HookDraft) {
  return draft.url.trim() === ""
    ? null
    : { url: draft.url.trim(), timeout_ms: Number(draft.timeout), fail_mode: draft.failMode };
}

const STAGES = {
  pre_call_hook: {
    label: "Pre-call hook URL",
    hint: "Asked before each call this policy allows: it may allow, deny or rewrite the input.",
  },
  post_call_hook: {
    label: "Post-call hook URL",
    hint: "Asked before the result is returned or stored: it may allow, deny or replace it.",
  },
} as const;

function HookFields({
  stage,
  draft,
  onChange,
  errors,
}: {
  stage: keyof typeof STAGES;
  draft: HookDraft;
  onChange: (draft: HookDraft) => void;
  errors: FieldErrors;
}) {
  return (
    <div className="form-row">
      <TextField
        label={STAGES[stage].label}
        hint={STAGES[stage].hint}
        error={errors[`${stage}.url`] ?? errors[stage]}
        variant="mono"
        placeholder="https://guard.example.com/check"
        value={draft.url}
        onChange={(url) => {
          onChange({ ...draft, url });
        }}
      />
      {draft.url.trim() === "" ? null : (
        <>
          <TextField
            label="Timeout (ms)"
            error={errors[`${stage}.timeout_ms`]}
            variant="number"
            inputMode="numeric"
            value={draft.timeout}
            onChange={(timeout) => {
              onChange({ ...draft, timeout });
            }}
          />
          <SelectField
            label="When it fails"
            error={errors[`${stage}.fail_mode`]}
            value={draft.failMode}
            onChange={(value) => {
              onChange({ ...draft, failMode: value === "open" ? "open" : "closed" });
            }}
            options={[
              ["closed", "Deny the call"],
              ["open", "Allow the call"],
            ]}
          />
        </>
      )}
    </div>
  );
}

/** Parses the optional JSON Schema text; an empty box means "no input condition". */
export function parseSchemaText(
  text: string,
): { value: Record<string, unknown> | null } | { error: string } {
  if (text.trim() === "") return { value: null };
  try {
    const value: unknown = JSON.parse(text);
    if (!isRecord(value)) return { error: "Must be a JSON object (a JSON Schema)" };
    return { value };
  } catch (error) {
    return { error: `Invalid JSON: ${error instanceof Error ? error.message : "parse error"}` };
  }
}

export function PolicyFormDialog({
  policy,
  onClose,
  onHookSecret,
}: {
  policy: Policy | null;
  onClose: () => void;
  /** Told the hooks' signing secret when saving just made it (its only showing). */
  onHookSecret: (secret: string) => void;
}) {
  const { org } = useOrg();
  const agents = useAgents(org.id);
  const members = useMembers(org.id);
  const tools = useTools(org.id);
  const environments = useEnvironments(org.id);
  const datalistId = useId();

  const [name, setName] = useState(policy?.name ?? "");
  const [description, setDescription] = useState(policy?.description ?? "");
  const [effect, setEffect] = useState<Effect>(policy?.effect ?? "allow");
  const [approverRole, setApproverRole] = useState<ApproverRole>(
    policy?.approver_role === "member" || policy?.approver_role === "owner"
      ? policy.approver_role
      : "admin",
  );
  const [approvalTimeout, setApprovalTimeout] = useState(
    String(policy?.approval_timeout_seconds ?? APPROVAL_TIMEOUT_DEFAULT_SECONDS),
  );
  const approval = effect === "require_approval";
  // A new policy covers everyone, as it did before subjects; the picker narrows it.
  const [subject, setSubject] = useState<Subject>(policy?.subject ?? "everyone");
  const [agentId, setAgentId] = useState(policy?.agent_id ?? "");
  const [userId, setUserId] = useState(policy?.user_id ?? "");
  const [minRole, setMinRole] = useState<OrgRole>(policy?.min_role ?? "admin");
  const [target, setTarget] = useState<Target>(policy?.target ?? "tool");
  const [toolPattern, setToolPattern] = useState(policy?.tool_pattern ?? "*");
  const [environmentId, setEnvironmentId] = useState(policy?.environment_id ?? "");
  const [schemaText, setSchemaText] = useState(
    policy?.input_schema ? pretty(policy.input_schema) : "",
  );
  const [limited, setLimited] = useState((policy?.rate_limit ?? null) !== null);
  const [maxCalls, setMaxCalls] = useState(String(policy?.rate_limit?.max_calls ?? 60));
  const [perSeconds, setPerSeconds] = useState(String(policy?.rate_limit?.per_seconds ?? 60));
  const [preHook, setPreHook] = useState(hookDraft(policy?.pre_call_hook));
  const [postHook, setPostHook] = useState(hookDraft(policy?.post_call_hook));
  const [patternsText, setPatternsText] = useState((policy?.redact_patterns ?? []).join("\n"));
  const [enabled, setEnabled] = useState(policy?.enabled ?? true);
  const [errors, setErrors] = useState<FieldErrors>({});

  const save = useFormSave<Policy & { hook_secret?: string | undefined }>({
    invalidate: trpc.policies.pathFilter(),
    setErrors,
    onClose,
    onSaved: (saved) => {
      if (saved.hook_secret !== undefined) onHookSecret(saved.hook_secret);
    },
  });
  const create = useMutation(trpc.policies.create.mutationOptions(save.create));
  const update = useMutation(trpc.policies.update.mutationOptions(save.update));
  const mutation = policy ? update : create;

  const whatIf = useMutation(trpc.policies.whatIf.mutationOptions());
  const guarded = effect === "allow" && target === "tool";
  const values = {
    name,
    description,
    effect,
    subject,
    agent_id: subject === "agent" && agentId !== "" ? agentId : null,
    user_id: subject === "user" && userId !== "" ? userId : null,
    min_role: subject === "role" ? minRole : null,
    target,
    tool_pattern: toolPattern,
    environment_id: environmentId === "" ? null : environmentId,
    schemaText,
    rate_limit: limited ? { max_calls: Number(maxCalls), per_seconds: Number(perSeconds) } : null,
    // Guardrails act on the tool calls an allow policy allows; other policies may not have them.
    pre_call_hook: guarded ? hookValue(preHook) : null,
    post_call_hook: guarded ? hookValue(postHook) : null,
    redact_patterns: guarded
      ? patternsText
          .split("\n")
          .map((line) => line.trim())
          .filter((line) => line !== "")
      : [],
    approver_role: approval ? approverRole : null,
    approval_timeout_seconds: approval ? Number(approvalTimeout) : null,
    enabled,
  };
  // A preview answers for the fields as they were when it was asked; any edit hides it.
  const snapshot = JSON.stringify(values);
  const [previewed, setPreviewed] = useState<string | null>(null);

  /** The form's fields, checked with the create contract, or null after showing the errors. */
  const collect = () => {
    const { schemaText: text, ...fields } = values;
    const schema = parseSchemaText(text);
    const parsed = validate(createPolicyInput, {
      ...fields,
      input_schema: "value" in schema ? schema.value : null,
    });
    const found = parsed.ok ? {} : { ...parsed.errors };
    if ("error" in schema) found.input_schema = schema.error;
    if (!parsed.ok || "error" in schema) {
      setErrors(found);
      return null;
    }
    setErrors({});
    return parsed.data;
  };

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const data = collect();
    if (data === null) return;
    if (policy) update.mutate({ id: policy.id, ...data });
    else create.mutate({ org_id: org.id, ...data });
  };

  const preview = () => {
    const data = collect();
    if (data === null) return;
    setPreviewed(snapshot);
    whatIf.mutate(
      policy
        ? { org_id: org.id, policy_id: policy.id, changes: data }
        : { org_id: org.id, changes: data },
    );
  };

  return (
    <FormDialog
      onClose={onClose}
      size="lg"
      title={policy ? `Edit ${policy.name}` : "New policy"}
      description="Deny wins over allow. A tool call, prompt or resource read is allowed only when an enabled allow policy for it matches and no deny policy does."
      submitLabel={policy ? "Save" : "Create policy"}
      busy={mutation.isPending}
      error={mutation.error}
      fieldErrors={errors}
      onSubmit={submit}
    >
      <div className="form-row">
        <TextField
          label="Name"
          error={errors.name}
          required
          value={name}
          autoFocus
          onChange={setName}
        />
        <fieldset className="field">
          <legend className="field__label">Effect</legend>
          <div className="radio-row">
            {POLICY_EFFECTS.map((option) => (
              <label key={option} className="radio">
                <input
                  type="radio"
                  name="policy-effect"
                  value={option}
                  checked={effect === option}
                  onChange={() => {
                    setEffect(option);
                  }}
                />
                {EFFECT_LABELS[option]}
              </label>
            ))}
          </div>
        </fieldset>
      </div>
      {approval ? (
        <div className="form-row">
          <SelectField
            label="Approver role"
            hint="The least role that may approve or deny each call"
            error={errors.approver_role}
            value={approverRole}
            options={APPROVER_ROLES.map((role) => [role, `${role} or higher`] as const)}
            onChange={(value) => {
              if (value === "member" || value === "admin" || value === "owner")
                setApproverRole(value);
            }}
          />
          <TextField
            label="Approval timeout (seconds)"
            hint="A call nobody decides in time is denied"
            variant="number"
            error={errors.approval_timeout_seconds}
            value={approvalTimeout}
            onChange={setApprovalTimeout}
          />
        </div>
      ) : null}
      <TextField
        label="Description"
        error={errors.description}
        value={description}
        onChange={setDescription}
      />
      <div className="form-row">
        <Field label="Subject" error={errors.subject} hint={SUBJECT_HINTS[subject]}>
          {(props) => (
            <select
              {...props}
              className="input"
              value={subject}
              onChange={(event) => {
                if (isSubject(event.target.value)) setSubject(event.target.value);
              }}
            >
              {POLICY_SUBJECTS.map((option) => (
                <option key={option} value={option}>
                  {SUBJECT_LABELS[option]}
                </option>
              ))}
            </select>
          )}
        </Field>
        {subject === "agent" ? (
          <SelectField
            label="Agent"
            error={errors.agent_id}
            value={agentId}
            onChange={setAgentId}
            emptyLabel="Any agent"
            options={(agents.data?.results ?? []).map((agent) => [agent.id, agent.name] as const)}
          />
        ) : subject === "user" ? (
          <SelectField
            label="Member"
            error={errors.user_id}
            required
            value={userId}
            onChange={setUserId}
            emptyLabel="— choose a member —"
            options={(members.data?.results ?? []).map(
              (member) => [member.user_id, `${personName(member)} (${member.role})`] as const,
            )}
          />
        ) : subject === "role" ? (
          <SelectField
            label="At least the role"
            error={errors.min_role}
            required
            value={minRole}
            onChange={(value) => {
              if (isRole(value)) setMinRole(value);
            }}
            options={[...ORG_ROLES].reverse().map((role) => [role, role] as const)}
          />
        ) : null}
      </div>
      <div className="form-row">
        <SelectField
          label="Environment"
          error={errors.environment_id}
          value={environmentId}
          onChange={setEnvironmentId}
          emptyLabel="Any environment"
          options={(environments.data?.results ?? []).map(
            (environment) => [environment.id, environment.name] as const,
          )}
        />
      </div>
      <Field label="Governs" error={errors.target}>
        {(props) => (
          <select
            {...props}
            className="input"
            value={target}
            onChange={(event) => {
              if (isTarget(event.target.value)) setTarget(event.target.value);
            }}
          >
            {POLICY_TARGETS.map((option) => (
              <option key={option} value={option}>
                {TARGETS[option].label}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        label={TARGETS[target].pattern}
        error={errors.tool_pattern}
        required
        hint={TARGETS[target].hint}
      >
        {(props) => (
          <>
            <input
              {...props}
              className="input mono"
              list={target === "tool" ? datalistId : undefined}
              value={toolPattern}
              onChange={(event) => {
                setToolPattern(event.target.value);
              }}
            />
            <datalist id={datalistId}>
              {tools.data?.results.map((tool) => (
                <option key={tool.id} value={tool.name} />
              ))}
            </datalist>
          </>
        )}
      </Field>
      <Field
        label="Input condition (JSON Schema)"
        error={errors.input_schema}
        hint="Optional. The policy only matches calls whose arguments satisfy this schema."
      >
        {(props) => (
          <textarea
            {...props}
            className="input mono"
            rows={4}
            spellCheck={false}
            placeholder='{"type": "object", "properties": {"repo": {"const": "acme/docs"}}, "required": ["repo"]}'
            value={schemaText}
            onChange={(event) => {
              setSchemaText(event.target.value);
            }}
          />
        )}
      </Field>
      <Checkbox label="Rate limit matching calls" checked={limited} onChange={setLimited} />
      {limited ? (
        <div className="form-row">
          <TextField
            label="Max calls"
            error={errors["rate_limit.max_calls"] ?? errors.rate_limit}
            required
            variant="number"
            inputMode="numeric"
            value={maxCalls}
            onChange={setMaxCalls}
          />
          <TextField
            label="Per seconds"
            error={errors["rate_limit.per_seconds"]}
            required
            variant="number"
            inputMode="numeric"
            value={perSeconds}
            onChange={setPerSeconds}
          />
        </div>
      ) : null}
      {guarded ? (
        <fieldset className="stack" aria-label="Guardrails">
          <legend className="field__label">Guardrails</legend>
          <HookFields stage="pre_call_hook" draft={preHook} onChange={setPreHook} errors={errors} />
          <HookFields
            stage="post_call_hook"
            draft={postHook}
            onChange={setPostHook}
            errors={errors}
          />
          <Field
            label="Redaction patterns"
            error={Object.entries(errors).find(([key]) => key.startsWith("redact_patterns"))?.[1]}
            hint="One regular expression per line (RE2: no lookarounds or backreferences). Matches in the results of calls this policy allows become [REDACTED]; the connection's own secrets always do."
          >
            {(props) => (
              <textarea
                {...props}
                className="input mono"
                rows={3}
                spellCheck={false}
                placeholder="sk-[A-Za-z0-9]{20,}"
                value={patternsText}
                onChange={(event) => {
                  setPatternsText(event.target.value);
                }}
              />
            )}
          </Field>
        </fieldset>
      ) : null}
      <Checkbox label="Enabled" checked={enabled} onChange={setEnabled} />
      <section className="stack" aria-label="Impact">
        <div>
          <Button onClick={preview} busy={whatIf.isPending}>
            Preview impact on recent runs
          </Button>
        </div>
        {previewed === snapshot ? <FormError error={whatIf.error} /> : null}
        {previewed === snapshot && whatIf.data ? <WhatIfResult result={whatIf.data} /> : null}
      </section>
    </FormDialog>
  );
}
