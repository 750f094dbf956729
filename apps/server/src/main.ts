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
    const force = setTimeout(() => {
      server.logger.error("shutdown timed out; exiting");
      process.exit(1);
    }, 15_000);
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
