import {
  completeAgentArgument,
  getAgentPrompt,
  isAppError,
  isMcpCallError,
  listAgentPrompts,
  listAgentResources,
  listAgentResourceTemplates,
  probeCatalogCapabilities,
  readAgentResource,
  type ActionContext,
  type AgentCatalog,
  type CatalogOutcome,
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
): Promise<{ prompts: boolean; resources: boolean; completions: boolean }> {
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
