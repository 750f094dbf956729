import {
  isAppError,
  loadApplicablePolicies,
  policyCouldAllow,
  runTool,
  type ActionContext,
  type Agent,
  type Db,
  type McpRuntime,
} from "@mcp/core";
import { schema } from "@mcp/core/db";
import {
  ErrorCode,
  McpError,
  type CallToolResult,
  type ServerNotification,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { and, asc, eq, gt } from "drizzle-orm";
import { decodeAfterCursor, encodeCursor, PAGE_SIZE } from "./cursor";

const { connections, tools } = schema;

/** Rows read per query while filling a page; most agents see most tools, so one batch usually suffices. */
const BATCH_SIZE = 500;

/**
 * The enabled, non-stale tools some policy could allow this agent, in name order. Policies are
 * evaluated here rather than filtered in SQL so that listing and calling share one rule
 * (`policyCouldAllow` / the orchestrator's decision) and cannot drift apart.
 */
export async function listAgentTools(
  db: Db,
  agent: Agent,
  cursor: string | undefined,
): Promise<{ tools: Tool[]; nextCursor?: string }> {
  let after = decodeAfterCursor(cursor);
  const policies = await loadApplicablePolicies(db, agent.org_id, agent.id);
  const page: Tool[] = [];
  for (;;) {
    const rows = await db
      .select({
        id: tools.id,
        name: tools.name,
        title: tools.title,
        description: tools.description,
        input_schema: tools.input_schema,
        output_schema: tools.output_schema,
        annotations: tools.annotations,
        connection_environment_id: connections.environment_id,
      })
      .from(tools)
      .innerJoin(connections, eq(connections.id, tools.connection_id))
      .where(
        and(
          eq(tools.org_id, agent.org_id),
          eq(tools.enabled, true),
          eq(tools.stale, false),
          after === null ? undefined : gt(tools.name, after),
        ),
      )
      .orderBy(asc(tools.name))
      .limit(BATCH_SIZE);
    for (const row of rows) {
      // The same environment the orchestrator will decide in.
      const environmentId = agent.environment_id ?? row.connection_environment_id;
      if (
        !policyCouldAllow(policies, {
          agent_id: agent.id,
          tool: { id: row.id, name: row.name },
          environment_id: environmentId,
        })
      )
        continue;
      if (page.length === PAGE_SIZE) {
        // One more visible tool exists: the page is full and a next one is due.
        const last = page[page.length - 1];
        return last
          ? { tools: page, nextCursor: encodeCursor({ after: last.name }) }
          : { tools: page };
      }
      page.push(toMcpTool(row));
    }
    const last = rows[rows.length - 1];
    if (rows.length < BATCH_SIZE || !last) return { tools: page };
    after = last.name;
  }
}

function toMcpTool(row: {
  name: string;
  title: string | null;
  description: string;
  input_schema: Record<string, unknown>;
  output_schema: Record<string, unknown> | null;
  annotations: Record<string, unknown> | null;
}): Tool {
  return {
    name: row.name,
    ...(row.title ? { title: row.title } : {}),
    ...(row.description ? { description: row.description } : {}),
    // MCP requires an object schema at the top; registry schemas are objects but may omit `type`.
    inputSchema: { ...row.input_schema, type: "object" },
    ...(row.output_schema ? { outputSchema: { ...row.output_schema, type: "object" } } : {}),
    ...(row.annotations ? { annotations: row.annotations } : {}),
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
  let outcome;
  try {
    outcome = await runTool(context.db, context.runtime, context.action, {
      orgId: context.agent.org_id,
      tool: { name },
      agent: context.agent,
      input,
      trigger: { type: "agent", id: context.agent.id, surface: "mcp" },
      signal: extra.signal,
      // MCP results carry no run id, so nothing here can look the run up before it is written.
      awaitRecord: false,
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
    if (isAppError(error) && error.code === "NOT_FOUND")
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    throw error;
  }
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
