import { randomUUID } from "node:crypto";
import {
  createServer,
  STATUS_CODES,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { DestinationStream } from "pino";
import {
  applyRetention,
  createSsoProvider,
  createDatabase,
  createMcpRuntime,
  startJsonSchemaValidation,
  DEFAULT_AUTH_THROTTLE,
  pruneAuthThrottles,
  pruneOAuthRecords,
  pruneSsoFlows,
  pruneIdleMcpSessions,
  pruneMcpTasks,
  pruneRelayRequests,
  pruneRateLimitCounters,
  startAuditWebhookDelivery,
  SessionRequests,
  startApprovalNotifier,
  startReplica,
  startSyncScheduler,
  rotateConnectionSecrets,
  SYSTEM_CONTEXT,
  type AuthThrottleConfig,
  type DatabaseHandle,
  type McpRuntime,
  type SyncScheduler,
  observeRuntime,
} from "@mcp/core";
import { createRequestListener } from "./app";
import { ValidatedSessions } from "./gateway/session-cache";
import { SessionStreams } from "./gateway/session-streams";
import { databaseConfig, type Env } from "./env";
import { createLogger, type Logger } from "./logger";
import { smtpMailer } from "./mailer";
import { webDistDir } from "./paths";
import { loadSecretStore } from "./secrets";
import { createTelemetry, startMetricsServer, type Telemetry } from "./telemetry";

/** Under the idle timeouts of common proxies and balancers (60 s), so they keep streams open. */
const SESSION_STREAM_KEEP_ALIVE_MS = 25_000;
/** Gateway sessions whose validation each process remembers (a few hundred bytes each). */
const VALIDATED_SESSIONS_MAX = 10_000;
/** Approvals are mailed about as they are announced; this sweep retries and takes over leases. */
const APPROVAL_NOTIFIER_INTERVAL_MS = 30_000;

const RECORD_FAILURE_MESSAGES = {
  retrying: "writing run records failed; retrying",
  stripped: "a run record was refused; written without its input and output",
  lost: "run records could not be written: lost",
} as const;

export interface RunningServer {
  url: string;
  database: DatabaseHandle;
  runtime: McpRuntime;
  logger: Logger;
  telemetry: Telemetry;
  /** The metrics listener's URL when METRICS_PORT is set. */
  metricsUrl: string | null;
  /** Scheduled tool syncs; `tick` runs a round now (tests). */
  syncScheduler: SyncScheduler;
  /**
   * Stops gracefully: no new connections; requests arriving on kept-alive connections are served
   * with `Connection: close`; in-flight requests finish (for at most `SHUTDOWN_TIMEOUT_MS`, then
   * their connections are cut); then every queued run and audit record is written.
   */
  close(): Promise<void>;
}

function authThrottleFrom(env: Env): AuthThrottleConfig {
  const {
    loginPerAccountAndIp,
    loginPerAccount,
    loginPerIp,
    registerPerIp,
    mailPerAddress,
    mailPerIp,
    oauthClientRegistrationPerIp,
  } = DEFAULT_AUTH_THROTTLE;
  return {
    loginPerAccountAndIp: {
      ...loginPerAccountAndIp,
      maxAttempts: env.AUTH_MAX_FAILURES_PER_ACCOUNT_IP,
    },
    loginPerAccount: { ...loginPerAccount, maxAttempts: env.AUTH_MAX_FAILURES_PER_ACCOUNT },
    loginPerIp: { ...loginPerIp, maxAttempts: env.AUTH_MAX_FAILURES_PER_IP },
    registerPerIp: { ...registerPerIp, maxAttempts: env.AUTH_MAX_REGISTRATIONS_PER_IP },
    mailPerAddress: { ...mailPerAddress, maxAttempts: env.AUTH_MAX_MAIL_REQUESTS_PER_ADDRESS },
    mailPerIp: { ...mailPerIp, maxAttempts: env.AUTH_MAX_MAIL_REQUESTS_PER_IP },
    oauthClientRegistrationPerIp: {
      ...oauthClientRegistrationPerIp,
      maxAttempts: env.OAUTH_MAX_CLIENT_REGISTRATIONS_PER_IP,
    },
  };
}

/** How Node answers what its HTTP parser refuses, by error code; anything else is a 400. */
const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: "PAYLOAD_TOO_LARGE",
    message: "The request line and headers are too large",
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    message: "The chunk extensions are too large",
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: "BAD_REQUEST",
    message: "The request was not received in time",
  },
};

