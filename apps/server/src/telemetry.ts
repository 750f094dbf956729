import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import type { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { commonJsExports, createMetrics, type HttpSurface, type Metrics } from "@mcp/core";
import type { Env } from "./env";
import type { Logger } from "./logger";

/*
 * Metrics (Prometheus, prom-client) and traces (OpenTelemetry, OTLP over HTTP) of one server.
 * Both are per server rather than process-global, so several servers in one process (the tests)
 * count and trace apart.
 */

export interface Telemetry {
  metrics: Metrics;
  /** Null unless OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set. */
  tracer: Tracer | null;
  /** Where `/metrics` is served, if anywhere (see `metricsExposure`). */
  exposure: MetricsExposure;
  /** Counts and times one answered HTTP request. */
  observeRequest(request: ObservedRequest): void;
  /** Exports the spans still buffered and stops the exporter. */
  shutdown(): Promise<void>;
}

export interface ObservedRequest {
  surface: HttpSurface;
  /** A route template (`/api/v1/agents/{agent_id}`), never the raw path. */
  route: string;
  method: string;
  status: number;
  /** `performance.now()` when the request arrived. */
  started: number;
}

/**
 * `port`: a listener of its own (METRICS_PORT wins over the main port); `main`: `/metrics` on the
 * main port; `off`: production without METRICS_TOKEN or METRICS_PORT, where unauthenticated
 * metrics on the public port would show anyone the traffic, so they are not served.
 */
export type MetricsExposure = "port" | "main" | "off";

export function metricsExposure(env: Env): MetricsExposure {
  if (env.METRICS_PORT !== undefined) return "port";
  if (env.METRICS_TOKEN !== undefined || env.NODE_ENV !== "production") return "main";
  return "off";
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The context manager and propagator are process-wide in the OpenTelemetry API: set once. */
let contextInstalled = false;

/**
 * The OpenTelemetry SDK exporting to `url`. Imported only when traces are exported: its modules
 * are a measurable share of a start that does not need them.
 */
async function tracerProvider(env: Env, url: string): Promise<NodeTracerProvider> {
  // Some of them are CommonJS (see commonJsExports); none has a default export.
  const [hooks, core, exporter, resources, sdk] = await Promise.all([
    import("@opentelemetry/context-async-hooks").then(commonJsExports),
    import("@opentelemetry/core").then(commonJsExports),
    import("@opentelemetry/exporter-trace-otlp-http").then(commonJsExports),
    import("@opentelemetry/resources").then(commonJsExports),
    import("@opentelemetry/sdk-trace-node").then(commonJsExports),
  ]);
  if (!contextInstalled) {
    contextInstalled = true;
    context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  }
  return new sdk.NodeTracerProvider({
    resource: resources.resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(new exporter.OTLPTraceExporter({ url }), {
        scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
      }),
    ],
  });
}

function tracesUrl(env: Env): string | null {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  // As the OTLP exporter specification derives the signal's URL from the base endpoint.
  return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`;
}

export async function createTelemetry(env: Env): Promise<Telemetry> {
  const metrics = createMetrics();
  const url = tracesUrl(env);
  const provider = url === null ? null : await tracerProvider(env, url);
  return {
    metrics,
    tracer: provider?.getTracer("mcp-agents-platform") ?? null,
    exposure: metricsExposure(env),
    observeRequest: ({ surface, route, method, status, started }) => {
      metrics.httpRequests.inc({
        surface,
        route,
        method: METHODS.has(method) ? method : "OTHER",
        status,
      });
      metrics.httpDuration.observe({ surface, route }, (performance.now() - started) / 1000);
    },
    shutdown: async () => {
      await provider?.shutdown();
    },
  };
}

/**
 * The span of one request, continuing the caller's trace when it sent a W3C `traceparent`, and the
 * context to run the request's work in. The caller ends the span once the response is sent.
 */
export function startServerSpan(
  tracer: Tracer,
  name: string,
  headers: Record<string, string | string[] | undefined>,
  attributes: Attributes,
): { span: Span; context: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a request's span with its status (5xx marks it failed, as HTTP server spans do). */
export function endServerSpan(span: Span, status: number): void {
  span.setAttribute("http.response.status_code", status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Whether the request may read the metrics: any, or one bearing METRICS_TOKEN. */
export function metricsAuthorized(
  authorization: string | null,
  token: string | undefined,
): boolean {
  if (token === undefined) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  // Digests of equal length, so the comparison takes the same time whatever was sent.
  return match?.[1] !== undefined && timingSafeEqual(sha256(match[1]), sha256(token));
}

export const METRICS_UNAUTHORIZED = {
  code: "UNAUTHORIZED",
  message: "Send METRICS_TOKEN as Authorization: Bearer <token>",
} as const;

/** The metrics listener of METRICS_PORT: `GET /metrics` only. */
export async function startMetricsServer(
  telemetry: Telemetry,
  env: Env,
  logger: Logger,
): Promise<{ url: string; close(): Promise<void> }> {
  const answer = async (incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> => {
    const path = (incoming.url ?? "").split("?")[0];
    if (path !== "/metrics" || (incoming.method !== "GET" && incoming.method !== "HEAD")) {
      outgoing.writeHead(404, { "content-type": "application/json" });
      outgoing.end(JSON.stringify({ code: "NOT_FOUND", message: `No route for ${path ?? ""}` }));
      return;
    }
    if (!metricsAuthorized(incoming.headers.authorization ?? null, env.METRICS_TOKEN)) {
      outgoing.writeHead(401, {
        "content-type": "application/json",
        "www-authenticate": 'Bearer realm="metrics"',
      });
      outgoing.end(JSON.stringify(METRICS_UNAUTHORIZED));
      return;
    }
    const body = await telemetry.metrics.registry.metrics();
    outgoing.writeHead(200, { "content-type": telemetry.metrics.registry.contentType });
    outgoing.end(body);
  };
  const server: Server = createServer((incoming, outgoing) => {
    answer(incoming, outgoing).catch((error: unknown) => {
      logger.error({ err: error }, "metrics scrape failed");
      if (!outgoing.headersSent) outgoing.writeHead(500);
      outgoing.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.METRICS_PORT, env.METRICS_HOST ?? env.HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
