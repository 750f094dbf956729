import { defineConfig } from "tsup";

/*
 * The JavaScript the compiled server runs (`node apps/server/dist/main.js`); dependencies stay
 * external and resolve from this package. Declarations come from `tsc -p tsconfig.build.json`.
 * Development (tsx, vitest, vite) reads the sources through the `@mcp/source` export condition.
 */
export default defineConfig({
  entry: {
    index: "src/index.ts",
    "db/index": "src/db/index.ts",
    // Started by path as a worker thread (lib/json-schema-thread.ts), next to the chunks.
    "json-schema-worker": "src/lib/json-schema-worker.ts",
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  splitting: true,
  sourcemap: true,
  clean: false,
  dts: false,
});
