import { loadEnv } from "../env";
import { seedDemo } from "../seed";
import { startServer } from "../server";

/*
 * `pnpm db:seed`: runs the platform briefly on a free port (so the demo MCP server can be synced),
 * creates the demo org, and prints how to sign in. The connection is left pointing at the address
 * the platform normally runs on.
 */
const env = loadEnv();
const server = await startServer({
  ...env,
  PORT: 0,
  HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
  DEMO_MCP_SERVER: true,
});
try {
  const base = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, "");
  const seed = await seedDemo(server, {
    syncUrl: `${server.url}/demo/mcp`,
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
  await server.close();
}
