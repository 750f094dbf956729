import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/*
 * The process's Prometheus metrics. Every label has a bounded set of values: surfaces, route
 * templates, methods, statuses and error kinds the code names; never an id, a tool name or a raw
 * path, which tenants and upstream servers choose.
 */

/** Seconds, from a millisecond to half a minute: gateway overhead up to slow upstream tools. */
const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Where a request arrived: the MCP gateway, the REST API, tRPC (the SPA), or anything else. */
export type HttpSurface = "gateway" | "rest" | "trpc" | "other";

/** What the runtime's parts report when scraped (read at scrape time, not per call). */
export interface RuntimeGaugeSources {
  recorderQueued: () => number;
  poolSessions: () => { open: number; inUse: number };
  callCache: () => { hits: number; misses: number };
  /** PostgreSQL's connection pool; null for the embedded database (one connection, no pool). */
  databasePool: () => { total: number; idle: number; waiting: number; max: number } | null;
}

export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: "mcp_http_requests_total",
      help: "HTTP requests answered, by surface, route template, method and status code",
      labelNames: ["surface", "route", "method", "status"] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: "mcp_http_request_duration_seconds",
      help: "Time from a request's arrival to the end of its response, by surface and route template",
      labelNames: ["surface", "route"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    governedCalls: new Counter({
      name: "mcp_governed_calls_total",
      help: "Governed calls (tool calls, prompt gets, resource reads) recorded, by kind, surface and run status",
      labelNames: ["kind", "surface", "status"] as const,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: "mcp_upstream_call_duration_seconds",
      help: "Time spent waiting for the upstream MCP server within a governed call, by kind",
      labelNames: ["kind"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamErrors: new Counter({
      name: "mcp_upstream_errors_total",
      help: "Governed calls whose upstream call failed, by error kind (timeout, unreachable, auth, protocol, closed, upstream, internal)",
      labelNames: ["kind"] as const,
      registers,
    }),
    rateLimitRefusals: new Counter({
      name: "mcp_rate_limit_refusals_total",
      help: "Governed calls refused by a policy's rate limit, by surface",
      labelNames: ["surface"] as const,
      registers,
    }),
    recorderFlushDuration: new Histogram({
      name: "mcp_recorder_flush_duration_seconds",
      help: "Time to write one batch of run and audit records (retries included)",
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    recorderRecordsWritten: new Counter({
      name: "mcp_recorder_records_written_total",
      help: "Run records written by the recorder",
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Gauges read from the runtime when Prometheus scrapes, plus Node's and the process's own
 * metrics (CPU, memory, handles, event-loop lag, GC).
 */
export function observeRuntime(metrics: Metrics, sources: RuntimeGaugeSources): void {
  const registers = [metrics.registry];
  new Gauge({
    name: "mcp_recorder_queue_depth",
    help: "Run and audit records waiting in memory to be written",
    registers,
    collect() {
      this.set(sources.recorderQueued());
    },
  });
  new Gauge({
    name: "mcp_pool_sessions",
    help: "Pooled upstream MCP sessions, by state (open: all kept, in_use: serving a call now)",
    labelNames: ["state"] as const,
    registers,
    collect() {
      const { open, inUse } = sources.poolSessions();
      this.set({ state: "open" }, open);
      this.set({ state: "in_use" }, inUse);
    },
  });
  new Counter({
    name: "mcp_call_cache_requests_total",
    help: "Reads of the governed-call cache (keys, agents, tools, policies), by result",
    labelNames: ["result"] as const,
    registers,
    collect() {
      const { hits, misses } = sources.callCache();
      // The cache counts; the counter takes its totals (both only ever grow).
      this.reset();
      this.inc({ result: "hit" }, hits);
      this.inc({ result: "miss" }, misses);
    },
  });
  new Gauge({
    name: "mcp_db_pool_connections",
    help: "PostgreSQL pool connections, by state (total, idle, max); absent on the embedded database",
    labelNames: ["state"] as const,
    registers,
    collect() {
      this.reset();
      const pool = sources.databasePool();
      if (!pool) return;
      this.set({ state: "total" }, pool.total);
      this.set({ state: "idle" }, pool.idle);
      this.set({ state: "max" }, pool.max);
    },
  });
  new Gauge({
    name: "mcp_db_pool_waiting_requests",
    help: "Queries waiting for a free PostgreSQL pool connection",
    registers,
    collect() {
      this.set(sources.databasePool()?.waiting ?? 0);
    },
  });
  collectDefaultMetrics({ register: metrics.registry });
}
