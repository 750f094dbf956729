import {
  appendMcpSessionEvents,
  cancelMcpTask,
  MCP_SESSION_GET_STREAM,
  mcpTaskOf,
  setMcpTaskInputRequired,
  type CallRelay,
  createMcpTask,
  findMcpTask,
  finishMcpTask,
  heldApprovalMessage,
  noteMcpTask,
  isAppError,
  isTerminalTaskStatus,
  linkMcpTaskRun,
  listMcpTasks,
  toolAllowsTasks,
  type JsonObject,
  type JsonValue,
  type McpTaskLimits,
  type McpTaskOwner,
  type McpTaskRow,
} from "@mcp/core";
import {
  ErrorCode,
  McpError,
  RELATED_TASK_META_KEY,
  type CallToolResult,
  type CreateTaskResult,
  type ListTasksResult,
  type ServerCapabilities,
  type JSONRPCRequest,
  type Task,
  type TaskMetadata,
} from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../logger";
import { decodeAfterCursor, encodeCursor, PAGE_SIZE } from "./cursor";
import { callAgentTool, relayFor, type CallContext, type CallingClient } from "./tools";

/*
 * MCP tasks (protocol 2025-11-25) for `tools/call`: a call with `params.task` is answered at once
 * with a CreateTaskResult and runs on in the background of the replica that accepted it, through
 * the same governed path as any call (policies, rate limits, its run and audit event). The task
 * lives in the database (core's mcp-tasks), so `tasks/get`, `tasks/result`, `tasks/list` and
 * `tasks/cancel` are answered by whichever replica a request reaches: `tasks/result` blocks on
 * the change feed until the task ends, and a cancellation reaches the running replica the same
 * way, which aborts the upstream call.
 *
 * Every change of a task created in a session reaches that session as
 * `notifications/tasks/status` on its GET stream (stored with the change, see core's mcp-tasks).
 * The upstream's requests to the client during a task (sampling, elicitation, roots) go there
 * too, tagged with the task (`io.modelcontextprotocol/related-task`), and the task is
 * `input_required` while one waits for its answer; the answer, POSTed to any replica, reaches the
 * call through the relay (core's runs/relay.ts). A task without a session has no stream: its
 * upstream gets a client without those capabilities, as a session-less call does. Progress and
 * log messages of a task are not relayed (the call's HTTP response has ended).
 */

/** What `initialize` advertises: task-augmented tools/call, with listing and cancellation. */
export const TASKS_CAPABILITY: NonNullable<ServerCapabilities["tasks"]> = {
  list: {},
  cancel: {},
  requests: { tools: { call: {} } },
};

/** A task's lifetime when the client asks for none. */
export const DEFAULT_TASK_TTL_MS = 3_600_000;
/** The longest a task (and its result) is kept, whatever the client asks. */
export const MAX_TASK_TTL_MS = 86_400_000;
/** The shortest: a task must outlive the answer that creates it. */
export const MIN_TASK_TTL_MS = 1_000;
/** Suggested to clients; `tasks/result` blocks, so waiting clients need not poll at all. */
export const TASK_POLL_INTERVAL_MS = 1_000;
/** The longest status message a task keeps of its tool's error text. */
const STATUS_MESSAGE_CHARS = 500;

export interface TaskContext {
  call: CallContext;
  owner: McpTaskOwner;
  /** The session's client, which the upstream's requests during the task are relayed to. */
  client: CallingClient | null;
  limits: McpTaskLimits;
  logger: Logger;
}

function taskNotFound(taskId: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
}

/** The task's lifetime: the requested ttl within the bounds, or an invalid-params error. */
function taskTtl(task: TaskMetadata): number {
  const { ttl } = task;
  if (ttl === undefined) return DEFAULT_TASK_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0)
    throw new McpError(
      ErrorCode.InvalidParams,
      "Invalid params: task.ttl: must be a positive whole number of milliseconds",
    );
  return Math.min(MAX_TASK_TTL_MS, Math.max(MIN_TASK_TTL_MS, ttl));
}

/** The text of a failed call's result, as its task's status message. */
function errorText(result: CallToolResult): string {
  const text = result.content
    .flatMap((item) => (item.type === "text" ? [item.text] : []))
    .join(" ");
  return (text || "The tool reported an error (isError: true)").slice(0, STATUS_MESSAGE_CHARS);
}

/**
 * A task-augmented `tools/call`: checks what can be checked at once (the tool exists and may run
 * as a task, the ttl, the agent's bound of live tasks), opens the task and starts the call.
 */
