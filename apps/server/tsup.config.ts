import { defineConfig } from "tsup";

/*
 * The compiled server: `node dist/main.js` and the operators' scripts, with no TypeScript at run
 * time. Workspace packages and dependencies stay external: they resolve to their own compiled
 * JavaScript (the `default` export condition) and node_modules.
 */
export default defineConfig({
  entry: {
    main: "src/main.ts",
    "scripts/migrate": "src/scripts/migrate.ts",
    "scripts/seed": "src/scripts/seed.ts",
    "scripts/rotate-secrets": "src/scripts/rotate-secrets.ts",
    "scripts/admin-create": "src/scripts/admin-create.ts",
    // What the integration suite imports of the server, so the release checks can run that
    // suite against this build (vitest.release.config.ts).
    server: "src/server.ts",
    env: "src/env.ts",
    seed: "src/seed.ts",
    "gateway/http": "src/gateway/http.ts",
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  splitting: true,
  sourcemap: true,
  clean: true,
  dts: false,
});
