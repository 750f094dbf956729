import { defineConfig } from "vitest/config";

/*
 * Every integration test runs twice: against embedded PGlite, and against the PostgreSQL server
 * in TEST_DATABASE_URL (default: the local one) when it is reachable. test/global-setup.ts
 * decides and creates a throw-away database for the run.
 */
const shared = {
  include: ["test/**/*.test.ts"],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: "pglite", env: { TEST_DB: "pglite" }, isolate: false } },
      {
        test: {
          ...shared,
          name: "postgres",
          env: { TEST_DB: "postgres" },
          globalSetup: ["test/postgres-setup.ts"],
        },
      },
    ],
  },
});
