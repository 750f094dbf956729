/**
 * Real MCP servers for tests, built with the official SDK and bound to 127.0.0.1 on ephemeral
 * ports. Nothing here is a mock: the client side talks to these over real sockets and pipes, so
 * the tests exercise the same code paths as production traffic.
 *
 *   startTestMcpServer()      Streamable HTTP server (configurable tools, auth, pagination, …)
 *   startSseTestMcpServer()   legacy HTTP+SSE server with the same tools
 *   startNonMcpHttpServer()   plain HTTP server answering HTML, non-JSON-RPC JSON, errors, or nothing
 *   prepareStdioTestServer()  command + args for a stdio MCP server (see scripts/stdio-mcp-server.ts)
 *   findRefusedPort()         a local port nothing listens on
 *   startTamperingProxy()     forwards to an MCP server, answering chosen tool calls itself
 */
import { createHash, randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  isInitializeRequest,
  ListToolsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import type {
  CallToolResult,
  LoggingLevel,
  Tool,
  ToolAnnotations,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { stdioLaunch, type StdioLaunch, type StdioServer } from "../mcp/stdio-servers";
import type { McpTarget } from "../mcp/target";

const declaredDefaults: Omit<StdioServer, "id" | "name" | "command" | "args"> = {
  description: "",
  env: [],
  cwd: null,
  sandbox: "none",
  read_only_paths: [],
};

type JsonSchemaObject = Record<string, unknown>;

/** What a test tool's handler can do besides returning its result. */
export interface TestToolContext {
  /** Aborted when the client cancels the call or the session closes. */
  signal: AbortSignal;
  /** Headers of the HTTP request that carried the call, lower-cased; empty for stdio. */
  headers: Record<string, string>;
  /** Sends `notifications/progress`; a no-op when the client did not ask for progress. */
  progress: (progress: number, total?: number, message?: string) => Promise<void>;
  /** Sends a `notifications/message` log entry on the call's stream. */
  log: (level: LoggingLevel, data: unknown) => Promise<void>;
}

/**
 * A tool served by the test servers. Zod schemas are converted to JSON Schema for `tools/list`
 * and validate arguments (a mismatch is a JSON-RPC InvalidParams error); raw JSON Schema objects
 * are listed as-is and arguments are passed through unvalidated.
 */
export interface TestTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: z.ZodType | JsonSchemaObject;
  outputSchema?: z.ZodType | JsonSchemaObject;
  annotations?: ToolAnnotations;
  handler: (
    args: Record<string, unknown>,
    ctx: TestToolContext,
  ) => CallToolResult | Promise<CallToolResult>;
}

/** Declares a tool whose handler receives arguments typed (and validated) by a zod object schema. */
export function defineTestTool<Input extends z.ZodObject>(definition: {
  name: string;
  title?: string;
  description?: string;
  input: Input;
  output?: z.ZodObject;
  annotations?: ToolAnnotations;
  handler: (
    args: z.output<Input>,
    ctx: TestToolContext,
  ) => CallToolResult | Promise<CallToolResult>;
}): TestTool {
  const { input, output, handler, ...rest } = definition;
  return {
    ...rest,
    inputSchema: input,
    ...(output ? { outputSchema: output } : {}),
    handler: (args, ctx) => handler(input.parse(args), ctx),
  };
}

export interface TestMcpServerOptions {
  /** Reported as `serverInfo.name` (default "test-mcp-server"). */
  name?: string;
  /** Reported as `serverInfo.version` (default "1.0.0"). */
  version?: string;
  /** Extra tools, listed after the built-in ones. */
  tools?: TestTool[];
  /** Serve the built-in tools described on `builtinTestTools` (default true). */
  builtinTools?: boolean;
  /** Adds `generated_0001` … `generated_<n>`, each echoing its own name. */
  generatedTools?: number;
  /** `tools/list` page size; without it every tool comes in one page. */
  pageSize?: number;
  /** When set, every request must carry `Authorization: Bearer <token>` or gets HTTP 401. */
  bearerToken?: string;
  /** Starting value for `toolsVersion` (default 1); see `RunningTestMcpServer.setToolsVersion`. */
  toolsVersion?: number;
  /** Streamable HTTP only: answer POSTs with plain JSON instead of an SSE stream (default false). */
  enableJsonResponse?: boolean;
}

export interface RunningMcpServer {
  /** The endpoint to connect to. */
  url: string;
  /** Stops the server and drops every open connection. */
  close: () => Promise<void>;
}

export interface RunningTestMcpServer extends RunningMcpServer {
  /** Current tool-set version: every version v ≥ 2 adds a tool `added_in_v<v>`. */
  readonly toolsVersion: number;
  /** Changes the tool set for re-sync tests and notifies connected sessions (`tools/list_changed`). */
  setToolsVersion: (version: number) => void;
  /**
   * Replaces the extra tools (`options.tools`), e.g. with a changed definition of one of them,
   * and notifies connected sessions like setToolsVersion.
   */
  setTools: (tools: TestTool[]) => void;
  /** Sessions currently open on the server. */
  readonly sessionCount: number;
  /** Sessions created since start (counts `initialize` handshakes). */
  readonly sessionsCreated: number;
  /** Forgets every session, as a restarted server would; the next request on one gets 404 (SSE: the stream ends). */
  dropSessions: () => Promise<void>;
  /**
   * Resolves when the next `tools/call` (of `tool`, if given) starts running on the server, or
   * ends there. Call it before the action that causes the call, then await it.
   */
  nextCall: (phase: TestCallPhase, tool?: string) => Promise<TestCallEvent>;
}

const ONE_PIXEL_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

/** A 10 ms silent 8 kHz mono 8-bit WAV, so audio content carries real, decodable data. */
function silentWavBase64(): string {
  const samples = 80;
  const buffer = Buffer.alloc(44 + samples, 0x80);
  buffer.write("RIFF", 0, "ascii");
  buffer.writeUInt32LE(36 + samples, 4);
  buffer.write("WAVEfmt ", 8, "ascii");
  buffer.writeUInt32LE(16, 16);
  buffer.writeUInt16LE(1, 20);
  buffer.writeUInt16LE(1, 22);
  buffer.writeUInt32LE(8000, 24);
  buffer.writeUInt32LE(8000, 28);
  buffer.writeUInt16LE(1, 32);
  buffer.writeUInt16LE(8, 34);
  buffer.write("data", 36, "ascii");
  buffer.writeUInt32LE(samples, 40);
  return buffer.toString("base64");
}

function text(value: string): CallToolResult["content"][number] {
  return { type: "text", text: value };
}

/**
 * Tools every test server offers unless `builtinTools: false`:
 *   echo {text}            returns the text
 *   add {a, b}             structured output `{sum}` (declares an outputSchema)
 *   slow {ms}              sleeps, honouring cancellation
 *   fail                   returns `isError: true`
 *   huge {bytes?}          one text block of `bytes` characters (default 2 MiB)
 *   mixed                  text + image + audio + embedded resource + resource link + structuredContent
 *   progress {steps?, delayMs?}  sends progress and log notifications, then returns
 *   echo_headers           the HTTP request headers the call arrived with, as JSON
 */
export const builtinTestTools: readonly TestTool[] = [
  defineTestTool({
    name: "echo",
    description: "Returns the given text",
    input: z.object({ text: z.string() }),
    annotations: { readOnlyHint: true },
    handler: (args) => ({ content: [text(args.text)] }),
  }),
  defineTestTool({
    name: "add",
    description: "Adds two numbers",
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.object({ sum: z.number() }),
    handler: ({ a, b }) => ({ content: [text(String(a + b))], structuredContent: { sum: a + b } }),
  }),
  defineTestTool({
    name: "slow",
    description: "Sleeps for `ms` milliseconds",
    input: z.object({ ms: z.number().int().min(0) }),
    handler: async ({ ms }, ctx) => {
      await sleep(ms, undefined, { signal: ctx.signal });
      return { content: [text(`slept ${ms} ms`)] };
    },
  }),
  defineTestTool({
    name: "fail",
    description: "Always reports a tool error",
    input: z.object({}),
    handler: () => ({ isError: true, content: [text("The tool failed on purpose")] }),
  }),
  defineTestTool({
    name: "huge",
    description: "Returns a large text block",
    input: z.object({
      bytes: z
        .number()
        .int()
        .min(0)
        .max(64 * 1024 * 1024)
        .default(2 * 1024 * 1024),
    }),
    handler: ({ bytes }) => ({ content: [text("x".repeat(bytes))] }),
  }),
  defineTestTool({
    name: "mixed",
    description: "Returns every content type at once",
    input: z.object({}),
    handler: () => ({
      content: [
        text("Here is everything"),
        { type: "image", data: ONE_PIXEL_PNG, mimeType: "image/png" },
        { type: "audio", data: silentWavBase64(), mimeType: "audio/wav" },
        {
          type: "resource",
          resource: { uri: "test://readme", mimeType: "text/plain", text: "Embedded readme" },
        },
        {
          type: "resource_link",
          uri: "test://items/42",
          name: "item-42",
          mimeType: "application/json",
        },
      ],
      structuredContent: { kind: "mixed", items: 5 },
    }),
  }),
  defineTestTool({
    name: "progress",
    description: "Reports progress and logs while it works",
    input: z.object({
      steps: z.number().int().min(1).max(100).default(3),
      delayMs: z.number().int().min(0).default(10),
    }),
    handler: async ({ steps, delayMs }, ctx) => {
      for (let step = 1; step <= steps; step++) {
        await ctx.progress(step, steps, `step ${step} of ${steps}`);
        await ctx.log("info", { step });
        await sleep(delayMs, undefined, { signal: ctx.signal });
      }
      return { content: [text(`completed ${steps} steps`)] };
    },
  }),
  defineTestTool({
    name: "echo_headers",
    description: "Returns the HTTP headers the call arrived with",
    input: z.object({}),
    handler: (_args, ctx) => ({ content: [text(JSON.stringify(ctx.headers))] }),
  }),
];

function generatedTool(index: number): TestTool {
  const name = `generated_${String(index).padStart(4, "0")}`;
  return {
    name,
    description: `Generated tool number ${index}`,
    inputSchema: { type: "object", properties: { note: { type: "string" } } },
    handler: () => ({ content: [text(name)] }),
  };
}

function versionTool(version: number): TestTool {
  const name = `added_in_v${version}`;
  return {
    name,
    description: `Appeared in tool-set version ${version}`,
    inputSchema: { type: "object" },
    handler: () => ({ content: [text(name)] }),
  };
}

function toJsonSchema(
  schema: z.ZodType | JsonSchemaObject,
  io: "input" | "output",
): JsonSchemaObject {
  return schema instanceof z.ZodType ? z.toJSONSchema(schema, { io }) : schema;
}

function toObjectSchema(
  schema: z.ZodType | JsonSchemaObject,
  io: "input" | "output",
): Tool["inputSchema"] {
  const json = toJsonSchema(schema, io);
  return { ...json, type: "object" };
}

function listing(tool: TestTool): Tool {
  return {
    name: tool.name,
    ...(tool.title === undefined ? {} : { title: tool.title }),
    ...(tool.description === undefined ? {} : { description: tool.description }),
    inputSchema: tool.inputSchema ? toObjectSchema(tool.inputSchema, "input") : { type: "object" },
    ...(tool.outputSchema ? { outputSchema: toObjectSchema(tool.outputSchema, "output") } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
  };
}

function headerRecord(
  headers: Record<string, string | string[] | undefined> | undefined,
): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined)
      record[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return record;
}

interface SharedState {
  options: TestMcpServerOptions;
  toolsVersion: number;
  servers: Set<McpServer>;
  calls: CallEvents;
}

/** What happened to a `tools/call` on a test server, for tests that wait for it. */
export type TestCallPhase = "started" | "finished";

export interface TestCallEvent {
  phase: TestCallPhase;
  tool: string;
  /** `finished` only: how the handler ended. */
  outcome?: "returned" | "threw" | "cancelled";
}

/**
 * Lets tests wait for a call to reach the server or to end there, instead of sleeping and hoping
 * the call got that far.
 */
class CallEvents {
  private readonly waiters = new Set<{
    matches: (event: TestCallEvent) => boolean;
    resolve: (event: TestCallEvent) => void;
  }>();

  emit(event: TestCallEvent): void {
    for (const waiter of this.waiters) {
      if (!waiter.matches(event)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(event);
    }
  }

  next(phase: TestCallPhase, tool?: string): Promise<TestCallEvent> {
    return new Promise((resolve) => {
      this.waiters.add({
        matches: (event) => event.phase === phase && (tool === undefined || event.tool === tool),
        resolve,
      });
    });
  }
}

function newSharedState(options: TestMcpServerOptions): SharedState {
  return {
    options,
    toolsVersion: options.toolsVersion ?? 1,
    servers: new Set(),
    calls: new CallEvents(),
  };
}

function currentTools(state: SharedState): TestTool[] {
  const tools = [
    ...(state.options.builtinTools === false ? [] : builtinTestTools),
    ...(state.options.tools ?? []),
  ];
  for (let index = 1; index <= (state.options.generatedTools ?? 0); index++)
    tools.push(generatedTool(index));
  for (let version = 2; version <= state.toolsVersion; version++) tools.push(versionTool(version));
  return tools;
}

/** One SDK server per session, as the SDK requires; tools come from the shared, mutable state. */
function createSessionServer(state: SharedState): McpServer {
  const server = new McpServer(
    { name: state.options.name ?? "test-mcp-server", version: state.options.version ?? "1.0.0" },
    {
      capabilities: { tools: { listChanged: true }, logging: {} },
      instructions: "A server for automated tests.",
    },
  );

  // tools/list and tools/call are served directly so tests control pagination and can register
  // raw JSON-Schema tools, which McpServer.registerTool does not accept.
  server.server.setRequestHandler(ListToolsRequestSchema, (request) => {
    const tools = currentTools(state).map(listing);
    const pageSize = state.options.pageSize ?? tools.length;
    const cursor = request.params?.cursor;
    const start = cursor === undefined ? 0 : Number(cursor);
    if (!Number.isInteger(start) || start < 0 || start > tools.length) {
      throw new McpError(ErrorCode.InvalidParams, `Invalid cursor: ${cursor ?? ""}`);
    }
    const end = start + Math.max(pageSize, 1);
    return {
      tools: tools.slice(start, end),
      ...(end < tools.length ? { nextCursor: String(end) } : {}),
    };
  });

  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = currentTools(state).find((candidate) => candidate.name === request.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
    let args: Record<string, unknown> = request.params.arguments ?? {};
    if (tool.inputSchema instanceof z.ZodType) {
      const parsed = tool.inputSchema.safeParse(args);
      if (!parsed.success) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `Invalid arguments for ${tool.name}: ${z.prettifyError(parsed.error)}`,
        );
      }
      args = z.record(z.string(), z.unknown()).parse(parsed.data);
    }
    const progressToken = extra._meta?.progressToken;
    const ctx: TestToolContext = {
      signal: extra.signal,
      headers: headerRecord(extra.requestInfo?.headers),
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await extra.sendNotification({
          method: "notifications/progress",
          params: {
            progressToken,
            progress,
            ...(total === undefined ? {} : { total }),
            ...(message === undefined ? {} : { message }),
          },
        });
      },
      log: async (level, data) => {
        await extra.sendNotification({
          method: "notifications/message",
          params: { level, logger: tool.name, data },
        });
      },
    };
    state.calls.emit({ phase: "started", tool: tool.name });
    try {
      const result = await tool.handler(args, ctx);
      state.calls.emit({ phase: "finished", tool: tool.name, outcome: "returned" });
      return result;
    } catch (error) {
      const outcome = extra.signal.aborted ? "cancelled" : "threw";
      state.calls.emit({ phase: "finished", tool: tool.name, outcome });
      throw error;
    }
  });

  server.registerPrompt(
    "greeting",
    { description: "Greets someone by name", argsSchema: { name: z.string() } },
    ({ name }) => ({
      description: `A greeting for ${name}`,
      messages: [{ role: "user", content: { type: "text", text: `Please greet ${name} warmly.` } }],
    }),
  );

  server.registerResource(
    "readme",
    "test://readme",
    { description: "A static text resource", mimeType: "text/plain" },
    (uri) => ({
      contents: [
        { uri: uri.href, mimeType: "text/plain", text: "This is the test server readme." },
      ],
    }),
  );

  server.registerResource(
    "item",
    new ResourceTemplate("test://items/{id}", { list: undefined }),
    { description: "An item by id", mimeType: "application/json" },
    (uri, variables) => ({
      contents: [
        { uri: uri.href, mimeType: "application/json", text: JSON.stringify({ id: variables.id }) },
      ],
    }),
  );

  return server;
}

