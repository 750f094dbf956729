import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import type {
  CompleteRequest,
  CompleteResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
} from "@modelcontextprotocol/sdk/types.js";
import type { Agent } from "../agents/agents";
import { connectionTarget, type Connection } from "../connections/connections";
import { authorizeTarget, type CallPrincipal } from "../connections/oauth";
import { withConnectionSession } from "../connections/sessions";
import type { Db } from "../db/client";
import { connections, tools, type JsonObject, type JsonValue } from "../db/schema";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import type { McpSession } from "../mcp/client";
import {
  evaluatePoliciesOffLoop,
  policyCouldAllow,
  type PolicyRule,
  type PolicyTargetKind,
} from "../policies/evaluate";
import { loadApplicablePolicies } from "../policies/policies";
import type { McpRuntime } from "../runtime";
import { readThrough, type CallCache } from "./call-cache";
import {
  agentRefusal,
  callEnvironment,
  MAX_STORED_OUTPUT_BYTES,
  policyRefusal,
  rateLimitSubject,
  runRecording,
  upstreamCall,
  upstreamFailure,
  type Run,
  type RunTrigger,
} from "./orchestrator";

/*
 * What an agent sees and reads besides tool calls, governed like them: the tools, prompts and
 * resources its policies could allow (default deny, deny wins), and `prompts/get` and
 * `resources/read` decided by policy, rate limited, and recorded as runs with their audit events.
 *
 * Prompts and resources are aggregated from every connection of the agent's org through the
 * pooled sessions. Upstream lists are read on every request rather than cached, because the
 * gateway is stateless across processes and these lists are small and rarely requested compared
 * with tool calls.
 */

/** The most an aggregate waits for slow connections; the ones still pending are left out. */
const AGGREGATE_BUDGET_MS = 5_000;

export interface AgentCatalog {
  db: Db;
  runtime: McpRuntime;
  agent: Agent;
  /** Whose credentials per-user OAuth connections use (see callPrincipal). */
  principal: CallPrincipal;
  /** A connection left out of an aggregate (it failed, or missed the budget): for the operator's log. */
  onSkip?: (connectionId: string, reason: unknown) => void;
}

/** A registry tool as an agent is offered it, with whether its connection allows tasks. */
export type AgentTool = Pick<
  typeof tools.$inferSelect,
  "id" | "name" | "title" | "description" | "input_schema" | "output_schema" | "annotations"
> &
  Pick<typeof connections.$inferSelect, "allow_tasks">;

interface OrgTool extends AgentTool {
  connection_environment_id: string | null;
}

/**
 * Every enabled, non-stale, unquarantined tool of the org with its connection's environment, in the order of
 * JavaScript's string comparison (which the page cursor uses), not the database's collation.
 */
function orgTools(db: Db, orgId: string, cache: CallCache | null): Promise<OrgTool[] | null> {
  return readThrough(cache, `org-tools:${orgId}`, async () => ({
    orgId,
    value: (
      await db
        .select({
          id: tools.id,
          name: tools.name,
          // What agents read: the admin's override, else the approved definition's.
          title: sql<string | null>`coalesce(${tools.title_override}, ${tools.title})`,
          description: sql<string>`coalesce(${tools.description_override}, ${tools.description})`,
          input_schema: tools.input_schema,
          output_schema: tools.output_schema,
          annotations: tools.annotations,
          allow_tasks: connections.allow_tasks,
          connection_environment_id: connections.environment_id,
        })
        .from(tools)
        .innerJoin(connections, eq(connections.id, tools.connection_id))
        .where(
          and(
            eq(tools.org_id, orgId),
            eq(tools.enabled, true),
            eq(tools.stale, false),
            isNull(tools.quarantine),
          ),
        )
    ).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  }));
}

/**
 * The enabled, non-stale, unquarantined tools some policy could allow this agent, in name order: through the
 * runtime's cache (dropped on any change to the org's tools, connections, agents or policies),
 * the org's tools read once for all its agents and each agent's list holding references to them.
 * Policies are evaluated here rather than filtered in SQL so that listing and calling share one
 * rule (`policyCouldAllow` / the orchestrator's decision) and cannot drift apart.
 */
