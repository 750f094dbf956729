import { setImmediate as nextTick } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport, SseError } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolResultSchema,
  CompleteResultSchema,
  ErrorCode,
  McpError,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  GetPromptResultSchema,
  ListRootsRequestSchema,
  PingRequestSchema,
  ListPromptsResultSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesResultSchema,
  ListToolsResultSchema,
  LoggingMessageNotificationSchema,
  ReadResourceResultSchema,
  ResourceUpdatedNotificationSchema,
  EmptyResultSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type {
  CallToolResult,
  ClientCapabilities,
  CompleteRequest,
  CompleteResult,
  CreateMessageRequest,
  ElicitRequest,
  GetPromptResult,
  ListRootsRequest,
  PingRequest,
  Result,
  Implementation,
  LoggingLevel,
  Progress,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  ServerCapabilities,
  Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { AppError, isAppError } from "../errors";
import { McpCallError } from "./errors";
import { NodeStreamableHttpTransport } from "./http-transport";
import { assertOutboundUrlAllowed, privateNetworkGuardedFetch } from "./outbound";
import type { McpTarget } from "./target";
import { secretValues } from "./target";
import { Diagnostics, isZodError, translateError } from "./translate-error";
import type { TranslationContext } from "./translate-error";
import { ToolCalls } from "./tool-calls";
import { injectTraceContext } from "../telemetry/tracing";

export { McpCallError, isMcpCallError, isSessionLost } from "./errors";
export type { McpCallErrorKind } from "./errors";

export interface McpConnectOptions {
  clientName: string;
  clientVersion: string;
  /** Aborting cancels the connect (and the `initialize` request upstream). */
  signal?: AbortSignal;
  /**
   * Outbound policy re-checked right before connecting, because settings and DNS can change after
   * a connection was saved. A refusal surfaces as `McpCallError` kind "unreachable".
   */
  policy?: { blockPrivateNetworks: boolean; stdioServers: readonly { id: string }[] };
  /**
   * Default true: Streamable HTTP over node:http (http-transport.ts) and `tools/call` by hand
   * (tool-calls.ts). False uses the SDK's fetch-based transport and `Client.callTool`, the
   * reference the differential test (client-fast-path.test.ts) holds the fast path to.
   */
  fastPath?: boolean;
  /**
   * Requests the server may make of us during the session (sampling, elicitation, roots, ping),
   * handed to `handle`: a session opened for one caller relays them to that caller (see
   * runs/relay). Without it the session declares no client capability, and the SDK answers
   * such requests with "method not found".
   */
  serverRequests?: ServerRequestHandling;
}

export interface ServerRequestHandling {
  /** Declared at initialize; only the relayable capabilities are kept (see relayableCapabilities). */
  capabilities: ClientCapabilities;
  /** The result to send back; a thrown McpError is sent as the JSON-RPC error. */
  handle: (request: RelayableRequest, signal: AbortSignal) => Promise<Result>;
}

/** A request a server may make of a client, validated by the SDK's schema for its method. */
export type RelayableRequest =
  CreateMessageRequest | ElicitRequest | ListRootsRequest | PingRequest;

/**
 * What of a client's capabilities a relaying session declares upstream: sampling, elicitation
 * and roots as the client declared them. Tasks are the gateway's own business (it answers task
 * requests itself), `roots.listChanged` is dropped because the gateway does not forward the
 * client's notifications, and experimental entries are not ours to promise.
 */
export function relayableCapabilities(declared: ClientCapabilities): ClientCapabilities {
  return {
    ...(declared.sampling ? { sampling: declared.sampling } : {}),
    ...(declared.elicitation ? { elicitation: declared.elicitation } : {}),
    ...(declared.roots ? { roots: {} } : {}),
  };
}

export interface McpRequestOptions {
  /** Defaults to the target's `timeout_ms`; covers every page of a paginated list. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface McpLogEntry {
  level: LoggingLevel;
  logger?: string;
  data: unknown;
}

export interface McpCallOptions {
  timeoutMs: number;
  onProgress?: (progress: Progress) => void;
  /**
   * MCP log notifications are not tied to a request, so while several calls with `onLog` run on
   * one session each of them sees every log entry the server sends in that time.
   */
  onLog?: (entry: McpLogEntry) => void;
  signal?: AbortSignal;
}

/** An initialized MCP session. All methods throw `McpCallError` only. */
export interface McpSession {
  readonly transport: McpTarget["transport"];
  readonly serverInfo: Implementation;
  readonly protocolVersion: string;
  readonly capabilities: ServerCapabilities;
  readonly instructions: string | null;
  /** The child process id for stdio sessions, null otherwise. */
  readonly pid: number | null;
  /** True once closed by us or lost (transport closed, session expired, process exited). */
  readonly closed: boolean;
  ping: (opts?: McpRequestOptions) => Promise<void>;
  /** All tools, following `nextCursor`; fails with kind "protocol" past `maxPages` pages or on a cursor loop. */
  listAllTools: (maxPages?: number, opts?: McpRequestOptions) => Promise<Tool[]>;
  /** The raw result, content passed through as the server sent it (no output-schema validation). */
  callTool: (
    name: string,
    args: Record<string, unknown>,
    opts: McpCallOptions,
  ) => Promise<CallToolResult>;
  /** Empty when the server does not declare the prompts capability. */
  listPrompts: (opts?: McpRequestOptions) => Promise<Prompt[]>;
  getPrompt: (
    name: string,
    args?: Record<string, string>,
    opts?: McpRequestOptions,
  ) => Promise<GetPromptResult>;
  /** Empty when the server does not declare the resources capability. */
  listResources: (opts?: McpRequestOptions) => Promise<Resource[]>;
  readResource: (uri: string, opts?: McpRequestOptions) => Promise<ReadResourceResult>;
  /** Empty when the server does not declare the resources capability. */
  listResourceTemplates: (opts?: McpRequestOptions) => Promise<ResourceTemplate[]>;
  /** `completion/complete`; an empty completion when the server does not declare completions. */
  complete: (
    params: CompleteRequest["params"],
    opts?: McpRequestOptions,
  ) => Promise<CompleteResult>;
  /** `resources/subscribe`; fails with kind "upstream" when the server does not support it. */
  subscribeResource: (uri: string, opts?: McpRequestOptions) => Promise<void>;
  unsubscribeResource: (uri: string, opts?: McpRequestOptions) => Promise<void>;
  /** Hears every `notifications/resources/updated` of the session; returns an unsubscribe function. */
  onResourceUpdated: (listener: (uri: string) => void) => () => void;
  /** Runs once when the session closes for any reason; returns an unsubscribe function. */
  onClose: (listener: () => void) => () => void;
  /** Idempotent. For stdio it resolves once the child process has exited. */
  close: () => Promise<void>;
}

const MAX_LIST_PAGES = 1000;
const TERMINATE_SESSION_BUDGET_MS = 1000;

class DeadlineExceeded extends Error {
  override readonly name = "DeadlineExceeded";
}

/** One time budget shared by every step of an operation, merged with the caller's signal. */
class Deadline {
  readonly signal: AbortSignal;
  timedOut = false;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private readonly onCallerAbort = (): void => {
    this.controller.abort(this.caller?.reason);
  };

  constructor(
    readonly ms: number,
    private readonly caller?: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new DeadlineExceeded(`Timed out after ${ms} ms`));
    }, ms);
    if (caller?.aborted === true) this.controller.abort(caller.reason);
    else caller?.addEventListener("abort", this.onCallerAbort, { once: true });
  }

  get cancelled(): boolean {
    return !this.timedOut && this.caller?.aborted === true;
  }

  remaining(): number {
    return Math.max(1, Math.ceil(this.ms - (performance.now() - this.startedAt)));
  }

  /**
   * Options for one SDK request. Each gets its own dependent signal because the SDK never removes
   * the abort listener it adds, and a paginated list would otherwise pile them onto one signal.
   * Not `AbortSignal.any`: Node 20 keeps a composite signal with an abort listener alive until it
   * aborts, so with the SDK's listener every call leaked its signal (about 2 KB per call).
   */
  requestOptions(): RequestOptions {
    const request = new AbortController();
    if (this.signal.aborted) request.abort(this.signal.reason);
    else
      this.signal.addEventListener(
        "abort",
        () => {
          request.abort(this.signal.reason);
        },
        { once: true },
      );
    return { signal: request.signal, timeout: this.remaining() };
  }

  /** Settles with `promise`, or rejects as soon as the budget runs out or the caller aborts. */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        // Callers classify the failure through `timedOut` / `cancelled`, not through this error.
        reject(new DeadlineExceeded(this.timedOut ? `Timed out after ${this.ms} ms` : "Cancelled"));
      };
      if (this.signal.aborted) onAbort();
      else this.signal.addEventListener("abort", onAbort, { once: true });
      promise.then(
        (value) => {
          this.signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (error: unknown) => {
          this.signal.removeEventListener("abort", onAbort);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener("abort", this.onCallerAbort);
  }
}

/**
 * The launch's fixed base plus the organization's variables; the platform's own environment
 * (database URLs, keys) is never passed on.
 */
function childEnvironment(target: McpTarget): Record<string, string> {
  return { ...(target.stdio?.env ?? {}), ...(target.secret?.env ?? {}) };
}

function requestHeaders(target: McpTarget): Record<string, string> {
  return { ...target.headers, ...(target.secret?.headers ?? {}) };
}

function assertTargetUsable(target: McpTarget): void {
  if (!Number.isFinite(target.timeout_ms) || target.timeout_ms <= 0) {
    throw AppError.invalidField(
      "timeout_ms",
      "The timeout must be a positive number of milliseconds",
    );
  }
  if (target.transport === "stdio") {
    if (target.stdio === null || target.stdio.command === "") {
      throw AppError.invalidField("stdio_server", "A declared stdio server is required");
    }
    return;
  }
  for (const [name, value] of Object.entries(requestHeaders(target))) {
    try {
      new Headers([[name, value]]);
    } catch {
      // The value is deliberately left out of the message: it may be a secret.
      throw AppError.invalidField(
        ["headers", name],
        `Header "${name}" has an invalid name or value`,
      );
    }
  }
  if (target.url === null || target.url === "") {
    throw AppError.invalidField("url", "A URL is required for HTTP connections");
  }
  try {
    new URL(target.url);
  } catch {
    throw AppError.invalidField("url", "Not a valid URL");
  }
}

async function enforcePolicy(
  target: McpTarget,
  policy: NonNullable<McpConnectOptions["policy"]>,
): Promise<void> {
  try {
    if (target.transport === "stdio") {
      const id = target.stdio?.server_id;
      if (!policy.stdioServers.some((server) => server.id === id))
        throw AppError.invalidField(
          "stdio_server",
          `Stdio server "${id ?? ""}" is not declared on this server (MCP_STDIO_SERVERS)`,
        );
    } else
      await assertOutboundUrlAllowed(target.url ?? "", {
        blockPrivateNetworks: policy.blockPrivateNetworks,
      });
  } catch (error) {
    if (isAppError(error))
      throw new McpCallError("unreachable", `Refused by outbound policy: ${error.message}`);
    throw error;
  }
}

function headersObject(headers: RequestInit["headers"]): Record<string, string> {
  return Object.fromEntries(new Headers(headers).entries());
}

function createTransport(
  target: McpTarget,
  diagnostics: Diagnostics,
  blockPrivateNetworks: boolean,
  fastPath: boolean,
): Transport {
  const baseFetch: FetchLike = blockPrivateNetworks ? privateNetworkGuardedFetch : fetch;
  const recordingFetch: FetchLike = async (url, init) => {
    const traced: Record<string, string> = {};
    injectTraceContext(traced);
    const headers =
      Object.keys(traced).length === 0
        ? init?.headers
        : { ...headersObject(init?.headers), ...traced };
    try {
      return await baseFetch(url, headers === init?.headers ? init : { ...init, headers });
    } catch (error) {
      diagnostics.lastNetworkError = error;
      throw error;
    }
  };
  switch (target.transport) {
    case "streamable_http":
      if (!fastPath)
        return new StreamableHTTPClientTransport(new URL(target.url ?? ""), {
          requestInit: { headers: requestHeaders(target) },
          fetch: recordingFetch,
        });
      // node:http instead of the SDK's fetch-based transport: a fraction of the CPU per call.
      return new NodeStreamableHttpTransport(new URL(target.url ?? ""), {
        headers: requestHeaders(target),
        blockPrivateNetworks,
        onNetworkError: (error) => {
          diagnostics.lastNetworkError = error;
        },
      });
    case "sse":
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- legacy HTTP+SSE servers are still deployed and must keep working
      return new SSEClientTransport(new URL(target.url ?? ""), {
        requestInit: { headers: requestHeaders(target) },
        fetch: recordingFetch,
      });
    case "stdio": {
      const transport = new StdioClientTransport({
        command: target.stdio?.command ?? "",
        args: target.stdio?.args ?? [],
        env: childEnvironment(target),
        ...(target.stdio ? { cwd: target.stdio.cwd } : {}),
        stderr: "pipe",
      });
      // Draining stderr also matters on its own: a child blocked on a full stderr pipe hangs.
      transport.stderr?.on("data", (chunk: Buffer | string) => {
        diagnostics.appendStderr(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
      });
      return transport;
    }
  }
}

/** State shared between the SDK callbacks (set before connecting) and the session object. */
class SessionHub {
  closed = false;
  readonly closeListeners = new Set<() => void>();
  readonly logListeners = new Set<(entry: McpLogEntry) => void>();
  readonly resourceListeners = new Set<(uri: string) => void>();

  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of [...this.closeListeners]) {
      try {
        listener();
      } catch {
        // One faulty listener must not keep the others from learning about the close.
      }
    }
    this.closeListeners.clear();
  }
}

