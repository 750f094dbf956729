import { and, eq, sql } from "drizzle-orm";
import {
  ErrorCode,
  McpError,
  type CallToolResult,
  type ClientCapabilities,
  type Result,
} from "@modelcontextprotocol/sdk/types.js";
import type { Db } from "../db/client";
import {
  agents,
  connections,
  policies,
  tools,
  type runs,
  type GuardrailRecord,
  type JsonObject,
  type JsonValue,
  type RelayedRequest,
} from "../db/schema";
import { auditRow, recordAudit } from "../audit/audit";
import { assertEnvironmentInOrg, type Connection } from "../connections/connections";
import { withConnectionSession } from "../connections/sessions";
import type { CallPrincipal } from "../connections/oauth";
import type { Agent } from "../agents/agents";
import { AppError, isAppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { uuidv7 } from "../lib/ids";
import {
  formatJsonSchemaIssues,
  freezeJsonSchema,
  InvalidJsonSchemaError,
  JsonSchemaLimitError,
} from "../lib/json-schema";
import { validateJsonOffLoop } from "../lib/json-schema-thread";
import { RegexBudgetError } from "../lib/safe-regex";
import { isMcpCallError } from "../mcp/errors";
import { secretValues, type McpTarget } from "../mcp/target";
import {
  relayableCapabilities,
  type McpCallOptions,
  type McpSession,
  type RelayableRequest,
} from "../mcp/client";
import { requestApproval } from "../approvals/approvals";
import {
  evaluatePoliciesOffLoop,
  type ApprovalRequirement,
  type PolicyDecision,
  type PolicyPerson,
  type PolicyRule,
  type PolicyTargetKind,
} from "../policies/evaluate";
import {
  emptyGuardrailRecord,
  guardrailRecordOrNull,
  redactionPatterns,
  redactResult,
  runHookChain,
  type HookCall,
  type PolicyGuardrails,
} from "../policies/guardrails";
import {
  applicablePoliciesWhere,
  assertAgentInOrg,
  loadApplicablePolicies,
} from "../policies/policies";
import { assertMemberInOrg } from "../policies/subjects";
import type { OrgRole } from "../orgs/roles";
import { consumeRateLimit } from "../policies/rate-limit";
import type { McpRuntime } from "../runtime";
import { activeTraceId, inSpan, spanUntil, type Tracer } from "../telemetry/tracing";
import type { Tool } from "../tools/tools";
import { readThrough, type CallCache } from "./call-cache";
import { getRun } from "./runs";
import type { AuditRow } from "./recorder";

export type Run = typeof runs.$inferSelect;
export type RunStatus = Run["status"];

/** Stored output is capped so one huge answer cannot bloat the runs table. */
export const MAX_STORED_OUTPUT_BYTES = 1024 * 1024;

export type ToolRef = { id: string } | { name: string };

export interface RunTrigger {
  /** `token`: an org's API token (REST), which runs tools with no person's credentials. */
  type: "user" | "agent" | "token";
  id: string;
  surface: "rest" | "trpc" | "mcp";
}

export interface RunRequest {
  orgId: string;
  tool: ToolRef;
  /** The agent the call is made for: an id to look up, or the agent already authenticated. */
  agent: string | Agent | null;
  /**
   * Without an agent, the person calling (their role in the org, and their id unless an API token
   * calls): user and role policies decide for them. Ignored for an agent's call.
   */
  person?: PolicyPerson | null | undefined;
  input: Record<string, unknown>;
  trigger: RunTrigger;
  onProgress?: McpCallOptions["onProgress"];
  onLog?: McpCallOptions["onLog"];
  signal?: AbortSignal;
  /**
   * Whether the outcome waits until its run and audit event are committed (the default). A face
   * that hands out no run id, like the MCP gateway, answers without waiting (see RunRecorder).
   */
  awaitRecord?: boolean;
  /** The calling client, when the upstream's requests during the call can be relayed to it. */
  relay?: CallRelay | undefined;
  /** Told the run's id once the call goes upstream (its `running` row is on its way). */
  onStarted?: ((runId: string) => void) | undefined;
  /**
   * For a call a require_approval policy allows: hold it here until a person decides (the
   * gateway), told at once and now and then while it waits. Without it, the call is answered at
   * once with its run awaiting approval, and whichever replica claims it runs it once approved.
   */
  holdForApproval?: { onWaiting?: ((approval: HeldApproval) => void) | undefined } | undefined;
  /** Runs the call an approver approved, as the run it already has (its approval is not asked again). */
  approved?: { runId: string } | undefined;
}

/** What a held call waits for, as its client is told. */
export interface HeldApproval {
  approval_id: string;
  run_id: string;
  policy_name: string;
  approver_role: string;
  expires_at: Date;
}

/** The message a held call's client sees while it waits. */
export function heldApprovalMessage(approval: HeldApproval): string {
  return `Waiting for approval by ${approval.approver_role === "member" ? "a" : "an"} ${approval.approver_role} (or higher): policy '${approval.policy_name}' requires it; denied unless decided by ${approval.expires_at.toISOString()}`;
}

/** A calling client the upstream server may make requests of during the call. */
export interface CallRelay {
  /** What the client declared at initialize: only those requests are relayed. */
  capabilities: ClientCapabilities;
  /** Sends the request to the client and resolves with its result (rejects with its error). */
  ask: (request: RelayableRequest, signal: AbortSignal) => Promise<Result>;
}

export interface RunOutcome {
  run: Run;
  /** The upstream result exactly as received; null when the call was not made or failed. */
  result: CallToolResult | null;
  /** For a `rate_limited` run: seconds until the limit's window frees a call; null otherwise. */
  retryAfterSeconds: number | null;
}

/**
 * Which environment a call runs in, and so which environment-scoped policies apply: the agent's,
 * or for a person (or an agent without one), the environment of the connection that serves it.
 */
export function callEnvironment(
  agent: Pick<Agent, "environment_id"> | null,
  connection: Pick<Connection, "environment_id">,
): string | null {
  return agent?.environment_id ?? connection.environment_id;
}

interface PreparedCall {
  tool: Tool;
  connection: Connection;
  agent: Agent | null;
  environmentId: string | null;
  decision: PolicyDecision;
  /** The allowing policies with guardrails (hooks or redaction patterns), in matched order. */
  guardrails: PolicyGuardrails[];
}

/** What a call's cached row carries of each applicable policy. */
type CallPolicy = PolicyRule & PolicyGuardrails;

/**
 * The tool, its connection and the policies that can apply, in one round trip: this runs on every
 * call. Policies travel as JSON of the columns evaluation reads (no timestamps to convert). The
 * statement is prepared once per connection: planning the join and the aggregate cost PostgreSQL
 * several times more CPU than executing them.
 */
function toolQuery(db: Db, by: "id" | "name") {
  const policyRules = sql<CallPolicy[]>`(select coalesce(json_agg(json_build_object(
      'id', ${policies.id}, 'name', ${policies.name}, 'effect', ${policies.effect}, 'subject', ${policies.subject},
      'agent_id', ${policies.agent_id}, 'user_id', ${policies.user_id}, 'min_role', ${policies.min_role},
      'target', ${policies.target}, 'tool_pattern', ${policies.tool_pattern}, 'environment_id', ${policies.environment_id},
      'input_schema', ${policies.input_schema}, 'rate_limit', ${policies.rate_limit}, 'enabled', ${policies.enabled},
      'approver_role', ${policies.approver_role}, 'approval_timeout_seconds', ${policies.approval_timeout_seconds},
      'pre_call_hook', ${policies.pre_call_hook}, 'post_call_hook', ${policies.post_call_hook},
      'hook_secret_ciphertext', ${policies.hook_secret_ciphertext}, 'redact_patterns', ${policies.redact_patterns}
    ) order by ${policies.id}), '[]'::json) from ${policies}
    where ${applicablePoliciesWhere(sql.placeholder("org_id"), sql.placeholder("agent_id"))})`;
  return db
    .select({ tool: tools, connection: connections, policies: policyRules })
    .from(tools)
    .innerJoin(connections, eq(connections.id, tools.connection_id))
    .where(
      and(
        eq(tools.org_id, sql.placeholder("org_id")),
        eq(by === "id" ? tools.id : tools.name, sql.placeholder("tool")),
      ),
    )
    .limit(1)
    .prepare(`run_load_tool_by_${by}`);
}

const toolQueries = new WeakMap<
  Db,
  { id: ReturnType<typeof toolQuery>; name: ReturnType<typeof toolQuery> }
>();

async function loadToolAndPolicies(
  db: Db,
  orgId: string,
  ref: ToolRef,
  agentId: string | null,
  cache: CallCache | null,
): Promise<{ tool: Tool; connection: Connection; policies: CallPolicy[] }> {
  const load = async () => {
    let queries = toolQueries.get(db);
    if (!queries) {
      queries = { id: toolQuery(db, "id"), name: toolQuery(db, "name") };
      toolQueries.set(db, queries);
    }
    const [row] = await ("id" in ref
      ? queries.id.execute({ org_id: orgId, agent_id: agentId, tool: ref.id })
      : queries.name.execute({ org_id: orgId, agent_id: agentId, tool: ref.name }));
    if (!row) return null;
    // Cached rows serve many calls: frozen schemas are validated without being re-read each time.
    freezeJsonSchema(row.tool.input_schema);
    for (const policy of row.policies) freezeJsonSchema(policy.input_schema);
    return { orgId, value: row };
  };
  const key = `tool:${orgId}:${agentId ?? ""}:${"id" in ref ? `id:${ref.id}` : `name:${ref.name}`}`;
  const row = await readThrough(cache, key, load);
  if (!row) throw AppError.notFound("Tool");
  return row;
}

async function loadAgent(
  db: Db,
  orgId: string,
  agent: string | Agent | null,
  cache: CallCache | null,
): Promise<Agent | null> {
  if (agent === null || typeof agent !== "string") return agent;
  const load = async () => {
    const [row] = await db
      .select()
      .from(agents)
      .where(and(eq(agents.org_id, orgId), eq(agents.id, agent)))
      .limit(1);
    return row ? { orgId, value: row } : null;
  };
  const row = await readThrough(cache, `agent:${orgId}:${agent}`, load);
  if (!row) throw AppError.invalidField("agent_id", "No such agent in this organization");
  return row;
}

/** Loads what a decision needs and decides; shared by runs and by the evaluate endpoint. */
async function prepareCall(
  db: Db,
  request: {
    orgId: string;
    tool: ToolRef;
    agent: string | Agent | null;
    person?: PolicyPerson | null | undefined;
    input: unknown;
  },
  cache: CallCache | null,
): Promise<PreparedCall> {
  // Policies only need the agent's id, so they come with the tool; an id that is not in the org
  // makes loadAgent throw before they are used.
  const agentId = typeof request.agent === "string" ? request.agent : (request.agent?.id ?? null);
  const [{ tool, connection, policies: applicable }, agent] = await Promise.all([
    loadToolAndPolicies(db, request.orgId, request.tool, agentId, cache),
    loadAgent(db, request.orgId, request.agent, cache),
  ]);
  const environmentId = callEnvironment(agent, connection);
  // One budget for all the call's policy input schemas: a tenant's hundred heavy policies must
  // not take a hundred times as long as one.
  const decision = await evaluatePoliciesOffLoop(applicable, {
    agent_id: agent?.id ?? null,
    person: agent ? null : (request.person ?? null),
    tool: { id: tool.id, name: tool.name },
    environment_id: environmentId,
    input: request.input,
  });
  const byId = new Map(applicable.map((policy) => [policy.id, policy]));
  const guardrails = decision.allowed
    ? decision.matched.flatMap(({ policy_id }) => {
        const policy = byId.get(policy_id);
        return policy &&
          (policy.pre_call_hook || policy.post_call_hook || policy.redact_patterns.length > 0)
          ? [policy]
          : [];
      })
    : [];
  return { tool, connection, agent, environmentId, decision, guardrails };
}

export interface EvaluateCallInput {
  orgId: string;
  agent_id?: string | null | undefined;
  /** A person's call (no agent): this member, with their role in the org. */
  user_id?: string | null | undefined;
  /** A person's call (no agent) by someone with this role: an API token, or any member of it. */
  role?: OrgRole | null | undefined;
  /** What the call would be; a tool when absent. */
  target?: PolicyTargetKind | undefined;
  /** For a tool. */
  tool_id?: string | undefined;
  /** For a prompt its name, for a resource its URI. */
  name?: string | undefined;
  /** For a prompt or resource: the serving connection's environment, used when the agent has none. */
  environment_id?: string | null | undefined;
  input: unknown;
}

/** The decision a call would get, without running anything (and without using rate limit quota). */
export async function evaluateCall(db: Db, input: EvaluateCallInput): Promise<PolicyDecision> {
  await assertAgentInOrg(db, input.orgId, input.agent_id);
  const person = await evaluatedPerson(db, input);
  const target = input.target ?? "tool";
  if (target !== "tool") {
    if (input.name === undefined)
      throw AppError.invalidField("name", `Required for target ${target}`);
    const name = input.name;
    await assertEnvironmentInOrg(db, input.orgId, input.environment_id);
    const agent = await loadAgent(db, input.orgId, input.agent_id ?? null, null);
    const policies = await loadApplicablePolicies(db, input.orgId, agent?.id ?? null);
    return evaluatePoliciesOffLoop(policies, {
      agent_id: agent?.id ?? null,
      person,
      kind: target,
      tool: { id: name, name },
      environment_id: callEnvironment(agent, { environment_id: input.environment_id ?? null }),
      input: target === "resource" ? { uri: name } : input.input,
    });
  }
  if (input.tool_id === undefined)
    throw AppError.invalidField("tool_id", "Required for target tool");
  const prepared = await prepareCall(
    db,
    {
      orgId: input.orgId,
      tool: { id: input.tool_id },
      agent: input.agent_id ?? null,
      person,
      input: input.input,
    },
    null,
  ).catch((error: unknown) => {
    throw error instanceof AppError && error.code === "NOT_FOUND"
      ? AppError.invalidField("tool_id", "No such tool in this organization")
      : error;
  });
  return prepared.decision;
}

/** Whom an evaluated call without an agent is made by: a member (with their role), or a role. */
async function evaluatedPerson(db: Db, input: EvaluateCallInput): Promise<PolicyPerson | null> {
  const fields = [input.agent_id && "agent_id", input.user_id && "user_id", input.role && "role"];
  if (fields.filter(Boolean).length > 1)
    throw AppError.invalidField(
      input.user_id && input.agent_id ? "user_id" : "role",
      "Give one caller: an agent, a member, or a role",
    );
  if (input.user_id) {
    const role = await assertMemberInOrg(db, input.orgId, input.user_id);
    return role === null ? null : { user_id: input.user_id, role };
  }
  return input.role ? { user_id: null, role: input.role } : null;
}

/** A call that must not go upstream: the run's status and error, and for a rate limit when to retry. */
export interface Refusal {
  status: "denied" | "failed" | "rate_limited";
  error: string;
  retryAfterSeconds?: number;
}

/** A disabled agent calls nothing, whatever its policies say. */
export function agentRefusal(agent: Agent | null): Refusal | null {
  return agent && agent.status !== "active"
    ? { status: "denied", error: `Agent '${agent.name}' is disabled` }
    : null;
}

/**
 * The policy decision, then the rate limits of the allow policies that decided it. A call over a
 * limit is `rate_limited`, and its decision (stored with the run) says it was not allowed and why.
 */
export async function policyRefusal(
  db: Db,
  decision: PolicyDecision,
  subject: string,
  tracer: Tracer | null = null,
): Promise<Refusal | null> {
  if (!decision.allowed) return { status: "denied", error: decision.reason };
  if (decision.rate_limited_by.length === 0) return null;
  return inSpan(tracer, "mcp.rate_limit", () => consumeRateLimits(db, decision, subject), {
    "mcp.rate_limit.policies": decision.rate_limited_by.length,
  });
}

async function consumeRateLimits(
  db: Db,
  decision: PolicyDecision,
  subject: string,
): Promise<Refusal | null> {
  for (const limit of decision.rate_limited_by) {
    const consumed = await consumeRateLimit(db, {
      policyId: limit.policy_id,
      subject,
      maxCalls: limit.max_calls,
      perSeconds: limit.per_seconds,
    });
    if (!consumed.allowed) {
      const error = `Rate limited by policy '${limit.name}': at most ${limit.max_calls} calls per ${limit.per_seconds} s; retry in ${consumed.retry_after_seconds} s`;
      decision.allowed = false;
      decision.reason = error;
      return { status: "rate_limited", error, retryAfterSeconds: consumed.retry_after_seconds };
    }
  }
  return null;
}

/** Whose quota a call uses: its agent's, or the person's (or key's) who made it. */
export function rateLimitSubject(agent: Agent | null, trigger: RunTrigger): string {
  return agent ? `agent:${agent.id}` : `${trigger.type}:${trigger.id}`;
}

const QUARANTINE_REASONS: Record<NonNullable<Tool["quarantine"]>, string> = {
  new: "it is new and waits for an admin to approve its definition",
  changed:
    "its server changed its definition (description, schemas or annotations) since it was approved; an admin must review the change",
  rejected:
    "an admin rejected its server's changed definition; it stays refused until the server restores the approved one or the change is approved",
};

function quarantineRefusal(name: string, quarantine: NonNullable<Tool["quarantine"]>): string {
  return `Tool '${name}' is quarantined: ${QUARANTINE_REASONS[quarantine]}`;
}

/** Why the tool call must not go upstream whatever its input, or null when it may. */
async function callRefusal(
  db: Db,
  tracer: Tracer | null,
  prepared: PreparedCall,
  request: RunRequest,
): Promise<Refusal | null> {
  // An approved call used its rate limit quota when it was made; policies still decide now.
  const { tool, agent, decision } = prepared;
  const refusedAgent = agentRefusal(agent);
  if (refusedAgent) return refusedAgent;
  if (tool.stale)
    return {
      status: "denied",
      error: `Tool '${tool.name}' is no longer offered by its server (stale)`,
    };
  if (tool.quarantine)
    return { status: "denied", error: quarantineRefusal(tool.name, tool.quarantine) };
  if (!tool.enabled) return { status: "denied", error: `Tool '${tool.name}' is disabled` };
  if (request.approved)
    return decision.allowed ? null : { status: "denied", error: decision.reason };
  const refusedByPolicy = await policyRefusal(
    db,
    decision,
    rateLimitSubject(agent, request.trigger),
    tracer,
  );
  return refusedByPolicy;
}

/** Why the tool must not be called with `input` (its input schema refuses it), or null. */
async function inputRefusal(tool: Tool, input: JsonObject): Promise<Refusal | null> {
  try {
    const validation = await validateJsonOffLoop(tool.input_schema, input);
    if (!validation.valid) {
      return {
        status: "failed",
        error: `Invalid input: ${formatJsonSchemaIssues(validation.issues, 5, "input")}`,
      };
    }
  } catch (error) {
    if (error instanceof InvalidJsonSchemaError) {
      return {
        status: "failed",
        error: `The tool's input_schema is not a valid JSON Schema: ${error.message}`,
      };
    }
    if (error instanceof JsonSchemaLimitError) {
      return { status: "failed", error: `Invalid input: ${error.message}` };
    }
    throw error;
  }
  return null;
}

function byteLength(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value), "utf8");
}

