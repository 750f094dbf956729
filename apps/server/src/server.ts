import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { createDatabase, type DatabaseHandle } from "@mcp/core";
import { createApp } from "./app";
import type { Env } from "./env";
import { createLogger, type Logger } from "./logger";
import { webDistDir } from "./paths";

export interface RunningServer {
  url: string;
  database: DatabaseHandle;
  logger: Logger;
  close(): Promise<void>;
}

/** Opens the database, applies pending migrations and listens; used by main and by the tests. */
export async function startServer(env: Env, options: { database?: DatabaseHandle } = {}): Promise<RunningServer> {
  const logger = createLogger(env.LOG_LEVEL);
  const database =
    options.database ?? createDatabase({ databaseUrl: env.DATABASE_URL, pgliteDir: env.PGLITE_DIR });
  await database.migrate();
  logger.info({ database: database.kind }, "database ready");

  const app = createApp({
    database,
    logger,
    maxBodyBytes: env.MAX_BODY_BYTES,
    secureCookies: env.NODE_ENV === "production",
    trustProxy: env.TRUST_PROXY,
    publicUrl: env.PUBLIC_URL,
    webDistDir: env.WEB_DIST_DIR ?? webDistDir,
  });

  const server = await new Promise<ServerType>((resolve) => {
    const instance = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, () => {
      resolve(instance);
    });
  });
  const address = server.address() as AddressInfo;
  const host = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    database,
    logger,
    close: () => {
      // In-flight requests finish; idle keep-alive sockets are closed so shutdown is prompt.
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        if ("closeIdleConnections" in server) server.closeIdleConnections();
      }).then(() => (options.database ? undefined : database.close()));
      return closing;
    },
  };
}
