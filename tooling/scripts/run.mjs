#!/usr/bin/env node
// The README's two commands: `npm start` (install what is missing, build the SPA, start the
// platform) and `npm test` (every check and test). Plain Node so they work before pnpm exists.
import { spawnSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const PNPM = ["-y", "pnpm@10"];

function run(args, options = {}) {
  console.log(`\n> pnpm ${args.join(" ")}`);
  const result = spawnSync("npx", [...PNPM, ...args], { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function ensureDependencies() {
  if (existsSync(join(root, "node_modules/.modules.yaml"))) return;
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

const command = process.argv[2];
ensureDependencies();

if (command === "start") {
  run(["--filter", "@mcp/web", "build"]);
  const child = spawn("npx", [...PNPM, "--filter", "@mcp/server", "start"], {
    cwd: root,
    stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code) => process.exit(code ?? 0));
} else if (command === "test") {
  run(["lint"]);
  run(["typecheck"]);
  run(["format:check"]);
  run(["test:unit"]);
  if (process.env.SKIP_E2E !== "1") {
    ensureChromium();
    run(["--filter", "@mcp/web", "test:e2e"]);
  }
} else {
  console.error("usage: node tooling/scripts/run.mjs start|test");
  process.exit(2);
}