/**
 * Keeps the stored copy of a result under the cap: text is cut, binary content that does not fit
 * is replaced by a note of its size. The caller still receives the full result.
 */
export function capOutput(
  result: CallToolResult,
  maxBytes = MAX_STORED_OUTPUT_BYTES,
): { output: JsonValue; truncated: boolean } {
  if (byteLength(result) <= maxBytes)
    return { output: result as unknown as JsonValue, truncated: false };
  let budget = maxBytes - 1024;
  const content: JsonValue[] = [];
  for (const item of result.content) {
    const size = byteLength(item);
    if (size <= budget) {
      content.push(item as unknown as JsonValue);
      budget -= size;
    } else if (item.type === "text" && budget > 256) {
      // Cut by characters, then trim until the encoded size fits (multi-byte text).
      let text = item.text.slice(0, budget - 128);
      while (byteLength({ type: "text", text }) > budget && text.length > 0)
        text = text.slice(0, Math.floor(text.length * 0.9));
      content.push({ type: "text", text });
      budget -= byteLength({ type: "text", text });
    } else {
      content.push({ type: "text", text: `[${item.type} content omitted: ${size} bytes]` });
      budget -= 64;
    }
  }
  const output: JsonObject = { content, ...(result.isError ? { isError: true } : {}) };
  if (result.structuredContent && byteLength(result.structuredContent) <= budget) {
    output.structuredContent = result.structuredContent as JsonObject;
  }
  return { output, truncated: true };
}