function listen(server: HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      const address = server.address();
      if (address === null || typeof address === "string")
        reject(new Error("Server is not bound to a TCP port"));
      else resolve(address.port);
    });
  });
}

function stopListening(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

async function readJsonBody(
  req: IncomingMessage,
): Promise<{ ok: true; value: unknown } | { ok: false }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return { ok: false };
    chunks.push(buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { ok: false };
  }
}

function sendJsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

function authorized(req: IncomingMessage, res: ServerResponse, token: string | undefined): boolean {
  if (token === undefined || req.headers.authorization === `Bearer ${token}`) return true;
  res.writeHead(401, {
    "content-type": "application/json",
    "www-authenticate": 'Bearer realm="test-mcp-server"',
  });
  res.end(
    JSON.stringify({ error: "invalid_token", error_description: "Missing or wrong bearer token" }),
  );
  return false;
}

function reportHandlerFailure(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined);
    return;
  }
  sendJsonRpcError(
    res,
    500,
    ErrorCode.InternalError,
    error instanceof Error ? error.message : "Internal error",
  );
}

function notifyToolListChanged(state: SharedState): void {
  for (const server of state.servers) if (server.isConnected()) server.sendToolListChanged();
}

function runningServer(
  url: string,
  http: HttpServer,
  state: SharedState,
  sessions: Map<string, { close: () => Promise<void> }>,
  created: () => number,
): RunningTestMcpServer {
  const dropSessions = async (): Promise<void> => {
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.all(open.map((session) => session.close()));
  };
  return {
    url,
    get toolsVersion() {
      return state.toolsVersion;
    },
    setToolsVersion(version: number) {
      state.toolsVersion = version;
      notifyToolListChanged(state);
    },
    setTools(tools: TestTool[]) {
      state.options = { ...state.options, tools };
      notifyToolListChanged(state);
    },
    get sessionCount() {
      return sessions.size;
    },
    get sessionsCreated() {
      return created();
    },
    dropSessions,
    nextCall: (phase, tool) => state.calls.next(phase, tool),
    close: async () => {
      await dropSessions();
      await stopListening(http);
    },
  };
}

