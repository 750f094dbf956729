import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createDatabase,
  createMcpRuntime,
  failInterruptedRuns,
  pruneRateLimitCounters,
  type DatabaseHandle,
  type McpRuntime,
} from "@mcp/core";
import { createRequestListener } from "./app";
import type { Env } from "./env";
import { createLogger, type Logger } from "./logger";
import { webDistDir } from "./paths";
import { loadSecretStore } from "./secrets";

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
  close(): Promise<void>;
}

/** Opens the database, applies pending migrations and listens; used by main and by the tests. */
export async function startServer(
  env: Env,
  options: { database?: DatabaseHandle } = {},
): Promise<RunningServer> {
  const logger = createLogger(env.LOG_LEVEL);
  const database =
    options.database ??
    (await createDatabase({ databaseUrl: env.DATABASE_URL, pgliteDir: env.PGLITE_DIR }));
  await database.migrate();
  logger.info({ database: database.kind }, "database ready");

  const runtime = createMcpRuntime({
    database,
    onRecordError: ({ outcome, runIds, ...failure }) => {
      // Ids and sizes only: the records carry tool inputs and outputs.
      logger.error({ ...failure, outcome, run_ids: runIds }, RECORD_FAILURE_MESSAGES[outcome]);
    },
    secrets: loadSecretStore(env, logger),
    outbound: {
      blockPrivateNetworks: env.MCP_BLOCK_PRIVATE_NETWORKS,
      stdioAllowedCommands: env.MCP_STDIO_ALLOWED_COMMANDS,
    },
  });
  const interrupted = await failInterruptedRuns(database.db, {
    everything: database.kind === "pglite",
  });
  if (interrupted > 0)
    logger.warn({ runs: interrupted }, "marked runs interrupted by a previous stop as failed");
  const maintenance = setInterval(() => {
    void (async () => {
      await failInterruptedRuns(database.db, { everything: false });
      // The longest allowed window is 30 days, so older counters can never be read again.
      await pruneRateLimitCounters(database.db, new Date(Date.now() - 31 * 24 * 3_600_000));
    })().catch((error: unknown) => {
      logger.error({ err: error }, "maintenance failed");
    });
  }, 60_000);
  maintenance.unref();

  const listener = createRequestListener({
    database,
    runtime,
    logger,
    maxBodyBytes: env.MAX_BODY_BYTES,
    secureCookies: env.NODE_ENV === "production",
    trustProxy: env.TRUST_PROXY,
    publicUrl: env.PUBLIC_URL,
    webDistDir: env.WEB_DIST_DIR ?? webDistDir,
    demoMcpServer: env.DEMO_MCP_SERVER,
  });

  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => {
    server.listen(env.PORT, env.HOST, resolve);
  });
  const address = server.address() as AddressInfo;
  const host = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    database,
    runtime,
    logger,
    close: () => {
      // In-flight requests finish; idle keep-alive sockets are closed so shutdown is prompt.
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      })
        .then(() => {
          clearInterval(maintenance);
          return runtime.close();
        })
        .then(() => (options.database ? undefined : database.close()));
      return closing;
    },
  };
}