function triggerJson(trigger: RunTrigger, context: ActionContext): JsonObject {
  return {
    type: trigger.type,
    id: trigger.id,
    surface: trigger.surface,
    ...(context.acting_user === undefined ? {} : { acting_user: context.acting_user }),
  };
}

const AUDIT_ACTIONS: Record<Run["kind"], string> = {
  tool: "tool.run",
  prompt: "prompt.get",
  resource: "resource.read",
};

function runAudit(context: ActionContext, run: Run): AuditRow {
  const row = auditRow(context, {
    org_id: run.org_id,
    action: AUDIT_ACTIONS[run.kind],
    target_type: "run",
    target_id: run.id,
    metadata: {
      kind: run.kind,
      tool_id: run.tool_id,
      tool_name: run.tool_name,
      agent_id: run.agent_id,
      user_id: run.user_id,
      status: run.status,
      duration_ms: run.duration_ms,
      surface: run.triggered_by.surface ?? null,
    },
  });
  return {
    id: uuidv7(),
    org_id: row.org_id ?? null,
    actor_type: row.actor_type,
    actor_id: row.actor_id ?? null,
    action: row.action,
    target_type: row.target_type ?? null,
    target_id: row.target_id ?? null,
    metadata: row.metadata ?? {},
    ip: row.ip ?? null,
    user_agent: row.user_agent ?? null,
    created_at: run.finished_at ?? new Date(),
  };
}