class SdkMcpSession implements McpSession {
  readonly pid: number | null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly client: Client,
    private readonly sdkTransport: Transport,
    /** Null without the fast path: calls go through `Client.callTool`. */
    private readonly toolCalls: ToolCalls | null,
    private readonly hub: SessionHub,
    private readonly diagnostics: Diagnostics,
    private readonly target: McpTarget,
    private readonly secrets: readonly string[],
    readonly serverInfo: Implementation,
    readonly protocolVersion: string,
    readonly capabilities: ServerCapabilities,
    readonly instructions: string | null,
  ) {
    this.pid = sdkTransport instanceof StdioClientTransport ? sdkTransport.pid : null;
  }

  get transport(): McpTarget["transport"] {
    return this.target.transport;
  }

  get closed(): boolean {
    return this.hub.closed;
  }

  onClose(listener: () => void): () => void {
    if (this.hub.closed) {
      listener();
      return () => undefined;
    }
    this.hub.closeListeners.add(listener);
    return () => {
      this.hub.closeListeners.delete(listener);
    };
  }

  private async run<T>(
    operation: string,
    opts: McpRequestOptions,
    work: (deadline: Deadline) => Promise<T>,
  ): Promise<T> {
    if (this.hub.closed) {
      throw new McpCallError("closed", "The MCP session is closed", {
        sessionLost: true,
        undelivered: true,
      });
    }
    const timeoutMs = opts.timeoutMs ?? this.target.timeout_ms;
    const deadline = new Deadline(timeoutMs, opts.signal);
    try {
      return await deadline.race(work(deadline));
    } catch (error) {
      // A dying child's last stderr lines can trail its exit by a tick; wait so the message has them.
      if (this.target.transport === "stdio") await nextTick();
      const context: TranslationContext = {
        target: this.target,
        diagnostics: this.diagnostics,
        phase: "request",
        operation,
        timeoutMs,
        timedOut: deadline.timedOut,
        cancelled: deadline.cancelled,
        secrets: this.secrets,
      };
      const translated = translateError(error, context);
      if (translated.sessionLost) void this.close();
      throw translated;
    } finally {
      deadline.dispose();
    }
  }

  private async paginate<Item>(
    operation: string,
    maxPages: number,
    opts: McpRequestOptions,
    fetchPage: (
      cursor: string | undefined,
      options: RequestOptions,
    ) => Promise<{ items: Item[]; next: string | undefined }>,
  ): Promise<Item[]> {
    return this.run(operation, opts, async (deadline) => {
      const items: Item[] = [];
      const seen = new Set<string>();
      let cursor: string | undefined;
      for (let page = 0; page < maxPages; page++) {
        const result = await fetchPage(cursor, deadline.requestOptions());
        items.push(...result.items);
        if (result.next === undefined) return items;
        if (seen.has(result.next)) {
          throw new McpCallError("protocol", `Upstream ${operation} repeated a pagination cursor`);
        }
        seen.add(result.next);
        cursor = result.next;
      }
      throw new McpCallError(
        "protocol",
        `Upstream ${operation} did not finish within ${maxPages} pages`,
      );
    });
  }

  async ping(opts: McpRequestOptions = {}): Promise<void> {
    await this.run("ping", opts, (deadline) => this.client.ping(deadline.requestOptions()));
  }

  listAllTools(maxPages = MAX_LIST_PAGES, opts: McpRequestOptions = {}): Promise<Tool[]> {
    return this.paginate("tools/list", maxPages, opts, async (cursor, options) => {
      const page = await this.client.request(
        cursor === undefined
          ? { method: "tools/list" }
          : { method: "tools/list", params: { cursor } },
        ListToolsResultSchema,
        options,
      );
      return { items: page.tools, next: page.nextCursor };
    });
  }

  async callTool(
    name: string,
    args: Record<string, unknown>,
    opts: McpCallOptions,
  ): Promise<CallToolResult> {
    const { onLog, onProgress } = opts;
    if (onLog) this.hub.logListeners.add(onLog);
    try {
      // Client.callTool also validates structuredContent against output schemas it cached from
      // Client.listTools, which this session never calls (it lists with `request`), so the
      // gateway passes upstream results through as sent on both paths.
      return await this.run("tools/call", opts, (deadline) => {
        if (this.toolCalls) return this.toolCalls.call(name, args, deadline.signal, onProgress);
        return this.sdkCallTool(name, args, deadline, onProgress);
      });
    } finally {
      if (onLog) this.hub.logListeners.delete(onLog);
    }
  }

  private async sdkCallTool(
    name: string,
    args: Record<string, unknown>,
    deadline: Deadline,
    onProgress: ((progress: Progress) => void) | undefined,
  ): Promise<CallToolResult> {
    const result = await this.client.callTool({ name, arguments: args }, CallToolResultSchema, {
      ...deadline.requestOptions(),
      ...(onProgress ? { onprogress: onProgress } : {}),
    });
    // Only the legacy `toolResult` shape lacks `content`, and CallToolResultSchema never yields it.
    if (!("content" in result) || !Array.isArray(result.content))
      throw new McpCallError("protocol", "Upstream tools/call result has no content");
    return result as CallToolResult;
  }

  async listPrompts(opts: McpRequestOptions = {}): Promise<Prompt[]> {
    if (!this.capabilities.prompts) return [];
    return this.paginate("prompts/list", MAX_LIST_PAGES, opts, async (cursor, options) => {
      const page = await this.client.request(
        cursor === undefined
          ? { method: "prompts/list" }
          : { method: "prompts/list", params: { cursor } },
        ListPromptsResultSchema,
        options,
      );
      return { items: page.prompts, next: page.nextCursor };
    });
  }

  getPrompt(
    name: string,
    args: Record<string, string> = {},
    opts: McpRequestOptions = {},
  ): Promise<GetPromptResult> {
    return this.run("prompts/get", opts, (deadline) =>
      this.client.request(
        { method: "prompts/get", params: { name, arguments: args } },
        GetPromptResultSchema,
        deadline.requestOptions(),
      ),
    );
  }

  async listResources(opts: McpRequestOptions = {}): Promise<Resource[]> {
    if (!this.capabilities.resources) return [];
    return this.paginate("resources/list", MAX_LIST_PAGES, opts, async (cursor, options) => {
      const page = await this.client.request(
        cursor === undefined
          ? { method: "resources/list" }
          : { method: "resources/list", params: { cursor } },
        ListResourcesResultSchema,
        options,
      );
      return { items: page.resources, next: page.nextCursor };
    });
  }

  readResource(uri: string, opts: McpRequestOptions = {}): Promise<ReadResourceResult> {
    return this.run("resources/read", opts, (deadline) =>
      this.client.request(
        { method: "resources/read", params: { uri } },
        ReadResourceResultSchema,
        deadline.requestOptions(),
      ),
    );
  }

  async listResourceTemplates(opts: McpRequestOptions = {}): Promise<ResourceTemplate[]> {
    if (!this.capabilities.resources) return [];
    return this.paginate(
      "resources/templates/list",
      MAX_LIST_PAGES,
      opts,
      async (cursor, options) => {
        const page = await this.client.request(
          cursor === undefined
            ? { method: "resources/templates/list" }
            : { method: "resources/templates/list", params: { cursor } },
          ListResourceTemplatesResultSchema,
          options,
        );
        return { items: page.resourceTemplates, next: page.nextCursor };
      },
    );
  }

  async complete(
    params: CompleteRequest["params"],
    opts: McpRequestOptions = {},
  ): Promise<CompleteResult> {
    if (!this.capabilities.completions) return { completion: { values: [] } };
    return this.run("completion/complete", opts, (deadline) =>
      this.client.request(
        { method: "completion/complete", params },
        CompleteResultSchema,
        deadline.requestOptions(),
      ),
    );
  }

  async subscribeResource(uri: string, opts: McpRequestOptions = {}): Promise<void> {
    const transport = this.sdkTransport;
    await this.run("resources/subscribe", opts, async (deadline) => {
      // Updates come on the standalone stream: one sent before it is open would be lost.
      if (transport instanceof NodeStreamableHttpTransport) await transport.streamReady();
      await this.client.request(
        { method: "resources/subscribe", params: { uri } },
        EmptyResultSchema,
        deadline.requestOptions(),
      );
    });
  }

  async unsubscribeResource(uri: string, opts: McpRequestOptions = {}): Promise<void> {
    await this.run("resources/unsubscribe", opts, (deadline) =>
      this.client.request(
        { method: "resources/unsubscribe", params: { uri } },
        EmptyResultSchema,
        deadline.requestOptions(),
      ),
    );
  }

  onResourceUpdated(listener: (uri: string) => void): () => void {
    this.hub.resourceListeners.add(listener);
    return () => {
      this.hub.resourceListeners.delete(listener);
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const transport = this.sdkTransport;
    // Ending the session upstream frees its state there; best effort and briefly bounded, since
    // the server may be the reason we are closing.
    if (
      !this.hub.closed &&
      (transport instanceof NodeStreamableHttpTransport ||
        transport instanceof StreamableHTTPClientTransport) &&
      transport.sessionId !== undefined
    ) {
      const budget = new Deadline(Math.min(TERMINATE_SESSION_BUDGET_MS, this.target.timeout_ms));
      await budget.race(transport.terminateSession()).catch(() => undefined);
      budget.dispose();
    }
    await this.client.close().catch(() => undefined);
    this.hub.markClosed();
  }
}

