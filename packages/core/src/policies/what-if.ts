import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { agents, apiTokens, memberships, policies, runs, type JsonValue } from "../db/schema";
import { AppError } from "../errors";
import { isUuid } from "../lib/ids";
import { freezeJsonSchema } from "../lib/json-schema";
import {
  evaluatePolicies,
  evaluatePoliciesOffLoop,
  type PolicyDecision,
  policyTargets,
  type PolicyCall,
  type PolicyCallTarget,
  type PolicyRule,
} from "./evaluate";
import { validatePolicyFields, type PolicyFields } from "./policies";
import { resolvePolicySubject } from "./subjects";

/*
 * Policy what-if: the decisions a proposed change (a new policy, an edit, a deletion) would flip,
 * replayed against the organization's most recent runs. Evaluation is order-independent (any
 * matching deny wins, else any matching allow), so reordering flips nothing and is not a change.
 * Rate limits are not replayed: they depend on the timing of calls, not on the policies alone.
 */

export const WHAT_IF_MAX_RUNS = 10_000;
const GROUPS_SHOWN = 100;
const EXAMPLES_SHOWN = 20;
/**
 * Inputs are read in slices of at most this many bytes (as stored) or runs: a run's input can be
 * large, 10,000 of them at once too large.
 */
const INPUT_SLICE_BYTES = 8 * 1024 * 1024;
const INPUT_SLICE_RUNS = 2_000;
/** The id a proposed new policy has in decisions (never a real policy's id). */
const PROPOSED_ID = "proposed";

export interface PolicyWhatIfInput {
  orgId: string;
  /** The policy edited or deleted; absent for a new policy. */
  policy_id?: string | undefined;
  /** The fields of the new policy, or those an edit changes. */
  changes?: Partial<PolicyFields> | undefined;
  delete?: boolean | undefined;
  /** How many of the newest runs to replay (at most WHAT_IF_MAX_RUNS). */
  runs?: number | undefined;
}

export interface WhatIfVerdict {
  allowed: boolean;
  /** Allowed only once a person approves it (a require_approval policy matched). */
  approval_required: boolean;
  reason: string;
}

export interface PolicyWhatIfResult {
  runs_considered: number;
  /** Start of the oldest run considered; null when there were none. */
  oldest_run_at: Date | null;
  unchanged: number;
  to_allowed: number;
  to_denied: number;
  /** Runs that would wait for approval and do not today (or did and would be denied or allowed outright). */
  to_approval: number;
  /** Runs whose input was not kept (too large, or stripped) while an input schema decides them. */
  undetermined: number;
  /** Per tool (or prompt, resource) and agent: the groups with flips, most flips first. */
  groups: {
    kind: PolicyRule["target"];
    tool_id: string | null;
    tool_name: string;
    agent_id: string | null;
    agent_name: string | null;
    runs: number;
    to_allowed: number;
    to_denied: number;
    to_approval: number;
  }[];
  examples: {
    run_id: string;
    started_at: Date;
    kind: PolicyRule["target"];
    tool_name: string;
    agent_id: string | null;
    before: WhatIfVerdict;
    after: WhatIfVerdict;
  }[];
}