/** What every governed call records, whatever it calls. */
export interface GovernedCall {
  orgId: string;
  kind: Run["kind"];
  toolId: string | null;
  /** The tool's or prompt's name, or the resource's URI. */
  name: string;
  agent: Agent | null;
  environmentId: string | null;
  input: JsonObject;
  decision: PolicyDecision;
  trigger: RunTrigger;
  awaitRecord?: boolean | undefined;
  /** The run's id when it exists already (a call run after its approval). */
  runId?: string | undefined;
}

type RunFields = Pick<Run, "status" | "output" | "output_truncated" | "error"> &
  Partial<Pick<Run, "relayed" | "guardrails">>;

/** What a call learnt before it was refused or went upstream. */
interface RunStart {
  /** The input as guardrail hooks left it, recorded instead of the one received. */
  input?: JsonObject;
  guardrails?: GuardrailRecord | null;
}

/**
 * Records governed calls through the runtime's RunRecorder: `refused` writes a call that never
 * went upstream, `started` the running row of one that did, and its `finish` the outcome.
 */
export function runRecording(runtime: McpRuntime, context: ActionContext, call: GovernedCall) {
  const base = {
    org_id: call.orgId,
    kind: call.kind,
    tool_id: call.toolId,
    tool_name: call.name,
    agent_id: call.agent?.id ?? null,
    // A person's call records the person even when made as an agent, so both are on file; so
    // does an agent's call made with an OAuth token, for the person who authorized it.
    user_id: call.trigger.type === "user" ? call.trigger.id : (context.acting_user ?? null),
    environment_id: call.environmentId,
    input: call.input,
    decision: call.decision as unknown as JsonObject,
    triggered_by: triggerJson(call.trigger, context),
    replica_id: runtime.replicaId,
    request_id: context.request_id ?? null,
    relayed: null,
    trace_id: runtime.tracer ? activeTraceId() : null,
    guardrails: null,
  };
  // One recording records one run: refused, or started and finished. Its id is known at once, so
  // guardrail hooks can name the run before it is written.
  const id = call.runId ?? uuidv7();
  const record = async (run: Run): Promise<Run> => {
    const awaited = call.awaitRecord !== false;
    const { metrics } = runtime;
    metrics.governedCalls.inc({
      kind: run.kind,
      surface: call.trigger.surface,
      status: run.status,
    });
    if (run.status === "rate_limited")
      metrics.rateLimitRefusals.inc({ surface: call.trigger.surface });
    const committed = runtime.recorder.finished(run, runAudit(context, run), awaited);
    spanUntil(runtime.tracer, "mcp.record", committed);
    // The recorder reports its own failures; a caller that does not wait must not see them twice.
    if (awaited) await committed;
    else committed.catch(() => undefined);
    return run;
  };
  return {
    id,
    /** The run as it waits for approval; written with its approval (see approvals/). */
    awaiting(): Run {
      return {
        ...base,
        id,
        status: "awaiting_approval",
        output: null,
        output_truncated: false,
        error: null,
        started_at: new Date(),
        finished_at: null,
        duration_ms: null,
      };
    },
    refused(refusal: Refusal, start: RunStart = {}): Promise<Run> {
      const now = new Date();
      return record({
        ...base,
        ...start,
        id,
        status: refusal.status,
        output: null,
        output_truncated: false,
        error: refusal.error,
        started_at: now,
        finished_at: now,
        duration_ms: 0,
      });
    },
    async started(
      start: RunStart = {},
    ): Promise<{ id: string; finish: (fields: RunFields) => Promise<Run> }> {
      await runtime.recorder.room();
      const running: Run = {
        ...base,
        ...start,
        id,
        status: "running",
        output: null,
        output_truncated: false,
        error: null,
        started_at: new Date(),
        finished_at: null,
        duration_ms: null,
      };
      runtime.recorder.started(running);
      return {
        id: running.id,
        finish: (fields) => {
          const finishedAt = new Date();
          return record({
            ...running,
            ...fields,
            finished_at: finishedAt,
            duration_ms: finishedAt.getTime() - running.started_at.getTime(),
          });
        },
      };
    },
  };
}

