import { recordConnectionHealth } from "./connections/connections";
import { ConnectionHealthWriter } from "./connections/health";
import type { DatabaseHandle } from "./db/client";
import { McpClientPool } from "./mcp/pool";
import { CallCache } from "./runs/call-cache";
import { RunRecorder, type RunRecorderOptions } from "./runs/recorder";
import { RelayHub } from "./runs/relay";
import { TaskHub } from "./mcp-tasks/hub";
import { ApprovalHub } from "./approvals/hub";
import { approvedCallRunner } from "./runs/approved-calls";
import type { SandboxSettings, StdioServer } from "./mcp/stdio-servers";
import type { SecretStore } from "./secrets/secret-store";
import { createMetrics, type Metrics } from "./telemetry/metrics";
import type { Tracer } from "./telemetry/tracing";

/** Outbound rules for reaching MCP servers, set by the operator. */
export interface OutboundPolicy {
  /** Refuse loopback, private, link-local and metadata addresses (default on in production). */
  blockPrivateNetworks: boolean;
  /** The stdio servers the operator declared; the only programs stdio connections can start. */
  stdioServers: StdioServer[];
  /** How declared servers with `sandbox: "bwrap"` are confined. */
  sandbox: SandboxSettings;
}

/** What services need beyond the database to govern and make MCP calls: built once per process. */
export interface McpRuntime {
  secrets: SecretStore;
  pool: McpClientPool;
  outbound: OutboundPolicy;
  /** What every governed call reads, cached until the database reports a change. */
  calls: CallCache;
  /** Where governed calls leave their runs and audit events. */
  recorder: RunRecorder;
  /** This process's replica (see `startReplica`): the owner recorded on the runs it makes. */
  replicaId: string;
  /** Where governed calls report their connection's health (rate-limited per connection). */
  health: ConnectionHealthWriter;
  /** Where requests of upstream servers to calling clients wait for their answers. */
  relay: RelayHub;
  /** Task-augmented calls this process runs, and `tasks/result` requests it holds. */
  tasks: TaskHub;
  /** Calls held for approval on this process, and approved calls it claimed and runs. */
  approvals: ApprovalHub;
  /** What governed calls count and time (see telemetry/metrics.ts). */
  metrics: Metrics;
  /** Spans of governed calls; null when tracing is off. */
  tracer: Tracer | null;
  /** Writes what is still queued and closes the pooled sessions. */
  close(): Promise<void>;
}

export const MCP_CLIENT_INFO = {
  clientName: "mcp-agents-platform",
  clientVersion: "1.0.0",
} as const;

export function createMcpRuntime(options: {
  database: Pick<DatabaseHandle, "db" | "changes">;
  secrets: SecretStore;
  outbound: OutboundPolicy;
  onRecordError: RunRecorderOptions["onError"];
  replicaId: string;
  /** See McpConnectOptions.fastPath; default true. */
  clientFastPath?: boolean;
  idleMs?: number;
  maxSessions?: number;
  /** Default: metrics of its own, which nothing exposes. */
  metrics?: Metrics;
  tracer?: Tracer | null;
  /** An approved call that could not be claimed or run (the database, a bug); default: ignored. */
  onApprovalError?: (error: unknown) => void;
}): McpRuntime {
  const metrics = options.metrics ?? createMetrics();
  const pool = new McpClientPool({
    ...MCP_CLIENT_INFO,
    policy: options.outbound,
    fastPath: options.clientFastPath ?? true,
    ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
    ...(options.maxSessions !== undefined ? { maxSize: options.maxSessions } : {}),
  });
  const calls = new CallCache(options.database.changes);
  const recorder = new RunRecorder(options.database.db, {
    onError: options.onRecordError,
    onFlushed: (seconds, records) => {
      metrics.recorderFlushDuration.observe(seconds);
      metrics.recorderRecordsWritten.inc(records);
    },
  });
  const health = new ConnectionHealthWriter((connection, error) =>
    recordConnectionHealth(options.database.db, connection, error),
  );
  const relay = new RelayHub(options.database.db, options.database.changes);
  const tasks = new TaskHub(options.database.changes);
  const approvals = new ApprovalHub(
    options.database.db,
    options.database.changes,
    options.onApprovalError ?? (() => undefined),
  );
  const runtime: McpRuntime = {
    secrets: options.secrets,
    pool,
    outbound: options.outbound,
    calls,
    recorder,
    replicaId: options.replicaId,
    health,
    relay,
    tasks,
    approvals,
    metrics,
    tracer: options.tracer ?? null,
    close: async () => {
      // Their outcomes are recorded like any call's, so before the recorder closes.
      await approvals.close();
      await tasks.close();
      relay.close();
      await recorder.close();
      await health.close();
      calls.close();
      await pool.closeAll();
    },
  };
  approvals.start(approvedCallRunner(options.database.db, runtime));
  return runtime;
}