/**
 * Starts a stateful Streamable HTTP MCP server at `http://127.0.0.1:<port>/mcp` serving the
 * built-in tools (see `builtinTestTools`), a `greeting` prompt, a `test://readme` resource and a
 * `test://items/{id}` resource template.
 */
export async function startTestMcpServer(
  options: TestMcpServerOptions = {},
): Promise<RunningTestMcpServer> {
  const state = newSharedState(options);
  const sessions = new Map<
    string,
    { transport: StreamableHTTPServerTransport; close: () => Promise<void> }
  >();
  let created = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (path !== "/mcp") {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not found");
      return;
    }
    if (!authorized(req, res, options.bearerToken)) return;

    let body: unknown;
    if (req.method === "POST") {
      const parsed = await readJsonBody(req);
      if (!parsed.ok) {
        sendJsonRpcError(res, 400, ErrorCode.ParseError, "Parse error");
        return;
      }
      body = parsed.value;
    }

    const sessionHeader = req.headers["mcp-session-id"];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (!session) {
        sendJsonRpcError(res, 404, -32001, "Session not found");
        return;
      }
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      sendJsonRpcError(
        res,
        400,
        ErrorCode.InvalidRequest,
        "Bad Request: No valid session ID provided",
      );
      return;
    }

    const server = createSessionServer(state);
    const close = async (): Promise<void> => {
      state.servers.delete(server);
      await server.close();
    };
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: options.enableJsonResponse ?? false,
      onsessioninitialized: (id) => {
        created++;
        sessions.set(id, { transport, close });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    state.servers.add(server);
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      reportHandlerFailure(res, error);
    });
  });
  const port = await listen(http);
  return runningServer(`http://127.0.0.1:${port}/mcp`, http, state, sessions, () => created);
}

