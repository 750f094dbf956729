import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RequestListener } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { serveStatic } from "@hono/node-server/serve-static";
import {
  appRouter,
  callerRole,
  createContext,
  createRestHandler,
  toWireError,
  type ApiDeps,
} from "@mcp/api";
import { TRPC_MAX_BATCH_SIZE } from "@mcp/api/contracts";
import { createDemoMcpFetchHandler } from "@mcp/demo-mcp-server";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono, type Context as HonoContext } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { context } from "@opentelemetry/api";
import {
  DATABASE_RETRY_AFTER_SECONDS,
  DEFAULT_OAUTH_TOKEN_LIFETIMES,
  exportAuditEvents,
  isDatabaseUnavailable,
  isUuid,
  SESSION_COOKIE_NAME,
  type AuthThrottleConfig,
  type SsoProvider,
  type DatabaseHandle,
  type McpRuntime,
  type OAuthTokenLifetimes,
} from "@mcp/core";
import { mountApiDocs } from "./api-docs";
import {
  createGateway,
  jsonRpcError,
  send,
  type GatewayHandler,
  type GatewayOptions,
} from "./gateway";
import type { Logger } from "./logger";
import { mountOAuth } from "./oauth";
import { mountConnectionOAuth } from "./connection-oauth";
import { mountSso } from "./sso";
import {
  endServerSpan,
  METRICS_UNAUTHORIZED,
  metricsAuthorized,
  startServerSpan,
  type Telemetry,
} from "./telemetry";

export interface AppOptions {
  database: DatabaseHandle;
  runtime: McpRuntime;
  logger: Logger;
  maxBodyBytes: number;
  secureCookies: boolean;
  trustProxy: boolean;
  authThrottle: AuthThrottleConfig;
  /** The platform's OpenID Connect identity provider (sign-in with SSO), when configured. */
  sso: SsoProvider | null;
  signup: ApiDeps["signup"];
  mailer: ApiDeps["mailer"];
  invitationTtlSeconds: number;
  /** Origins allowed to send cookie-authenticated mutations besides the request's own host. */
  publicUrl: string | undefined;
  /** The built SPA; served at `/` when present. */
  webDistDir: string | undefined;
  /** Mount the bundled demo MCP server at /demo/mcp. */
  demoMcpServer: boolean;
  /** The gateway answers plain `tools/call` requests itself (see gateway/server.ts). */
  gatewayFastPath: boolean;
  /** Gateway sessions: the streams this process holds and the sessions' bounds. */
  gatewaySessions: GatewayOptions["sessions"];
  /** Bounds of task-augmented tool calls. */
  gatewayTasks: GatewayOptions["tasks"];
  /** How long the gateway's OAuth access and refresh tokens live. */
  oauthTokenLifetimes?: OAuthTokenLifetimes;
  telemetry: Telemetry;
  /** Required to read /metrics on this port, when set. */
  metricsToken: string | undefined;
}

/** `route`: the route template a handler answered, for metrics and spans (never the raw path). */
type Env = {
  Variables: { requestId: string; route: string | undefined; traceId: string | undefined };
};

const REQUEST_ID_PATTERN = /^[\w.-]{1,100}$/;
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function requestIdFrom(incoming: string | null | undefined): string {
  return incoming && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
} as const;

/** One access-log line per request, whichever way it was served. */
/*
 * The request line holds only the fields logRequest picks, none of them a credential, so it skips
 * the redaction pass every other line takes (two thirds of the line's cost, on every call).
 */
const requestLoggers = new WeakMap<Logger, Logger>();

function requestLoggerOf(logger: Logger): Logger {
  let requestLogger = requestLoggers.get(logger);
  if (!requestLogger) {
    requestLogger = logger.child({}, { redact: [] });
    requestLoggers.set(logger, requestLogger);
  }
  return requestLogger;
}

function logRequest(
  logger: Logger,
  fields: {
    request_id: string;
    method: string;
    path: string;
    status: number;
    started: number;
    trace_id?: string | undefined;
  },
): void {
  const { started, ...rest } = fields;
  requestLoggerOf(logger).info(
    { ...rest, duration_ms: Math.round((performance.now() - started) * 10) / 10 },
    "request",
  );
}

