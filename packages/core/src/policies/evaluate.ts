import type { policies } from "../db/schema";
import type { FieldIssue } from "../errors";
import type { JsonValidationResult } from "../lib/json-schema";
import {
  JsonSchemaLimitError,
  formatJsonSchemaIssues,
  outcomeResult,
  validateJson,
} from "../lib/json-schema";
import { checkJsonOffLoop } from "../lib/json-schema-thread";
import { roleAtLeast, type OrgRole } from "../orgs/roles";
import { globMatches } from "./glob";

/** The policy columns evaluation needs; a `policies` row satisfies it as is. */
export type PolicyRule = Pick<
  typeof policies.$inferSelect,
  | "id"
  | "name"
  | "effect"
  | "subject"
  | "agent_id"
  | "user_id"
  | "min_role"
  | "target"
  | "tool_pattern"
  | "environment_id"
  | "input_schema"
  | "rate_limit"
  | "approver_role"
  | "approval_timeout_seconds"
  | "enabled"
>;

export type PolicyEffect = PolicyRule["effect"];
export type PolicyTargetKind = PolicyRule["target"];
export type PolicySubject = PolicyRule["subject"];

/** A person calling directly (the SPA, REST): a member, or an org API token (no user). */
export interface PolicyPerson {
  /** Null for an API token: it has a role but is nobody's own call. */
  user_id: string | null;
  role: OrgRole;
}

export interface PolicyCallTarget {
  /** Null when a person runs the tool directly rather than through an agent. */
  agent_id: string | null;
  /**
   * Who calls when there is no agent; ignored for an agent's call (an OAuth token acting for a
   * user is still that agent's call). Null or absent: an unknown caller, whom only `everyone`
   * policies cover.
   */
  person?: PolicyPerson | null | undefined;
  /** What is called (a tool when absent); only policies of that target kind apply. */
  kind?: PolicyTargetKind;
  /** The tool (id and name), or for a prompt its name and for a resource its URI (as both). */
  tool: { id: string; name: string };
  environment_id: string | null;
}

export interface PolicyCall extends PolicyCallTarget {
  input: unknown;
}

export interface MatchedPolicy {
  policy_id: string;
  name: string;
  effect: PolicyEffect;
}

export interface InputMismatch {
  policy_id: string;
  name: string;
  issues: FieldIssue[];
}

/** What a call allowed subject to approval waits for: the policy that asked, who may decide, how long. */
export interface ApprovalRequirement {
  policy_id: string;
  name: string;
  approver_role: "owner" | "admin" | "member" | "viewer";
  timeout_seconds: number;
}

/** A require_approval policy's approver role and timeout when it has none (older rows, tests). */
export const DEFAULT_APPROVER_ROLE = "admin";
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 3_600;

export interface RateLimitRef {
  policy_id: string;
  name: string;
  max_calls: number;
  per_seconds: number;
}

/** Stored with each run and returned as is, hence plain JSON with snake_case keys. */
export interface PolicyDecision {
  allowed: boolean;
  reason: string;
  /** Every enabled policy that applied to the call, in the order given. */
  matched: MatchedPolicy[];
  /** Ids of the matched allow policies. */
  allow_policies: string[];
  /** Ids of the matched deny policies; any entry means the call is denied. */
  deny_policies: string[];
  /** Ids of the matched require_approval policies: the call is allowed once a person approves. */
  approval_policies: string[];
  /**
   * When the call is allowed only once approved: the strictest matched require_approval policy
   * (highest approver role, then shortest timeout). Absent otherwise (a stored decision keeps no
   * null fields, see RunRecorder).
   */
  approval?: ApprovalRequirement;
  /** Allow policies that applied to the agent, tool and environment but whose input schema rejected the input. */
  input_mismatches: InputMismatch[];
  /**
   * Matched allow policies with a rate limit, for the caller to consume. Empty when the call is
   * denied so a refused call never uses up quota.
   */
  rate_limited_by: RateLimitRef[];
}

export type JsonValidate = (schema: unknown, value: unknown) => JsonValidationResult;

/**
 * Decides whether a tool call may run. Default deny: it is allowed only when at least one enabled
 * allow or require_approval policy matches and no enabled deny policy does; when a
 * require_approval policy matches, only once a person approves it (`approval`).
 */
