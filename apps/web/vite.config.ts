import react from "@vitejs/plugin-react";
import { defaultClientConditions } from "vite";
import { defineConfig } from "vitest/config";

const backend = "http://localhost:3000";

export default defineConfig({
  plugins: [react()],
  // The workspace packages' sources, not their compiled `dist` (which only the server runs).
  resolve: { conditions: ["@mcp/source", ...defaultClientConditions] },
  server: {
    port: 5173,
    proxy: {
      "/trpc": backend,
      "/api": backend,
      "/mcp": backend,
      "/healthz": backend,
      "/readyz": backend,
      "/auth/sso": backend,
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // The server's CSP forbids inline scripts; keep the module preload polyfill out of index.html.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["./vitest.setup.ts"],
    // Rendering tests are quick alone but share two cores with the rest of `npm test`.
    testTimeout: 20_000,
  },
});