/**
 * Starts a legacy HTTP+SSE MCP server (protocol 2024-11-05 style): the client opens
 * `GET http://127.0.0.1:<port>/sse`, learns its POST endpoint from the `endpoint` event and posts
 * to `/messages?sessionId=…`. Same tools, prompt and resources as `startTestMcpServer`.
 */
export async function startSseTestMcpServer(
  options: Omit<TestMcpServerOptions, "enableJsonResponse"> = {},
): Promise<RunningTestMcpServer> {
  const state = newSharedState(options);
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the legacy transport is what is under test
  const sessions = new Map<string, { transport: SSEServerTransport; close: () => Promise<void> }>();
  let created = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (!authorized(req, res, options.bearerToken)) return;

    if (req.method === "GET" && url.pathname === "/sse") {
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the legacy transport is what is under test
      const transport = new SSEServerTransport("/messages", res);
      const server = createSessionServer(state);
      const close = async (): Promise<void> => {
        state.servers.delete(server);
        await server.close();
      };
      sessions.set(transport.sessionId, { transport, close });
      created++;
      state.servers.add(server);
      res.on("close", () => {
        sessions.delete(transport.sessionId);
        void close();
      });
      await server.connect(transport);
      return;
    }
    if (req.method === "POST" && url.pathname === "/messages") {
      const session = sessions.get(url.searchParams.get("sessionId") ?? "");
      if (!session) {
        res.writeHead(404, { "content-type": "text/plain" }).end("Session not found");
        return;
      }
      const parsed = await readJsonBody(req);
      if (!parsed.ok) {
        res.writeHead(400, { "content-type": "text/plain" }).end("Invalid JSON");
        return;
      }
      await session.transport.handlePostMessage(req, res, parsed.value);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("Not found");
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      reportHandlerFailure(res, error);
    });
  });
  const port = await listen(http);
  return runningServer(`http://127.0.0.1:${port}/sse`, http, state, sessions, () => created);
}