export async function visibleAgentTools(
  db: Db,
  agent: Agent,
  cache: CallCache | null = null,
): Promise<readonly AgentTool[]> {
  const visible = await readThrough(cache, `agent-tools:${agent.id}`, async () => {
    const [all, policies] = await Promise.all([
      orgTools(db, agent.org_id, cache),
      loadApplicablePolicies(db, agent.org_id, agent.id),
    ]);
    return {
      orgId: agent.org_id,
      value: (all ?? []).filter((tool) =>
        policyCouldAllow(policies, {
          agent_id: agent.id,
          tool: { id: tool.id, name: tool.name },
          environment_id: callEnvironment(agent, {
            environment_id: tool.connection_environment_id,
          }),
        }),
      ),
    };
  });
  return visible ?? [];
}

/** One page of visibleAgentTools: at most `limit` after the name `after`, and whether more follow. */
export async function listAgentTools(
  db: Db,
  agent: Agent,
  page: { after: string | null; limit: number },
  cache: CallCache | null = null,
): Promise<{ tools: AgentTool[]; more: boolean }> {
  const visible = await visibleAgentTools(db, agent, cache);
  const after = page.after;
  // Names are unique within an org and the list is in (JavaScript) name order: a binary search
  // finds the start.
  let start = 0;
  if (after !== null) {
    let high = visible.length;
    while (start < high) {
      const middle = (start + high) >>> 1;
      const name = visible[middle]?.name ?? "";
      if (name <= after) start = middle + 1;
      else high = middle;
    }
  }
  const end = start + page.limit;
  return { tools: visible.slice(start, end), more: end < visible.length };
}

interface Source<T> {
  connection: Connection;
  value: T;
}

async function orgConnections(catalog: AgentCatalog): Promise<Connection[]> {
  // Creation order decides which connection keeps a clashing name, as sync does for tools.
  return catalog.db
    .select()
    .from(connections)
    .where(eq(connections.org_id, catalog.agent.org_id))
    .orderBy(asc(connections.created_at), asc(connections.id));
}

function withSession<T>(
  catalog: AgentCatalog,
  connection: Connection,
  fn: (session: McpSession) => Promise<T>,
): Promise<T> {
  return withConnectionSession(catalog.db, catalog.runtime, connection, catalog.principal, fn);
}

/**
 * Runs `fn` on every connection at once, in the connections' order. A connection that fails or
 * misses the budget is reported and skipped: one broken server must not hide the others.
 */