export async function startToolTask(
  context: TaskContext,
  name: string,
  input: Record<string, unknown>,
  task: TaskMetadata,
): Promise<CreateTaskResult> {
  const { db, runtime, agent } = context.call;
  const ttlMs = taskTtl(task);
  const tool = await toolAllowsTasks(db, { orgId: agent.org_id, name });
  if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  // As the spec says for a tool whose execution.taskSupport is "forbidden" (see tools.ts).
  if (!tool.allowTasks)
    throw new McpError(
      ErrorCode.MethodNotFound,
      `Tool '${name}' cannot run as a task (execution.taskSupport: forbidden, its connection has allow_tasks: false); call it without params.task`,
    );
  let row: McpTaskRow;
  try {
    row = await createMcpTask(db, {
      agent,
      sessionId: context.owner.sessionId,
      toolName: name,
      replicaId: runtime.replicaId,
      ttlMs,
      pollIntervalMs: TASK_POLL_INTERVAL_MS,
      limits: context.limits,
    });
  } catch (error) {
    if (isAppError(error) && error.code === "CONFLICT")
      throw new McpError(ErrorCode.InvalidRequest, error.message);
    throw error;
  }
  runtime.tasks.start(row.id, (signal) => runToolTask(context, row.id, name, input, signal));
  return { task: mcpTaskOf(row) };
}

/** The request tagged as belonging to the task, as MCP asks of a task's messages. */
function relatedToTask(request: JSONRPCRequest, taskId: string): JsonObject {
  return {
    ...request,
    params: {
      ...request.params,
      _meta: { ...request.params?._meta, [RELATED_TASK_META_KEY]: { taskId } },
    },
  };
}

/**
 * How the upstream reaches the client during a task: its requests are stored as events of the
 * session's GET stream (whichever replica holds it writes them), and the task is input_required
 * while any of them waits. Status changes are made one after another, in the order the waits
 * began and ended, so the last one stands.
 */
function taskRelay(context: TaskContext, taskId: string): CallRelay | undefined {
  const { client } = context;
  const sessionId = client?.sessionId ?? null;
  if (client === null || sessionId === null) return undefined;
  const { db } = context.call;
  const relay = relayFor(context.call, client, async (request) => {
    const stored = await appendMcpSessionEvents(db, {
      sessionId,
      stream: MCP_SESSION_GET_STREAM,
      messages: [relatedToTask(request, taskId)],
    });
    if (!stored) throw new Error("The task's session has ended");
  });
  if (!relay) return undefined;
  let waiting = 0;
  let statuses = Promise.resolve();
  const setStatus = (inputRequired: boolean): Promise<void> => {
    statuses = statuses
      .then(() => setMcpTaskInputRequired(db, taskId, inputRequired))
      .catch((error: unknown) => {
        context.logger.warn(
          { err: error, task_id: taskId },
          "gateway: changing a task's input_required status failed",
        );
      });
    return statuses;
  };
  return {
    capabilities: relay.capabilities,
    ask: async (request, signal) => {
      waiting += 1;
      if (waiting === 1) await setStatus(true);
      try {
        return await relay.ask(request, signal);
      } finally {
        waiting -= 1;
        if (waiting === 0) await setStatus(false);
      }
    },
  };
}

