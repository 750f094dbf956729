import {
  connectionTarget,
  connectionVersion,
  isMcpCallError,
  type Agent,
  type Connection,
  type Db,
  type McpRuntime,
  type McpSession,
} from "@mcp/core";
import { schema } from "@mcp/core/db";
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import {
  ErrorCode,
  McpError,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
} from "@modelcontextprotocol/sdk/types.js";
import { asc, eq } from "drizzle-orm";
import type { Logger } from "../logger";

/**
 * Prompts and resources of an agent's org, aggregated from every connection through the pooled
 * sessions. Policies govern tools only, so nothing here is filtered per agent. Upstream lists are
 * read on every request rather than cached, because the gateway is stateless across processes
 * and these lists are small and rarely requested compared with tool calls.
 */

/** The most an aggregate waits for slow connections; the ones still pending are left out. */
const AGGREGATE_BUDGET_MS = 5_000;

/** JSON-RPC code the MCP spec assigns to an unknown resource. */
const RESOURCE_NOT_FOUND = -32002;

export interface CatalogContext {
  db: Db;
  runtime: McpRuntime;
  logger: Logger;
  agent: Agent;
}

interface Source<T> {
  connection: Connection;
  value: T;
}

async function orgConnections(context: CatalogContext): Promise<Connection[]> {
  // Creation order decides which connection keeps a clashing name, as sync does for tools.
  return context.db
    .select()
    .from(schema.connections)
    .where(eq(schema.connections.org_id, context.agent.org_id))
    .orderBy(asc(schema.connections.created_at), asc(schema.connections.id));
}

function withSession<T>(
  context: CatalogContext,
  connection: Connection,
  fn: (session: McpSession) => Promise<T>,
): Promise<T> {
  const { runtime } = context;
  return runtime.pool.withSession(
    connection.id,
    connectionVersion(connection),
    connectionTarget(runtime, connection),
    fn,
  );
}

/**
 * Runs `fn` on every connection at once, in the connections' order. A connection that fails or
 * misses the budget is logged and skipped: one broken server must not hide the others.
 */
async function fromEveryConnection<T>(
  context: CatalogContext,
  fn: (session: McpSession) => Promise<T>,
  connections?: Connection[],
): Promise<Source<T>[]> {
  const list = connections ?? (await orgConnections(context));
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      resolve("timeout");
    }, AGGREGATE_BUDGET_MS);
  });
  try {
    const settled = await Promise.all(
      list.map(async (connection): Promise<Source<T> | null> => {
        try {
          const value = await Promise.race([withSession(context, connection, fn), budget]);
          if (value === "timeout") {
            context.logger.warn(
              { connection_id: connection.id },
              "gateway: connection skipped, too slow",
            );
            return null;
          }
          return { connection, value };
        } catch (error) {
          context.logger.warn(
            { connection_id: connection.id, err: isMcpCallError(error) ? error.message : error },
            "gateway: connection skipped",
          );
          return null;
        }
      }),
    );
    return settled.filter((source): source is Source<T> => source !== null);
  } finally {
    clearTimeout(timer);
  }
}

/** Which optional capabilities at least one connection really offers. */
export async function probeCapabilities(
  context: CatalogContext,
): Promise<{ prompts: boolean; resources: boolean }> {
  const sources = await fromEveryConnection(context, (session) =>
    Promise.resolve(session.capabilities),
  );
  return {
    prompts: sources.some((source) => source.value.prompts !== undefined),
    resources: sources.some((source) => source.value.resources !== undefined),
  };
}

/** Upstream failures as MCP errors: the upstream's own JSON-RPC code when it sent one. */
function toMcpError(error: unknown): unknown {
  if (!isMcpCallError(error)) return error;
  if (error.kind === "upstream" && error.code !== null && error.code < 0)
    return new McpError(error.code, error.message);
  return new McpError(ErrorCode.InternalError, error.message);
}

