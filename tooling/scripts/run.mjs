#!/usr/bin/env node
// The README's two commands: `npm start` (install what is missing, build what changed, start the
// compiled platform) and `npm test` (every check and test). Plain Node so they work before pnpm exists.
import { spawnSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
// pnpm is a dev dependency of the workspace: after the first install it runs from node_modules,
// so no step asks the registry for it again. Only that first install goes through npx.
const installedPnpm = join(root, "node_modules/.bin/pnpm");

function pnpmCommand() {
  return existsSync(installedPnpm) ? [installedPnpm, []] : ["npx", ["-y", "pnpm@10"]];
}

function run(args, options = {}) {
  console.log(`\n> pnpm ${args.join(" ")}`);
  const [command, prefix] = pnpmCommand();
  const result = spawnSync(command, [...prefix, ...args], {
    cwd: root,
    stdio: "inherit",
    ...options,
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/**
 * Runs turbo from the workspace with its bin folder first on PATH as an absolute path: turbo
 * starts each package's script through the pnpm it finds there (`pnpm exec` would put a relative
 * `./node_modules/.bin` first, which does not exist in the packages' folders).
 */
function turbo(args, options = {}) {
  console.log(`\n> turbo ${args.join(" ")}`);
  const bin = join(root, "node_modules/.bin");
  const env = options.env ?? process.env;
  const result = spawnSync(join(bin, "turbo"), args, {
    cwd: root,
    stdio: "inherit",
    env: { ...env, PATH: `${bin}${delimiter}${env.PATH ?? ""}` },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function ensureDependencies() {
  if (existsSync(join(root, "node_modules/.modules.yaml")) && existsSync(installedPnpm)) return;
  run(["install", "--frozen-lockfile"]);
}

function ensureChromium() {
  if (existsSync("/usr/bin/chromium") || process.env.SKIP_E2E === "1") return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || spawnSync("which", ["apt-get"]).status !== 0) {
    console.error(
      "Browser tests need Debian's chromium: apt-get install -y chromium (or set SKIP_E2E=1).",
    );
    process.exit(1);
  }
  console.log("\n> apt-get install -y chromium");
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", "chromium"]]) {
    const result = spawnSync("apt-get", args, {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) process.exit(result.status ?? 1);
  }
}

/**
 * Whether the test PostgreSQL server accepts connections. The answer is passed to the test tasks
 * (TEST_POSTGRES), so turbo never replays a PGlite-only run as if it had run on PostgreSQL too.
 */
function postgresListening() {
  const url = new URL(process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 5432) });
    const done = (up) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(3000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

const command = process.argv[2];
ensureDependencies();

if (command === "start") {
  // The compiled server and the SPA, rebuilt only where their sources changed (turbo's cache).
  turbo(["run", "build", "--filter=@mcp/server", "--filter=@mcp/web", "--output-logs=errors-only"]);
  // Without --enable-source-maps (it costs ~9 MB and ~25 ms of every start): stacks name the
  // bundle's functions; NODE_OPTIONS=--enable-source-maps maps them to the sources (README).
  const child = spawn(process.execPath, ["dist/main.js"], {
    cwd: join(root, "apps/server"),
    stdio: "inherit",
  });
  // Ctrl-C reaches the server too (one process group): it stops gracefully and exits 0, and so
  // does this process, without a word of its own. A signal sent to this process alone is passed on.
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      child.kill(signal);
    });
  }
  child.on("exit", (code) => process.exit(code ?? 1));
} else if (command === "test") {
  const env = {
    ...process.env,
    TEST_POSTGRES: (await postgresListening()) ? "reachable" : "unreachable",
  };
  run(["format:check"]);
  // Static checks first, two at a time (two cores); turbo replays what did not change.
  turbo(["run", "lint", "typecheck", "--concurrency=2"]);
  const tests = ["test", "test:release"];
  if (process.env.SKIP_E2E !== "1") {
    ensureChromium();
    tests.push("test:e2e");
  }
  // One test task at a time (the integration suite already uses both cores); a failure does not
  // hide the results of the other tasks.
  turbo(["run", ...tests, "--concurrency=1", "--continue"], { env });
} else {
  console.error("usage: node tooling/scripts/run.mjs start|test");
  process.exit(2);
}