/**
 * A call allowed once approved: its run is written awaiting approval, with its approval. Held
 * (the gateway), this waits for the decision, then runs the call as approved or returns the run
 * as the decision, its expiry or a cancellation ended it; otherwise it returns the waiting run.
 */
async function awaitApproval(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  request: RunRequest,
  pending: { run: Run; requirement: ApprovalRequirement; agentId: string | null },
): Promise<RunOutcome> {
  const held = request.holdForApproval;
  const approval = await requestApproval(db, context, {
    run: pending.run,
    requirement: pending.requirement,
    mode: held ? "held" : "detached",
    holderReplicaId: held ? runtime.replicaId : null,
    call: {
      trigger: request.trigger,
      agent_id: pending.agentId,
      actor: context.actor,
      ip: context.ip,
      user_agent: context.user_agent,
      request_id: context.request_id ?? null,
      acting_user: context.acting_user ?? null,
    },
  });
  runtime.metrics.governedCalls.inc({
    kind: "tool",
    surface: request.trigger.surface,
    status: "awaiting_approval",
  });
  if (!held) return { run: pending.run, result: null, retryAfterSeconds: null };
  const { onWaiting } = held;
  const info: HeldApproval = {
    approval_id: approval.id,
    run_id: approval.run_id,
    policy_name: approval.policy_name,
    approver_role: approval.approver_role,
    expires_at: approval.expires_at,
  };
  const outcome = await runtime.approvals.hold(approval.id, request.signal ?? NEVER, {
    onWaiting: onWaiting
      ? () => {
          onWaiting(info);
        }
      : undefined,
    cancelReason: "Cancelled: the caller went away before the call was approved",
  });
  if (outcome === "approved")
    return runTool(db, runtime, context, {
      ...request,
      holdForApproval: undefined,
      approved: { runId: pending.run.id },
    });
  return {
    run: await getRun(db, { orgId: pending.run.org_id, id: pending.run.id }),
    result: null,
    retryAfterSeconds: null,
  };
}