export interface RunningNonMcpServer extends RunningMcpServer {
  /** 200 text/html: a web page, as when a user pastes a site's URL. */
  html: string;
  /** 200 application/json with valid JSON that is not JSON-RPC. */
  notJsonRpc: string;
  /** 200 application/json whose body is not JSON at all. */
  invalidJson: string;
  /** Accepts the request and never answers. */
  hang: string;
  /** Resolves when the next request to `hang` has arrived (call it before sending that request). */
  nextHang: () => Promise<void>;
  /** Answers with the given HTTP status and a short text body. */
  status: (code: number) => string;
}

/** A plain HTTP server that does not speak MCP, for "wrong endpoint" tests. */
export async function startNonMcpHttpServer(): Promise<RunningNonMcpServer> {
  const hangWaiters: (() => void)[] = [];
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    req.resume();
    if (path === "/html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        "<!doctype html><html><head><title>Welcome</title></head><body><h1>Hello</h1></body></html>",
      );
    } else if (path === "/not-json-rpc") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ hello: "world", status: "ok" }));
    } else if (path === "/invalid-json") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{this is not json");
    } else if (path === "/hang") {
      // Deliberately left open; stopListening() tears the socket down.
      for (const arrived of hangWaiters.splice(0)) arrived();
    } else if (path.startsWith("/status/")) {
      const code = Number(path.slice("/status/".length));
      res.writeHead(Number.isInteger(code) && code >= 200 && code <= 599 ? code : 400, {
        "content-type": "text/plain",
      });
      res.end(`status ${code}`);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not found");
    }
  });
  const port = await listen(http);
  const base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    html: `${base}/html`,
    notJsonRpc: `${base}/not-json-rpc`,
    invalidJson: `${base}/invalid-json`,
    hang: `${base}/hang`,
    nextHang: () =>
      new Promise((resolve) => {
        hangWaiters.push(resolve);
      }),
    status: (code) => `${base}/status/${code}`,
    close: () => stopListening(http),
  };
}

