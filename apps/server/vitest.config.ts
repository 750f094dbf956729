import { defineConfig } from "vitest/config";
import { postgresReachable } from "./test/postgres-probe";
import { sourceConditions } from "./vitest.source";

/*
 * The integration suite runs once against PostgreSQL, the production database, and a smaller set
 * of files runs against embedded PGlite too: the ones whose behaviour depends on the driver (the
 * process lifecycle, the change feed, the recorder's writes, the REST run path, the examples, a
 * lost database).
 * The fuzz and isolation suites run on both too: what each driver refuses (NUL characters, odd
 * dates) and how its statements combine conditions must be checked on each.
 * When PostgreSQL cannot be reached (a laptop without it) everything runs on PGlite instead;
 * REQUIRE_POSTGRES=1 (CI) makes an unreachable PostgreSQL a failure rather than a fallback.
 * (`npm test` also passes TEST_POSTGRES so that turbo's cache tells the two kinds of run apart.)
 */
const PGLITE_FILES = [
  "platform",
  "server",
  "lifecycle",
  "call-cache",
  "run-recorder",
  "interrupted-runs",
  "runs",
  "examples",
  "fuzz",
  "isolation",
  "database-faults",
].map((name) => `test/${name}.test.ts`);

const shared = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

const postgres = await postgresReachable();
if (!postgres) {
  if (process.env.REQUIRE_POSTGRES === "1")
    throw new Error("REQUIRE_POSTGRES=1 but PostgreSQL is unreachable (TEST_DATABASE_URL)");
  console.warn("\n[postgres] unreachable: the whole integration suite runs on PGlite.\n");
}

export default defineConfig({
  test: {
    projects: [
      {
        ...sourceConditions,
        test: {
          ...shared,
          name: "pglite",
          include: postgres ? PGLITE_FILES : ["test/**/*.test.ts"],
          env: { TEST_DB: "pglite" },
          isolate: false,
        },
      },
      ...(postgres
        ? [
            {
              ...sourceConditions,
              test: {
                ...shared,
                name: "postgres",
                include: ["test/**/*.test.ts"],
                env: { TEST_DB: "postgres" },
                globalSetup: ["test/postgres-setup.ts"],
              },
            },
          ]
        : []),
    ],
  },
});
