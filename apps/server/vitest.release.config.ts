import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { postgresReachable } from "./test/postgres-probe";
import { sourceConditions } from "./vitest.source";

/** See "compiled" below. */
const COMPILED_FILES = [
  "server",
  "lifecycle",
  "database-faults",
  "logging",
  "tracing",
  "metrics",
  "config-as-code",
  "approval-emails",
  "stdio-servers",
  "schemas",
  "gateway",
  "fast-path",
  "protocol",
  "mcp-streams",
  "oauth",
  "sso",
  "isolation",
  "openapi",
  "examples",
].map((name) => `test/${name}.test.ts`);

/*
 * Release checks: what a published change must keep true but no code path depends on.
 * - "release": the SDK packed and installed outside the workspace, the committed OpenAPI and SDK
 *   types up to date, the compiled server started with plain node. The database kind does not
 *   matter there, so PGlite.
 * - "compiled": the integration files that exercise what compiling can change, again, against the
 *   build that production runs: the tests' imports of the server's sources are sent to its
 *   `dist` (tsup.config.ts emits those entries) and the workspace packages resolve through their
 *   default export condition, i.e. their compiled `dist`, as under plain node. On PostgreSQL when
 *   it answers (REQUIRE_POSTGRES=1 makes that mandatory), else on PGlite. What compiling can
 *   change is how modules load and link, not what a service decides: so the entry points and
 *   process lifecycle, every module loaded lazily (tracing, the terminal log format, YAML, mail,
 *   the sandbox), the schema worker thread, the gateway with the SDK's server and client, and
 *   the whole REST surface (isolation calls every procedure). The rest of the suite runs on the
 *   sources only, which keeps `npm test` under CI's half hour.
 * Their own turbo task, cached on their inputs, run after `build`.
 */
const serverDir = dirname(fileURLToPath(import.meta.url));
const postgres = await postgresReachable();
if (!postgres && process.env.REQUIRE_POSTGRES === "1")
  throw new Error("REQUIRE_POSTGRES=1 but PostgreSQL is unreachable (TEST_DATABASE_URL)");

export default defineConfig({
  test: {
    projects: [
      {
        ...sourceConditions,
        test: {
          name: "release",
          include: ["release/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 60_000,
          env: { TEST_DB: "pglite" },
        },
      },
      {
        resolve: {
          alias: [
            {
              find: /^\.\.\/src\/(server|env|seed|gateway\/http)$/,
              replacement: join(serverDir, "dist", "$1.js"),
            },
          ],
        },
        ssr: { resolve: { conditions: ["node", "development|production"] } },
        test: {
          name: "compiled",
          include: COMPILED_FILES,
          testTimeout: 30_000,
          hookTimeout: 60_000,
          env: { TEST_DB: postgres ? "postgres" : "pglite" },
          ...(postgres ? { globalSetup: ["test/postgres-setup.ts"] } : { isolate: false }),
        },
      },
    ],
  },
});