function clientIpFrom(
  forwardedFor: string | null | undefined,
  remoteAddress: string | undefined,
  trustProxy: boolean,
): string | null {
  if (trustProxy) {
    // The trusted proxy appends the address it saw; entries before it came from the client
    // itself and could name anyone (and dodge the per-address throttles).
    const forwarded = forwardedFor?.split(",").at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  return remoteAddress ?? null;
}

function clientIp(c: HonoContext<Env>, trustProxy: boolean): string | null {
  let remote: string | undefined;
  try {
    remote = getConnInfo(c).remote.address;
  } catch {
    remote = undefined;
  }
  return clientIpFrom(c.req.header("x-forwarded-for"), remote, trustProxy);
}

/**
 * Browsers attach the session cookie to cross-site requests; a mutation carrying it must come from
 * our own origin. Requests authenticated by an Authorization header are not exposed to this.
 */
function isCrossSiteCookieMutation(req: Request, allowedOrigins: Set<string>): boolean {
  const header = (name: string) => req.headers.get(name);
  if (!UNSAFE_METHODS.has(req.method) && !new URL(req.url).pathname.startsWith("/trpc"))
    return false;
  if (header("authorization")) return false;
  if (!header("cookie")?.includes(`${SESSION_COOKIE_NAME}=`)) return false;
  if (header("sec-fetch-site") === "cross-site") return true;
  const origin = header("origin");
  if (!origin) return false;
  return origin !== new URL(req.url).origin && !allowedOrigins.has(origin);
}

/** How many procedure calls a `/trpc/a,b,c?batch=1` request carries (tRPC splits on `,`). */
function batchedCalls(req: Request): number {
  const url = new URL(req.url);
  if (url.searchParams.get("batch") !== "1") return 1;
  return url.pathname.split(/,|%2c/i).length;
}

/** `/mcp/{agent_id}`: the gateway's path (exactly, as the routes below are matched). */
const GATEWAY_PATH = /^\/mcp\/([^/?#]+)(?:\?|$)/;
const GATEWAY_ROUTE = "/mcp/{agent_id}";

/**
 * The Node request listener: the MCP gateway is served from the Node request directly (see
 * gateway/http.ts), everything else by the Hono app. Both give every request an id, the same
 * security headers and one access-log line.
 */
export function createRequestListener(options: AppOptions): RequestListener {
  const app = createApp(options);
  const hono = getRequestListener(app.fetch);
  const gateway = createGateway({
    db: options.database.db,
    runtime: options.runtime,
    logger: options.logger,
    publicUrl: options.publicUrl,
    maxBodyBytes: options.maxBodyBytes,
    fastPath: options.gatewayFastPath,
    sessions: options.gatewaySessions,
    tasks: options.gatewayTasks,
  });
  return (incoming, outgoing) => {
    const agentId = GATEWAY_PATH.exec(incoming.url ?? "")?.[1];
    if (agentId === undefined) {
      void hono(incoming, outgoing);
      return;
    }
    void serveGateway(gateway, options, agentId, incoming, outgoing);
  };
}

async function serveGateway(
  gateway: GatewayHandler,
  options: AppOptions,
  agentId: string,
  incoming: Parameters<RequestListener>[0],
  outgoing: Parameters<RequestListener>[1],
): Promise<void> {
  const started = performance.now();
  const forwarded = incoming.headers["x-request-id"];
  const requestId = requestIdFrom(Array.isArray(forwarded) ? forwarded[0] : forwarded);
  outgoing.setHeader("x-request-id", requestId);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) outgoing.setHeader(name, value);
  const method = incoming.method ?? "";
  const { tracer } = options.telemetry;
  const traced = tracer
    ? startServerSpan(tracer, `${method} ${GATEWAY_ROUTE}`, incoming.headers, {
        "http.request.method": method,
        "http.route": GATEWAY_ROUTE,
        "mcp.request_id": requestId,
      })
    : null;
  outgoing.once("close", () => {
    const status = outgoing.statusCode;
    options.telemetry.observeRequest({
      surface: "gateway",
      route: GATEWAY_ROUTE,
      method,
      status,
      started,
    });
    if (traced) endServerSpan(traced.span, status);
    logRequest(options.logger, {
      request_id: requestId,
      method,
      path: (incoming.url ?? "").split("?")[0] ?? "",
      status,
      started,
      trace_id: traced?.span.spanContext().traceId,
    });
  });
  const serve = () => serveGatewayRequest(gateway, options, agentId, requestId, incoming, outgoing);
  await (traced ? context.with(traced.context, serve) : serve());
}

async function serveGatewayRequest(
  gateway: GatewayHandler,
  options: AppOptions,
  agentId: string,
  requestId: string,
  incoming: Parameters<RequestListener>[0],
  outgoing: Parameters<RequestListener>[1],
): Promise<void> {
  const forwardedFor = incoming.headers["x-forwarded-for"];
  try {
    await gateway(incoming, outgoing, {
      agentId,
      requestId,
      ip: clientIpFrom(
        Array.isArray(forwardedFor) ? forwardedFor[0] : forwardedFor,
        incoming.socket.remoteAddress,
        options.trustProxy,
      ),
    });
  } catch (error) {
    options.logger.error({ request_id: requestId, err: error }, "unhandled error");
    if (outgoing.headersSent) {
      outgoing.destroy();
      return;
    }
    // MCP clients read JSON-RPC, whatever went wrong.
    send(
      outgoing,
      jsonRpcError(500, ErrorCode.InternalError, `Internal error (request ${requestId})`),
    );
  }
}

export function createApp(options: AppOptions): Hono<Env> {
  const { database, logger } = options;
  const deps: ApiDeps = {
    db: database.db,
    runtime: options.runtime,
    secureCookies: options.secureCookies,
    publicUrl: options.publicUrl,
    authThrottle: options.authThrottle,
    sso: options.sso,
    signup: options.signup,
    mailer: options.mailer,
    invitationTtlSeconds: options.invitationTtlSeconds,
  };
  const allowedOrigins = new Set(options.publicUrl ? [new URL(options.publicUrl).origin] : []);
  const app = new Hono<Env>();

  app.use(async (c, next) => {
    const requestId = requestIdFrom(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    const started = performance.now();
    const { tracer } = options.telemetry;
    // Named once the route is known; the raw path would make every id its own span name.
    const traced = tracer
      ? startServerSpan(tracer, c.req.method, Object.fromEntries(c.req.raw.headers), {
          "http.request.method": c.req.method,
          "mcp.request_id": requestId,
        })
      : null;
    if (traced) {
      c.set("traceId", traced.span.spanContext().traceId);
      await context.with(traced.context, next);
    } else {
      await next();
    }
    const surface = c.req.path.startsWith("/api/v1/")
      ? "rest"
      : c.req.path.startsWith("/trpc/")
        ? "trpc"
        : "other";
    const route = c.get("route") ?? (c.res.status === 404 ? "unmatched" : routePath(c));
    options.telemetry.observeRequest({
      surface,
      route,
      method: c.req.method,
      status: c.res.status,
      started,
    });
    if (traced) {
      traced.span.updateName(`${c.req.method} ${route}`);
      traced.span.setAttribute("http.route", route);
      endServerSpan(traced.span, c.res.status);
    }
    c.header("x-request-id", requestId);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    // Every 503 (an unreachable database, an unready replica) says when to come back.
    if (c.res.status === 503 && !c.res.headers.has("retry-after"))
      c.header("retry-after", String(DATABASE_RETRY_AFTER_SECONDS));
    logRequest(logger, {
      request_id: requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      started,
      trace_id: c.get("traceId"),
    });
  });

  app.onError((error, c) => {
    const requestId = c.get("requestId");
    logger.error({ request_id: requestId, err: error }, "unhandled error");
    if (isDatabaseUnavailable(error)) {
      const { status, ...body } = toWireError(error);
      return c.json({ ...body, request_id: requestId }, status as 503);
    }
    return c.json(
      { code: "INTERNAL_SERVER_ERROR", message: "Internal server error", request_id: requestId },
      500,
    );
  });

  app.notFound((c) => notFound(c));

  app.use("*", async (c, next) => {
    if (isCrossSiteCookieMutation(c.req.raw, allowedOrigins)) {
      return c.json(
        {
          code: "FORBIDDEN",
          message: "Cross-site request refused (Origin check)",
          request_id: c.get("requestId"),
        },
        403,
      );
    }
    await next();
  });

  // Liveness: the process answers. Never touches the database, so an outage there does not get
  // healthy replicas restarted by their orchestrator.
  app.get("/healthz", (c) => c.json({ status: "ok" }));

  // Readiness: worth sending traffic to. The database answers within DATABASE_CONNECT_TIMEOUT_MS
  // and the change feed is live (otherwise every governed call reads through to the database).
  app.get("/readyz", async (c) => {
    const changeFeed = database.changes.live ? "live" : "down";
    let reachable = "ok";
    try {
      await database.ping();
    } catch (error) {
      logger.warn({ err: error }, "readiness check: database unavailable");
      reachable = "unavailable";
    }
    const ready = reachable === "ok" && changeFeed === "live";
    return c.json(
      {
        status: ready ? "ready" : "unavailable",
        database: database.kind,
        checks: { database: reachable, change_feed: changeFeed },
      },
      ready ? 200 : 503,
    );
  });

  app.use(
    "/trpc/*",
    bodyLimit({
      maxSize: options.maxBodyBytes,
      onError: (c) =>
        c.json(
          {
            code: "PAYLOAD_TOO_LARGE",
            message: `Request body exceeds ${options.maxBodyBytes} bytes`,
            request_id: String(c.get("requestId")),
          },
          413,
        ),
    }),
  );
  app.all("/trpc/*", (c) => {
    c.set("route", "/trpc/{procedure}");
    const calls = batchedCalls(c.req.raw);
    if (calls > TRPC_MAX_BATCH_SIZE) {
      return c.json(
        {
          code: "BAD_REQUEST",
          message: `A tRPC batch may carry at most ${TRPC_MAX_BATCH_SIZE} calls; this one has ${calls}`,
          request_id: c.get("requestId"),
        },
        400,
      );
    }
    return fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router: appRouter,
      // The check above answers first with a clearer message; this keeps tRPC's own guard on.
      maxBatchSize: TRPC_MAX_BATCH_SIZE,
      createContext: ({ req, resHeaders }) =>
        createContext(deps, {
          req,
          resHeaders,
          requestId: c.get("requestId"),
          ip: clientIp(c, options.trustProxy),
          surface: "trpc",
        }),
      // tRPC derives the status from its own code; an unreachable database is a 503 here too.
      responseMeta: ({ errors }) =>
        errors.some((error) => toWireError(error).status === 503) ? { status: 503 } : {},
      onError: ({ error, path }) => {
        if (toWireError(error).status >= 500) {
          logger.error(
            { request_id: c.get("requestId"), path, err: error.cause ?? error },
            "procedure failed",
          );
        }
      },
    });
  });

  if (options.telemetry.exposure === "main") {
    const { registry } = options.telemetry.metrics;
    app.get("/metrics", async (c) => {
      if (!metricsAuthorized(c.req.header("authorization") ?? null, options.metricsToken)) {
        c.header("www-authenticate", 'Bearer realm="metrics"');
        return c.json({ ...METRICS_UNAUTHORIZED, request_id: c.get("requestId") }, 401);
      }
      return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
    });
  } else {
    // Not served here: without this the built SPA's fallback would answer /metrics with its HTML.
    app.get("/metrics", (c) => notFound(c));
  }

  let openApiDocument: unknown;
  app.get("/api/v1/openapi.json", async (c) => {
    // Loaded on first use: the generator and its dependencies are a good part of a start.
    const { createOpenApiDocument } = await import("@mcp/api/openapi");
    openApiDocument ??= createOpenApiDocument(
      `${options.publicUrl ?? new URL(c.req.url).origin}/api/v1`,
    );
    return c.json(openApiDocument);
  });
  mountApiDocs(app);

  const rest = createRestHandler({
    router: appRouter,
    basePath: "/api/v1",
    createContext: (info) => createContext(deps, info),
    maxBodyBytes: options.maxBodyBytes,
    onError: (error, info) => {
      logger.error({ request_id: info.requestId, path: info.path, err: error }, "request failed");
    },
  });
  app.get("/api/v1/orgs/:org_id/audit-events/export", (c) =>
    exportAudit(c, deps, clientIp(c, options.trustProxy)),
  );
  app.all("/api/v1/*", (c) =>
    rest(c.req.raw, {
      requestId: c.get("requestId"),
      ip: clientIp(c, options.trustProxy),
      onRoute: (template) => {
        c.set("route", `/api/v1${template}`);
      },
    }),
  );

  mountConnectionOAuth(app, {
    db: database.db,
    runtime: options.runtime,
    publicUrl: options.publicUrl,
    origin: (c) => ({
      ip: clientIp(c, options.trustProxy),
      user_agent: c.req.header("user-agent") ?? null,
      request_id: c.get("requestId"),
    }),
  });

  if (options.sso)
    mountSso(app, {
      db: database.db,
      runtime: options.runtime,
      provider: options.sso,
      signup: options.signup,
      publicUrl: options.publicUrl,
      secureCookies: options.secureCookies,
      origin: (c) => ({
        ip: clientIp(c, options.trustProxy),
        user_agent: c.req.header("user-agent") ?? null,
        request_id: c.get("requestId"),
      }),
    });

  mountOAuth(app, {
    db: database.db,
    outbound: options.runtime.outbound,
    publicUrl: options.publicUrl,
    lifetimes: options.oauthTokenLifetimes ?? DEFAULT_OAUTH_TOKEN_LIFETIMES,
    maxBodyBytes: options.maxBodyBytes,
    throttle: options.authThrottle,
    origin: (c) => ({
      ip: clientIp(c, options.trustProxy),
      user_agent: c.req.header("user-agent") ?? null,
    }),
  });

  if (options.demoMcpServer) {
    // Something real to connect to on a fresh start: register http://<host>/demo/mcp.
    const demo = createDemoMcpFetchHandler();
    app.all("/demo/mcp", (c) => demo(c.req.raw));
  }

  mountSpa(app, options.webDistDir);
  return app;
}

/**
 * `GET /api/v1/orgs/{org_id}/audit-events/export?format=ndjson|csv`: the org's audit events with
 * their hash chain, oldest first, streamed a page at a time (never the whole trail in memory).
 * Outside the REST procedures because those answer one JSON value; same auth and roles as the
 * audit list (viewer), and another org is NOT_FOUND.
 */
async function exportAudit(
  c: HonoContext<Env>,
  deps: ApiDeps,
  ip: string | null,
): Promise<Response> {
  const requestId = c.get("requestId");
  const fail = (status: 400 | 401 | 404, code: string, message: string, field?: string) =>
    c.json(
      {
        code,
        message,
        ...(field ? { issues: [{ path: field, message }] } : {}),
        request_id: requestId,
      },
      status,
    );
  const orgId = c.req.param("org_id") ?? "";
  if (!isUuid(orgId)) return fail(400, "BAD_REQUEST", "Invalid UUID", "org_id");
  const format = c.req.query("format") ?? "ndjson";
  if (format !== "ndjson" && format !== "csv")
    return fail(400, "BAD_REQUEST", "Must be ndjson or csv", "format");
  const resHeaders = new Headers({ "x-request-id": requestId });
  const ctx = await createContext(deps, {
    req: c.req.raw,
    resHeaders,
    requestId,
    ip,
    surface: "rest",
  });
  const auth = ctx.auth;
  if (auth?.type === "refused") return fail(401, "UNAUTHORIZED", auth.reason);
  if (auth?.type !== "user" && auth?.type !== "token")
    return fail(401, "UNAUTHORIZED", "Sign in (or use an API token) to export audit events");
  if ((await callerRole(deps.db, auth, orgId)) === null)
    return fail(404, "NOT_FOUND", "Organization not found");

  const lines = exportAuditEvents(deps.db, orgId, format);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    // One page per pull: the database is read only as fast as the client takes the stream.
    async pull(controller) {
      const next = await lines.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await lines.return(undefined);
    },
  });
  resHeaders.set(
    "content-type",
    format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
  );
  resHeaders.set("content-disposition", `attachment; filename="audit-${orgId}.${format}"`);
  resHeaders.set("cache-control", "no-store");
  return new Response(body, { status: 200, headers: resHeaders });
}