export function evaluatePolicies(
  policies: readonly PolicyRule[],
  call: PolicyCall,
  validate: JsonValidate = validateJson,
): PolicyDecision {
  const matched: MatchedPolicy[] = [];
  const allows: PolicyRule[] = [];
  const denies: PolicyRule[] = [];
  const approvals: PolicyRule[] = [];
  const inputMismatches: InputMismatch[] = [];
  // Policies whose input schema did not give an answer, with why (see checkInput).
  const brokenSchemas = new Map<string, string>();

  for (const policy of policies) {
    if (!policy.enabled || !policyTargets(policy, call)) continue;
    const check = checkInput(policy, call.input, validate);
    if (check.kind === "broken") brokenSchemas.set(policy.id, check.note);
    if (policy.effect === "deny") {
      // A deny whose schema cannot be evaluated still applies: failing open would let through
      // exactly the inputs the author meant to block.
      if (check.kind === "rejected") continue;
      denies.push(policy);
    } else if (policy.effect === "require_approval") {
      // Likewise: a broken schema must not let a call skip its approval.
      if (check.kind === "rejected") {
        inputMismatches.push({ policy_id: policy.id, name: policy.name, issues: check.issues });
        continue;
      }
      approvals.push(policy);
    } else {
      if (check.kind !== "accepted") {
        inputMismatches.push({ policy_id: policy.id, name: policy.name, issues: check.issues });
        continue;
      }
      allows.push(policy);
    }
    matched.push({ policy_id: policy.id, name: policy.name, effect: policy.effect });
  }

  const allowed = allows.length + approvals.length > 0 && denies.length === 0;
  const approval = allowed ? strictestApproval(approvals) : null;
  return {
    allowed,
    reason: decisionReason({ allows, denies, approval, brokenSchemas, inputMismatches, call }),
    matched,
    allow_policies: allows.map((p) => p.id),
    deny_policies: denies.map((p) => p.id),
    approval_policies: approvals.map((p) => p.id),
    ...(approval === null ? {} : { approval }),
    input_mismatches: inputMismatches,
    rate_limited_by: allowed
      ? [...allows, ...approvals].flatMap((p) =>
          p.rate_limit
            ? [
                {
                  policy_id: p.id,
                  name: p.name,
                  max_calls: p.rate_limit.max_calls,
                  per_seconds: p.rate_limit.per_seconds,
                },
              ]
            : [],
        )
      : [],
  };
}

const ROLE_RANK = { viewer: 0, member: 1, admin: 2, owner: 3 } as const;

function strictestApproval(approvals: readonly PolicyRule[]): ApprovalRequirement | null {
  let strictest: ApprovalRequirement | null = null;
  for (const policy of approvals) {
    const candidate: ApprovalRequirement = {
      policy_id: policy.id,
      name: policy.name,
      approver_role: policy.approver_role ?? DEFAULT_APPROVER_ROLE,
      timeout_seconds: policy.approval_timeout_seconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    };
    const rank = ROLE_RANK[candidate.approver_role];
    if (
      strictest === null ||
      rank > ROLE_RANK[strictest.approver_role] ||
      (rank === ROLE_RANK[strictest.approver_role] &&
        candidate.timeout_seconds < strictest.timeout_seconds)
    )
      strictest = candidate;
  }
  return strictest;
}

/**
 * evaluatePolicies with one budget for all the input schemas it checks, compiled and checked off
 * the event loop where they are heavy (../lib/json-schema-thread); the decision is the same.
 */
export async function evaluatePoliciesOffLoop(
  policies: readonly PolicyRule[],
  call: PolicyCall,
): Promise<PolicyDecision> {
  // The schemas evaluatePolicies checks, in its order, so the shared budget runs out alike.
  const checked = policies.filter(
    (policy) => policy.enabled && policy.input_schema !== null && policyTargets(policy, call),
  );
  const outcomes = await checkJsonOffLoop(
    checked.map((policy) => policy.input_schema),
    call.input,
  );
  const answers = outcomes.values();
  return evaluatePolicies(policies, call, () => {
    const next = answers.next();
    if (next.done) throw new Error("evaluatePolicies checked more schemas than were prepared");
    return outcomeResult(next.value);
  });
}

/**
 * Whether a tool should be offered to an agent at all: some allow policy could match (input
 * schemas and rate limits aside) and no deny policy blocks it for every input.
 */
export function policyCouldAllow(
  policies: readonly PolicyRule[],
  target: PolicyCallTarget,
): boolean {
  let allowed = false;
  for (const policy of policies) {
    if (!policy.enabled || !policyTargets(policy, target)) continue;
    if (policy.effect === "deny") {
      if (isUnconditional(policy.input_schema)) return false;
    } else {
      allowed = true;
    }
  }
  return allowed;
}

/**
 * Whether the policy's subject covers the caller: agent subjects only agents' calls, user and role
 * subjects only people's, `everyone` both.
 */
export function subjectCovers(
  policy: Pick<PolicyRule, "subject" | "agent_id" | "user_id" | "min_role">,
  target: Pick<PolicyCallTarget, "agent_id" | "person">,
): boolean {
  switch (policy.subject) {
    case "everyone":
      return true;
    case "agent":
      return (
        target.agent_id !== null &&
        (policy.agent_id === null || policy.agent_id === target.agent_id)
      );
    case "user":
      return (
        target.agent_id === null &&
        policy.user_id !== null &&
        target.person?.user_id === policy.user_id
      );
    case "role":
      return (
        target.agent_id === null &&
        policy.min_role !== null &&
        target.person !== null &&
        target.person !== undefined &&
        roleAtLeast(target.person.role, policy.min_role)
      );
  }
}