/**
 * Hands the server's requests to `relay.handle`, one handler per declared capability (the SDK
 * refuses the others with "method not found"). The SDK validates each request against its
 * method's schema first, and the answer on the way back: a sampling result against
 * CreateMessageResult, an elicitation result against ElicitResult (and, in form mode, applies
 * the requested schema's defaults when `applyDefaults` was declared).
 */
function installServerRequestHandlers(client: Client, relay: ServerRequestHandling): void {
  const declared = relayableCapabilities(relay.capabilities);
  if (declared.sampling)
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) =>
      relay.handle(request, extra.signal),
    );
  if (declared.elicitation)
    client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
      relay.handle(request, extra.signal),
    );
  if (declared.roots)
    client.setRequestHandler(ListRootsRequestSchema, (request, extra) =>
      relay.handle(request, extra.signal),
    );
  // The SDK answers pings itself; a relaying session asks the client the server wants to reach.
  client.setRequestHandler(PingRequestSchema, (request, extra) =>
    relay.handle(request, extra.signal),
  );
}

/**
 * Opens a session: builds the SDK transport for `target.transport`, runs `initialize` within
 * `target.timeout_ms` and returns the live session. Invalid targets throw `AppError`; every
 * upstream failure throws `McpCallError`.
 */
export async function connectMcp(target: McpTarget, opts: McpConnectOptions): Promise<McpSession> {
  assertTargetUsable(target);
  const secrets = secretValues(target);
  const diagnostics = new Diagnostics();
  const hub = new SessionHub();
  const deadline = new Deadline(target.timeout_ms, opts.signal);
  let client: Client | null = null;
  let transport: Transport | null = null;
  try {
    if (opts.policy) await deadline.race(enforcePolicy(target, opts.policy));

    transport = createTransport(
      target,
      diagnostics,
      opts.policy?.blockPrivateNetworks ?? false,
      opts.fastPath ?? true,
    );
    const negotiated: { version: string | null } = { version: null };
    // Protocol.connect chains a pre-set onmessage, which lets us read the negotiated protocol
    // version for every transport (only the HTTP transports expose it otherwise).
    transport.onmessage = (message) => {
      if (negotiated.version !== null || !("result" in message)) return;
      const version = message.result.protocolVersion;
      if (typeof version === "string") negotiated.version = version;
    };

    const relay = opts.serverRequests;
    const sdkClient = new Client(
      { name: opts.clientName, version: opts.clientVersion },
      { capabilities: relay ? relayableCapabilities(relay.capabilities) : {} },
    );
    if (relay) installServerRequestHandlers(sdkClient, relay);
    // What the session did not declare is refused at once, saying so (the SDK's own answer is a
    // bare "Method not found"); ping is the SDK's, or the relay's.
    sdkClient.fallbackRequestHandler = (request) =>
      Promise.reject(
        new McpError(
          ErrorCode.MethodNotFound,
          `Method not found: the calling client did not declare support for ${request.method}`,
        ),
      );
    client = sdkClient;
    sdkClient.onclose = () => {
      hub.markClosed();
    };
    sdkClient.onerror = (error) => {
      if (error instanceof SseError) {
        // A legacy SSE stream that drops would be silently reopened as a new, uninitialized
        // server session; treat the drop as the end of this session instead.
        if (diagnostics.established) void sdkClient.close();
        return;
      }
      if (isZodError(error) || error instanceof SyntaxError) {
        diagnostics.recordProtocolError("it sent output that is not MCP JSON-RPC");
      }
    };
    sdkClient.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      const { level, logger, data } = notification.params;
      const entry: McpLogEntry = logger === undefined ? { level, data } : { level, logger, data };
      for (const listener of hub.logListeners) listener(entry);
    });
    sdkClient.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
      for (const listener of hub.resourceListeners) listener(notification.params.uri);
    });

    await deadline.race(sdkClient.connect(transport, deadline.requestOptions()));
    diagnostics.established = true;
    const toolCalls = (opts.fastPath ?? true) ? new ToolCalls(transport) : null;
    if (toolCalls)
      hub.closeListeners.add(() => {
        toolCalls.closed();
      });

    const serverInfo = sdkClient.getServerVersion();
    const capabilities = sdkClient.getServerCapabilities();
    if (!serverInfo || !capabilities || negotiated.version === null) {
      throw new McpCallError("protocol", "Server did not speak MCP: incomplete initialize result");
    }
    return new SdkMcpSession(
      sdkClient,
      transport,
      toolCalls,
      hub,
      diagnostics,
      target,
      secrets,
      serverInfo,
      negotiated.version,
      capabilities,
      sdkClient.getInstructions() ?? null,
    );
  } catch (error) {
    if (target.transport === "stdio") await nextTick();
    const translated = translateError(error, {
      target,
      diagnostics,
      phase: "connect",
      operation: "initialize",
      timeoutMs: target.timeout_ms,
      timedOut: deadline.timedOut,
      cancelled: deadline.cancelled,
      secrets,
    });
    if (client) void client.close().catch(() => undefined);
    else if (transport) void transport.close().catch(() => undefined);
    throw translated;
  } finally {
    deadline.dispose();
  }
}
