import { and, eq, sql } from "drizzle-orm";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Db } from "../db/client";
import {
  agents,
  auditEvents,
  connections,
  policies,
  runs,
  tools,
  type JsonObject,
  type JsonValue,
} from "../db/schema";
import { auditRow, type AuditEntry } from "../audit/audit";
import {
  connectionTarget,
  connectionVersion,
  recordConnectionHealth,
  type Connection,
} from "../connections/connections";
import type { Agent } from "../agents/agents";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { uuidv7 } from "../lib/ids";
import { formatJsonSchemaIssues, InvalidJsonSchemaError, validateJson } from "../lib/json-schema";
import { isMcpCallError } from "../mcp/errors";
import type { McpCallOptions } from "../mcp/client";
import { evaluatePolicies, type PolicyDecision, type PolicyRule } from "../policies/evaluate";
import { applicablePoliciesWhere, assertAgentInOrg } from "../policies/policies";
import { consumeRateLimit } from "../policies/rate-limit";
import type { McpRuntime } from "../runtime";
import type { Tool } from "../tools/tools";

export type Run = typeof runs.$inferSelect;
export type RunStatus = Run["status"];

/** Stored output is capped so one huge answer cannot bloat the runs table. */
export const MAX_STORED_OUTPUT_BYTES = 1024 * 1024;

export type ToolRef = { id: string } | { name: string };

export interface RunTrigger {
  type: "user" | "agent";
  id: string;
  surface: "rest" | "trpc" | "mcp";
}

export interface RunRequest {
  orgId: string;
  tool: ToolRef;
  /** The agent the call is made for: an id to look up, or the agent already authenticated. */
  agent: string | Agent | null;
  input: Record<string, unknown>;
  trigger: RunTrigger;
  onProgress?: McpCallOptions["onProgress"];
  onLog?: McpCallOptions["onLog"];
  signal?: AbortSignal;
}

export interface RunOutcome {
  run: Run;
  /** The upstream result exactly as received; null when the call was not made or failed. */
  result: CallToolResult | null;
}

interface PreparedCall {
  tool: Tool;
  connection: Connection;
  agent: Agent | null;
  environmentId: string | null;
  decision: PolicyDecision;
}

/**
 * The tool, its connection and the policies that can apply, in one round trip: this runs on every
 * call. Policies travel as JSON of the columns evaluation reads (no timestamps to convert). The
 * statement is prepared once per connection: planning the join and the aggregate cost PostgreSQL
 * several times more CPU than executing them.
 */