/**
 * Requests Node's HTTP parser refuses before any handler runs (a URL and headers over 16 KiB,
 * malformed request lines) get the API's error shape too, instead of a bare status line. As in
 * Node's own handler, nothing is written once a response on the connection has begun.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy(error);
    return;
  }
  const answer = CLIENT_ERRORS[error.code ?? ""] ?? {
    status: 400,
    code: "BAD_REQUEST",
    message: "Malformed HTTP request",
  };
  const body = JSON.stringify({
    code: answer.code,
    message: answer.message,
    request_id: randomUUID(),
  });
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ""}\r\n` +
      "content-type: application/json; charset=utf-8\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      "connection: close\r\n\r\n" +
      body,
  );
}

/** Opens the database, applies pending migrations and listens; used by main and by the tests. */
export async function startServer(
  env: Env,
  options: { database?: DatabaseHandle; logDestination?: DestinationStream } = {},
): Promise<RunningServer> {
  const logger = createLogger(env.LOG_LEVEL, options.logDestination, env.LOG_FORMAT);
  // Started first, so the schema thread loads while the database opens; awaited before serving.
  const schemaValidation = startJsonSchemaValidation().then(
    () => null,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  const database = options.database ?? (await createDatabase(databaseConfig(env)));
  await database.migrate();
  logger.info({ database: database.kind }, "database ready");

  const secrets = loadSecretStore(env, logger);
  // Secrets stored before they were bound to their connection are bound now, so a ciphertext
  // copied to another row stops decrypting without waiting for an operator to rotate.
  const binding = await rotateConnectionSecrets(database.db, secrets, SYSTEM_CONTEXT, {
    unboundOnly: true,
  });
  if (binding.rotated > 0)
    logger.info({ secrets: binding.rotated }, "bound stored secrets to their connections");
  for (const failure of binding.failed)
    logger.warn(
      { connection_id: failure.connection_id, org_id: failure.org_id, reason: failure.reason },
      "a stored secret cannot be decrypted; set it again or restore its key",
    );

  const replica = await startReplica(database.db, {
    onSwept: (runs) => {
      logger.warn({ runs }, "marked runs of a stopped server as failed (interrupted)");
    },
    onError: (error) => {
      logger.error({ err: error }, "replica heartbeat failed");
    },
  });

  const schemaValidationFailure = await schemaValidation;
  if (schemaValidationFailure !== null) throw schemaValidationFailure;
  const telemetry = await createTelemetry(env);
  const runtime = createMcpRuntime({
    database,
    metrics: telemetry.metrics,
    tracer: telemetry.tracer,
    replicaId: replica.id,
    onRecordError: ({ outcome, runIds, ...failure }) => {
      // Ids and sizes only: the records carry tool inputs and outputs.
      logger.error({ ...failure, outcome, run_ids: runIds }, RECORD_FAILURE_MESSAGES[outcome]);
    },
    secrets,
    outbound: {
      blockPrivateNetworks: env.MCP_BLOCK_PRIVATE_NETWORKS,
      stdioServers: env.MCP_STDIO_SERVERS,
      sandbox: {
        bwrapPath: env.BWRAP_PATH,
        // The key file and the embedded database live here; sandboxed servers must not see them.
        hiddenPaths: [env.DATA_DIR, env.PGLITE_DIR],
      },
    },
    clientFastPath: env.MCP_CLIENT_FAST_PATH,
    onApprovalError: (error) => {
      logger.error({ err: error }, "running an approved call failed");
    },
  });
  observeRuntime(telemetry.metrics, {
    recorderQueued: () => runtime.recorder.queued,
    poolSessions: () => ({ open: runtime.pool.size, inUse: runtime.pool.inUse }),
    callCache: () => ({ hits: runtime.calls.hits, misses: runtime.calls.misses }),
    databasePool: () => database.poolStats(),
  });
  const metricsServer =
    telemetry.exposure === "port" ? await startMetricsServer(telemetry, env, logger) : null;
  if (telemetry.exposure === "off")
    logger.warn("metrics are not served: set METRICS_TOKEN or METRICS_PORT to expose /metrics");
  const maintenance = setInterval(() => {
    void (async () => {
      // The longest allowed window is 30 days, so older counters can never be read again.
      await pruneRateLimitCounters(database.db, new Date(Date.now() - 31 * 24 * 3_600_000));
      const pruned = await applyRetention(database.db, {
        runsDays: env.RUNS_RETENTION_DAYS,
        auditDays: env.AUDIT_RETENTION_DAYS,
      });
      if (pruned.runs + pruned.audit + pruned.sessions > 0)
        logger.info(pruned, "deleted runs and audit events past retention, and expired sessions");
      await pruneAuthThrottles(database.db);
      await pruneOAuthRecords(database.db);
      await pruneSsoFlows(database.db);
      await pruneRelayRequests(database.db);
      await pruneMcpTasks(database.db);
      await pruneIdleMcpSessions(database.db, {
        idleTimeoutSeconds: env.MCP_SESSION_IDLE_TIMEOUT_SECONDS,
      });
    })().catch((error: unknown) => {
      logger.error({ err: error }, "maintenance failed");
    });
  }, 60_000);
  maintenance.unref();

  const auditWebhooks = startAuditWebhookDelivery(database.db, runtime, {
    intervalMs: env.AUDIT_WEBHOOK_INTERVAL_MS,
    batchSize: env.AUDIT_WEBHOOK_BATCH_SIZE,
    retryBaseMs: env.AUDIT_WEBHOOK_RETRY_BASE_MS,
    retryMaxMs: env.AUDIT_WEBHOOK_RETRY_MAX_MS,
    timeoutMs: env.AUDIT_WEBHOOK_TIMEOUT_MS,
    onError: (error) => {
      logger.error({ err: error }, "audit webhook delivery failed");
    },
  });

  const mailer =
    env.SMTP_URL && env.SMTP_FROM ? await smtpMailer(env.SMTP_URL, env.SMTP_FROM, logger) : null;
  const publicUrl = env.PUBLIC_URL?.replace(/\/+$/, "");
  const approvalNotifier =
    mailer && env.APPROVAL_EMAILS
      ? startApprovalNotifier(database.db, database.changes, {
          mailer,
          approvalsPage: (orgId) => (publicUrl ? `${publicUrl}/orgs/${orgId}/approvals` : null),
          intervalMs: APPROVAL_NOTIFIER_INTERVAL_MS,
          onError: (error) => {
            logger.error({ err: error }, "e-mailing approvers failed");
          },
        })
      : null;

  const syncScheduler = startSyncScheduler(database.db, runtime, {
    intervalMs: env.TOOL_SYNC_CHECK_INTERVAL_MS,
    onOutcome: ({ connectionId, orgId, result, error }) => {
      if (error)
        logger.warn(
          { err: error, connection_id: connectionId, org_id: orgId },
          "scheduled tool sync failed",
        );
      else
        logger.info(
          { connection_id: connectionId, org_id: orgId, ...result },
          "scheduled tool sync",
        );
    },
    onError: (error) => {
      logger.error({ err: error }, "scheduled tool syncs failed");
    },
  });

  const sessionLimits = {
    idleTimeoutSeconds: env.MCP_SESSION_IDLE_TIMEOUT_SECONDS,
    maxPerAgent: env.MCP_MAX_SESSIONS_PER_AGENT,
    maxSubscriptionsPerSession: env.MCP_MAX_SUBSCRIPTIONS_PER_SESSION,
  };
  const validatedSessions = new ValidatedSessions({
    db: database.db,
    changes: database.changes,
    limits: sessionLimits,
    maxEntries: VALIDATED_SESSIONS_MAX,
  });
  const sessionRequests = new SessionRequests(database.db, database.changes);
  const sessionStreams = new SessionStreams({
    db: database.db,
    runtime,
    changes: database.changes,
    replicaId: replica.id,
    limits: sessionLimits,
    logger,
    keepAliveMs: SESSION_STREAM_KEEP_ALIVE_MS,
  });

  const listener = createRequestListener({
    authThrottle: authThrottleFrom(env),
    sso: env.SSO ? createSsoProvider(env.SSO) : null,
    signup: env.SIGNUP,
    mailer,
    invitationTtlSeconds: env.INVITATION_TTL_DAYS * 24 * 60 * 60,
    database,
    runtime,
    logger,
    maxBodyBytes: env.MAX_BODY_BYTES,
    secureCookies: env.NODE_ENV === "production",
    trustProxy: env.TRUST_PROXY,
    publicUrl: env.PUBLIC_URL,
    webDistDir: env.WEB_DIST_DIR ?? webDistDir,
    demoMcpServer: env.DEMO_MCP_SERVER,
    gatewayFastPath: env.MCP_GATEWAY_FAST_PATH,
    gatewaySessions: {
      streams: sessionStreams,
      limits: sessionLimits,
      validated: validatedSessions,
      requests: sessionRequests,
    },
    gatewayTasks: { maxLivePerAgent: env.MCP_MAX_TASKS_PER_AGENT },
    oauthTokenLifetimes: {
      accessTokenSeconds: env.OAUTH_ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenSeconds: env.OAUTH_REFRESH_TOKEN_TTL_SECONDS,
    },
    telemetry,
    metricsToken: env.METRICS_TOKEN,
  });

  const drain = drainableListener(listener);
  const server: Server = createServer(drain.listener);
  server.on("clientError", answerClientError);
  // Longer than the idle timeout of the load balancers in front (60 s on AWS ALB, GCP, nginx
  // upstream keep-alive up to 60 s): otherwise the server closes a connection the balancer just
  // chose to send a request on, and that request fails with a reset.
  server.keepAliveTimeout = env.KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = env.KEEP_ALIVE_TIMEOUT_MS + 1_000;
  await new Promise<void>((resolve) => {
    server.listen(env.PORT, env.HOST, resolve);
  });
  const address = server.address() as AddressInfo;
  const host = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
  database.advertise?.(url);

  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    // Session streams never end by themselves: ended now, their clients reconnect elsewhere.
    await sessionStreams.close();
    validatedSessions.close();
    sessionRequests.close();
    drain.start(() => {
      server.closeIdleConnections();
    });
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => {
      timer = setTimeout(() => {
        resolve(true);
      }, env.SHUTDOWN_TIMEOUT_MS);
    });
    if (await Promise.race([closed.then(() => false), timedOut])) {
      logger.warn(
        { open_requests: drain.openRequests() },
        "requests still running at the shutdown timeout; closing their connections",
      );
      server.closeAllConnections();
      await closed;
    }
    clearTimeout(timer);
    clearInterval(maintenance);
    await auditWebhooks.close();
    await approvalNotifier?.close();
    await syncScheduler.close();
    // Records of every call that ran, including those cut off just now, are written before exit.
    await runtime.close();
    // Nothing of this process is running any more: no run of it is left to sweep.
    await replica.retire();
    await metricsServer?.close();
    await telemetry.shutdown().catch((error: unknown) => {
      logger.warn({ err: error }, "exporting the last spans failed");
    });
    if (!options.database) await database.close();
  };
  let closing: Promise<void> | undefined;
  return {
    url,
    database,
    runtime,
    logger,
    telemetry,
    metricsUrl: metricsServer?.url ?? null,
    syncScheduler,
    close: () => (closing ??= stop()),
  };
}

