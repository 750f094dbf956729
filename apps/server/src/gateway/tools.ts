import {
  isAppError,
  type CallCache,
  type CallRelay,
  listAgentTools as listToolsForAgent,
  runTool,
  type ActionContext,
  type Agent,
  type AgentTool,
  type Db,
  type McpRuntime,
  heldApprovalMessage,
  type HeldApproval,
} from "@mcp/core";
import {
  ErrorCode,
  McpError,
  type CallToolResult,
  type ClientCapabilities,
  type JSONRPCRequest,
  type ServerNotification,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { decodeAfterCursor, encodeCursor } from "./cursor";

/**
 * Tools per `tools/list` page: the whole list of most agents in one round trip, each page also
 * bounded in bytes (an upstream's schemas can be large).
 */
export const TOOLS_PAGE_SIZE = 1000;
const TOOLS_PAGE_BYTES = 4 * 1024 * 1024;

/** The MCP form of a registry tool and its JSON size, made once per cached row. */
const mcpForms = new WeakMap<AgentTool, { tool: Tool; bytes: number }>();

function mcpForm(row: AgentTool): { tool: Tool; bytes: number } {
  let form = mcpForms.get(row);
  if (!form) {
    const tool = toMcpTool(row);
    form = { tool, bytes: JSON.stringify(tool).length };
    mcpForms.set(row, form);
  }
  return form;
}

/** `tools/list`: one page of the tools the agent's policies could allow (see core's catalog). */
export async function listAgentTools(
  db: Db,
  cache: CallCache,
  agent: Agent,
  cursor: string | undefined,
): Promise<{ tools: Tool[]; nextCursor?: string }> {
  const page = await listToolsForAgent(
    db,
    agent,
    { after: decodeAfterCursor(cursor), limit: TOOLS_PAGE_SIZE },
    cache,
  );
  const tools: Tool[] = [];
  let bytes = 0;
  for (const row of page.tools) {
    const form = mcpForm(row);
    if (tools.length > 0 && bytes + form.bytes > TOOLS_PAGE_BYTES) break;
    tools.push(form.tool);
    bytes += form.bytes;
  }
  const more = page.more || tools.length < page.tools.length;
  const last = tools[tools.length - 1];
  return { tools, ...(more && last ? { nextCursor: encodeCursor({ after: last.name }) } : {}) };
}

function toMcpTool(row: AgentTool): Tool {
  return {
    name: row.name,
    ...(row.title ? { title: row.title } : {}),
    ...(row.description ? { description: row.description } : {}),
    // MCP requires an object schema at the top; registry schemas are objects but may omit `type`.
    inputSchema: { ...row.input_schema, type: "object" },
    ...(row.output_schema ? { outputSchema: { ...row.output_schema, type: "object" } } : {}),
    ...(row.annotations ? { annotations: row.annotations } : {}),
    // The gateway runs task-augmented calls itself (see tasks.ts), whatever the upstream
    // declared for its own tasks: the connection's allow_tasks decides.
    execution: { taskSupport: row.allow_tasks ? "optional" : "forbidden" },
  };
}

export interface CallContext {
  db: Db;
  runtime: McpRuntime;
  agent: Agent;
  action: ActionContext;
}

export interface CallExtra {
  signal: AbortSignal;
  progressToken: string | number | undefined;
  sendNotification: (notification: ServerNotification) => Promise<void>;
  /** Set when the client can be asked things during the call (see relayFor). */
  relay?: CallRelay | undefined;
  /** Answer only once the run is recorded (a task's outcome must not precede its run). */
  awaitRecord?: boolean;
  /** Told the run's id: when the call goes upstream, or when it was refused. */
  onRun?: (runId: string) => void;
  /** Told while the call waits for approval (see HeldApproval), at once and now and then. */
  onApprovalWait?: (approval: HeldApproval) => void;
}

/** The calling client as the upstream may reach it: its session and what it declared. */
export interface CallingClient {
  sessionId: string | null;
  capabilities: ClientCapabilities;
}

/**
 * The longest a relayed request waits for the client: the longest a connection's timeout can be
 * (the call's own deadline, usually shorter, ends the wait first).
 */
const RELAY_MAX_WAIT_MS = 300_000;

/**
 * How the upstream's requests during a call reach this client: on the call's response stream,
 * with the answer routed back through the relay hub (from whichever replica receives it). Null
 * when the client declared nothing that could be relayed, or is not known (a session-less call):
 * the call then takes the pooled session, which declares no client capability upstream.
 */
export function relayFor(
  context: CallContext,
  client: CallingClient | null,
  write: (request: JSONRPCRequest) => Promise<void>,
): CallRelay | undefined {
  if (client === null) return undefined;
  const { capabilities } = client;
  if (!capabilities.sampling && !capabilities.elicitation && !capabilities.roots) return undefined;
  const target = {
    orgId: context.agent.org_id,
    agentId: context.agent.id,
    sessionId: client.sessionId,
    send: write,
  };
  return {
    capabilities,
    ask: (request, signal) => context.runtime.relay.ask(target, request, signal, RELAY_MAX_WAIT_MS),
  };
}

/**
 * `tools/call` through the one governed path. The upstream result is returned as received; a
 * refusal or failure before or instead of an upstream result becomes a tool error whose text is
 * the run's reason, so the model can read why.
 */
export async function callAgentTool(
  context: CallContext,
  name: string,
  input: Record<string, unknown>,
  extra: CallExtra,
): Promise<CallToolResult> {
  const { progressToken, sendNotification } = extra;
  // Notifications are best effort: a client that went away must not fail the recorded call.
  const notify = (notification: ServerNotification): void => {
    sendNotification(notification).catch(() => undefined);
  };
  // Progress while the call waits for approval: a count of the reminders, never a total.
  let reminders = 0;
  let outcome;
  try {
    outcome = await runTool(context.db, context.runtime, context.action, {
      orgId: context.agent.org_id,
      tool: { name },
      agent: context.agent,
      input,
      trigger: { type: "agent", id: context.agent.id, surface: "mcp" },
      signal: extra.signal,
      relay: extra.relay,
      // MCP results carry no run id, so nothing here can look the run up before it is written.
      awaitRecord: extra.awaitRecord ?? false,
      onStarted: extra.onRun,
      // The gateway holds a call that needs approval until a person decides: on this request, or
      // for a task in its background (see tasks.ts).
      holdForApproval: {
        onWaiting: (approval) => {
          extra.onRun?.(approval.run_id);
          extra.onApprovalWait?.(approval);
          if (progressToken === undefined) return;
          reminders += 1;
          notify({
            method: "notifications/progress",
            params: { progressToken, progress: reminders, message: heldApprovalMessage(approval) },
          });
        },
      },
      // Progress is only for clients that asked for it, under their own token.
      ...(progressToken === undefined
        ? {}
        : {
            onProgress: (progress) => {
              notify({ method: "notifications/progress", params: { ...progress, progressToken } });
            },
          }),
      onLog: (entry) => {
        notify({ method: "notifications/message", params: entry });
      },
    });
  } catch (error) {
    if (!isAppError(error)) throw error;
    if (error.code === "NOT_FOUND")
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    // The platform's own refusals explain themselves (a member who must connect their account,
    // an unreadable secret): the model reads them like any other failed call.
    return { content: [{ type: "text", text: error.message }], isError: true };
  }
  extra.onRun?.(outcome.run.id);
  if (outcome.result) return outcome.result;
  return {
    content: [
      {
        type: "text",
        text: outcome.run.error ?? `The call ended with status ${outcome.run.status}`,
      },
    ],
    isError: true,
  };
}