/** A signal that never aborts, for holds nobody can cancel. */
const NEVER = new AbortController().signal;

/**
 * The upstream part of a governed call: timed for the metrics, and a span whose context the
 * HTTP transport sends upstream as `traceparent`.
 */
export async function upstreamCall<T>(
  runtime: McpRuntime,
  kind: Run["kind"],
  fn: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await inSpan(runtime.tracer, "mcp.upstream", fn, { "mcp.call.kind": kind });
  } finally {
    runtime.metrics.upstreamDuration.observe({ kind }, (performance.now() - started) / 1000);
  }
}

/** How a failed upstream call is recorded; a dead or misconfigured server also marks its connection. */
export async function upstreamFailure(
  runtime: Pick<McpRuntime, "health" | "metrics">,
  connection: Connection,
  error: unknown,
): Promise<Pick<Run, "status" | "error">> {
  const { health } = runtime;
  runtime.metrics.upstreamErrors.inc({ kind: isMcpCallError(error) ? error.kind : "internal" });
  // AppErrors (an unreadable secret) explain themselves and are safe to show.
  const message =
    isMcpCallError(error) || isAppError(error)
      ? error.message
      : "Unexpected error while calling the upstream server";
  if (
    isMcpCallError(error) &&
    (error.kind === "unreachable" || error.kind === "auth" || error.kind === "protocol")
  ) {
    await health.report({ orgId: connection.org_id, id: connection.id }, message);
  }
  return {
    status: isMcpCallError(error) && error.kind === "timeout" ? "timeout" : "failed",
    error: message,
  };
}

