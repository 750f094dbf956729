import type { IncomingMessage, ServerResponse } from "node:http";
import {
  authenticateAgentKey,
  authenticateOAuthAccessToken,
  endMcpSession,
  findInputDefect,
  OAUTH_ACCESS_TOKEN_PREFIX,
  openMcpSession,
  inSpan,
  isDatabaseUnavailable,
  isMcpCallError,
  type ActionContext,
  type Agent,
  type Db,
  type JsonObject,
  type McpRuntime,
  type McpSessionLimits,
  type McpSessionRow,
  type McpTaskLimits,
  type SessionRequests,
  callPrincipal,
} from "@mcp/core";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CallToolRequestSchema,
  CancelledNotificationSchema,
  CancelTaskRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  isInitializeRequest,
  type InitializeRequest,
  isJSONRPCRequest,
  LATEST_PROTOCOL_VERSION,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListTasksRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  isJSONRPCErrorResponse,
  isJSONRPCResultResponse,
  type JSONRPCErrorResponse,
  type JSONRPCRequest,
  type JSONRPCResultResponse,
  type RequestId,
  type ServerCapabilities,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import type { Logger } from "../logger";
import { platformOrigin, protectedResourceMetadataUrl } from "../oauth";
import {
  complete,
  getPrompt,
  listPrompts,
  listResources,
  listResourceTemplates,
  probeCapabilities,
  readResource,
  subscribeResource,
  unsubscribeResource,
  type CatalogContext,
} from "./catalog";
import { pageOf } from "./cursor";
import {
  BodyTooLarge,
  DATABASE_UNAVAILABLE_ERROR,
  forbiddenOrigin,
  header,
  jsonRpcError,
  methodNotAllowed,
  originAllowed,
  readBearerToken,
  readBody,
  requestUrl,
  send,
  sendWebResponse,
  serviceUnavailable,
  sessionNotFound,
  unauthorized,
  webRequest,
} from "./http";
import { invalidParams, requestParamsProblem } from "./params";
import type { ValidatedSessions } from "./session-cache";
import type { SessionStreams } from "./session-streams";
import {
  cancelTask,
  getTask,
  listTasks,
  startToolTask,
  taskResult,
  TASKS_CAPABILITY,
  type TaskContext,
} from "./tasks";
import { directToolCall, serveToolCall } from "./tool-call";
import {
  callAgentTool,
  listAgentTools,
  relayFor,
  type CallContext,
  type CallingClient,
} from "./tools";

/*
 * The MCP gateway: `/mcp/{agent_id}` speaks MCP over Streamable HTTP as the agent.
 *
 * Every POST gets a fresh McpServer and transport (the SDK's stateless mode), authenticates the
 * key again and reads what it needs from the database, so any process behind any load balancer
 * can answer any request without sticky sessions, and a revoked key or disabled agent is refused
 * on its very next request.
 *
 * Sessions are kept in the database, not in a process: `initialize` opens one (a row in
 * `mcp_sessions`, its id returned as `Mcp-Session-Id`), and a request carrying the id is checked
 * against the row on whichever replica it reaches: it must come with a key of the same agent
 * that opened the session, or the session is "not found" (404), as for an ended or idle one. The
 * session gives the client a GET stream for what the server has to say between requests
 * (`notifications/tools/list_changed`, resource updates, task statuses; resumable with
 * `Last-Event-ID` on any replica, see session-streams.ts) and DELETE to end it. A request
 * without the header is served exactly as before, on the fast path for plain `tools/call`.
 *
 * What is still per request:
 *   - `logging/setLevel` is accepted but not remembered between requests;
 *   - cancellation: in a session it reaches the replica running the request through the change
 *     feed (mcp-sessions/cancellation.ts); without one, an upstream call is cancelled when the
 *     client drops the HTTP request.
 * Progress and log notifications of a call reach the client on the SSE response of the POST that
 * carried the call.
 */