/** Paths nothing serves answer in the API's error shape too, wherever they are. */
function notFound(c: HonoContext<Env>): Response {
  return c.json(
    { code: "NOT_FOUND", message: `No route for ${c.req.path}`, request_id: c.get("requestId") },
    404,
  );
}

const SPA_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

/** Every HTML page of the SPA, however it is reached (`/`, `/index.html`, a client route). */
function setSpaPageHeaders(c: HonoContext<Env>): void {
  c.header("content-security-policy", SPA_CSP);
  c.header("cache-control", "no-cache");
}

/** Paths of the API, the protocols and the build: nothing served there is a JSON 404, never the SPA. */
const API_PREFIXES = [
  "/api/",
  "/trpc",
  "/mcp",
  "/.well-known/",
  "/oauth/authorize",
  "/oauth/token",
  "/oauth/register",
  "/oauth/revoke",
  "/auth/sso/",
  "/assets/",
];

/** The built SPA, with client-side routes falling back to index.html. */
function mountSpa(app: Hono<Env>, distDir: string | undefined): void {
  if (!distDir || !existsSync(join(distDir, "index.html"))) return;
  const indexHtml = readFileSync(join(distDir, "index.html"), "utf8");
  app.use("/assets/*", async (c, next) => {
    await next();
    if (c.res.ok) c.header("cache-control", "public, max-age=31536000, immutable");
  });
  app.use(
    "*",
    serveStatic<Env>({
      root: distDir,
      onFound: (path, c) => {
        if (path.endsWith(".html")) setSpaPageHeaders(c);
      },
    }),
  );
  app.get("*", (c) => {
    // A missing build file is a 404, not the SPA's page: a browser holding an old page asks for
    // chunks a deploy removed, and must get an error it can act on (reload), not HTML as script.
    if (API_PREFIXES.some((prefix) => c.req.path.startsWith(prefix))) {
      return notFound(c);
    }
    setSpaPageHeaders(c);
    return c.html(indexHtml);
  });
}