/**
 * Wraps the request listener so a stop can drain busy keep-alive connections: `server.close()`
 * only stops accepting new connections and closes idle ones, while a client that keeps its
 * connection busy could go on sending requests on it for ever.
 */
function drainableListener(listener: RequestListener): {
  listener: RequestListener;
  /** `onIdle`: called whenever a response that kept its connection open has ended. */
  start(onIdle: () => void): void;
  openRequests(): number;
} {
  let draining = false;
  const open = new Set<ServerResponse>();
  const forget = (outgoing: ServerResponse): void => {
    open.delete(outgoing);
  };
  let settle = (outgoing: ServerResponse): void => {
    forget(outgoing);
  };
  return {
    listener: (incoming, outgoing) => {
      if (draining) {
        // Node closes the connection once this response is sent; the client opens a new one
        // (to another replica) for its next request.
        outgoing.setHeader("connection", "close");
      } else {
        open.add(outgoing);
        outgoing.once("close", () => {
          settle(outgoing);
        });
      }
      listener(incoming, outgoing);
    },
    start: (onIdle) => {
      draining = true;
      for (const outgoing of open) {
        if (!outgoing.headersSent) outgoing.setHeader("connection", "close");
      }
      // A response whose headers already went out with keep-alive leaves its connection idle
      // when it ends: close it then, rather than after the keep-alive timeout.
      settle = (outgoing) => {
        forget(outgoing);
        setImmediate(onIdle);
      };
    },
    openRequests: () => open.size,
  };
}