export interface GatewayOptions {
  db: Db;
  runtime: McpRuntime;
  logger: Logger;
  publicUrl: string | undefined;
  maxBodyBytes: number;
  /**
   * Answer a plain `tools/call` on the hand-written path (tool-call.ts). False sends it through
   * the SDK's server and transport like every other method: the reference the differential test
   * (test/fast-path.test.ts) holds the fast path to, and a way out if the two ever disagree.
   */
  fastPath: boolean;
  /**
   * Stateful sessions (`Mcp-Session-Id`): their streams on this replica, their bounds, and the
   * sessions validated lately.
   */
  sessions: {
    streams: SessionStreams;
    limits: McpSessionLimits;
    validated: ValidatedSessions;
    /** Requests of sessions this replica runs, cancellable from any replica. */
    requests: SessionRequests;
  };
  /** Task-augmented tool calls (MCP tasks, see tasks.ts): their bounds. */
  tasks: McpTaskLimits;
}

export interface GatewayRequestInfo {
  agentId: string;
  ip: string | null;
  requestId: string;
}

const GATEWAY_VERSION = "1.0.0";

interface RequestScope {
  options: GatewayOptions;
  agent: Agent;
  action: ActionContext;
  catalog: CatalogContext;
  call: CallContext;
  /** The request's session, null without one. */
  session: McpSessionRow | null;
  /** The client as it declared itself at initialize; null when the request has no session. */
  client: CallingClient | null;
  /** Tasks as this request sees them: its agent's, in its session. */
  tasks: TaskContext;
  requestId: string;
}

/** Writes a server→client request on the response stream of the client request it belongs to. */
type RelatedWrite = (request: JSONRPCRequest, relatedRequestId: RequestId) => Promise<void>;

/** Keeps internal failures (database errors and the like) out of what clients see. */
function guarded<Args extends unknown[], Result>(
  scope: RequestScope,
  handler: (...args: Args) => Promise<Result>,
): (...args: Args) => Promise<Result> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      if (error instanceof McpError) throw error;
      if (isDatabaseUnavailable(error)) {
        scope.options.logger.warn(
          { request_id: scope.requestId, agent_id: scope.agent.id, err: error },
          "gateway request failed: database unavailable",
        );
        const { code, message, data } = DATABASE_UNAVAILABLE_ERROR;
        throw new McpError(code, message, data);
      }
      scope.options.logger.error(
        { request_id: scope.requestId, agent_id: scope.agent.id, err: error },
        "gateway request failed",
      );
      throw new McpError(ErrorCode.InternalError, `Internal error (request ${scope.requestId})`);
    }
  };
}