async function fromEveryConnection<T>(
  catalog: AgentCatalog,
  fn: (session: McpSession) => Promise<T>,
  list?: Connection[],
): Promise<Source<T>[]> {
  const sources = list ?? (await orgConnections(catalog));
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      resolve("timeout");
    }, AGGREGATE_BUDGET_MS);
  });
  try {
    const settled = await Promise.all(
      sources.map(async (connection): Promise<Source<T> | null> => {
        try {
          const value = await Promise.race([withSession(catalog, connection, fn), budget]);
          if (value === "timeout") {
            catalog.onSkip?.(connection.id, "too slow");
            return null;
          }
          return { connection, value };
        } catch (error) {
          catalog.onSkip?.(connection.id, error);
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
export async function probeCatalogCapabilities(catalog: AgentCatalog): Promise<{
  prompts: boolean;
  resources: boolean;
  /** Some connection supports `resources/subscribe`. */
  resourceSubscriptions: boolean;
  completions: boolean;
}> {
  const sources = await fromEveryConnection(catalog, (session) =>
    Promise.resolve(session.capabilities),
  );
  return {
    prompts: sources.some((source) => source.value.prompts !== undefined),
    resources: sources.some((source) => source.value.resources !== undefined),
    resourceSubscriptions: sources.some((source) => source.value.resources?.subscribe === true),
    completions: sources.some((source) => source.value.completions !== undefined),
  };
}

/** Whether some policy could allow the agent this prompt or resource from this connection. */
function offered(
  catalog: AgentCatalog,
  policies: readonly PolicyRule[],
  kind: PolicyTargetKind,
  name: string,
  connection: Connection,
): boolean {
  return policyCouldAllow(policies, {
    agent_id: catalog.agent.id,
    kind,
    tool: { id: name, name },
    environment_id: callEnvironment(catalog.agent, connection),
  });
}

function agentPolicies(catalog: AgentCatalog): Promise<PolicyRule[]> {
  return loadApplicablePolicies(catalog.db, catalog.agent.org_id, catalog.agent.id);
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
  catalog: AgentCatalog,
  list?: Connection[],
): Promise<ExposedPrompt[]> {
  const sources = await fromEveryConnection(catalog, (session) => session.listPrompts(), list);
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

/** The prompts some policy could allow the agent, under the names it sees them by. */
export async function listAgentPrompts(catalog: AgentCatalog): Promise<Prompt[]> {
  const [exposed, policies] = await Promise.all([exposedPrompts(catalog), agentPolicies(catalog)]);
  return exposed
    .filter((entry) => offered(catalog, policies, "prompt", entry.prompt.name, entry.connection))
    .map((entry) => entry.prompt);
}

/**
 * Each URI once, from the first connection listing it, if some resource policy could allow it
 * the agent from there.
 */
function offeredResources<T>(
  catalog: AgentCatalog,
  policies: readonly PolicyRule[],
  sources: Source<T[]>[],
  uriOf: (item: T) => string,
): T[] {
  const seen = new Set<string>();
  return sources.flatMap(({ connection, value }) =>
    value.filter((item) => {
      const uri = uriOf(item);
      if (seen.has(uri)) return false;
      seen.add(uri);
      return offered(catalog, policies, "resource", uri, connection);
    }),
  );
}

/**
 * Resource URIs are passed through unchanged (they are already globally meaningful, and renaming
 * them would break URIs embedded in tool results). When two connections list the same URI, the
 * first one in connection order serves it.
 */
export async function listAgentResources(catalog: AgentCatalog): Promise<Resource[]> {
  const [sources, policies] = await Promise.all([
    fromEveryConnection(catalog, (session) => session.listResources()),
    agentPolicies(catalog),
  ]);
  return offeredResources(catalog, policies, sources, (resource) => resource.uri);
}

/**
 * Templates whose URI template itself a resource policy could allow: `file:///docs/*` offers
 * `file:///docs/{path}`. Reading a URI made from a template is decided on that URI.
 */
export async function listAgentResourceTemplates(
  catalog: AgentCatalog,
): Promise<ResourceTemplate[]> {
  const [sources, policies] = await Promise.all([
    fromEveryConnection(catalog, (session) => session.listResourceTemplates()),
    agentPolicies(catalog),
  ]);
  return offeredResources(catalog, policies, sources, (template) => template.uriTemplate);
}

function templateMatches(template: ResourceTemplate, uri: string): boolean {
  try {
    return new UriTemplate(template.uriTemplate).match(uri) !== null;
  } catch {
    return false;
  }
}

/**
 * A governed read's outcome: its run, the upstream result when the read was allowed and
 * succeeded, and the upstream error when it failed (for the caller to pass on as received).
 */
export interface CatalogOutcome<T> {
  run: Run;
  result: T | null;
  failure: unknown;
}

interface CatalogCall<T> {
  kind: "prompt" | "resource";
  /** The prompt's exposed name, or the resource's URI: what policies match. */
  name: string;
  connection: Connection;
  input: JsonObject;
  read: (session: McpSession) => Promise<T>;
}

/** Stored copies of prompt and resource results are kept whole or not at all. */
function storedOutput(result: unknown): { output: JsonValue; truncated: boolean } {
  const size = Buffer.byteLength(JSON.stringify(result), "utf8");
  return size <= MAX_STORED_OUTPUT_BYTES
    ? { output: result as JsonValue, truncated: false }
    : { output: null, truncated: true };
}

/** Policy → rate limit → upstream read → run and audit event, as for a tool call. */
async function governedRead<T>(
  catalog: AgentCatalog,
  context: ActionContext,
  call: CatalogCall<T>,
): Promise<CatalogOutcome<T>> {
  const { db, runtime, agent } = catalog;
  const trigger: RunTrigger = { type: "agent", id: agent.id, surface: "mcp" };
  const environmentId = callEnvironment(agent, call.connection);
  const policies = await agentPolicies(catalog);
  const decision = await evaluatePoliciesOffLoop(policies, {
    agent_id: agent.id,
    kind: call.kind,
    tool: { id: call.name, name: call.name },
    environment_id: environmentId,
    input: call.input,
  });
  const recording = runRecording(runtime, context, {
    orgId: agent.org_id,
    kind: call.kind,
    toolId: null,
    name: call.name,
    agent,
    environmentId,
    input: call.input,
    decision,
    trigger,
    // The MCP answer carries no run id, so nothing waits to look the run up.
    awaitRecord: false,
  });
  const refused =
    agentRefusal(agent) ??
    (await policyRefusal(db, decision, rateLimitSubject(agent, trigger), runtime.tracer));
  if (refused) return { run: await recording.refused(refused), result: null, failure: null };

  const { finish } = await recording.started();
  try {
    const result = await upstreamCall(runtime, call.kind, () =>
      withSession(catalog, call.connection, call.read),
    );
    // Not decided by the cached row's status (see runTool).
    await runtime.health.report({ orgId: call.connection.org_id, id: call.connection.id }, null);
    const { output, truncated } = storedOutput(result);
    const run = await finish({
      status: "succeeded",
      output,
      output_truncated: truncated,
      error: null,
    });
    return { run, result, failure: null };
  } catch (error) {
    const failure = await upstreamFailure(runtime, call.connection, error);
    const run = await finish({ ...failure, output: null, output_truncated: false });
    return { run, result: null, failure: error };
  }
}

/** The prompt the agent knows by `name` and the connection serving it, or null. */
async function findPrompt(
  catalog: AgentCatalog,
  name: string,
): Promise<{ connection: Connection; upstreamName: string } | null> {
  const list = await orgConnections(catalog);
  let target = (await exposedPrompts(catalog, list)).find((entry) => entry.prompt.name === name);
  if (!target) {
    // Which connection keeps the bare name depends on which ones answer, so a prefixed name seen
    // in an earlier listing is honoured even when its clash is gone right now.
    const separator = name.indexOf("__");
    const connection =
      separator > 0
        ? list.find((candidate) => candidate.slug === name.slice(0, separator))
        : undefined;
    if (connection)
      target = { prompt: { name }, connection, upstreamName: name.slice(separator + 2) };
  }
  return target ?? null;
}

/** `prompts/get` as the agent; an unknown prompt is NOT_FOUND and not recorded. */
export async function getAgentPrompt(
  catalog: AgentCatalog,
  context: ActionContext,
  request: { name: string; arguments: Record<string, string> | undefined },
): Promise<CatalogOutcome<GetPromptResult>> {
  const { name } = request;
  const target = await findPrompt(catalog, name);
  if (!target) throw AppError.notFound("Prompt");
  const { upstreamName } = target;
  return governedRead(catalog, context, {
    kind: "prompt",
    name,
    connection: target.connection,
    input: request.arguments ?? {},
    read: (session) => session.getPrompt(upstreamName, request.arguments),
  });
}

/**
 * The connection serving `uri` for the agent: the one that lists the URI, else the first whose
 * template matches it; with whether it supports `resources/subscribe`. Unknown: NOT_FOUND.
 */
async function resourceSource(
  catalog: AgentCatalog,
  uri: string,
): Promise<{ connection: Connection; subscribable: boolean }> {
  const sources = await fromEveryConnection(catalog, async (session) => {
    const resourcesCapability = session.capabilities.resources;
    if (!resourcesCapability) return null;
    const [resources, templates] = await Promise.all([
      session.listResources(),
      session.listResourceTemplates(),
    ]);
    return {
      listed: resources.some((resource) => resource.uri === uri),
      templated: templates.some((template) => templateMatches(template, uri)),
      subscribable: resourcesCapability.subscribe === true,
    };
  });
  const target =
    sources.find((source) => source.value?.listed === true) ??
    sources.find((source) => source.value?.templated === true);
  if (!target?.value) throw AppError.notFound("Resource");
  return { connection: target.connection, subscribable: target.value.subscribable };
}

/** Whether the agent's policies allow reading `uri` from `connection` right now. */
async function mayRead(
  catalog: AgentCatalog,
  policies: readonly PolicyRule[],
  uri: string,
  connection: Connection,
): Promise<boolean> {
  if (agentRefusal(catalog.agent)) return false;
  const decision = await evaluatePoliciesOffLoop(policies, {
    agent_id: catalog.agent.id,
    kind: "resource",
    tool: { id: uri, name: uri },
    environment_id: callEnvironment(catalog.agent, connection),
    input: { uri },
  });
  return decision.allowed;
}

/**
 * The connection that would hold the agent's subscription to `uri` upstream: the one a read
 * would use, provided the agent may read the URI now and the server supports subscriptions.
 * Unknown (another tenant's resources included): NOT_FOUND; not readable: FORBIDDEN; a server
 * without subscriptions: BAD_REQUEST.
 */
export async function resourceSubscriptionSource(
  catalog: AgentCatalog,
  uri: string,
): Promise<Connection> {
  const [source, policies] = await Promise.all([
    resourceSource(catalog, uri),
    agentPolicies(catalog),
  ]);
  if (!(await mayRead(catalog, policies, uri, source.connection)))
    throw AppError.forbidden(`The agent may not read ${uri}, so it may not subscribe to it`);
  if (!source.subscribable)
    throw AppError.badRequest(`The server serving ${uri} does not support resource subscriptions`);
  return source.connection;
}

/**
 * Of a session's subscriptions, the ones to hold upstream now, with their connections: those
 * the agent may still read (a policy change stops the others; reading is decided as for
 * `resources/read`) from a connection of its org that still exists.
 */
export async function readableSubscriptions(
  catalog: AgentCatalog,
  subscriptions: readonly { uri: string; connection_id: string }[],
): Promise<{ uri: string; connection: Connection }[]> {
  if (subscriptions.length === 0) return [];
  const [list, policies] = await Promise.all([orgConnections(catalog), agentPolicies(catalog)]);
  const byId = new Map(list.map((connection) => [connection.id, connection]));
  const readable: { uri: string; connection: Connection }[] = [];
  for (const { uri, connection_id } of subscriptions) {
    const connection = byId.get(connection_id);
    if (connection && (await mayRead(catalog, policies, uri, connection)))
      readable.push({ uri, connection });
  }
  return readable;
}

/** A session on `connection` for one holder of its own (see McpClientPool.openOwnSession). */
export async function openConnectionSession(
  catalog: Pick<AgentCatalog, "db" | "runtime" | "principal">,
  connection: Connection,
): Promise<McpSession> {
  const { db, runtime, principal } = catalog;
  const target = connectionTarget(runtime, connection);
  return runtime.pool.openOwnSession(
    connection.auth === "oauth"
      ? (await authorizeTarget(db, runtime, connection, target, principal)).target
      : target,
  );
}

/**
 * `resources/read` as the agent: served by the connection that lists the URI, else by the first
 * whose template matches it. An unknown URI is NOT_FOUND and not recorded.
 */
export async function readAgentResource(
  catalog: AgentCatalog,
  context: ActionContext,
  request: { uri: string },
): Promise<CatalogOutcome<ReadResourceResult>> {
  const { uri } = request;
  const target = await resourceSource(catalog, uri);
  return governedRead(catalog, context, {
    kind: "resource",
    name: uri,
    connection: target.connection,
    input: { uri },
    read: (session) => session.readResource(uri),
  });
}

const NO_COMPLETION: CompleteResult = { completion: { values: [] } };

/**
 * `completion/complete` as the agent: asked of the connection that serves the prompt (under its
 * upstream name) or lists the resource template. What the agent may not see gets nothing, the
 * same empty completion as an unknown reference, so a completion reveals no more than the lists:
 * a prompt is completed when some policy could allow the agent that prompt, a template when some
 * resource policy could allow its URI template (the listing rule). A disabled agent gets nothing.
 * Completions are not recorded as runs: clients ask for one per keystroke, and they read nothing
 * the prompt or resource itself would give.
 */
export async function completeAgentArgument(
  catalog: AgentCatalog,
  params: CompleteRequest["params"],
): Promise<CompleteResult> {
  if (agentRefusal(catalog.agent)) return NO_COMPLETION;
  const { ref } = params;
  let target: { connection: Connection; forward: CompleteRequest["params"] } | null = null;
  if (ref.type === "ref/prompt") {
    const prompt = await findPrompt(catalog, ref.name);
    if (
      prompt &&
      offered(catalog, await agentPolicies(catalog), "prompt", ref.name, prompt.connection)
    )
      target = {
        connection: prompt.connection,
        forward: { ...params, ref: { ...ref, name: prompt.upstreamName } },
      };
  } else {
    const [sources, policies] = await Promise.all([
      fromEveryConnection(catalog, (session) => session.listResourceTemplates()),
      agentPolicies(catalog),
    ]);
    const source = sources.find(({ value }) =>
      value.some((template) => template.uriTemplate === ref.uri),
    );
    if (source && offered(catalog, policies, "resource", ref.uri, source.connection))
      target = { connection: source.connection, forward: params };
  }
  if (!target) return NO_COMPLETION;
  const { forward } = target;
  return withSession(catalog, target.connection, (session) => session.complete(forward));
}