function toolQuery(db: Db, by: "id" | "name") {
  const policyRules = sql<PolicyRule[]>`(select coalesce(json_agg(json_build_object(
      'id', ${policies.id}, 'name', ${policies.name}, 'effect', ${policies.effect}, 'agent_id', ${policies.agent_id},
      'tool_pattern', ${policies.tool_pattern}, 'environment_id', ${policies.environment_id},
      'input_schema', ${policies.input_schema}, 'rate_limit', ${policies.rate_limit}, 'enabled', ${policies.enabled}
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
): Promise<{ tool: Tool; connection: Connection; policies: PolicyRule[] }> {
  let queries = toolQueries.get(db);
  if (!queries) {
    queries = { id: toolQuery(db, "id"), name: toolQuery(db, "name") };
    toolQueries.set(db, queries);
  }
  const [row] = await ("id" in ref
    ? queries.id.execute({ org_id: orgId, agent_id: agentId, tool: ref.id })
    : queries.name.execute({ org_id: orgId, agent_id: agentId, tool: ref.name }));
  if (!row) throw AppError.notFound("Tool");
  return row;
}

async function loadAgent(
  db: Db,
  orgId: string,
  agent: string | Agent | null,
): Promise<Agent | null> {
  if (agent === null || typeof agent !== "string") return agent;
  const [row] = await db
    .select()
    .from(agents)
    .where(and(eq(agents.org_id, orgId), eq(agents.id, agent)))
    .limit(1);
  if (!row) throw AppError.invalidField("agent_id", "No such agent in this organization");
  return row;
}

/** Loads what a decision needs and decides; shared by runs and by the evaluate endpoint. */
async function prepareCall(
  db: Db,
  request: { orgId: string; tool: ToolRef; agent: string | Agent | null; input: unknown },
): Promise<PreparedCall> {
  // Policies only need the agent's id, so they come with the tool; an id that is not in the org
  // makes loadAgent throw before they are used.
  const agentId = typeof request.agent === "string" ? request.agent : (request.agent?.id ?? null);
  const [{ tool, connection, policies: applicable }, agent] = await Promise.all([
    loadToolAndPolicies(db, request.orgId, request.tool, agentId),
    loadAgent(db, request.orgId, request.agent),
  ]);
  // A call happens in the agent's environment, or for a person, in the connection's.
  const environmentId = agent?.environment_id ?? connection.environment_id;
  const decision = evaluatePolicies(applicable, {
    agent_id: agent?.id ?? null,
    tool: { id: tool.id, name: tool.name },
    environment_id: environmentId,
    input: request.input,
  });
  return { tool, connection, agent, environmentId, decision };
}

/** The decision a call would get, without running anything (and without using rate limit quota). */
export async function evaluateCall(
  db: Db,
  input: { orgId: string; agent_id?: string | null | undefined; tool_id: string; input: unknown },
): Promise<PolicyDecision> {
  await assertAgentInOrg(db, input.orgId, input.agent_id);
  const prepared = await prepareCall(db, {
    orgId: input.orgId,
    tool: { id: input.tool_id },
    agent: input.agent_id ?? null,
    input: input.input,
  }).catch((error: unknown) => {
    throw error instanceof AppError && error.code === "NOT_FOUND"
      ? AppError.invalidField("tool_id", "No such tool in this organization")
      : error;
  });
  return prepared.decision;
}

/** Why the call must not go upstream, or null when it may. */
async function refusal(
  db: Db,
  prepared: PreparedCall,
  request: RunRequest,
): Promise<{ status: "denied" | "failed"; error: string } | null> {
  const { tool, agent, decision } = prepared;
  if (agent && agent.status !== "active")
    return { status: "denied", error: `Agent '${agent.name}' is disabled` };
  if (tool.stale)
    return {
      status: "denied",
      error: `Tool '${tool.name}' is no longer offered by its server (stale)`,
    };
  if (!tool.enabled) return { status: "denied", error: `Tool '${tool.name}' is disabled` };
  if (!decision.allowed) return { status: "denied", error: decision.reason };

  const subject = agent ? `agent:${agent.id}` : `${request.trigger.type}:${request.trigger.id}`;
  for (const limit of decision.rate_limited_by) {
    const consumed = await consumeRateLimit(db, {
      policyId: limit.policy_id,
      subject,
      maxCalls: limit.max_calls,
      perSeconds: limit.per_seconds,
    });
    if (!consumed.allowed) {
      return {
        status: "denied",
        error: `Rate limited by policy '${limit.name}': at most ${limit.max_calls} calls per ${limit.per_seconds} s; retry in ${consumed.retry_after_seconds} s`,
      };
    }
  }

  try {
    const validation = validateJson(tool.input_schema, request.input);
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

function triggerJson(trigger: RunTrigger): JsonObject {
  return { type: trigger.type, id: trigger.id, surface: trigger.surface };
}

type RunBase = Pick<Run, "org_id" | "tool_id" | "tool_name" | "agent_id" | "triggered_by">;

function runAudit(run: RunBase & Pick<Run, "id" | "status" | "duration_ms">): AuditEntry {
  return {
    org_id: run.org_id,
    action: "tool.run",
    target_type: "run",
    target_id: run.id,
    metadata: {
      tool_id: run.tool_id,
      tool_name: run.tool_name,
      agent_id: run.agent_id,
      status: run.status,
      duration_ms: run.duration_ms,
      surface: run.triggered_by.surface ?? null,
    },
  };
}

/**
 * The audit event rides along as a CTE of the statement that writes the run: one statement is as
 * atomic as a transaction (both rows or neither) and costs one round trip instead of four, which
 * is most of the platform's overhead per call. Every audited field is known before writing.
 */
function withRunAudit(db: Db, context: ActionContext, run: Parameters<typeof runAudit>[0]) {
  return db.with(
    db.$with("run_audit").as(
      db
        .insert(auditEvents)
        .values(auditRow(context, runAudit(run)))
        .returning({ id: auditEvents.id }),
    ),
  );
}

const ph = sql.placeholder;

/**
 * The two writes of every call, prepared once per connection like the tool query. Ids are passed
 * in (a `$defaultFn` would be frozen into the prepared statement), and `output` is serialised here
 * so that "no output" stays SQL NULL rather than JSON null.
 */
function runStatements(db: Db) {
  const audit = db.$with("run_audit").as(
    db
      .insert(auditEvents)
      .values({
        id: ph("audit_id"),
        org_id: ph("audit_org_id"),
        actor_type: ph("audit_actor_type"),
        actor_id: ph("audit_actor_id"),
        action: ph("audit_action"),
        target_type: ph("audit_target_type"),
        target_id: ph("audit_target_id"),
        metadata: ph("audit_metadata"),
        ip: ph("audit_ip"),
        user_agent: ph("audit_user_agent"),
      })
      .returning({ id: auditEvents.id }),
  );
  return {
    start: db
      .insert(runs)
      .values({
        id: ph("id"),
        org_id: ph("org_id"),
        tool_id: ph("tool_id"),
        tool_name: ph("tool_name"),
        agent_id: ph("agent_id"),
        environment_id: ph("environment_id"),
        input: ph("input"),
        decision: ph("decision"),
        triggered_by: ph("triggered_by"),
        status: "running",
        started_at: ph("started_at"),
      })
      .prepare("run_start"),
    // Runs are never deleted while running (only with their org, which the audit insert's foreign
    // key then refuses too), so the event cannot outlive a missing run.
    finish: db
      .with(audit)
      .update(runs)
      // `set` takes no bare placeholders; these pass values to the driver as they are.
      .set({
        status: sql`${ph("status")}`,
        output: sql`${ph("output")}::jsonb`,
        output_truncated: sql`${ph("output_truncated")}`,
        error: sql`${ph("error")}`,
        finished_at: sql`${ph("finished_at")}::timestamptz`,
        duration_ms: sql`${ph("duration_ms")}`,
      })
      .where(eq(runs.id, ph("id")))
      .returning()
      .prepare("run_finish"),
  };
}

const runStatementCache = new WeakMap<Db, ReturnType<typeof runStatements>>();

function statementsFor(db: Db): ReturnType<typeof runStatements> {
  let statements = runStatementCache.get(db);
  if (!statements) {
    statements = runStatements(db);
    runStatementCache.set(db, statements);
  }
  return statements;
}

async function finishRun(
  db: Db,
  context: ActionContext,
  running: RunBase & { id: string },
  startedAt: Date,
  fields: {
    status: RunStatus;
    output?: JsonValue;
    output_truncated?: boolean;
    error?: string | null;
  },
): Promise<Run> {
  const finishedAt = new Date();
  const durationMs = finishedAt.getTime() - startedAt.getTime();
  const audit = auditRow(
    context,
    runAudit({ ...running, status: fields.status, duration_ms: durationMs }),
  );
  const [run] = await statementsFor(db).finish.execute({
    id: running.id,
    status: fields.status,
    output:
      fields.output === undefined || fields.output === null ? null : JSON.stringify(fields.output),
    output_truncated: fields.output_truncated ?? false,
    error: fields.error ?? null,
    finished_at: finishedAt.toISOString(),
    duration_ms: durationMs,
    audit_id: uuidv7(),
    audit_org_id: audit.org_id,
    audit_actor_type: audit.actor_type,
    audit_actor_id: audit.actor_id,
    audit_action: audit.action,
    audit_target_type: audit.target_type,
    audit_target_id: audit.target_id,
    audit_metadata: audit.metadata,
    audit_ip: audit.ip,
    audit_user_agent: audit.user_agent,
  });
  if (!run) throw new Error("run vanished while running");
  return run;
}

/**
 * The one governed path for a tool call, whatever face it arrived at: load → policy (deny wins,
 * default deny) → rate limit → input validation → decrypt the secret → call through the pooled
 * client with the connection's timeout → record the run and its audit event. A refused or failed
 * call is recorded too; only an unknown tool or agent throws.
 */
export async function runTool(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  request: RunRequest,
): Promise<RunOutcome> {
  const prepared = await prepareCall(db, request);
  const { tool, connection, agent, environmentId, decision } = prepared;
  const base = {
    org_id: request.orgId,
    tool_id: tool.id,
    tool_name: tool.name,
    agent_id: agent?.id ?? null,
    environment_id: environmentId,
    input: request.input as JsonObject,
    decision: decision as unknown as JsonObject,
    triggered_by: triggerJson(request.trigger),
  };

  const refused = await refusal(db, prepared, request);
  if (refused) {
    const now = new Date();
    const id = uuidv7();
    const [run] = await withRunAudit(db, context, {
      ...base,
      id,
      status: refused.status,
      duration_ms: 0,
    })
      .insert(runs)
      .values({
        ...base,
        id,
        status: refused.status,
        error: refused.error,
        started_at: now,
        finished_at: now,
        duration_ms: 0,
      })
      .returning();
    if (!run) throw new Error("insert returned no run");
    return { run, result: null };
  }

  const startedAt = new Date();
  const running = { id: uuidv7() };
  await statementsFor(db).start.execute({ ...base, id: running.id, started_at: startedAt });

  try {
    const result = await runtime.pool.withSession(
      connection.id,
      connectionVersion(connection),
      connectionTarget(runtime, connection),
      (session) =>
        session.callTool(tool.upstream_name, request.input, {
          timeoutMs: connection.timeout_ms,
          ...(request.onProgress ? { onProgress: request.onProgress } : {}),
          ...(request.onLog ? { onLog: request.onLog } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        }),
    );
    if (connection.status !== "healthy") await recordConnectionHealth(db, connection.id, null);
    const { output, truncated } = capOutput(result);
    const run = await finishRun(db, context, { ...base, id: running.id }, startedAt, {
      status: result.isError ? "failed" : "succeeded",
      output,
      output_truncated: truncated,
      error: result.isError ? "The tool reported an error (isError: true); see output" : null,
    });
    return { run, result };
  } catch (error) {
    const message = isMcpCallError(error)
      ? error.message
      : "Unexpected error while calling the tool";
    const status: RunStatus =
      isMcpCallError(error) && error.kind === "timeout" ? "timeout" : "failed";
    if (
      isMcpCallError(error) &&
      (error.kind === "unreachable" || error.kind === "auth" || error.kind === "protocol")
    ) {
      await recordConnectionHealth(db, connection.id, message);
    }
    const run = await finishRun(db, context, { ...base, id: running.id }, startedAt, {
      status,
      error: message,
    });
    if (!isMcpCallError(error)) throw error;
    return { run, result: null };
  }
}