/** What a tampering proxy answers instead of the upstream server. */
export interface TamperedAnswer {
  status: number;
  contentType: string;
  /** Built from the request's JSON-RPC id. */
  body: (id: unknown) => string;
}

/**
 * Forwards every request to `targetUrl` (a Streamable HTTP MCP endpoint) byte for byte, except a
 * `tools/call` of a tool named in `answers`, which gets the answer given there: lets tests sync a
 * real server's tools and then see how a client copes with broken answers to its calls.
 */
export async function startTamperingProxy(
  targetUrl: string,
  answers: Record<string, TamperedAnswer>,
): Promise<RunningMcpServer> {
  const forwarded = new Set(["accept", "content-type", "mcp-session-id", "mcp-protocol-version"]);
  const http = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      if (req.method === "POST") {
        let message: { id?: unknown; method?: unknown; params?: { name?: unknown } } = {};
        try {
          message = JSON.parse(body.toString("utf8")) as typeof message;
        } catch {
          // Not JSON: the upstream server answers it.
        }
        const name = message.params?.name;
        const answer =
          message.method === "tools/call" && typeof name === "string" ? answers[name] : undefined;
        if (answer) {
          res.writeHead(answer.status, { "content-type": answer.contentType });
          res.end(answer.body(message.id));
          return;
        }
      }
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers))
        if (forwarded.has(key) && typeof value === "string") headers[key] = value;
      const upstream = await fetch(targetUrl, {
        method: req.method ?? "GET",
        headers,
        ...(req.method === "POST" ? { body } : {}),
      });
      const responseHeaders: Record<string, string> = {};
      upstream.headers.forEach((value, key) => {
        if (key !== "content-length" && key !== "transfer-encoding") responseHeaders[key] = value;
      });
      res.writeHead(upstream.status, responseHeaders);
      if (!upstream.body) {
        res.end();
        return;
      }
      const reader = upstream.body.getReader();
      res.once("close", () => void reader.cancel().catch(() => undefined));
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        res.write(chunk.value);
      }
      res.end();
    })().catch(() => {
      res.destroy();
    });
  });
  const port = await listen(http);
  return { url: `http://127.0.0.1:${port}/mcp`, close: () => stopListening(http) };
}

