import { defineConfig } from "tsup";

/*
 * The JavaScript the compiled server runs (`node apps/server/dist/main.js`); dependencies stay
 * external and resolve from this package. Declarations come from `tsc -p tsconfig.build.json`.
 * Development (tsx, vitest, vite) reads the sources through the `@mcp/source` export condition.
 */
export default defineConfig({
  entry: {
    index: "src/index.ts",
    "contracts/index": "src/contracts/index.ts",
    // Its own entry: the generator (trpc-to-openapi and what it loads) is only read when a
    // server first serves the document, not at every start.
    openapi: "src/openapi.ts",
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  splitting: true,
  sourcemap: true,
  clean: false,
  dts: false,
});