function buildServer(
  scope: RequestScope,
  capabilities: ServerCapabilities,
  validator: AjvJsonSchemaValidator,
  writeRelated: RelatedWrite,
): McpServer {
  const { agent, catalog } = scope;
  const { prompts, resources, ...declared } = capabilities;
  const mcp = new McpServer(
    { name: agent.name, version: GATEWAY_VERSION },
    {
      capabilities: declared,
      ...(agent.description ? { instructions: agent.description } : {}),
      // The default builds a new Ajv per server, i.e. per request; one per process is enough.
      jsonSchemaValidator: validator,
    },
  );
  const server = mcp.server;
  // Declared on the low-level server as given: McpServer would add `listChanged` to them, which
  // the gateway cannot deliver for prompts and resources (it does not watch those lists upstream).
  server.registerCapabilities({
    ...(prompts ? { prompts } : {}),
    ...(resources ? { resources } : {}),
  });

  server.setRequestHandler(
    ListToolsRequestSchema,
    guarded(scope, (request) =>
      listAgentTools(scope.options.db, scope.options.runtime.calls, agent, request.params?.cursor),
    ),
  );
  server.setRequestHandler(
    CallToolRequestSchema,
    guarded(scope, (request, extra) => {
      const { name, task } = request.params;
      const input = request.params.arguments ?? {};
      // The SDK types this handler's result as a CallToolResult only, while its server checks
      // a CreateTaskResult when params.task is set (Server.setRequestHandler for tools/call).
      if (task)
        return startToolTask(scope.tasks, name, input, task) as Promise<unknown> as Promise<
          Awaited<ReturnType<typeof callAgentTool>>
        >;
      return callAgentTool(scope.call, name, input, {
        signal: extra.signal,
        progressToken: request.params._meta?.progressToken,
        sendNotification: extra.sendNotification,
        relay: relayFor(scope.call, scope.client, (message) =>
          writeRelated(message, extra.requestId),
        ),
      });
    }),
  );
  server.setRequestHandler(
    GetTaskRequestSchema,
    guarded(scope, (request) => getTask(scope.tasks, request.params.taskId)),
  );
  server.setRequestHandler(
    GetTaskPayloadRequestSchema,
    guarded(scope, (request, extra) =>
      taskResult(scope.tasks, request.params.taskId, extra.signal),
    ),
  );
  server.setRequestHandler(
    ListTasksRequestSchema,
    guarded(scope, (request) => listTasks(scope.tasks, request.params?.cursor)),
  );
  server.setRequestHandler(
    CancelTaskRequestSchema,
    guarded(scope, (request) => cancelTask(scope.tasks, request.params.taskId)),
  );
  if (capabilities.prompts) {
    server.setRequestHandler(
      ListPromptsRequestSchema,
      guarded(scope, async (request) => {
        const page = pageOf(await listPrompts(catalog), request.params?.cursor);
        return { prompts: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
      }),
    );
    server.setRequestHandler(
      GetPromptRequestSchema,
      guarded(scope, (request) =>
        getPrompt(catalog, request.params.name, request.params.arguments),
      ),
    );
  }
  if (capabilities.resources) {
    server.setRequestHandler(
      ListResourcesRequestSchema,
      guarded(scope, async (request) => {
        const page = pageOf(await listResources(catalog), request.params?.cursor);
        return {
          resources: page.items,
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        };
      }),
    );
    server.setRequestHandler(
      ListResourceTemplatesRequestSchema,
      guarded(scope, async (request) => {
        const page = pageOf(await listResourceTemplates(catalog), request.params?.cursor);
        return {
          resourceTemplates: page.items,
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        };
      }),
    );
    server.setRequestHandler(
      ReadResourceRequestSchema,
      guarded(scope, (request) => readResource(catalog, request.params.uri)),
    );
    server.setRequestHandler(
      SubscribeRequestSchema,
      guarded(scope, (request) =>
        subscribeResource(
          catalog,
          scope.session,
          request.params.uri,
          scope.options.sessions.limits.maxSubscriptionsPerSession,
        ),
      ),
    );
    server.setRequestHandler(
      UnsubscribeRequestSchema,
      guarded(scope, (request) => unsubscribeResource(catalog, scope.session, request.params.uri)),
    );
  }
  if (capabilities.completions) {
    server.setRequestHandler(
      CompleteRequestSchema,
      guarded(scope, (request) => complete(catalog, request.params)),
    );
  }
  return mcp;
}

/**
 * The first message whose params hold what the API refuses (see findInputDefect: hostile
 * nesting, text the database cannot store), with the JSON-RPC error message naming the field and
 * the message's id: it is refused before the SDK, policies or the recorder walk it.
 */
/**
 * A message's `method`, read without parsing it: the SDK's type guards are zod parses, and a
 * failed one builds its issue list, which on every call costs more than the check it skips.
 */
function methodOf(message: unknown): unknown {
  return typeof message === "object" && message !== null
    ? (message as { method?: unknown }).method
    : undefined;
}

function paramsDefect(messages: unknown[]): { message: string; id: RequestId | null } | null {
  for (const message of messages) {
    if (typeof message !== "object" || message === null) continue;
    const { id, params } = message as { id?: unknown; params?: unknown };
    if (typeof params !== "object" || params === null || Array.isArray(params)) continue;
    const defect = findInputDefect(params as Record<string, unknown>);
    if (defect === null) continue;
    const validId = typeof id === "string" || (typeof id === "number" && Number.isInteger(id));
    const field = defect.path.map(String).join(".");
    return {
      message: `Invalid params: params.${field}: ${defect.message}`,
      id: validId ? id : null,
    };
  }
  return null;
}

/** Every capability the gateway can serve: after `initialize`, any of them may be asked for. */
const ALL_CAPABILITIES: ServerCapabilities = {
  tools: {},
  prompts: {},
  resources: {},
  completions: {},
  logging: {},
  tasks: TASKS_CAPABILITY,
};

export type GatewayHandler = (
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  info: GatewayRequestInfo,
) => Promise<void>;

export function createGateway(options: GatewayOptions): GatewayHandler {
  const publicOrigin = options.publicUrl ? new URL(options.publicUrl).origin : null;
  const validator = new AjvJsonSchemaValidator();

  const serve = async (
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    info: GatewayRequestInfo,
    bodyText: Promise<string> | null,
  ): Promise<void> => {
    const headerOf = (name: string) => header(incoming, name);
    const url = () => requestUrl(incoming);
    if (!originAllowed(headerOf("origin"), url, publicOrigin)) {
      send(outgoing, forbiddenOrigin());
      return;
    }
    const key = readBearerToken(headerOf("authorization"));
    const refuse = (reason: Parameters<typeof unauthorized>[0]): void => {
      const origin = platformOrigin(options.publicUrl, url());
      send(outgoing, unauthorized(reason, protectedResourceMetadataUrl(origin, info.agentId)));
    };
    if (key === null) {
      refuse(null);
      return;
    }
    // Agent keys (headless agents) and OAuth access tokens (a person's MCP client, acting as the
    // agent for them) open the same endpoint; calls made with a token record that person.
    const oauth = key.startsWith(OAUTH_ACCESS_TOKEN_PREFIX);
    const authenticated = await inSpan<
      Awaited<ReturnType<typeof authenticateOAuthAccessToken | typeof authenticateAgentKey>>
    >(options.runtime.tracer, "mcp.authenticate", () =>
      oauth
        ? authenticateOAuthAccessToken(options.db, key)
        : authenticateAgentKey(options.db, key, options.runtime.calls),
    );
    if (!authenticated) {
      refuse({
        error: "invalid_token",
        description: oauth
          ? "The access token is unknown, expired or revoked, or the agent is disabled"
          : "Unknown or revoked key, or disabled agent",
      });
      return;
    }
    const { agent } = authenticated;
    // A key or token opens its own agent's endpoint only; whether the other agent exists is not
    // revealed. A token's audience is this one agent's MCP URL (RFC 8707).
    if (agent.id !== info.agentId) {
      refuse({
        error: "invalid_token",
        description: oauth
          ? "This token was issued for another resource"
          : "This key does not belong to this agent",
      });
      return;
    }
    const actingUser = "userId" in authenticated ? authenticated.userId : undefined;
    // A session answers the credential that opened it: the key, or the OAuth grant (which
    // outlives each access token it issues).
    const credentialId = "keyId" in authenticated ? authenticated.keyId : authenticated.grantId;
    const { streams: sessionStreams, limits, validated } = options.sessions;
    const sessionToken = headerOf("mcp-session-id");
    let session: McpSessionRow | null = null;
    if (sessionToken !== null) {
      session = await validated.find({ token: sessionToken, agentId: agent.id, credentialId });
      if (!session) {
        send(outgoing, sessionNotFound());
        return;
      }
    }
    if (incoming.method === "GET" && session) {
      if (!headerOf("accept")?.includes("text/event-stream")) {
        send(outgoing, jsonRpcError(406, -32000, "Not Acceptable: accept text/event-stream"));
        return;
      }
      await sessionStreams.open(
        session,
        agent,
        outgoing,
        callPrincipal({ acting_user: actingUser }, agent, null),
        headerOf("last-event-id"),
      );
      return;
    }
    if (incoming.method === "DELETE" && session) {
      await endMcpSession(options.db, session.id);
      // Other replicas hear of it on the change feed; this one need not wait for that.
      validated.forget(session.id);
      send(outgoing, { status: 200, body: {} });
      return;
    }
    if (bodyText === null) {
      send(outgoing, methodNotAllowed());
      return;
    }

    let body: unknown;
    try {
      body = JSON.parse(await bodyText);
    } catch (error) {
      send(
        outgoing,
        error instanceof BodyTooLarge
          ? jsonRpcError(413, -32000, `Request body exceeds ${options.maxBodyBytes} bytes`)
          : jsonRpcError(400, ErrorCode.ParseError, "Parse error: Invalid JSON"),
      );
      return;
    }
    const messages: unknown[] = Array.isArray(body) ? body : [body];
    const initialize = messages.find(
      (message): message is InitializeRequest =>
        methodOf(message) === "initialize" && isInitializeRequest(message),
    );
    if (initialize && (session || messages.length !== 1)) {
      send(
        outgoing,
        jsonRpcError(
          400,
          ErrorCode.InvalidRequest,
          session
            ? "Invalid Request: initialize opens a new session; send it without Mcp-Session-Id"
            : "Invalid Request: initialize must be the only message of its request",
        ),
      );
      return;
    }
    const refused = paramsDefect(messages);
    if (refused) {
      send(
        outgoing,
        refused.id === null || messages.length !== 1
          ? jsonRpcError(400, ErrorCode.InvalidParams, refused.message)
          : { status: 200, body: invalidParams(refused.id, refused.message) },
      );
      return;
    }

    const action: ActionContext = {
      actor: { type: "agent", id: agent.id },
      ip: info.ip,
      user_agent: headerOf("user-agent"),
      request_id: info.requestId,
      ...(actingUser === undefined ? {} : { acting_user: actingUser }),
    };
    const call = { db: options.db, runtime: options.runtime, agent, action };
    // What the client declared at initialize, kept with its session: a session-less request
    // declared nothing, so nothing is relayed to it (see relayFor).
    const client: CallingClient | null = session
      ? { sessionId: session.id, capabilities: session.client_capabilities }
      : null;
    const scope: RequestScope = {
      options,
      agent,
      action,
      catalog: {
        catalog: {
          db: options.db,
          runtime: options.runtime,
          agent,
          principal: callPrincipal(action, agent, null),
          onSkip: (connectionId, reason) => {
            options.logger.warn(
              {
                connection_id: connectionId,
                err: isMcpCallError(reason) ? reason.message : reason,
              },
              "gateway: connection skipped",
            );
          },
        },
        action,
      },
      call,
      session,
      client,
      tasks: {
        call,
        owner: { agentId: agent.id, sessionId: session?.id ?? null },
        client,
        limits: options.tasks,
        logger: options.logger,
      },
      requestId: info.requestId,
    };

    // A session's cancellations go to whichever replica runs the request they name (the SDK
    // server below sees them too, and ignores ids it is not running).
    if (session)
      await options.sessions.requests.cancel(
        messages.flatMap((message) => {
          if (methodOf(message) !== "notifications/cancelled") return [];
          const cancelled = CancelledNotificationSchema.safeParse(message);
          return cancelled.success && cancelled.data.params.requestId !== undefined
            ? [
                {
                  sessionId: session.id,
                  requestId: cancelled.data.params.requestId,
                  reason: cancelled.data.params.reason ?? null,
                },
              ]
            : [];
        }),
      );

    // Clients' answers to what upstream servers asked them (see runs/relay.ts) go to the replica
    // waiting for them; whatever else the body holds is served as usual.
    const answers = messages.filter(
      (message): message is JSONRPCResultResponse | JSONRPCErrorResponse =>
        methodOf(message) === undefined &&
        (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)),
    );
    if (answers.length > 0) {
      for (const answer of answers)
        await options.runtime.relay.answer(agent.id, scope.client?.sessionId ?? null, answer);
      if (answers.length === messages.length) {
        outgoing.writeHead(202).end();
        return;
      }
    }
    const served =
      answers.length > 0
        ? messages.filter((message) => !answers.some((answer) => answer === message))
        : messages;
    // A client that hangs up cancels what it asked for (upstream calls included).
    const onHangUp = (abort: () => void): void => {
      outgoing.once("close", () => {
        if (!outgoing.writableFinished) abort();
      });
    };

    const direct = directToolCall(headerOf, served);
    // On both paths: the SDK's own answer to wrong params is zod's raw issue list (see tool-call.ts).
    if (direct?.kind === "invalid") {
      send(outgoing, { status: 200, body: invalidParams(direct.id, direct.message) });
      return;
    }
    if (direct && options.fastPath) {
      const hungUp = new AbortController();
      onHangUp(() => {
        hungUp.abort();
      });
      const cancelled = { by: false };
      const untrack = session
        ? options.sessions.requests.track(session.id, direct.call.id, (reason) => {
            cancelled.by = true;
            hungUp.abort(reason ?? undefined);
          })
        : null;
      const { name, arguments: input, _meta: meta } = direct.call.params;
      try {
        await serveToolCall(
          direct.call,
          guarded(scope, (stream) =>
            callAgentTool(scope.call, name, input ?? {}, {
              signal: hungUp.signal,
              progressToken: meta?.progressToken,
              sendNotification: stream.notify,
              relay: relayFor(scope.call, scope.client, stream.request),
            }),
          ),
          outgoing,
          () => cancelled.by,
        );
      } finally {
        untrack?.();
      }
      return;
    }

    // `initialize` must advertise only what the agent really has; any later request may use any
    // capability, so those servers register every handler.
    let capabilities = ALL_CAPABILITIES;
    if (initialize) {
      const offered = await probeCapabilities(scope.catalog);
      capabilities = {
        // True: the session's GET stream hears of every change to what tools/list returns.
        tools: { listChanged: true },
        logging: {},
        tasks: TASKS_CAPABILITY,
        ...(offered.prompts ? { prompts: {} } : {}),
        // Subscriptions when some connection supports them (updates reach the GET stream);
        // never listChanged for prompts or resources: the gateway does not watch those lists.
        ...(offered.resources
          ? { resources: offered.resourceSubscriptions ? { subscribe: true } : {} }
          : {}),
        ...(offered.completions ? { completions: {} } : {}),
      };
    }
    const related: { transport: WebStandardStreamableHTTPServerTransport | null } = {
      transport: null,
    };
    const mcp = buildServer(scope, capabilities, validator, (message, relatedRequestId) =>
      related.transport
        ? related.transport.send(message, { relatedRequestId })
        : Promise.reject(new Error("The call's stream is not open")),
    );
    // Only tool calls produce notifications worth streaming; every other answer is one JSON body,
    // the task a task-augmented call returns at once included.
    const streams = served.some(
      (message) =>
        isJSONRPCRequest(message) && message.method === "tools/call" && !message.params?.task,
    );
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: !streams,
    });
    related.transport = transport;
    await mcp.connect(transport);
    // Requests with wrong params are answered here, one by one (batches included), before the
    // SDK server would call them an internal error.
    const deliver = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (isJSONRPCRequest(message)) {
        const problem = requestParamsProblem(message);
        if (problem !== null) {
          void transport.send(invalidParams(message.id, problem));
          return;
        }
      }
      deliver?.(message, extra);
    };
    onHangUp(() => {
      void mcp.close();
    });
    // A cancelled request is aborted through the SDK server's own handling of the notification;
    // once every request of this POST is cancelled, closing ends its stream (no answer is due).
    const requests = served.filter(isJSONRPCRequest);
    const uncancelled = new Set(requests.map((request) => request.id));
    const untrack = session
      ? requests.map((request) =>
          options.sessions.requests.track(session.id, request.id, (reason) => {
            transport.onmessage?.({
              jsonrpc: "2.0",
              method: "notifications/cancelled",
              params: { requestId: request.id, ...(reason === null ? {} : { reason }) },
            });
            uncancelled.delete(request.id);
            if (uncancelled.size === 0) void mcp.close();
          }),
        )
      : [];
    const response = await transport.handleRequest(webRequest(incoming, url()), {
      parsedBody: Array.isArray(body) ? served : served[0],
    });
    let sessionHeader: Record<string, string> = {};
    if (initialize && response.status === 200) {
      const requested = initialize.params.protocolVersion;
      const opened = await openMcpSession(options.db, {
        agent,
        credentialId,
        protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
          ? requested
          : LATEST_PROTOCOL_VERSION,
        clientInfo: initialize.params.clientInfo,
        clientCapabilities: initialize.params.capabilities as JsonObject,
        limits,
      });
      sessionHeader = { "mcp-session-id": opened.token };
    }
    try {
      await sendWebResponse(outgoing, response, sessionHeader);
    } finally {
      for (const stop of untrack) stop();
    }
    void mcp.close();
  };

  return async (incoming, outgoing, info) => {
    // The body is read while the key is checked; a refused request simply leaves it unused.
    const bodyText = incoming.method === "POST" ? readBody(incoming, options.maxBodyBytes) : null;
    bodyText?.catch(() => undefined);
    try {
      await serve(incoming, outgoing, info, bodyText);
    } catch (error) {
      if (!isDatabaseUnavailable(error) || outgoing.headersSent) throw error;
      options.logger.warn(
        { request_id: info.requestId, err: error },
        "gateway request failed: database unavailable",
      );
      const body = await bodyText?.then((text) => JSON.parse(text) as unknown).catch(() => null);
      const ids = (Array.isArray(body) ? body : [body])
        .filter(isJSONRPCRequest)
        .map((request) => request.id);
      send(outgoing, serviceUnavailable(ids, Array.isArray(body)));
    }
  };
}
