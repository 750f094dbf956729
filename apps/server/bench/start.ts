/**
 * Start-up benchmark: `pnpm bench:start` (the root's script builds the server first).
 *
 * How long the server takes from `spawn` to its first healthy `/healthz`, and its resident memory
 * then, run five ways: from the sources through tsx (`node --import tsx src/main.ts`, how
 * `npm start` ran before the compiled server) and compiled (`node dist/main.js`, how it runs now)
 * on the embedded database, and compiled on PostgreSQL (a throw-away database on
 * BENCH_DATABASE_URL, default the local server), also with `--enable-source-maps` (Node then
 * reads the source map of every chunk it loads: opt-in, see README), and with a 2 MB
 * young generation (`--max-semi-space-size=2`, see BENCHMARKS.md). Each restarts on a database migrated once
 * beforehand, as an operator's restart does, one start at a time, the ways alternating,
 * BENCH_START_RUNS times each (default 5). The machine's 1-minute load average is printed beside
 * every run: on a shared machine it explains most of the spread.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";

const SERVER_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = Number(process.env.BENCH_START_RUNS ?? 5);

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const MODES = {
  tsx: { args: ["--conditions=@mcp/source", "--import", "tsx", "src/main.ts"], postgres: false },
  compiled: { args: ["dist/main.js"], postgres: false },
  "compiled, PostgreSQL": { args: ["dist/main.js"], postgres: true },
  "compiled, PostgreSQL, --enable-source-maps": {
    args: ["--enable-source-maps", "dist/main.js"],
    postgres: true,
  },
  "compiled, PostgreSQL, --max-semi-space-size=2": {
    args: ["--max-semi-space-size=2", "dist/main.js"],
    postgres: true,
  },
} as const;
type Mode = keyof typeof MODES;
const MODE_NAMES = Object.keys(MODES) as Mode[];

interface Databases {
  dataDir: string;
  postgresUrl: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface Sample {
  mode: Mode;
  startMs: number;
  rssMb: number;
  load: number;
}

async function startOnce(mode: Mode, databases: Databases, secretKeys: string): Promise<Sample> {
  const port = await freePort();
  const load = os.loadavg()[0] ?? 0;
  const { dataDir } = databases;
  const began = performance.now();
  const child = spawn(process.execPath, [...MODES[mode].args], {
    cwd: SERVER_DIR,
    stdio: "ignore",
    env: {
      ...process.env,
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      PGLITE_DIR: join(dataDir, "pglite"),
      SECRET_KEYS: secretKeys,
      DATABASE_URL: MODES[mode].postgres ? databases.postgresUrl : "",
    },
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${mode} server exited with ${child.exitCode}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        // not listening yet
      }
      await sleep(20);
    }
    const startMs = performance.now() - began;
    return { mode, startMs, rssMb: rssMb(child.pid ?? 0), load };
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(os.tmpdir(), "mcpa-bench-start-"));
  const secretKeys = `bench:${randomBytes(32).toString("base64")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const name = `mcpa_bench_start_${randomBytes(4).toString("hex")}`;
  await admin.query(`create database ${name}`);
  const postgresUrl = new URL(ADMIN_URL);
  postgresUrl.pathname = `/${name}`;
  const databases = { dataDir, postgresUrl: postgresUrl.toString() };
  try {
    // The first starts create and migrate the databases; they are not counted.
    await startOnce("compiled", databases, secretKeys);
    await startOnce("compiled, PostgreSQL", databases, secretKeys);
    const samples: Sample[] = [];
    for (let run = 1; run <= RUNS; run++) {
      for (const mode of MODE_NAMES) {
        const sample = await startOnce(mode, databases, secretKeys);
        samples.push(sample);
        console.log(
          `run ${run} ${mode.padEnd(46)} start ${sample.startMs.toFixed(0).padStart(6)} ms  ` +
            `RSS ${sample.rssMb.toFixed(0).padStart(4)} MB  load ${sample.load.toFixed(1)}`,
        );
      }
    }
    console.log("\n| way | start to healthy /healthz (median, min–max) | RSS then (median) |");
    console.log("| --- | --- | --- |");
    for (const mode of MODE_NAMES) {
      const own = samples.filter((sample) => sample.mode === mode);
      const starts = own.map((sample) => sample.startMs);
      console.log(
        `| ${mode} | ${median(starts).toFixed(0)} ms (${Math.min(...starts).toFixed(0)}–` +
          `${Math.max(...starts).toFixed(0)}) | ${median(own.map((sample) => sample.rssMb)).toFixed(0)} MB |`,
      );
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

await main();
