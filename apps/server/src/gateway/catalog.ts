import {
  addMcpResourceSubscription,
  completeAgentArgument,
  getAgentPrompt,
  isAppError,
  isMcpCallError,
  listAgentPrompts,
  listAgentResources,
  listAgentResourceTemplates,
  probeCatalogCapabilities,
  readAgentResource,
  removeMcpResourceSubscription,
  resourceSubscriptionSource,
  type ActionContext,
  type AgentCatalog,
  type CatalogOutcome,
  type McpSessionRow,
} from "@mcp/core";
import {
  ErrorCode,
  McpError,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
} from "@modelcontextprotocol/sdk/types.js";

/*
 * Prompts and resources through the gateway: what the agent's policies could allow (core's
 * catalog), with outcomes turned into MCP answers. Reads are governed and recorded in core.
 */

/** JSON-RPC code the MCP spec assigns to an unknown resource. */
const RESOURCE_NOT_FOUND = -32002;

export interface CatalogContext {
  catalog: AgentCatalog;
  action: ActionContext;
}

export function probeCapabilities(
  context: CatalogContext,
): ReturnType<typeof probeCatalogCapabilities> {
  return probeCatalogCapabilities(context.catalog);
}

export function listPrompts(context: CatalogContext): Promise<Prompt[]> {
  return listAgentPrompts(context.catalog);
}

export function listResources(context: CatalogContext): Promise<Resource[]> {
  return listAgentResources(context.catalog);
}

export function listResourceTemplates(context: CatalogContext): Promise<ResourceTemplate[]> {
  return listAgentResourceTemplates(context.catalog);
}

/**
 * The result, or the MCP error the client should see: the upstream's own JSON-RPC code when it
 * sent one, and for a refused read (denied, rate limited) the run's reason.
 */
function answer<T>(outcome: CatalogOutcome<T>): T {
  if (outcome.result !== null) return outcome.result;
  const { failure, run } = outcome;
  if (
    isMcpCallError(failure) &&
    failure.kind === "upstream" &&
    failure.code !== null &&
    failure.code < 0
  )
    throw new McpError(failure.code, failure.message);
  const reason = run.error ?? `The read ended with status ${run.status}`;
  throw new McpError(
    run.status === "denied" || run.status === "rate_limited"
      ? ErrorCode.InvalidRequest
      : ErrorCode.InternalError,
    reason,
  );
}

export async function getPrompt(
  context: CatalogContext,
  name: string,
  args: Record<string, string> | undefined,
): Promise<GetPromptResult> {
  try {
    return answer(await getAgentPrompt(context.catalog, context.action, { name, arguments: args }));
  } catch (error) {
    if (isAppError(error) && error.code === "NOT_FOUND")
      throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
    throw error;
  }
}

export async function readResource(
  context: CatalogContext,
  uri: string,
): Promise<ReadResourceResult> {
  try {
    return answer(await readAgentResource(context.catalog, context.action, { uri }));
  } catch (error) {
    if (isAppError(error) && error.code === "NOT_FOUND")
      throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { uri });
    throw error;
  }
}

/** The session a subscription belongs to: updates can only reach a session's GET stream. */
function subscribingSession(session: McpSessionRow | null, method: string): McpSessionRow {
  if (session) return session;
  throw new McpError(
    ErrorCode.InvalidRequest,
    `${method} needs a session: initialize, send its Mcp-Session-Id, and open its GET stream for the updates`,
  );
}

/**
 * `resources/subscribe`: recorded for the session if the agent may read the URI and the server
 * serving it supports subscriptions; the replica holding the session's stream holds it upstream
 * (see resource-subscriptions.ts).
 */
export async function subscribeResource(
  context: CatalogContext,
  session: McpSessionRow | null,
  uri: string,
  maxPerSession: number,
): Promise<Record<string, never>> {
  const subscriber = subscribingSession(session, "resources/subscribe");
  try {
    const connection = await resourceSubscriptionSource(context.catalog, uri);
    await addMcpResourceSubscription(context.catalog.db, {
      session: subscriber,
      uri,
      connectionId: connection.id,
      maxPerSession,
    });
  } catch (error) {
    if (!isAppError(error)) throw error;
    if (error.code === "NOT_FOUND")
      throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { uri });
    if (error.code === "FORBIDDEN" || error.code === "CONFLICT")
      throw new McpError(ErrorCode.InvalidRequest, error.message, { uri });
    if (error.code === "BAD_REQUEST")
      throw new McpError(ErrorCode.InvalidParams, error.message, { uri });
    throw error;
  }
  return {};
}

/** `resources/unsubscribe`: idempotent, like the protocol's subscribe. */
export async function unsubscribeResource(
  context: CatalogContext,
  session: McpSessionRow | null,
  uri: string,
): Promise<Record<string, never>> {
  const subscriber = subscribingSession(session, "resources/unsubscribe");
  await removeMcpResourceSubscription(context.catalog.db, { sessionId: subscriber.id, uri });
  return {};
}

/** `completion/complete`: the owning connection's answer, its JSON-RPC error passed on as sent. */
export async function complete(
  context: CatalogContext,
  params: CompleteRequest["params"],
): Promise<CompleteResult> {
  try {
    return await completeAgentArgument(context.catalog, params);
  } catch (error) {
    if (isMcpCallError(error) && error.kind === "upstream" && error.code !== null && error.code < 0)
      throw new McpError(error.code, error.message);
    throw error;
  }
}
