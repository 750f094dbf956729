import { defineConfig } from "vitest/config";
import { sourceConditions } from "./vitest.source";

/*
 * Release checks: what a published change must keep true but no code path depends on (the SDK
 * packed and installed outside the workspace, the committed OpenAPI and SDK types up to date).
 * Their own turbo task, cached on their inputs; the database kind does not matter, so PGlite.
 */
export default defineConfig({
  ...sourceConditions,
  test: {
    include: ["release/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    env: { TEST_DB: "pglite" },
  },
});
