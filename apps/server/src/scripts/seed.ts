import { isPostgresUrl, pgliteLockHolder } from "@mcp/core";
import { loadEnv } from "../env";
import { seedDemo } from "../seed";
import { startServer } from "../server";

/*
 * `pnpm db:seed`: creates the demo org through the platform's REST API and prints how to sign in.
 * With the embedded database open in a running server (`npm start`), it goes through that server:
 * PGlite allows one process per folder. Otherwise it runs the platform briefly on a free port.
 * The connection is left pointing at the address the platform normally runs on.
 */
const env = loadEnv();
const base = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, "");
const running = isPostgresUrl(env.DATABASE_URL) ? null : pgliteLockHolder(env.PGLITE_DIR);
const server =
  running?.url != null
    ? null
    : await startServer({
        ...env,
        PORT: 0,
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        DEMO_MCP_SERVER: true,
      });
try {
  const through = server?.url ?? running?.url ?? base;
  if (!server)
    console.log(`Seeding through the running server (pid ${running?.pid}) at ${through}.`);
  const seed = await seedDemo(through, {
    connectionUrl: `${base}/demo/mcp`,
    password: process.env.DEMO_PASSWORD,
  });
  if (!seed) {
    console.log("The demo user demo@example.com already exists; nothing to do.");
  } else {
    console.log(`Demo data created (${seed.tools} tools synced).
  Sign in:    ${base}  as ${seed.email} / ${seed.password}
  Agent MCP:  ${base}/mcp/${seed.agentId}
  Agent key:  ${seed.agentKey}   (shown once)`);
  }
} finally {
  await server?.close();
}
