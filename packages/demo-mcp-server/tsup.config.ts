import { defineConfig } from "tsup";

/*
 * The JavaScript the compiled server runs (`node apps/server/dist/main.js`); dependencies stay
 * external and resolve from this package. TypeScript reads the sources (no declarations to emit).
 * Development (tsx, vitest, vite) reads the sources through the `@mcp/source` export condition.
 */
export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  splitting: true,
  sourcemap: true,
  clean: false,
  dts: false,
});
