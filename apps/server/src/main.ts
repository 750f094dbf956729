import { loadEnv } from "./env";
import { startServer } from "./server";

async function main(): Promise<void> {
  const env = loadEnv();
  const server = await startServer(env);
  server.logger.info(
    { url: server.url, database: server.database.kind },
    "MCP Agents Platform listening",
  );

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
      () => process.exit(0),
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