function proposedPolicies(current: PolicyRule[], input: PolicyWhatIfInput): PolicyRule[] {
  const changes = input.changes ?? {};
  if (input.policy_id === undefined) {
    if (input.delete) throw AppError.invalidField("policy_id", "Required to preview a deletion");
    if (changes.effect === undefined)
      throw AppError.invalidField(["changes", "effect"], "Required for a new policy");
    if (changes.tool_pattern === undefined)
      throw AppError.invalidField(["changes", "tool_pattern"], "Required for a new policy");
    return [
      ...current,
      {
        id: PROPOSED_ID,
        name: changes.name ?? "New policy",
        effect: changes.effect,
        ...resolvePolicySubject(null, changes),
        target: changes.target ?? "tool",
        tool_pattern: changes.tool_pattern,
        environment_id: changes.environment_id ?? null,
        input_schema: changes.input_schema ?? null,
        rate_limit: changes.rate_limit ?? null,
        approver_role: changes.approver_role ?? null,
        approval_timeout_seconds: changes.approval_timeout_seconds ?? null,
        enabled: changes.enabled ?? true,
      },
    ];
  }
  const policyId = input.policy_id;
  // Another organization's policy is as unknown as one that never existed.
  if (!isUuid(policyId) || !current.some((policy) => policy.id === policyId))
    throw AppError.notFound("Policy");
  if (input.delete) return current.filter((policy) => policy.id !== policyId);
  return current.map((policy) =>
    policy.id === policyId
      ? {
          ...policy,
          name: changes.name ?? policy.name,
          effect: changes.effect ?? policy.effect,
          ...resolvePolicySubject(policy, changes),
          target: changes.target ?? policy.target,
          tool_pattern: changes.tool_pattern ?? policy.tool_pattern,
          environment_id:
            changes.environment_id === undefined ? policy.environment_id : changes.environment_id,
          input_schema:
            changes.input_schema === undefined ? policy.input_schema : changes.input_schema,
          approver_role:
            changes.approver_role === undefined ? policy.approver_role : changes.approver_role,
          approval_timeout_seconds:
            changes.approval_timeout_seconds === undefined
              ? policy.approval_timeout_seconds
              : changes.approval_timeout_seconds,
          rate_limit: changes.rate_limit === undefined ? policy.rate_limit : changes.rate_limit,
          enabled: changes.enabled ?? policy.enabled,
        }
      : policy,
  );
}

interface ReplayedRun extends PolicyCallTarget {
  id: string;
  started_at: Date;
  /** The stored input's size in bytes; null when none was kept. */
  input_bytes: number | null;
}

/** Consecutive runs grouped so that each group's inputs stay within the slice bounds. */
function slicesOf(runs: ReplayedRun[]): ReplayedRun[][] {
  const slices: ReplayedRun[][] = [];
  let slice: ReplayedRun[] = [];
  let bytes = 0;
  for (const run of runs) {
    const size = run.input_bytes ?? 0;
    if (
      slice.length > 0 &&
      (bytes + size > INPUT_SLICE_BYTES || slice.length >= INPUT_SLICE_RUNS)
    ) {
      slices.push(slice);
      slice = [];
      bytes = 0;
    }
    slice.push(run);
    bytes += size;
  }
  if (slice.length > 0) slices.push(slice);
  return slices;
}

type Verdicts = { before: WhatIfVerdict; after: WhatIfVerdict } | "undetermined";