interface ExposedPrompt {
  prompt: Prompt;
  connection: Connection;
  upstreamName: string;
}

/**
 * The tools rule applied to prompts: the first connection offering a name keeps it, later ones
 * get `<slug>__<name>`.
 */
async function exposedPrompts(
  context: CatalogContext,
  connections?: Connection[],
): Promise<ExposedPrompt[]> {
  const sources = await fromEveryConnection(
    context,
    (session) => session.listPrompts(),
    connections,
  );
  const taken = new Set<string>();
  const exposed: ExposedPrompt[] = [];
  for (const { connection, value } of sources) {
    for (const prompt of value) {
      const name = taken.has(prompt.name) ? `${connection.slug}__${prompt.name}` : prompt.name;
      if (taken.has(name)) continue;
      taken.add(name);
      exposed.push({ prompt: { ...prompt, name }, connection, upstreamName: prompt.name });
    }
  }
  return exposed;
}

export async function listPrompts(context: CatalogContext): Promise<Prompt[]> {
  return (await exposedPrompts(context)).map((entry) => entry.prompt);
}

export async function getPrompt(
  context: CatalogContext,
  name: string,
  args: Record<string, string> | undefined,
): Promise<GetPromptResult> {
  const connections = await orgConnections(context);
  let target = (await exposedPrompts(context, connections)).find(
    (entry) => entry.prompt.name === name,
  );
  if (!target) {
    // Which connection keeps the bare name depends on which ones answer, so a prefixed name seen
    // in an earlier listing is honoured even when its clash is gone right now.
    const separator = name.indexOf("__");
    const connection =
      separator > 0
        ? connections.find((candidate) => candidate.slug === name.slice(0, separator))
        : undefined;
    if (connection)
      target = { prompt: { name }, connection, upstreamName: name.slice(separator + 2) };
  }
  if (!target) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  const { upstreamName } = target;
  try {
    return await withSession(context, target.connection, (session) =>
      session.getPrompt(upstreamName, args),
    );
  } catch (error) {
    throw toMcpError(error);
  }
}

/**
 * Resource URIs are passed through unchanged (they are already globally meaningful, and renaming
 * them would break URIs embedded in tool results). When two connections list the same URI, the
 * first one in connection order serves it; `resources/read` goes to the connection that lists the
 * URI, else to the first whose template matches it.
 */
export async function listResources(context: CatalogContext): Promise<Resource[]> {
  const sources = await fromEveryConnection(context, (session) => session.listResources());
  const seen = new Set<string>();
  return sources.flatMap(({ value }) =>
    value.filter((resource) => !seen.has(resource.uri) && seen.add(resource.uri)),
  );
}

export async function listResourceTemplates(context: CatalogContext): Promise<ResourceTemplate[]> {
  const sources = await fromEveryConnection(context, (session) => session.listResourceTemplates());
  const seen = new Set<string>();
  return sources.flatMap(({ value }) =>
    value.filter((template) => !seen.has(template.uriTemplate) && seen.add(template.uriTemplate)),
  );
}

function templateMatches(template: ResourceTemplate, uri: string): boolean {
  try {
    return new UriTemplate(template.uriTemplate).match(uri) !== null;
  } catch {
    return false;
  }
}

export async function readResource(
  context: CatalogContext,
  uri: string,
): Promise<ReadResourceResult> {
  const sources = await fromEveryConnection(context, async (session) => {
    if (!session.capabilities.resources) return null;
    const [resources, templates] = await Promise.all([
      session.listResources(),
      session.listResourceTemplates(),
    ]);
    return {
      listed: resources.some((resource) => resource.uri === uri),
      templated: templates.some((template) => templateMatches(template, uri)),
    };
  });
  const target =
    sources.find((source) => source.value?.listed === true) ??
    sources.find((source) => source.value?.templated === true);
  if (!target) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { uri });
  try {
    return await withSession(context, target.connection, (session) => session.readResource(uri));
  } catch (error) {
    throw toMcpError(error);
  }
}