/** The background half of a task: the governed call, then its outcome on the task. */
async function runToolTask(
  context: TaskContext,
  taskId: string,
  name: string,
  input: Record<string, unknown>,
  signal: AbortSignal,
): Promise<void> {
  const { db } = context.call;
  let runId: string | null = null;
  const onRun = (id: string): void => {
    if (runId !== null) return;
    runId = id;
    // The link lets a task that never ends (its replica died) still show its run.
    linkMcpTaskRun(db, taskId, id).catch((error: unknown) => {
      context.logger.warn({ err: error, task_id: taskId }, "gateway: linking a task's run failed");
    });
  };
  // The task says once that it waits for approval (it stays `working`).
  let noted = false;
  let outcome: Parameters<typeof finishMcpTask>[2];
  try {
    const result = await callAgentTool(context.call, name, input, {
      signal,
      progressToken: undefined,
      sendNotification: () => Promise.resolve(),
      relay: taskRelay(context, taskId),
      // The task ends once its run is recorded: what tasks/result returns is on file.
      awaitRecord: true,
      onRun,
      onApprovalWait: (approval) => {
        if (noted) return;
        noted = true;
        noteMcpTask(db, taskId, heldApprovalMessage(approval)).catch((error: unknown) => {
          context.logger.warn(
            { err: error, task_id: taskId },
            "gateway: noting a task's wait failed",
          );
        });
      },
    });
    outcome = {
      status: result.isError ? "failed" : "completed",
      statusMessage: result.isError ? errorText(result) : null,
      result: result as JsonObject,
      error: null,
      runId,
    };
  } catch (error) {
    const known = error instanceof McpError;
    if (!known)
      context.logger.error({ err: error, task_id: taskId }, "gateway: a task's call failed");
    const message = known ? error.message : "Internal error while running the task";
    outcome = {
      status: "failed",
      statusMessage: message.slice(0, STATUS_MESSAGE_CHARS),
      result: null,
      error: {
        code: known ? error.code : ErrorCode.InternalError,
        message,
        ...(known && error.data !== undefined ? { data: error.data as JsonValue } : {}),
      },
      runId,
    };
  }
  try {
    await finishMcpTask(db, taskId, outcome);
  } catch (error) {
    // The task stays `working` until its ttl; its run holds the outcome.
    context.logger.error(
      { err: error, task_id: taskId, run_id: runId },
      "gateway: recording a task's outcome failed",
    );
  }
}

export async function getTask(context: TaskContext, taskId: string): Promise<Task> {
  const row = await findMcpTask(context.call.db, context.owner, taskId);
  if (!row) throw taskNotFound(taskId);
  return mcpTaskOf(row);
}

/** The task's outcome as its request would have returned it: its result, or its error. */
function taskPayload(row: McpTaskRow): CallToolResult {
  if (row.result !== null) {
    const result = row.result as CallToolResult;
    return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId: row.id } } };
  }
  if (row.error !== null) throw new McpError(row.error.code, row.error.message, row.error.data);
  throw new McpError(
    ErrorCode.InvalidRequest,
    `Task ${row.id} was ${row.status}: ${row.status_message ?? "no result"}`,
  );
}

/** `tasks/result`: blocks until the task ends (heard on the change feed), then its outcome. */
export async function taskResult(
  context: TaskContext,
  taskId: string,
  signal: AbortSignal,
): Promise<CallToolResult> {
  const { db, runtime } = context.call;
  for (;;) {
    const { changed, stop } = runtime.tasks.nextChange(taskId, signal);
    let row: McpTaskRow | null;
    try {
      row = await findMcpTask(db, context.owner, taskId);
    } catch (error) {
      stop();
      throw error;
    }
    if (!row || isTerminalTaskStatus(row.status)) {
      stop();
      if (!row) throw taskNotFound(taskId);
      return taskPayload(row);
    }
    await changed;
    if (signal.aborted)
      throw new McpError(ErrorCode.ConnectionClosed, "The request ended before the task did");
  }
}

/** Keyset cursor of `tasks/list`: the creation time and id of the page's last task. */
function decodeTaskCursor(cursor: string | undefined): { createdAt: Date; id: string } | null {
  const after = decodeAfterCursor(cursor);
  if (after === null) return null;
  const separator = after.indexOf(" ");
  const createdAt = new Date(after.slice(0, separator));
  if (separator < 0 || Number.isNaN(createdAt.getTime()))
    throw new McpError(ErrorCode.InvalidParams, "Invalid cursor");
  return { createdAt, id: after.slice(separator + 1) };
}

export async function listTasks(
  context: TaskContext,
  cursor: string | undefined,
): Promise<ListTasksResult> {
  const page = await listMcpTasks(context.call.db, context.owner, {
    after: decodeTaskCursor(cursor),
    limit: PAGE_SIZE,
  });
  const last = page.tasks[page.tasks.length - 1];
  return {
    tasks: page.tasks.map(mcpTaskOf),
    ...(page.more && last
      ? { nextCursor: encodeCursor({ after: `${last.created_at.toISOString()} ${last.id}` }) }
      : {}),
  };
}

export async function cancelTask(context: TaskContext, taskId: string): Promise<Task> {
  const cancelled = await cancelMcpTask(context.call.db, context.owner, taskId);
  if (cancelled.outcome !== "cancelled")
    throw cancelled.outcome === "not_found"
      ? taskNotFound(taskId)
      : new McpError(
          ErrorCode.InvalidParams,
          `Task ${taskId} has already ended; only a working task can be cancelled`,
        );
  return mcpTaskOf(cancelled.task);
}