/**
 * The one governed path for a tool call, whatever face it arrived at: load → policy (deny wins,
 * default deny) → rate limit → input validation → decrypt the secret → call through the pooled
 * client with the connection's timeout → record the run and its audit event. A refused or failed
 * call is recorded too; only an unknown tool or agent throws.
 *
 * What a call reads comes from the runtime's CallCache; its records go through the runtime's
 * RunRecorder, awaited unless the caller opted out with `awaitRecord: false`.
 */
export async function runTool(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  request: RunRequest,
): Promise<RunOutcome> {
  const prepared = await inSpan(runtime.tracer, "mcp.policy", () =>
    prepareCall(db, request, runtime.calls),
  );
  const { tool, connection, agent, environmentId, decision } = prepared;
  const recording = runRecording(runtime, context, {
    orgId: request.orgId,
    kind: "tool",
    toolId: tool.id,
    name: tool.name,
    agent,
    environmentId,
    input: request.input as JsonObject,
    decision,
    trigger: request.trigger,
    awaitRecord: request.awaitRecord,
    runId: request.approved?.runId,
  });
  const guardrails = emptyGuardrailRecord();
  const refuse = async (refused: Refusal, input?: JsonObject): Promise<RunOutcome> => {
    const run = await recording.refused(refused, {
      ...(input === undefined ? {} : { input }),
      guardrails: guardrailRecordOrNull(guardrails),
    });
    return { run, result: null, retryAfterSeconds: refused.retryAfterSeconds ?? null };
  };

  const refused = await callRefusal(db, runtime.tracer, prepared, request);
  if (refused) return refuse(refused);
  if (decision.approval !== undefined && !request.approved)
    return awaitApproval(db, runtime, context, request, {
      run: recording.awaiting(),
      requirement: decision.approval,
      agentId: agent?.id ?? null,
    });
  const hookCall: HookCall = {
    org_id: request.orgId,
    run_id: recording.id,
    tool: { id: tool.id, name: tool.name },
    agent_id: agent?.id ?? null,
    environment_id: environmentId,
  };
  // The rewritten input is the one recorded: a hook that scrubs the input scrubs the record too.
  const pre = await runHookChain(
    runtime,
    prepared.guardrails,
    "pre_call",
    hookCall,
    request.input as JsonObject,
    guardrails,
    request.signal,
  );
  if (!pre.allowed) return refuse({ status: "denied", error: pre.error });
  const input = pre.value;
  const invalid = await inputRefusal(tool, input);
  if (invalid) return refuse(invalid, input);

  const { id: runId, finish } = await recording.started({ input });
  request.onStarted?.(runId);
  const relayed: RelayedRequest[] = [];
  let secrets: string[] = [];
  const call = (session: McpSession, target: McpTarget) => {
    secrets = secretValues(target);
    return session.callTool(tool.upstream_name, input, {
      timeoutMs: connection.timeout_ms,
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      ...(request.onLog ? { onLog: request.onLog } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
  };
  const relay = request.relay;
  const relaying =
    relay !== undefined && Object.keys(relayableCapabilities(relay.capabilities)).length > 0;
  const relayedOrNull = () => (relayed.length > 0 ? relayed : null);
  let result: CallToolResult;
  try {
    result = await upstreamCall(runtime, "tool", () =>
      withConnectionSession(
        db,
        runtime,
        connection,
        callPrincipal(context, agent, request.trigger.type === "user" ? request.trigger.id : null),
        call,
        relaying
          ? {
              own: {
                serverRequests: {
                  capabilities: relay.capabilities,
                  handle: governedRelay(db, context, { connection, tool, runId, relay, relayed }),
                },
                signal: request.signal,
              },
            }
          : { idempotent: false },
      ),
    );
  } catch (error) {
    const failure = await upstreamFailure(runtime, connection, error);
    const run = await finish({
      ...failure,
      output: null,
      output_truncated: false,
      relayed: relayedOrNull(),
      guardrails: guardrailRecordOrNull(guardrails),
    });
    if (!isMcpCallError(error)) throw error;
    return { run, result: null, retryAfterSeconds: null };
  }
  // Not decided by the cached row's status: health writes leave caches as they are, so the
  // row may be older than another replica's report; the writer keeps this to one per interval.
  await runtime.health.report({ orgId: connection.org_id, id: connection.id }, null);
  const guarded = await guardOutput(runtime, prepared, { ...hookCall, input }, result, {
    secrets,
    record: guardrails,
    signal: request.signal,
  });
  if (!guarded.allowed) {
    const run = await finish({
      status: guarded.status,
      output: null,
      output_truncated: false,
      error: guarded.error,
      relayed: relayedOrNull(),
      guardrails: guardrailRecordOrNull(guardrails),
    });
    return { run, result: null, retryAfterSeconds: null };
  }
  const returned = guarded.value;
  const { output, truncated } = capOutput(returned);
  const run = await finish({
    status: returned.isError ? "failed" : "succeeded",
    output,
    output_truncated: truncated,
    error: returned.isError ? "The tool reported an error (isError: true); see output" : null,
    relayed: relayedOrNull(),
    guardrails: guardrailRecordOrNull(guardrails),
  });
  return { run, result: returned, retryAfterSeconds: null };
}

/**
 * The upstream result as it may leave the platform: the connection's secrets and the matched
 * policies' patterns redacted, then the post_call hooks (which see only the redacted result),
 * then redaction again when a hook replaced it. A result that cannot be redacted within the
 * regex budget is withheld, never returned as it came.
 */
async function guardOutput(
  runtime: McpRuntime,
  prepared: PreparedCall,
  call: HookCall,
  result: CallToolResult,
  options: { secrets: string[]; record: GuardrailRecord; signal: AbortSignal | undefined },
): Promise<
  | { allowed: true; value: CallToolResult }
  | { allowed: false; status: "denied" | "failed"; error: string }
> {
  const redaction = { secrets: options.secrets, patterns: redactionPatterns(prepared.guardrails) };
  try {
    const redacted = redactResult(result, redaction, options.record);
    const post = await runHookChain(
      runtime,
      prepared.guardrails,
      "post_call",
      call,
      redacted,
      options.record,
      options.signal,
    );
    if (!post.allowed) return { allowed: false, status: "denied", error: post.error };
    return {
      allowed: true,
      value:
        post.value === redacted ? redacted : redactResult(post.value, redaction, options.record),
    };
  } catch (error) {
    if (!(error instanceof RegexBudgetError)) throw error;
    return {
      allowed: false,
      status: "failed",
      error: `The result was withheld: it is too large to check against the redaction patterns (${error.message})`,
    };
  }
}

/**
 * Whose credentials a call uses on a per-user OAuth connection: the person who ran it, the person
 * whose OAuth token the gateway call carries, or for an agent key the agent's "runs as" member;
 * never anyone else.
 */
export function callPrincipal(
  context: Pick<ActionContext, "acting_user">,
  agent: Pick<Agent, "name" | "runs_as_user_id"> | null,
  /** The person who ran the call themselves (REST, tRPC), if one did. */
  ranBy: string | null,
): CallPrincipal {
  if (ranBy !== null) return { userId: ranBy };
  if (context.acting_user !== undefined) return { userId: context.acting_user };
  return { userId: agent?.runs_as_user_id ?? null, agentName: agent?.name };
}

/**
 * JSON-RPC error code for a relayed request the gateway refuses (the connection does not allow
 * it): the code the MCP specification gives a client that rejects a sampling request.
 */
export const RELAY_REFUSED_CODE = -1;

/** The audit action of each relayed method that is audited one by one. */
const RELAY_AUDIT_ACTIONS: Partial<Record<string, string>> = {
  "sampling/createMessage": "mcp.sampling",
  "elicitation/create": "mcp.elicitation",
};

/**
 * The handler a relaying call's session gives the upstream's requests: the connection's
 * `allow_sampling` / `allow_elicitation` first (a refusal answers the upstream with an error),
 * then the client's answer. Every request is recorded on the run (sizes, outcome); sampling and
 * elicitation are also audited, each as it ends.
 */
function governedRelay(
  db: Db,
  context: ActionContext,
  call: {
    connection: Connection;
    tool: Tool;
    runId: string;
    relay: CallRelay;
    relayed: RelayedRequest[];
  },
): (request: RelayableRequest, signal: AbortSignal) => Promise<Result> {
  const { connection } = call;
  return async (request, signal) => {
    const startedAt = performance.now();
    const entry: RelayedRequest = {
      method: request.method,
      outcome: "answered",
      request_bytes: byteLength(request.params),
      response_bytes: 0,
      duration_ms: 0,
    };
    const refusedBy =
      request.method === "sampling/createMessage" && !connection.allow_sampling
        ? "sampling"
        : request.method === "elicitation/create" && !connection.allow_elicitation
          ? "elicitation"
          : null;
    try {
      if (refusedBy !== null) {
        entry.outcome = "refused";
        entry.reason = `Connection '${connection.name}' does not allow ${refusedBy} (allow_${refusedBy}: false)`;
        throw new McpError(RELAY_REFUSED_CODE, `Refused by the gateway: ${entry.reason}`);
      }
      const result = await call.relay.ask(request, signal);
      entry.response_bytes = byteLength(result);
      const action = (result as { action?: unknown }).action;
      if (
        request.method === "elicitation/create" &&
        (action === "accept" || action === "decline" || action === "cancel")
      )
        entry.action = action;
      return result;
    } catch (error) {
      if (entry.outcome !== "refused") {
        const timedOut =
          error instanceof McpError && error.code === (ErrorCode.RequestTimeout as number);
        entry.outcome = timedOut ? "timeout" : "failed";
        entry.reason = signal.aborted
          ? "The call ended before the client answered"
          : error instanceof Error
            ? error.message
            : String(error);
      }
      throw error;
    } finally {
      entry.duration_ms = Math.round(performance.now() - startedAt);
      call.relayed.push(entry);
      const action = RELAY_AUDIT_ACTIONS[request.method];
      if (action)
        await recordAudit(db, context, {
          org_id: connection.org_id,
          action,
          target_type: "run",
          target_id: call.runId,
          metadata: {
            connection_id: connection.id,
            tool_name: call.tool.name,
            ...(entry as unknown as JsonObject),
          },
        }).catch(() => undefined);
    }
  };
}
