import { resolve } from "node:path";
import { loadEnv, type Env } from "./env";
import { startServer } from "./server";

/** The database in use, without credentials. */
function describeDatabase(env: Env): string {
  if (!env.DATABASE_URL) return `embedded PGlite in ${resolve(env.PGLITE_DIR)}`;
  const url = new URL(env.DATABASE_URL);
  return `PostgreSQL at ${url.hostname}:${url.port || "5432"}${url.pathname}`;
}

/** Protections that are off in this configuration, each with the variable that turns it on. */
function protectionsOff(env: Env): string[] {
  const off: string[] = [];
  if (!env.MCP_BLOCK_PRIVATE_NETWORKS)
    off.push(
      "private-network blocking is off: connections may reach localhost and private addresses (MCP_BLOCK_PRIVATE_NETWORKS=true turns it on)",
    );
  if (env.NODE_ENV !== "production")
    off.push("session cookies are sent without Secure (NODE_ENV=production sets it)");
  if (env.DEMO_MCP_SERVER)
    off.push("the demo MCP server is open at /demo/mcp (DEMO_MCP_SERVER=false closes it)");
  if (!env.SECRET_KEYS)
    off.push(
      `secrets are encrypted with a key generated into ${resolve(env.DATA_DIR)}: back it up, or set SECRET_KEYS`,
    );
  return off;
}

async function main(): Promise<void> {
  const env = loadEnv();
  const server = await startServer(env);
  server.logger.info(
    {
      url: server.url,
      mode: env.NODE_ENV,
      database: server.database.kind,
      database_location: describeDatabase(env),
    },
    "MCP Agents Platform listening",
  );
  for (const warning of protectionsOff(env)) server.logger.warn(warning);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, "shutting down");
    // server.close() itself cuts requests off at SHUTDOWN_TIMEOUT_MS and then writes every queued
    // record (retrying a refusing database for 10 s): this only guards against a hang beyond that.
    const force = setTimeout(() => {
      server.logger.error("shutdown did not finish; exiting");
      process.exit(1);
    }, env.SHUTDOWN_TIMEOUT_MS + 30_000);
    force.unref();
    server.close().then(
      () => {
        server.logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        server.logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => {
    stop("SIGTERM");
  });
  process.on("SIGINT", () => {
    stop("SIGINT");
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