/** Whether the policy's subject, environment, target kind and pattern cover the call (the input is not considered). */
export function policyTargets(
  policy: Pick<
    PolicyRule,
    "subject" | "agent_id" | "user_id" | "min_role" | "environment_id" | "target" | "tool_pattern"
  >,
  target: PolicyCallTarget,
): boolean {
  return subjectCovers(policy, target) && policyScopeCovers(policy, target);
}

/**
 * Whether the policy's environment, target kind and pattern cover the call, whoever makes it: the
 * part of policyTargets that does not depend on the caller.
 */
export function policyScopeCovers(
  policy: Pick<PolicyRule, "environment_id" | "target" | "tool_pattern">,
  target: Pick<PolicyCallTarget, "kind" | "tool" | "environment_id">,
): boolean {
  if (policy.environment_id !== null && policy.environment_id !== target.environment_id)
    return false;
  const kind = target.kind ?? "tool";
  if (policy.target !== kind) return false;
  return kind === "tool"
    ? toolPatternMatches(policy.tool_pattern, target.tool)
    : globMatches(policy.tool_pattern, target.tool.name);
}

/**
 * A tool pattern is either a tool id (exact) or a glob over tool names (see ./glob: `*` spans any
 * characters, `?` one, `[a-z]` a set).
 */
export function toolPatternMatches(pattern: string, tool: { id: string; name: string }): boolean {
  return pattern === tool.id || globMatches(pattern, tool.name);
}

/** For input validation: every non-blank text is a glob (a stray `[` simply matches itself). */
export function isValidToolPattern(pattern: string): boolean {
  return pattern.trim().length > 0;
}

type InputCheck =
  | { kind: "accepted" }
  | { kind: "rejected"; issues: FieldIssue[] }
  | { kind: "broken"; issues: FieldIssue[]; note: string };

function checkInput(policy: PolicyRule, input: unknown, validate: JsonValidate): InputCheck {
  if (policy.input_schema === null) return { kind: "accepted" };
  try {
    const result = validate(policy.input_schema, input);
    return result.valid ? { kind: "accepted" } : { kind: "rejected", issues: result.issues };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A limit is not the schema's fault: it names the limit, which this input went over.
    const note =
      error instanceof JsonSchemaLimitError
        ? `its input schema cannot check this input: ${message}`
        : `its input schema is invalid: ${message}`;
    return { kind: "broken", issues: [{ path: [], message: `policy ${note}` }], note };
  }
}

/** Whether a policy applies to every input (it has no input schema, or an empty one). */
export function isUnconditional(schema: PolicyRule["input_schema"]): boolean {
  return schema === null || Object.keys(schema).length === 0;
}

function decisionReason(args: {
  allows: PolicyRule[];
  denies: PolicyRule[];
  approval: ApprovalRequirement | null;
  brokenSchemas: Map<string, string>;
  inputMismatches: InputMismatch[];
  call: PolicyCall;
}): string {
  const { allows, denies, approval, brokenSchemas, inputMismatches, call } = args;
  if (denies.length > 0) {
    const notes = denies.flatMap((p) => {
      const note = brokenSchemas.get(p.id);
      return note === undefined ? [] : [`'${p.name}' applies to this input because ${note}`];
    });
    const base = `Denied by ${plural(denies.length, "policy", "policies")} ${quoteNames(denies)}`;
    return notes.length > 0 ? `${base} (${notes.join("; ")})` : base;
  }
  if (approval !== null) {
    return `Allowed once approved: policy '${approval.name}' requires approval by ${approval.approver_role === "admin" || approval.approver_role === "owner" ? "an" : "a"} ${approval.approver_role} (or higher) within ${approval.timeout_seconds} s`;
  }
  if (allows.length > 0) {
    return `Allowed by ${plural(allows.length, "policy", "policies")} ${quoteNames(allows)}`;
  }
  const first = inputMismatches[0];
  if (first) {
    const rest = inputMismatches.length - 1;
    const others = rest > 0 ? ` (and ${rest} other ${plural(rest, "policy", "policies")})` : "";
    const broken = brokenSchemas.get(first.policy_id);
    if (broken !== undefined) {
      return `Policy '${first.name}'${others} does not apply because ${broken}`;
    }
    return `Input does not satisfy policy '${first.name}'${others}: ${formatJsonSchemaIssues(first.issues, 3, "input")}`;
  }
  const caller =
    call.agent_id !== null
      ? `agent ${call.agent_id}`
      : call.person
        ? call.person.user_id === null
          ? `an API token with the ${call.person.role} role`
          : `user ${call.person.user_id} (${call.person.role})`
        : "calls without an agent";
  const environment = call.environment_id === null ? "" : ` in environment ${call.environment_id}`;
  return `No allow policy matches ${call.kind ?? "tool"} '${call.tool.name}' for ${caller}${environment}`;
}

function quoteNames(list: PolicyRule[]): string {
  return list.map((p) => `'${p.name}'`).join(", ");
}

function plural(count: number, one: string, many: string): string {
  return count === 1 ? one : many;
}
