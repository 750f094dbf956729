import { cpSync, rmSync } from "node:fs";
import { basename } from "node:path";
import { defineConfig, type Options } from "tsup";

/*
 * The compiled server: `node dist/main.js` and the operators' scripts, with no TypeScript at run
 * time. The two configurations below write into the same folder at once, so it is emptied here
 * rather than by tsup's `clean` (which each would run while the other writes).
 */
rmSync("dist", { recursive: true, force: true });

const shared = {
  format: ["esm"],
  platform: "node",
  target: "node20",
  splitting: true,
  sourcemap: true,
  clean: false,
  dts: false,
} satisfies Options;

/**
 * What the bundle still loads from node_modules: a native addon, packages that read files of their
 * own folder at run time (PGlite's WebAssembly, Swagger UI's assets), pg's optional native
 * binding (not installed), and pino-pretty, which logger.ts loads by name for LOG_FORMAT=pretty.
 * apps/server depends on each, so they resolve from dist.
 */
const RUNTIME_PACKAGES = [
  "@node-rs/argon2",
  "@electric-sql/pglite",
  "pg-native",
  "pino-pretty",
  "swagger-ui-dist",
];
const escaped = RUNTIME_PACKAGES.map((name) => name.replace(/[/.]/g, "\\$&")).join("|");

const CORE_DIR = "../../packages/core";

export default defineConfig([
  {
    /*
     * The production server, bundled with its dependencies: Node 20 has no module compile cache,
     * and resolving, reading and compiling hundreds of modules one by one was most of its start.
     * The workspace packages come in through their compiled `dist`, as under plain node (esbuild
     * follows their source maps, so the bundle's maps lead to the TypeScript sources). Lazily
     * imported modules (PGlite's driver, OpenTelemetry, YAML, the OpenAPI generator, nodemailer,
     * undici, the password dictionary…) stay in chunks of their own, loaded on first use.
     */
    ...shared,
    entry: {
      main: "src/main.ts",
      // Started by path as a worker thread, beside the chunk that holds json-schema-thread.
      "json-schema-worker": `${CORE_DIR}/dist/json-schema-worker.js`,
    },
    noExternal: [new RegExp(`^(?!(${escaped})(/|$))`)],
    external: RUNTIME_PACKAGES,
    // CommonJS dependencies call `require` (node's built-ins, the packages above): an ES module
    // has none of its own.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
    esbuildOptions(options) {
      // No comments (some carry characters outside Latin-1, which would make V8 hold a whole
      // chunk's source as two-byte text: 10 MB more for the dependencies' comments) and shorter
      // syntax. Names are kept: a stack trace names its functions even without source maps.
      options.minifyWhitespace = true;
      options.minifySyntax = true;
      options.legalComments = "external";
      // The maps name the sources, which are in the repository, rather than carrying them: Node
      // reads a chunk's whole map when it loads the chunk (with `--enable-source-maps`).
      options.sourcesContent = false;
    },
    onSuccess: async () => {
      // @mcp/core looks for its migrations beside the module that runs them (db/client.ts).
      cpSync(`${CORE_DIR}/drizzle`, "dist/drizzle", {
        recursive: true,
        filter: (path) => !basename(path).endsWith("_snapshot.json"),
      });
    },
  },
  {
    /*
     * The operators' scripts (their start matters little), and what the integration suite imports
     * of the server so the release checks can run that suite against this build
     * (vitest.release.config.ts). Not bundled: the tests import @mcp/core beside these modules,
     * and one copy of its state must serve both.
     */
    ...shared,
    entry: {
      "scripts/migrate": "src/scripts/migrate.ts",
      "scripts/seed": "src/scripts/seed.ts",
      "scripts/rotate-secrets": "src/scripts/rotate-secrets.ts",
      "scripts/admin-create": "src/scripts/admin-create.ts",
      server: "src/server.ts",
      env: "src/env.ts",
      seed: "src/seed.ts",
      "gateway/http": "src/gateway/http.ts",
    },
  },
]);