export async function policyWhatIf(db: Db, input: PolicyWhatIfInput): Promise<PolicyWhatIfResult> {
  const limit = input.runs ?? WHAT_IF_MAX_RUNS;
  if (!Number.isInteger(limit) || limit < 1 || limit > WHAT_IF_MAX_RUNS)
    throw AppError.invalidField("runs", `Between 1 and ${WHAT_IF_MAX_RUNS}`);
  if (input.changes)
    await validatePolicyFields(db, input.orgId, input.changes).catch((error: unknown) => {
      // The fields sit under `changes` in this request.
      throw error instanceof AppError && error.issues
        ? new AppError(error.code, error.message, {
            issues: error.issues.map((issue) => ({ ...issue, path: ["changes", ...issue.path] })),
          })
        : error;
    });

  const current: PolicyRule[] = await db
    .select({
      id: policies.id,
      name: policies.name,
      effect: policies.effect,
      subject: policies.subject,
      agent_id: policies.agent_id,
      user_id: policies.user_id,
      min_role: policies.min_role,
      target: policies.target,
      tool_pattern: policies.tool_pattern,
      environment_id: policies.environment_id,
      input_schema: policies.input_schema,
      rate_limit: policies.rate_limit,
      approver_role: policies.approver_role,
      approval_timeout_seconds: policies.approval_timeout_seconds,
      enabled: policies.enabled,
    })
    .from(policies)
    .where(eq(policies.org_id, input.orgId))
    .orderBy(policies.id);
  // Frozen, each schema is weighed and compiled once for all the runs, not once per run.
  for (const policy of current) freezeJsonSchema(policy.input_schema);
  const proposed = proposedPolicies(current, input);
  for (const policy of proposed) freezeJsonSchema(policy.input_schema);

  // The newest runs, without their inputs: most decisions do not read them. A person's run is
  // replayed with the role they (or the API token) hold now; someone no longer in the org is
  // covered by `everyone` policies only, as they could call nothing else today.
  const recent = await db
    .select({
      id: runs.id,
      started_at: runs.started_at,
      kind: runs.kind,
      tool_id: runs.tool_id,
      tool_name: runs.tool_name,
      agent_id: runs.agent_id,
      user_id: runs.user_id,
      member_role: memberships.role,
      token_role: apiTokens.role,
      environment_id: runs.environment_id,
      input_bytes: sql<number | null>`pg_column_size(${runs.input})`,
    })
    .from(runs)
    .leftJoin(
      memberships,
      and(
        sql`${runs.agent_id} is null`,
        eq(memberships.org_id, runs.org_id),
        eq(memberships.user_id, runs.user_id),
      ),
    )
    .leftJoin(
      apiTokens,
      and(
        sql`${runs.agent_id} is null and ${runs.user_id} is null`,
        sql`${runs.triggered_by}->>'type' = 'token'`,
        eq(apiTokens.org_id, runs.org_id),
        sql`${apiTokens.revoked_at} is null`,
        sql`${apiTokens.id}::text = ${runs.triggered_by}->>'id'`,
      ),
    )
    .where(eq(runs.org_id, input.orgId))
    .orderBy(desc(runs.id))
    .limit(limit);
  const replayed: ReplayedRun[] = recent.map((run) => ({
    id: run.id,
    started_at: run.started_at,
    kind: run.kind,
    // A run of a since-deleted tool keeps its name; patterns on names still match it.
    tool: { id: run.tool_id ?? run.tool_name, name: run.tool_name },
    agent_id: run.agent_id,
    person:
      run.agent_id !== null
        ? null
        : run.member_role !== null && run.user_id !== null
          ? { user_id: run.user_id, role: run.member_role }
          : run.token_role !== null
            ? { user_id: null, role: run.token_role }
            : null,
    environment_id: run.environment_id,
    input_bytes: run.input_bytes,
  }));

  // Runs that no input schema can decide are decided once per distinct call target.
  const readsInput = (run: ReplayedRun) =>
    [current, proposed].some((set) =>
      set.some(
        (policy) => policy.enabled && policy.input_schema !== null && policyTargets(policy, run),
      ),
    );
  const verdicts = new Map<string, Verdicts>();
  const byTarget = new Map<string, { before: WhatIfVerdict; after: WhatIfVerdict }>();
  const needInput: ReplayedRun[] = [];
  const verdict = (decision: PolicyDecision): WhatIfVerdict => ({
    allowed: decision.allowed,
    approval_required: decision.approval !== undefined,
    reason: decision.reason,
  });
  // Input schemas are checked as the gateway checks them: heavy ones off the event loop.
  const decideWithInput = async (call: PolicyCall) => {
    const [before, after] = await Promise.all([
      evaluatePoliciesOffLoop(current, call),
      evaluatePoliciesOffLoop(proposed, call),
    ]);
    return { before: verdict(before), after: verdict(after) };
  };
  for (const run of replayed) {
    if (readsInput(run)) {
      if (run.input_bytes !== null) needInput.push(run);
      else verdicts.set(run.id, "undetermined");
      continue;
    }
    const key = JSON.stringify([
      run.kind,
      run.tool.id,
      run.tool.name,
      run.agent_id,
      run.person?.user_id ?? null,
      run.person?.role ?? null,
      run.environment_id,
    ]);
    let decided = byTarget.get(key);
    if (!decided) {
      // No input schema applies, so the input is never read.
      const call = { ...run, input: null };
      decided = {
        before: verdict(evaluatePolicies(current, call)),
        after: verdict(evaluatePolicies(proposed, call)),
      };
      byTarget.set(key, decided);
    }
    verdicts.set(run.id, decided);
  }
  for (const slice of slicesOf(needInput)) {
    const inputs = await db
      .select({ id: runs.id, input: runs.input })
      .from(runs)
      .where(
        and(
          eq(runs.org_id, input.orgId),
          inArray(
            runs.id,
            slice.map((run) => run.id),
          ),
        ),
      );
    const inputOf = new Map<string, JsonValue | null>(inputs.map((row) => [row.id, row.input]));
    for (const run of slice) {
      const stored = inputOf.get(run.id) ?? null;
      // A resource is decided on its URI, as the gateway does.
      const callInput = run.kind === "resource" ? { uri: run.tool.name } : stored;
      if (callInput === null) verdicts.set(run.id, "undetermined");
      else verdicts.set(run.id, await decideWithInput({ ...run, input: callInput }));
    }
  }

  const result: PolicyWhatIfResult = {
    runs_considered: replayed.length,
    oldest_run_at: replayed.at(-1)?.started_at ?? null,
    unchanged: 0,
    to_allowed: 0,
    to_denied: 0,
    to_approval: 0,
    undetermined: 0,
    groups: [],
    examples: [],
  };
  const groups = new Map<string, PolicyWhatIfResult["groups"][number]>();
  for (const run of replayed) {
    const verdict = verdicts.get(run.id);
    if (verdict === undefined || verdict === "undetermined") {
      result.undetermined++;
      continue;
    }
    const key = JSON.stringify([run.kind, run.tool.id, run.agent_id]);
    let group = groups.get(key);
    if (!group) {
      group = {
        kind: run.kind ?? "tool",
        tool_id: run.tool.id === run.tool.name ? null : run.tool.id,
        tool_name: run.tool.name,
        agent_id: run.agent_id,
        agent_name: null,
        runs: 0,
        to_allowed: 0,
        to_denied: 0,
        to_approval: 0,
      };
      groups.set(key, group);
    }
    group.runs++;
    if (
      verdict.before.allowed === verdict.after.allowed &&
      verdict.before.approval_required === verdict.after.approval_required
    ) {
      result.unchanged++;
      continue;
    }
    if (!verdict.after.allowed) {
      result.to_denied++;
      group.to_denied++;
    } else if (verdict.after.approval_required) {
      result.to_approval++;
      group.to_approval++;
    } else {
      result.to_allowed++;
      group.to_allowed++;
    }
    if (result.examples.length < EXAMPLES_SHOWN)
      result.examples.push({
        run_id: run.id,
        started_at: run.started_at,
        kind: run.kind ?? "tool",
        tool_name: run.tool.name,
        agent_id: run.agent_id,
        ...verdict,
      });
  }
  result.groups = [...groups.values()]
    .filter((group) => flips(group) > 0)
    .sort((a, b) => flips(b) - flips(a))
    .slice(0, GROUPS_SHOWN);
  const agentIds = [
    ...new Set(result.groups.flatMap((group) => (group.agent_id ? [group.agent_id] : []))),
  ];
  if (agentIds.length > 0) {
    const names = new Map(
      (
        await db
          .select({ id: agents.id, name: agents.name })
          .from(agents)
          .where(and(eq(agents.org_id, input.orgId), inArray(agents.id, agentIds)))
      ).map((agent) => [agent.id, agent.name]),
    );
    for (const group of result.groups)
      group.agent_name = group.agent_id ? (names.get(group.agent_id) ?? null) : null;
  }
  return result;
}

function flips(group: { to_allowed: number; to_denied: number; to_approval: number }): number {
  return group.to_allowed + group.to_denied + group.to_approval;
}