/** Returns only when its call is cancelled: for deadlines that must fire. */
export const stallTestTool: TestTool = defineTestTool({
  name: "stall",
  description: "Returns only when the call is cancelled",
  input: z.object({}),
  handler: async (_args, ctx) => {
    await new Promise((resolve) => {
      ctx.signal.addEventListener("abort", resolve, { once: true });
    });
    return { content: [text("cancelled")] };
  },
});

/** Fails with a JSON-RPC error (with data) instead of a result. */
export const jsonRpcErrorTestTool: TestTool = defineTestTool({
  name: "upstream_error",
  description: "Fails with a JSON-RPC error",
  input: z.object({}),
  handler: () => {
    throw new McpError(ErrorCode.InvalidRequest, "The upstream refused", { why: "test" });
  },
});

/**
 * Answers no MCP server should give to a `tools/call`, for `startTamperingProxy`, by the name of
 * the tool they answer for; `brokenAnswerTestTools` are those tools, to sync before the proxy
 * breaks their calls.
 */
export const brokenTestAnswers: Record<string, TamperedAnswer> = {
  garbage_result: {
    status: 200,
    contentType: "application/json",
    body: (id) => JSON.stringify({ jsonrpc: "2.0", id, result: { content: "not a list" } }),
  },
  not_json: { status: 200, contentType: "application/json", body: () => "{this is not json" },
  http_500: { status: 500, contentType: "text/plain", body: () => "upstream crashed" },
  html: { status: 200, contentType: "text/html", body: () => "<html>hello</html>" },
  wrong_id: {
    status: 200,
    contentType: "application/json",
    body: () => JSON.stringify({ jsonrpc: "2.0", id: "nobody-asked", result: { content: [] } }),
  },
};

export const brokenAnswerTestTools: TestTool[] = Object.keys(brokenTestAnswers).map((name) =>
  defineTestTool({
    name,
    description: `Answered by a tampering proxy (${name})`,
    input: z.object({}),
    handler: () => ({ content: [text("unreachable")] }),
  }),
);

