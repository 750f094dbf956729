import { randomBytes } from "node:crypto";
import { and, asc, eq, gt, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import type { Task } from "@modelcontextprotocol/sdk/types.js";
import type { Agent } from "../agents/agents";
import { TASK_CHANNEL } from "../db/changes";
import type { Db } from "../db/client";
import {
  agents,
  connections,
  mcpTasks,
  replicas,
  tools,
  type JsonObject,
  type McpTaskError,
} from "../db/schema";
import { AppError } from "../errors";
import { appendMcpSessionEvents, MCP_SESSION_GET_STREAM } from "../mcp-sessions/events";

/*
 * Task-augmented tool calls of the MCP gateway (MCP tasks, protocol 2025-11-25). The row is the
 * task: the replica that accepted the call runs it and records its outcome here, and any replica
 * answers for it. Every change of status is announced on TASK_CHANNEL in the transaction that made
 * it, so a replica blocked in `tasks/result` wakes when the task ends, and the replica running a
 * task hears that another one cancelled it (see TaskHub). In the same transaction, a task created
 * in an MCP session sends that session `notifications/tasks/status` (an event of its GET stream,
 * see mcp-sessions/events.ts), whichever replica changed it.
 *
 * A task is seen only by the agent that created it and, when it was created in an MCP session,
 * only in that session: anyone else's task id is simply not found. Ids carry 144 random bits.
 */

export type McpTaskRow = typeof mcpTasks.$inferSelect;
export type McpTaskStatus = McpTaskRow["status"];

export const TASK_ID_PREFIX = "task-";

const LIVE_STATUSES = ["working", "input_required"] as const satisfies McpTaskStatus[];

export function isTerminalTaskStatus(status: McpTaskStatus): boolean {
  return !(LIVE_STATUSES as readonly McpTaskStatus[]).includes(status);
}

/** Whose tasks a request sees: its agent's, within its session (or outside any session). */
export interface McpTaskOwner {
  agentId: string;
  sessionId: string | null;
}

export interface McpTaskLimits {
  /** Live (working) tasks one agent may have; one more is refused. */
  maxLivePerAgent: number;
}

/** The task as MCP shows it (tasks/get, notifications/tasks/status). */
export function mcpTaskOf(row: McpTaskRow): Task {
  return {
    taskId: row.id,
    status: row.status,
    ...(row.status_message === null ? {} : { statusMessage: row.status_message }),
    createdAt: row.created_at.toISOString(),
    lastUpdatedAt: row.updated_at.toISOString(),
    ttl: row.ttl_ms,
    pollInterval: row.poll_interval_ms,
  };
}

/**
 * Locks the sessions of the tasks `where` selects, before their tasks: the order in which a
 * session's end (which deletes its tasks) takes the locks, so the two cannot deadlock.
 */
async function lockTaskSessions(tx: Db, where: SQL | undefined): Promise<void> {
  await tx.execute(sql`
    select 1 from mcp_sessions where id in (
      select session_id from ${mcpTasks} where ${where} and session_id is not null
    ) order by id for update
  `);
}

/** Announces changed tasks: on TASK_CHANNEL, and to their sessions as notifications/tasks/status. */
async function announceTasks(tx: Db, rows: McpTaskRow[]): Promise<void> {
  for (const row of rows) {
    await tx.execute(
      sql`select pg_notify(${TASK_CHANNEL}, ${JSON.stringify({ id: row.id, status: row.status })})`,
    );
    if (row.session_id === null) continue;
    await appendMcpSessionEvents(tx, {
      sessionId: row.session_id,
      stream: MCP_SESSION_GET_STREAM,
      messages: [
        {
          jsonrpc: "2.0",
          method: "notifications/tasks/status",
          params: { ...mcpTaskOf(row) },
        },
      ],
    });
  }
}

/** Updates the live tasks `where` selects and announces each, in one transaction. */
async function changeLiveTasks(
  db: Db,
  where: SQL | undefined,
  set: Partial<typeof mcpTasks.$inferInsert>,
): Promise<McpTaskRow[]> {
  const live = and(where, inArray(mcpTasks.status, LIVE_STATUSES));
  return db.transaction(async (tx) => {
    await lockTaskSessions(tx, live);
    const rows = await tx
      .update(mcpTasks)
      .set({ ...set, updated_at: sql`now()` })
      .where(live)
      .returning();
    await announceTasks(tx, rows);
    return rows;
  });
}

function visibleTo(owner: McpTaskOwner, taskId?: string): SQL | undefined {
  return and(
    taskId === undefined ? undefined : eq(mcpTasks.id, taskId),
    eq(mcpTasks.agent_id, owner.agentId),
    owner.sessionId === null
      ? sql`${mcpTasks.session_id} is null`
      : eq(mcpTasks.session_id, owner.sessionId),
    gt(mcpTasks.expires_at, sql`now()`),
  );
}

/** Whether the tool's connection lets it run as a task; null for a tool not in the org. */
export async function toolAllowsTasks(
  db: Db,
  input: { orgId: string; name: string },
): Promise<{ allowTasks: boolean } | null> {
  const [row] = await db
    .select({ allowTasks: connections.allow_tasks })
    .from(tools)
    .innerJoin(connections, eq(connections.id, tools.connection_id))
    .where(and(eq(tools.org_id, input.orgId), eq(tools.name, input.name)))
    .limit(1);
  return row ?? null;
}

/**
 * Opens a working task for the agent. The agent's row is locked while its live tasks are
 * counted, so concurrent calls cannot overshoot the bound together.
 */
export async function createMcpTask(
  db: Db,
  input: {
    agent: Agent;
    sessionId: string | null;
    toolName: string;
    replicaId: string;
    ttlMs: number;
    pollIntervalMs: number;
    limits: McpTaskLimits;
  },
): Promise<McpTaskRow> {
  const { agent } = input;
  return db.transaction(async (tx) => {
    await tx.select({ id: agents.id }).from(agents).where(eq(agents.id, agent.id)).for("update");
    const [live] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(mcpTasks)
      .where(
        and(
          eq(mcpTasks.agent_id, agent.id),
          inArray(mcpTasks.status, LIVE_STATUSES),
          gt(mcpTasks.expires_at, sql`now()`),
        ),
      );
    if ((live?.count ?? 0) >= input.limits.maxLivePerAgent)
      throw AppError.conflict(
        `Too many tasks: the agent already has ${input.limits.maxLivePerAgent} running (MCP_MAX_TASKS_PER_AGENT); wait for one to end or cancel one`,
      );
    const [row] = await tx
      .insert(mcpTasks)
      .values({
        id: `${TASK_ID_PREFIX}${randomBytes(18).toString("base64url")}`,
        org_id: agent.org_id,
        agent_id: agent.id,
        session_id: input.sessionId,
        tool_name: input.toolName,
        replica_id: input.replicaId,
        ttl_ms: input.ttlMs,
        poll_interval_ms: input.pollIntervalMs,
        expires_at: sql`now() + make_interval(secs => ${input.ttlMs / 1000})`,
      })
      .returning();
    if (!row) throw new Error("insert returned no task");
    return row;
  });
}

/** The task, if the owner may see it (another agent's, another session's or an expired one: null). */
export async function findMcpTask(
  db: Db,
  owner: McpTaskOwner,
  taskId: string,
): Promise<McpTaskRow | null> {
  const [row] = await db.select().from(mcpTasks).where(visibleTo(owner, taskId)).limit(1);
  return row ?? null;
}

/** One page of the owner's tasks, oldest first, after a keyset position. */
export async function listMcpTasks(
  db: Db,
  owner: McpTaskOwner,
  page: { after: { createdAt: Date; id: string } | null; limit: number },
): Promise<{ tasks: McpTaskRow[]; more: boolean }> {
  const { after } = page;
  const rows = await db
    .select()
    .from(mcpTasks)
    .where(
      and(
        visibleTo(owner),
        after === null
          ? undefined
          : or(
              gt(mcpTasks.created_at, after.createdAt),
              and(eq(mcpTasks.created_at, after.createdAt), gt(mcpTasks.id, after.id)),
            ),
      ),
    )
    .orderBy(asc(mcpTasks.created_at), asc(mcpTasks.id))
    .limit(page.limit + 1);
  return { tasks: rows.slice(0, page.limit), more: rows.length > page.limit };
}

/**
 * Cancels a live task: `cancelled` with the row, `terminal` when it had already ended (the
 * protocol refuses that), `not_found` when the owner cannot see it. The replica running the call
 * hears the announcement and aborts it.
 */
export async function cancelMcpTask(
  db: Db,
  owner: McpTaskOwner,
  taskId: string,
): Promise<{ outcome: "cancelled"; task: McpTaskRow } | { outcome: "terminal" | "not_found" }> {
  const [cancelled] = await changeLiveTasks(db, visibleTo(owner, taskId), {
    status: "cancelled",
    status_message: "The task was cancelled by request",
  });
  if (cancelled) return { outcome: "cancelled", task: cancelled };
  return (await findMcpTask(db, owner, taskId))
    ? { outcome: "terminal" }
    : { outcome: "not_found" };
}

/** Sets a live task's status message (what it waits for), announced like a change of status. */
export async function noteMcpTask(db: Db, taskId: string, message: string): Promise<void> {
  await changeLiveTasks(db, eq(mcpTasks.id, taskId), { status_message: message });
}

/**
 * Marks a live task as waiting for its requestor's input (a request of the upstream relayed to
 * the client: MCP's `input_required`), or as working again once answered.
 */
export async function setMcpTaskInputRequired(
  db: Db,
  taskId: string,
  waiting: boolean,
): Promise<void> {
  await changeLiveTasks(
    db,
    and(eq(mcpTasks.id, taskId), eq(mcpTasks.status, waiting ? "working" : "input_required")),
    { status: waiting ? "input_required" : "working" },
  );
}

/** Links the task to the run recording its call. */
export async function linkMcpTaskRun(db: Db, taskId: string, runId: string): Promise<void> {
  await db.update(mcpTasks).set({ run_id: runId }).where(eq(mcpTasks.id, taskId));
}

/**
 * Records how a task's call ended. A task that was cancelled (or swept) meanwhile keeps that
 * status: a terminal task never changes again.
 */
export async function finishMcpTask(
  db: Db,
  taskId: string,
  outcome: {
    status: "completed" | "failed";
    statusMessage: string | null;
    result: JsonObject | null;
    error: McpTaskError | null;
    runId: string | null;
  },
): Promise<void> {
  await changeLiveTasks(db, eq(mcpTasks.id, taskId), {
    status: outcome.status,
    status_message: outcome.statusMessage,
    result: outcome.result,
    error: outcome.error,
    ...(outcome.runId === null ? {} : { run_id: outcome.runId }),
  });
}

const INTERRUPTED =
  "Interrupted: the server running this task stopped before recording its outcome";

/**
 * Fails the live tasks of replicas that are gone: without a heartbeat within `deadAfter` (an
 * interval), or without a row at all. Part of the dead-replica sweep (see replicas.ts).
 */
export async function sweepInterruptedTasks(db: Db, deadAfter: SQL): Promise<number> {
  const swept = await changeLiveTasks(
    db,
    sql`not exists (
      select 1 from ${replicas} where ${replicas.id} = ${mcpTasks.replica_id}
        and ${replicas.heartbeat_at} > now() - ${deadAfter}
    )`,
    {
      status: "failed",
      status_message: INTERRUPTED,
      error: { code: -32603, message: INTERRUPTED },
    },
  );
  return swept.length;
}

/** Deletes tasks past their ttl. */
export async function pruneMcpTasks(db: Db): Promise<void> {
  await db.delete(mcpTasks).where(lt(mcpTasks.expires_at, sql`now()`));
}