/** A 127.0.0.1 port with nothing listening on it (bound, then released), so connecting is refused. */
export async function findRefusedPort(): Promise<number> {
  const http = createServer();
  const port = await listen(http);
  await stopListening(http);
  return port;
}

let compiledStdioServer: Promise<string> | undefined;

/**
 * The stdio fixture is TypeScript; core has no TypeScript runner at runtime, so it is transpiled
 * once (keyed by content hash) into node_modules/.cache where its bare imports still resolve
 * against core's own dependencies.
 */
function compileStdioServer(): Promise<string> {
  compiledStdioServer ??= (async () => {
    const sourcePath = fileURLToPath(new URL("./scripts/stdio-mcp-server.ts", import.meta.url));
    const source = readFileSync(sourcePath, "utf8");
    const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
    const directory = fileURLToPath(
      new URL("../../node_modules/.cache/mcp-testing/", import.meta.url),
    );
    const output = join(directory, `stdio-mcp-server-${hash}.mjs`);
    if (existsSync(output)) return output;
    const { default: ts } = await import("typescript");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: sourcePath,
    });
    mkdirSync(directory, { recursive: true });
    // Write-then-rename so parallel test workers never run a half-written file.
    const partial = `${output}.${process.pid}.${randomUUID()}.tmp`;
    writeFileSync(partial, outputText);
    renameSync(partial, output);
    for (const stale of readdirSync(directory)) {
      if (
        stale.startsWith("stdio-mcp-server-") &&
        stale.endsWith(".mjs") &&
        join(directory, stale) !== output
      ) {
        rmSync(join(directory, stale), { force: true });
      }
    }
    return output;
  })();
  return compiledStdioServer;
}

export interface StdioTestServer {
  /** `process.execPath`: the Node binary running the tests. */
  command: string;
  /** Script path followed by the flags given to `prepareStdioTestServer`. */
  args: string[];
  /** A declaration of this server as an operator would write it in MCP_STDIO_SERVERS. */
  declaration: (
    id: string,
    extra?: {
      env?: string[];
      sandbox?: "none" | "bwrap";
      read_only_paths?: string[];
      cwd?: string;
    },
  ) => Record<string, unknown>;
  /** How the unsandboxed declaration of this server is launched, with `overrides` applied. */
  launch: (overrides?: Partial<StdioLaunch>) => StdioLaunch;
  /** An `McpTarget` for this server, with `overrides` applied. */
  target: (overrides?: Partial<McpTarget>) => McpTarget;
}

/**
 * A stdio MCP server (scripts/stdio-mcp-server.ts) with tools `echo {text}`, `env {names}`,
 * `slow {ms}`, `fail`, `crash` (exits the process mid-call with code 3) and `pid`.
 * `flags`: `--name <n>`, `--exit-on-start <code>`, `--garbage`, `--ignore-stdin-eof`.
 */
export async function prepareStdioTestServer(flags: string[] = []): Promise<StdioTestServer> {
  const script = await compileStdioServer();
  const command = process.execPath;
  const args = [script, ...flags];
  const launch = (overrides: Partial<StdioLaunch> = {}): StdioLaunch => ({
    ...stdioLaunch(
      { ...declaredDefaults, id: "test", name: "test", command, args },
      { bwrapPath: null, hiddenPaths: [] },
    ),
    ...overrides,
  });
  return {
    command,
    args,
    declaration: (id, extra = {}) => ({ id, command, args, ...extra }),
    launch,
    target: (overrides = {}) => ({
      transport: "stdio",
      url: null,
      stdio: launch(),
      headers: {},
      secret: null,
      timeout_ms: 10_000,
      ...overrides,
    }),
  };
}

/** An `McpTarget` for an HTTP-based test server. */
export function httpTestTarget(
  transport: "streamable_http" | "sse",
  url: string,
  overrides: Partial<McpTarget> = {},
): McpTarget {
  return {
    transport,
    url,
    stdio: null,
    headers: {},
    secret: null,
    timeout_ms: 5_000,
    ...overrides,
  };
}
