/**
 * Gateway benchmark: `pnpm bench` (= `pnpm --filter @mcp/server bench`).
 *
 * The platform runs as its own process, compiled, as `pnpm start` runs it in production
 * (`node dist/main.js`; `pnpm bench` at the root builds it first), the
 * upstream MCP server in another, and this process drives the load, so the platform's RSS is
 * its own and no two of them share an event loop. Everything talks over 127.0.0.1 only.
 *
 *   - sync of a 1,000-tool server (first sync of a new connection, then re-syncs)
 *   - the upstream `echo` tool called directly, through the gateway, and via POST /tools/{id}/run/
 *     at concurrency 1 and 32: p50/p99 latency, calls per second, peak RSS of the platform
 *   - (PostgreSQL) replicas: rate-limit ceiling, kill -9 losses, stats over many runs (faults.ts),
 *     and the latency of the runs and audit lists while one replica serves 32 gateway callers
 *   - (PostgreSQL) relay: an upstream's elicitation during a call answered on the upstream, through
 *     one replica, and through another replica than the one holding the call; plain calls with
 *     and without a session (relay.ts)
 *
 * on PostgreSQL (a throw-away database on BENCH_DATABASE_URL, default the local server) and on
 * PGlite (a temporary directory). Results are printed and written into BENCHMARKS.md at the repo
 * root between the generated-section markers; the rest of that file is kept as written.
 *
 * Environment: BENCH_REQUESTS (default 2000 per scenario), BENCH_WARMUP (default 2000 per path),
 * BENCH_DATABASE_URL, BENCH_SKIP_PGLITE=1,
 * BENCH_SKIP_POSTGRES=1, BENCH_SKIP_SYNC=1, BENCH_NO_WRITE=1 (print only), BENCH_ONLY, BENCH_PLATFORM_NODE_FLAGS,
 * BENCH_KILLS, BENCH_LISTS_CALLS, BENCH_LISTS_SECONDS, BENCH_SCALE_RUNS (default 1,000,000),
 * BENCH_RELAY_CALLS (default 400 per path), BENCH_RELAY_WARMUP (default 100 per path).
 * Only the lists part: BENCH_ONLY=lists BENCH_SKIP_SYNC=1 BENCH_SKIP_PGLITE=1 BENCH_NO_WRITE=1
 * (the same with BENCH_ONLY=relay for the relay part: about 1–2 minutes).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import pg from "pg";
import {
  benchKill,
  benchRateLimitCeiling,
  benchStats,
  formatFaults,
  formatLists,
  sampleLists,
  type FaultResults,
  type ListLatency,
  type ListsResult,
} from "./faults";
import { drive, percentile, ROUNDS, type Worker } from "./load";
import { benchOrgScale, formatOrgScale, type OrgScaleResult } from "./org-scale";
import { benchRelay, formatRelay, type RelayResult } from "./relay";

const SERVER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO_ROOT = resolve(SERVER_DIR, "../..");
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
/**
 * Calls per path before measuring. V8 needs about this many before the code of a path runs at its
 * steady speed: in one run here, direct calls at concurrency 1 took 2.9 ms (p50) over their first
 * 500 calls and 0.95 ms from the 2,500th on, and the gateway path has more code to optimise.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);
/** Concurrency levels to run (comma-separated), e.g. `BENCH_CONCURRENCY=1` while profiling. */
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "1,32").split(",").map(Number);
const SYNC_TOOLS = 1000;
const SYNC_RUNS = 5;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Extra node flags for the platform process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it. */
const PLATFORM_NODE_FLAGS = (process.env.BENCH_PLATFORM_NODE_FLAGS ?? "")
  .split(" ")
  .filter(Boolean);
/**
 * Run only these parts (comma-separated: direct,proxy,gateway,rest; faults: the rate-limit
 * ceiling, kill -9 losses and stats over many runs, on PostgreSQL; lists: runs and audit list
 * latency under gateway load, on PostgreSQL; scale: an org with many runs; relay: server→client
 * requests across replicas, on PostgreSQL), e.g. while profiling. Without any of the four
 * paths, no call scenarios run (the sync still does unless BENCH_SKIP_SYNC=1).
 */
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? "direct,proxy,gateway,traced,rest,faults,lists,scale,relay").split(
    ",",
  ),
);
const PATHS: Path[] = ["direct", "proxy", "gateway", "traced", "rest"];
/** Gateway callers, and bounds (calls, seconds) of the lists part. */
const LISTS_CALLERS = 32;
const LISTS_CALLS = Number(process.env.BENCH_LISTS_CALLS ?? 20_000);
const LISTS_SECONDS = Number(process.env.BENCH_LISTS_SECONDS ?? 30);
/** kill -9 rounds of the faults part. */
const KILLS = Number(process.env.BENCH_KILLS ?? 3);
/** Runs of the org-scale part (lists, stats and what-if at scale). */
const SCALE_RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 1_000_000);
const MARK_START = "<!-- bench:start (generated by `pnpm bench`; edits inside are overwritten) -->";
const MARK_END = "<!-- bench:end -->";

type Database = "postgres" | "pglite";
type Path = "direct" | "proxy" | "gateway" | "traced" | "rest";

interface ScenarioResult {
  database: Database;
  path: Path;
  concurrency: number;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  calls_per_s: number;
  peak_rss_mb: number;
  /** CPU spent per call (user + system) by each process involved, in ms. */
  cpu_ms_per_call: CpuSnapshot;
}

interface SyncResult {
  database: Database;
  tools: number;
  first_ms: number[];
  resync_ms: number[];
  /** VmHWM of the platform process that ran the syncs (and nothing else). */
  peak_rss_mb: number;
  /** `tools/list` of all 1,000 tools (every page), straight from the upstream and via the gateway. */
  list_direct_ms: number[];
  list_gateway_ms: number[];
}

// ---------------------------------------------------------------- processes

const children = new Set<ChildProcess>();

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      done();
      return;
    }
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(force);
      children.delete(child);
      done();
    });
    child.kill("SIGTERM");
  });
}

process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** tsx, reading the workspace packages' sources (not their compiled `dist`). */
const SOURCE_FLAGS = ["--conditions=@mcp/source", "--import", "tsx"];

/** A helper script of bench/ (the upstream, the bare proxy), run from its sources by tsx. */
function spawnTs(script: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [...SOURCE_FLAGS, script, ...args], {
    cwd: SERVER_DIR,
    env: { ...process.env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  return child;
}

const COMPILED_SERVER = join(SERVER_DIR, "dist", "main.js");

/** The compiled server, as `pnpm start` runs it (its flags, and the bench's own if any). */
function spawnPlatform(env: NodeJS.ProcessEnv): ChildProcess {
  if (!existsSync(COMPILED_SERVER))
    throw new Error(`${COMPILED_SERVER} is missing: build first (the root's \`pnpm bench\` does)`);
  const child = spawn(process.execPath, [...PLATFORM_NODE_FLAGS, COMPILED_SERVER], {
    cwd: SERVER_DIR,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.add(child);
  return child;
}

interface Helper {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

/** A script of bench/ that prints `{"url": …}` once listening (the upstream, the bare proxy). */
async function startHelper(script: string, args: string[]): Promise<Helper> {
  const child = spawnTs(script, args);
  const stdout = child.stdout;
  if (!stdout) throw new Error(`${script} has no stdout`);
  const lines = createInterface({ input: stdout });
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.once("exit", (code) => {
      reject(new Error(`${script} exited with ${code}`));
    });
    lines.once("line", (line) => {
      resolveUrl((JSON.parse(line) as { url: string }).url);
    });
  });
  return { url, pid: child.pid ?? 0, stop: () => stopChild(child) };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => {
    server.close(() => {
      done();
    });
  });
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

interface Platform {
  url: string;
  pid: number;
  stop: () => Promise<void>;
  /** SIGKILL; resolves once the process is gone. */
  kill: () => Promise<void>;
}

function startUpstream(generatedTools = 0): Promise<Helper> {
  return startHelper("bench/upstream.ts", [String(generatedTools)]);
}

/** One key for every platform of a run, so replicas on one database read each other's secrets. */
const BENCH_SECRET_KEYS = `bench:${randomBytes(32).toString("base64")}`;

async function startPlatform(
  database: Database,
  databaseUrl: string | null,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Platform> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(os.tmpdir(), "mcpa-bench-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    // Request logs stay on (info), as in production; they go to /dev/null.
    LOG_LEVEL: "info",
    DATA_DIR: dataDir,
    // The upstream is on 127.0.0.1, which production refuses by default.
    MCP_BLOCK_PRIVATE_NETWORKS: "false",
    // Each part signs up its own user on a database an earlier part already has users in.
    SIGNUP_MODE: "open",
    SECRET_KEYS: BENCH_SECRET_KEYS,
    ...extraEnv,
  };
  delete env.DATABASE_URL;
  if (database === "postgres" && databaseUrl) env.DATABASE_URL = databaseUrl;
  else env.PGLITE_DIR = join(dataDir, "pglite");
  const child = spawnPlatform(env);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`platform exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("platform did not become ready");
    await sleep(200);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error("platform has no pid");
  return {
    url,
    pid,
    stop: async () => {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
    kill: () =>
      new Promise<void>((done) => {
        child.once("exit", () => {
          done();
        });
        child.kill("SIGKILL");
      }),
  };
}

/** USER_HZ; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
function processCpuMs(pid: number | string): number {
  try {
    // utime and stime are the 14th and 15th fields; the command name before them may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU of every PostgreSQL server process by pid (backends come and go during a run). */
function postgresCpuByPid(): Map<string, number> {
  const byPid = new Map<string, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres")
        byPid.set(entry, processCpuMs(entry));
    } catch {
      // exited meanwhile
    }
  }
  return byPid;
}

/** Busy CPU of the whole machine so far (all cores, every process), in ms, from /proc/stat. */
function machineBusyMs(): number {
  const [cpu] = readFileSync("/proc/stat", "utf8").split("\n");
  const ticks = (cpu ?? "").trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  return ((total - idle) * 1000) / CLOCK_TICKS;
}

interface CpuSnapshot {
  client: number;
  platform: number;
  upstream: number;
  postgres: number;
  /** Everything else on the machine: other people's work, which skews every number. */
  other: number;
}

interface RawCpu {
  client: number;
  platform: number;
  upstream: number;
  postgres: Map<string, number>;
  machine: number;
}

function rawCpu(pids: { platform: number; upstream: number }): RawCpu {
  const own = process.cpuUsage();
  return {
    client: (own.user + own.system) / 1000,
    platform: processCpuMs(pids.platform),
    upstream: processCpuMs(pids.upstream),
    postgres: postgresCpuByPid(),
    machine: machineBusyMs(),
  };
}

function cpuDelta(before: RawCpu, after: RawCpu): CpuSnapshot {
  let postgres = 0;
  for (const [pid, value] of after.postgres) postgres += value - (before.postgres.get(pid) ?? 0);
  const delta = {
    client: after.client - before.client,
    platform: after.platform - before.platform,
    upstream: after.upstream - before.upstream,
    postgres,
  };
  const ours = delta.client + delta.platform + delta.upstream + delta.postgres;
  return { ...delta, other: Math.max(0, after.machine - before.machine - ours) };
}

/** Peak resident memory of a process, sampled from /proc while scenarios run. */
class RssSampler {
  private peakKb = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => {
      this.peakKb = Math.max(this.peakKb, this.read("VmRSS"));
    }, 20);
  }

  private read(field: "VmRSS" | "VmHWM"): number {
    try {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
        readFileSync(`/proc/${this.pid}/status`, "utf8"),
      );
      return match ? Number(match[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Peak since the last reset, in MB; starts a new window. */
  takePeakMb(): number {
    const peak = Math.max(this.peakKb, this.read("VmRSS"));
    this.peakKb = 0;
    return Math.round(peak / 102.4) / 10;
  }

  /** The kernel's high-water mark over the whole life of the process. */
  highWaterMb(): number {
    return Math.round(this.read("VmHWM") / 102.4) / 10;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------- REST setup

async function api<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<T> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

interface Fixture {
  token: string;
  orgId: string;
  agentId: string;
  key: string;
  echoToolId: string;
}

async function setUp(base: string, upstreamUrl: string): Promise<Fixture> {
  const password = "bench-password-1234";
  const email = `bench-${randomUUID()}@example.com`;
  const { token } = await api<{ token: string }>(base, "POST", "/auth/register/", {
    email,
    password,
    password_confirm: password,
  });
  const org = await api<{ id: string }>(base, "POST", "/orgs/", { name: "Bench" }, token);
  await addConnection(base, token, org.id, "echo upstream", upstreamUrl);
  const tools = await api<{ results: { id: string; name: string }[] }>(
    base,
    "GET",
    `/orgs/${org.id}/tools/?limit=200`,
    undefined,
    token,
  );
  const echo = tools.results.find((tool) => tool.name === "echo");
  if (!echo) throw new Error("echo not synced");
  const { agentId, key } = await allowedAgent(base, token, org.id, "echo");
  return { token, orgId: org.id, agentId, key, echoToolId: echo.id };
}

/** A connection of the org to `url`, its tools synced. */
async function addConnection(
  base: string,
  token: string,
  orgId: string,
  name: string,
  url: string,
): Promise<void> {
  const connection = await api<{ id: string }>(
    base,
    "POST",
    `/orgs/${orgId}/connections/`,
    { name, transport: "streamable_http", url },
    token,
  );
  await api(base, "POST", `/connections/${connection.id}/sync/`, undefined, token);
}

/** A policy allowing the agent the tools `toolPattern` matches. */
async function allowTools(
  base: string,
  token: string,
  orgId: string,
  agentId: string,
  toolPattern: string,
): Promise<void> {
  await api(
    base,
    "POST",
    `/orgs/${orgId}/policies/`,
    { name: `allow ${toolPattern}`, effect: "allow", agent_id: agentId, tool_pattern: toolPattern },
    token,
  );
}

/** An agent of the org with a key, allowed the tools `toolPattern` matches. */
async function allowedAgent(
  base: string,
  token: string,
  orgId: string,
  toolPattern: string,
): Promise<{ agentId: string; key: string }> {
  const agent = await api<{ id: string }>(
    base,
    "POST",
    `/orgs/${orgId}/agents/`,
    { name: "bench agent" },
    token,
  );
  const { key } = await api<{ key: string }>(
    base,
    "POST",
    `/agents/${agent.id}/keys/`,
    { name: "bench" },
    token,
  );
  await allowTools(base, token, orgId, agent.id, toolPattern);
  return { agentId: agent.id, key };
}

interface RecordCheck {
  database: Database;
  calls: number;
  runs: number;
  auditEvents: number;
  /** What the collector received from the traced replica (PostgreSQL only). */
  tracing?: CollectorCount;
}

/**
 * Every governed call of the scenarios (warm-up included) must have left a run and an audit
 * event, counted through the API. The gateway answers before its records are committed (the
 * recorder batches them, see RunRecorder), so a count taken right after the last call can be a
 * batch short: the counts are read again until they reach the calls or stop growing.
 */
async function checkRecords(
  base: string,
  fixture: Fixture,
  database: Database,
  calls: number,
): Promise<RecordCheck> {
  const count = async () => {
    const stats = await api<{ totals: { runs: number } }>(
      base,
      "GET",
      `/orgs/${fixture.orgId}/runs/stats/`,
      undefined,
      fixture.token,
    );
    let auditEvents = 0;
    let cursor: string | null = null;
    do {
      const page: { results: unknown[]; next_cursor: string | null } = await api(
        base,
        "GET",
        `/orgs/${fixture.orgId}/audit-events/?action=tool.run&limit=200${cursor ? `&cursor=${cursor}` : ""}`,
        undefined,
        fixture.token,
      );
      auditEvents += page.results.length;
      cursor = page.next_cursor;
    } while (cursor);
    return { runs: stats.totals.runs, auditEvents };
  };
  let counted = await count();
  for (;;) {
    if (counted.runs >= calls && counted.auditEvents >= calls) break;
    await sleep(1000);
    const again = await count();
    const grew = again.runs > counted.runs || again.auditEvents > counted.auditEvents;
    counted = again;
    if (!grew) break;
  }
  const check = { database, calls, ...counted };
  console.log(
    `  ${database.padEnd(8)} records: ${calls} governed calls, ${check.runs} runs, ${check.auditEvents} audit events`,
  );
  return check;
}

async function benchSync(
  base: string,
  token: string,
  upstreamUrl: string,
  database: Database,
): Promise<SyncResult> {
  const result: SyncResult = {
    database,
    tools: SYNC_TOOLS,
    first_ms: [],
    resync_ms: [],
    peak_rss_mb: 0,
    list_direct_ms: [],
    list_gateway_ms: [],
  };
  for (let run = 0; run < SYNC_RUNS; run++) {
    // A fresh org each time, so every first sync inserts all the tools without name clashes.
    const org = await api<{ id: string }>(base, "POST", "/orgs/", { name: `Sync ${run}` }, token);
    const connection = await api<{ id: string }>(
      base,
      "POST",
      `/orgs/${org.id}/connections/`,
      { name: "big", transport: "streamable_http", url: upstreamUrl },
      token,
    );
    for (const target of [result.first_ms, result.resync_ms]) {
      const started = performance.now();
      const summary = await api<{ total: number }>(
        base,
        "POST",
        `/connections/${connection.id}/sync/`,
        undefined,
        token,
      );
      target.push(performance.now() - started);
      if (summary.total !== SYNC_TOOLS)
        throw new Error(`synced ${summary.total} tools, expected ${SYNC_TOOLS}`);
    }
  }
  return result;
}

const LIST_ROUNDS = 30;

/**
 * `tools/list` of the 1,000-tool server, every page, by an agent allowed every tool: straight
 * from the upstream and through the gateway, taking turns so background load hits both alike.
 * The first gateway listing fills the per-agent cache; the rounds after it are what a client
 * sees until a sync or a policy change.
 */
async function benchToolsList(
  base: string,
  token: string,
  upstreamUrl: string,
  result: SyncResult,
): Promise<void> {
  const org = await api<{ id: string }>(base, "POST", "/orgs/", { name: "Listing" }, token);
  const connection = await api<{ id: string }>(
    base,
    "POST",
    `/orgs/${org.id}/connections/`,
    { name: "big", transport: "streamable_http", url: upstreamUrl },
    token,
  );
  await api(base, "POST", `/connections/${connection.id}/sync/`, undefined, token);
  const { agentId, key } = await allowedAgent(base, token, org.id, "*");
  const connect = async (url: string, headers: Record<string, string>) => {
    const client = new Client({ name: "bench-list", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
    );
    return client;
  };
  const direct = await connect(upstreamUrl, {});
  const gateway = await connect(`${base}/mcp/${agentId}`, { authorization: `Bearer ${key}` });
  const listAll = async (client: Client): Promise<number> => {
    const started = performance.now();
    let cursor: string | undefined;
    let tools = 0;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      tools += page.tools.length;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    if (tools !== SYNC_TOOLS) throw new Error(`listed ${tools} tools, expected ${SYNC_TOOLS}`);
    return performance.now() - started;
  };
  try {
    for (let round = 0; round < 3; round++) {
      await listAll(direct);
      await listAll(gateway);
    }
    for (let round = 0; round < LIST_ROUNDS; round++) {
      result.list_direct_ms.push(await listAll(direct));
      result.list_gateway_ms.push(await listAll(gateway));
    }
  } finally {
    await direct.close();
    await gateway.close();
  }
}

// ---------------------------------------------------------------- load

async function mcpWorker(url: string, headers: Record<string, string>): Promise<Worker> {
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
  );
  return {
    call: async (index) => {
      const text = `hello ${index}`;
      const result = await client.callTool({ name: "echo", arguments: { text } });
      const first = (result.content as { type: string; text?: string }[])[0];
      if (result.isError || first?.text !== text)
        throw new Error(`unexpected result ${JSON.stringify(result)}`);
    },
    close: () => client.close(),
  };
}

function restWorker(base: string, fixture: Fixture): Worker {
  return {
    call: async (index) => {
      const response = await fetch(`${base}/api/v1/tools/${fixture.echoToolId}/run/`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${fixture.key}` },
        body: JSON.stringify({ input: { text: `hello ${index}` } }),
      });
      const run = (await response.json()) as { status?: string };
      if (response.status !== 201 || run.status !== "succeeded")
        throw new Error(`unexpected run ${response.status} ${JSON.stringify(run)}`);
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Runs the paths of one concurrency level in interleaved rounds (direct, gateway, rest, direct,
 * …) on a machine shared with other work, so that a burst of foreign load does not land on one
 * path only. Each path has its own `concurrency` clients, kept open across rounds.
 */
async function compare(
  database: Database,
  concurrency: number,
  makers: Partial<Record<Path, () => Promise<Worker>>>,
  /** The RSS sampler of the process serving that path. */
  rssFor: (path: Path) => RssSampler,
  /** The process between client and upstream on that path (the platform, or the bare proxy). */
  pidsFor: (path: Path) => { platform: number; upstream: number },
): Promise<ScenarioResult[]> {
  const paths = (Object.keys(makers) as Path[]).filter((path) => makers[path] !== undefined);
  const workers = new Map<Path, Worker[]>();
  for (const path of paths) {
    const make = makers[path];
    if (make) workers.set(path, await Promise.all(Array.from({ length: concurrency }, make)));
  }
  const totals = new Map(
    paths.map((path) => [
      path,
      { latencies: [] as number[], wallMs: 0, peakMb: 0, cpu: [] as CpuSnapshot[] },
    ]),
  );
  try {
    for (const path of paths) await drive(workers.get(path) ?? [], WARMUP);
    const perRound = Math.ceil(REQUESTS / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      for (const path of paths) {
        const total = totals.get(path);
        if (!total) continue;
        const rss = rssFor(path);
        rss.takePeakMb();
        const pids = pidsFor(path);
        const before = rawCpu(pids);
        const { latencies, wallMs } = await drive(workers.get(path) ?? [], perRound);
        total.cpu.push(cpuDelta(before, rawCpu(pids)));
        total.peakMb = Math.max(total.peakMb, rss.takePeakMb());
        total.latencies.push(...latencies);
        total.wallMs += wallMs;
      }
    }
  } finally {
    for (const list of workers.values()) await Promise.all(list.map((worker) => worker.close()));
  }
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return paths.flatMap((path) => {
    const total = totals.get(path);
    if (!total) return [];
    const { latencies, wallMs, peakMb } = total;
    latencies.sort((a, b) => a - b);
    const calls = latencies.length;
    const sum = (key: keyof CpuSnapshot) =>
      Math.round((total.cpu.reduce((acc, cpu) => acc + cpu[key], 0) / calls) * 100) / 100;
    const result: ScenarioResult = {
      database,
      path,
      concurrency,
      requests: calls,
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
      mean_ms: round(latencies.reduce((acc, value) => acc + value, 0) / calls),
      calls_per_s: Math.round((calls / wallMs) * 1000),
      peak_rss_mb: peakMb,
      cpu_ms_per_call: {
        client: sum("client"),
        platform: sum("platform"),
        upstream: sum("upstream"),
        postgres: sum("postgres"),
        other: sum("other"),
      },
    };
    console.log(
      `  ${database.padEnd(8)} ${path.padEnd(7)} c=${String(concurrency).padEnd(2)}  p50 ${result.p50_ms.toFixed(2)} ms  p99 ${result.p99_ms.toFixed(2)} ms  ${result.calls_per_s} calls/s  platform RSS ${peakMb} MB  CPU ms/call ${JSON.stringify(result.cpu_ms_per_call)}`,
    );
    return [result];
  });
}

// ---------------------------------------------------------------- orchestration

async function createBenchDatabase(): Promise<{
  url: string;
  drop: () => Promise<void>;
  version: string;
} | null> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    console.warn(`PostgreSQL unreachable at ${ADMIN_URL} (${String(error)}); skipping it.`);
    return null;
  }
  const name = `mcpa_bench_${Date.now()}`;
  await admin.query(`create database ${name}`);
  const version = ((await admin.query("show server_version")).rows[0] as { server_version: string })
    .server_version;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    version,
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * The sync runs in a platform process of its own: listing and reconciling 1,000 tools grows the
 * heap, and that must not be charged to the call scenarios' RSS (nor theirs to it).
 */
async function syncPhase(
  database: Database,
  databaseUrl: string | null,
  bigUpstream: string,
): Promise<SyncResult> {
  const platform = await startPlatform(database, databaseUrl);
  const rss = new RssSampler(platform.pid);
  try {
    const password = "bench-password-1234";
    const email = `bench-sync-${Date.now()}@example.com`;
    const { token } = await api<{ token: string }>(platform.url, "POST", "/auth/register/", {
      email,
      password,
      password_confirm: password,
    });
    const sync = await benchSync(platform.url, token, bigUpstream, database);
    sync.peak_rss_mb = rss.highWaterMb();
    await benchToolsList(platform.url, token, bigUpstream, sync);
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    console.log(
      `  ${database.padEnd(8)} sync of ${SYNC_TOOLS} tools: first ${median(sync.first_ms).toFixed(0)} ms, re-sync ${median(sync.resync_ms).toFixed(0)} ms (median of ${SYNC_RUNS}), platform RSS ${sync.peak_rss_mb} MB; tools/list p50 ${median(sync.list_direct_ms).toFixed(1)} ms direct, ${median(sync.list_gateway_ms).toFixed(1)} ms via the gateway`,
    );
    return sync;
  } finally {
    rss.stop();
    await platform.stop();
  }
}

async function benchDatabase(
  database: Database,
  databaseUrl: string | null,
  upstreams: { echo: string; echoPid: number; big: string; proxy: Helper },
): Promise<{
  scenarios: ScenarioResult[];
  sync: SyncResult | null;
  highWaterMb: number | null;
  records: RecordCheck | null;
}> {
  console.log(`\n${database}`);
  const sync =
    process.env.BENCH_SKIP_SYNC === "1"
      ? null
      : await syncPhase(database, databaseUrl, upstreams.big);
  if (!PATHS.some((path) => ONLY.has(path)))
    return { scenarios: [], sync, highWaterMb: null, records: null };
  const platform = await startPlatform(database, databaseUrl);
  const rss = new RssSampler(platform.pid);
  // Tracing on: a second replica on the same PostgreSQL database exporting every span to a
  // collector in this process (a second process cannot open the same PGlite folder).
  const collector = database === "postgres" && ONLY.has("traced") ? await startCollector() : null;
  const traced = collector
    ? await startPlatform(database, databaseUrl, {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      })
    : null;
  const tracedRss = traced ? new RssSampler(traced.pid) : rss;
  try {
    const fixture = await setUp(platform.url, upstreams.echo);
    const auth = { Authorization: `Bearer ${fixture.key}` };
    const scenarios: ScenarioResult[] = [];
    const pidsFor = (path: Path) => ({
      platform:
        path === "proxy"
          ? upstreams.proxy.pid
          : path === "traced" && traced
            ? traced.pid
            : platform.pid,
      upstream: upstreams.echoPid,
    });
    for (const concurrency of CONCURRENCY) {
      const makers: Partial<Record<Path, () => Promise<Worker>>> = {};
      if (ONLY.has("direct")) makers.direct = () => mcpWorker(upstreams.echo, {});
      if (ONLY.has("proxy")) makers.proxy = () => mcpWorker(upstreams.proxy.url, {});
      if (ONLY.has("gateway"))
        makers.gateway = () => mcpWorker(`${platform.url}/mcp/${fixture.agentId}`, auth);
      if (traced) makers.traced = () => mcpWorker(`${traced.url}/mcp/${fixture.agentId}`, auth);
      if (ONLY.has("rest")) makers.rest = () => Promise.resolve(restWorker(platform.url, fixture));
      const rssFor = (path: Path) => (path === "traced" ? tracedRss : rss);
      scenarios.push(...(await compare(database, concurrency, makers, rssFor, pidsFor)));
    }
    const governed = (path: Path) => path === "gateway" || path === "traced" || path === "rest";
    const governedCalls = scenarios
      .filter((scenario) => governed(scenario.path))
      .reduce((sum, scenario) => sum + scenario.requests + WARMUP, 0);
    const records = await checkRecords(platform.url, fixture, database, governedCalls);
    if (collector && traced) {
      // The batch processor exports on its schedule; stopping the replica flushes the rest.
      await traced.stop();
      records.tracing = collector.received();
      console.log(
        `  ${database.padEnd(8)} tracing: ${records.tracing.spans} spans in ${records.tracing.traces} traces received`,
      );
    }
    return { scenarios, sync, highWaterMb: rss.highWaterMb(), records };
  } finally {
    rss.stop();
    tracedRss.stop();
    await platform.stop();
    await traced?.stop();
    await collector?.stop();
  }
}

interface CollectorCount {
  spans: number;
  traces: number;
}

/**
 * An OTLP/HTTP trace receiver (the exporter posts JSON): counts the spans and distinct traces it
 * is sent, so the traced path is shown to have exported what it claims.
 */
async function startCollector(): Promise<{
  url: string;
  received: () => CollectorCount;
  stop: () => Promise<void>;
}> {
  const traceIds = new Set<string>();
  let spans = 0;
  interface Export {
    resourceSpans?: { scopeSpans?: { spans?: { traceId?: string }[] }[] }[];
  }
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Export;
        for (const resource of body.resourceSpans ?? [])
          for (const scope of resource.scopeSpans ?? [])
            for (const span of scope.spans ?? []) {
              spans++;
              if (span.traceId) traceIds.add(span.traceId);
            }
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("collector has no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    received: () => ({ spans, traces: traceIds.size }),
    stop: () =>
      new Promise<void>((closed) => {
        server.close(() => {
          closed();
        });
      }),
  };
}

function latencySummary(times: number[]): ListLatency {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    p50_ms: Math.round(percentile(sorted, 50)),
    p95_ms: Math.round(percentile(sorted, 95)),
    max_ms: Math.round(sorted.at(-1) ?? Number.NaN),
  };
}

/**
 * One replica serves LISTS_CALLERS gateway callers in a closed loop (at most LISTS_CALLS calls or
 * LISTS_SECONDS, whichever comes first) while a separate client reads the first page of runs and
 * of audit events, one request at a time, in turn.
 */
async function benchScale(databaseUrl: string, upstreamUrl: string): Promise<OrgScaleResult> {
  console.log(`\nan org with ${SCALE_RUNS.toLocaleString("en")} runs on postgres`);
  const platform = await startPlatform("postgres", databaseUrl);
  try {
    const fixture = await setUp(platform.url, upstreamUrl);
    return await benchOrgScale({ databaseUrl, url: platform.url, ...fixture, runs: SCALE_RUNS });
  } finally {
    await platform.stop();
  }
}

async function benchLists(databaseUrl: string, upstreamUrl: string): Promise<ListsResult> {
  console.log("\nlists under gateway load on postgres");
  const platform = await startPlatform("postgres", databaseUrl);
  try {
    const fixture = await setUp(platform.url, upstreamUrl);
    const workers = await Promise.all(
      Array.from({ length: LISTS_CALLERS }, () =>
        mcpWorker(`${platform.url}/mcp/${fixture.agentId}`, {
          Authorization: `Bearer ${fixture.key}`,
        }),
      ),
    );
    try {
      let loaded = false;
      const [load, times] = await Promise.all([
        drive(workers, LISTS_CALLS, LISTS_SECONDS * 1000).finally(() => {
          loaded = true;
        }),
        sampleLists({
          url: platform.url,
          token: fixture.token,
          orgId: fixture.orgId,
          done: () => loaded,
        }),
      ]);
      const result: ListsResult = {
        callers: LISTS_CALLERS,
        calls: load.latencies.length,
        seconds: load.wallMs / 1000,
        calls_per_s: Math.round(load.latencies.length / (load.wallMs / 1000)),
        runs: latencySummary(times.runs),
        audit: latencySummary(times.audit),
      };
      const show = (latency: ListLatency) =>
        `${latency.requests} requests, p50 ${latency.p50_ms} ms, p95 ${latency.p95_ms} ms, max ${latency.max_ms} ms`;
      console.log(
        `  ${result.callers} gateway callers: ${result.calls} calls in ${result.seconds.toFixed(1)} s (${result.calls_per_s} calls/s); runs list: ${show(result.runs)}; audit list: ${show(result.audit)}`,
      );
      return result;
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
    }
  } finally {
    await platform.stop();
  }
}

/**
 * Two replicas on one PostgreSQL, an agent allowed `echo` and the eliciting upstream's
 * `confirm_delete`; the measurement itself is relay.ts's.
 */
async function benchRelayPart(databaseUrl: string, echoUrl: string): Promise<RelayResult> {
  console.log("\nserver→client requests across replicas on postgres");
  const eliciting = await startHelper("bench/upstream.ts", ["protocol"]);
  const [first, second] = await Promise.all([
    startPlatform("postgres", databaseUrl),
    startPlatform("postgres", databaseUrl),
  ]);
  try {
    const fixture = await setUp(first.url, echoUrl);
    await addConnection(first.url, fixture.token, fixture.orgId, "eliciting", eliciting.url);
    await allowTools(first.url, fixture.token, fixture.orgId, fixture.agentId, "confirm_delete");
    return await benchRelay({
      elicitingUpstream: eliciting.url,
      databaseUrl,
      replicas: [first.url, second.url],
      agentId: fixture.agentId,
      key: fixture.key,
    });
  } finally {
    await Promise.all([first.stop(), second.stop()]);
    await eliciting.stop();
  }
}

/** Rate-limit ceiling, kill -9 rounds of two replicas, then stats over many runs (PostgreSQL). */
async function benchFaults(databaseUrl: string, upstreamUrl: string): Promise<FaultResults> {
  console.log("\nreplicas on postgres");
  const ceiling = await benchRateLimitCeiling(databaseUrl);
  const kills = [];
  for (let round = 0; round < KILLS; round++) {
    const [victim, survivor] = await Promise.all([
      startPlatform("postgres", databaseUrl),
      startPlatform("postgres", databaseUrl),
    ]);
    try {
      const fixture = await setUp(victim.url, upstreamUrl);
      kills.push(
        await benchKill({
          databaseUrl,
          victim,
          survivor,
          agentId: fixture.agentId,
          key: fixture.key,
          orgId: fixture.orgId,
          afterCalls: 2000,
          concurrency: 32,
        }),
      );
    } finally {
      await victim.stop();
      await survivor.stop();
    }
  }
  const platform = await startPlatform("postgres", databaseUrl);
  try {
    // The same number of runs all in the window, and spread over 30 days (the index reads 1/30).
    const stats = [];
    for (const days of [1, 30]) {
      const fixture = await setUp(platform.url, upstreamUrl);
      stats.push(
        await benchStats({
          databaseUrl,
          url: platform.url,
          token: fixture.token,
          orgId: fixture.orgId,
          runs: 300_000,
          days,
        }),
      );
    }
    return { ceiling, kills, stats };
  } finally {
    await platform.stop();
  }
}

function formatReport(args: {
  scenarios: ScenarioResult[];
  syncs: SyncResult[];
  records: RecordCheck[];
  highWater: Partial<Record<Database, number>>;
  postgresVersion: string | null;
  startedAt: Date;
  durationS: number;
  loadAtStart: string;
  faults: FaultResults | null;
  lists: ListsResult | null;
  scale: OrgScaleResult | null;
  relay: RelayResult | null;
}): string {
  const { scenarios, syncs, highWater } = args;
  const cpus = os.cpus();
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  const find = (database: Database, path: Path, concurrency: number) =>
    scenarios.find(
      (s) => s.database === database && s.path === path && s.concurrency === concurrency,
    );
  const lines: string[] = [];
  lines.push(MARK_START, "");
  lines.push(
    `Run on ${args.startedAt.toISOString()} in ${args.durationS.toFixed(0)} s. Load average at start ${args.loadAtStart}, at end ${os
      .loadavg()
      .map((value) => value.toFixed(1))
      .join(" ")}.`,
    "",
  );
  lines.push("| Machine | |", "|---|---|");
  lines.push(`| CPU | ${cpus[0]?.model ?? "unknown"} (nproc ${os.availableParallelism()}) |`);
  lines.push(`| Memory | ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB |`);
  lines.push(`| OS | ${os.type()} ${os.release()} (${os.arch()}) |`);
  lines.push(`| Node.js | ${process.version} |`);
  lines.push(`| PostgreSQL | ${args.postgresVersion ?? "not run"} (local, same machine) |`);
  lines.push(`| PGlite | embedded in the platform process, on disk in a temp dir |`, "");

  lines.push(`### Sync of a ${SYNC_TOOLS}-tool server`, "");
  lines.push(
    `Wall time of \`POST /connections/{id}/sync/\` (list every page upstream + one reconciling transaction), median (min–max) of ${SYNC_RUNS} connections.`,
    "",
  );
  lines.push(
    "| Database | First sync (new connection, 1,000 inserts) | Re-sync (nothing changed: no writes) | Platform peak RSS | Target < 500 ms (PostgreSQL) |",
    "|---|---|---|---|---|",
  );
  for (const sync of syncs) {
    const range = (values: number[]) =>
      `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
    const worst = Math.max(median(sync.first_ms), median(sync.resync_ms));
    lines.push(
      `| ${sync.database} | ${range(sync.first_ms)} | ${range(sync.resync_ms)} | ${sync.peak_rss_mb} MB | ${sync.database === "postgres" ? (worst < 500 ? "met" : "**missed**") : "n/a"} |`,
    );
  }
  lines.push("");
  lines.push(
    `\`tools/list\` of the same 1,000 tools, every page, by an agent allowed them all: straight from the upstream and through the gateway (after its first listing filled the per-agent cache), ${LIST_ROUNDS} interleaved rounds, median (min–max). Target: the gateway within 1.5× the upstream.`,
    "",
    "| Database | Direct | Gateway | Gateway / direct |",
    "|---|---|---|---|",
  );
  for (const sync of syncs) {
    const range = (values: number[]) =>
      `${median(values).toFixed(1)} ms (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`;
    const ratio = median(sync.list_gateway_ms) / median(sync.list_direct_ms);
    lines.push(
      `| ${sync.database} | ${range(sync.list_direct_ms)} | ${range(sync.list_gateway_ms)} | ${ratio.toFixed(2)}× (${ratio <= 1.5 ? "met" : "**missed**"}) |`,
    );
  }
  lines.push("");

  lines.push(
    `### Calling \`echo\`: ${REQUESTS} calls per scenario after ${WARMUP} warm-up calls`,
    "",
  );
  lines.push(
    `*direct*: an MCP client with its own session on the upstream. *proxy*: the same client through a bare pass-through (bench/proxy.ts: no auth, no policy, no records; the platform's own upstream client code), i.e. the cost of one more HTTP hop on this machine; its process is the *platform* column on that row. *gateway*: an MCP client on \`/mcp/{agent_id}\`. *traced*: the same through a second replica on the same PostgreSQL database with tracing on (\`OTEL_EXPORTER_OTLP_ENDPOINT\` set to an OTLP/HTTP collector in the bench process; *gateway* is tracing off). *rest*: \`POST /api/v1/tools/{id}/run/\` with the agent key. Gateway and REST persist a run and an audit event per call. Concurrency = that many clients, each calling in a closed loop. The paths take turns in ${ROUNDS} interleaved rounds so background load hits them alike. RSS = peak of the platform process while that path ran. CPU = milliseconds of CPU per call spent by the load-generating clients / the platform / the upstream / PostgreSQL / everything else on the machine (other people's processes).`,
    "",
  );
  lines.push(
    "| Database | Path | Concurrency | p50 ms | p99 ms | calls/s | Platform peak RSS MB | CPU ms/call: client / platform / upstream / postgres / other |",
    "|---|---|---|---|---|---|---|---|",
  );
  for (const s of scenarios) {
    const cpu = s.cpu_ms_per_call;
    lines.push(
      `| ${s.database} | ${s.path} | ${s.concurrency} | ${s.p50_ms.toFixed(2)} | ${s.p99_ms.toFixed(2)} | ${s.calls_per_s} | ${s.path === "direct" || s.path === "proxy" ? `(${s.peak_rss_mb})` : s.peak_rss_mb} | ${cpu.client} / ${cpu.platform} / ${cpu.upstream} / ${cpu.postgres} / ${cpu.other} |`,
    );
  }
  lines.push("");
  lines.push("(RSS in parentheses: the platform is idle during direct and proxy calls.)", "");

  lines.push("### Targets", "");
  lines.push("| Database | Target | Measured | Result |", "|---|---|---|---|");
  for (const database of ["postgres", "pglite"] as const) {
    const d1 = find(database, "direct", 1);
    const g1 = find(database, "gateway", 1);
    const d32 = find(database, "direct", 32);
    const g32 = find(database, "gateway", 32);
    if (!d1 || !g1 || !d32 || !g32) continue;
    const added = g1.p50_ms - d1.p50_ms;
    const p1 = find(database, "proxy", 1);
    const ratio = g32.calls_per_s / d32.calls_per_s;
    const rssPeak = Math.max(
      ...scenarios.filter((s) => s.database === database).map((s) => s.peak_rss_mb),
      highWater[database] ?? 0,
    );
    const label = database === "postgres" ? "PostgreSQL" : "PGlite (informative)";
    lines.push(
      `| ${label} | gateway adds ≤ 1 ms to the direct p50 at concurrency 1 | +${added.toFixed(2)} ms (${d1.p50_ms.toFixed(2)} → ${g1.p50_ms.toFixed(2)}) | ${added <= 1 ? "met" : "**missed**"} |`,
    );
    if (p1)
      lines.push(
        `| ${label} | (reference) a bare pass-through proxy adds to the direct p50 at concurrency 1 | +${(p1.p50_ms - d1.p50_ms).toFixed(2)} ms (${d1.p50_ms.toFixed(2)} → ${p1.p50_ms.toFixed(2)}) | — |`,
      );
    lines.push(
      `| ${label} | gateway ≥ 50 % of direct calls/s at concurrency 32 | ${(ratio * 100).toFixed(0)} % (${g32.calls_per_s} vs ${d32.calls_per_s}) | ${ratio >= 0.5 ? "met" : "**missed**"} |`,
    );
    const records = args.records.find((check) => check.database === database);
    if (records) {
      const complete = records.runs === records.calls && records.auditEvents === records.calls;
      lines.push(
        `| ${label} | every governed call persisted its run and audit event | ${records.calls} calls: ${records.runs} runs, ${records.auditEvents} audit events | ${complete ? "met" : "**missed**"} |`,
      );
    }
    const t1 = find(database, "traced", 1);
    const t32 = find(database, "traced", 32);
    if (t1 && t32) {
      const tracing = records?.tracing;
      lines.push(
        `| ${label} | tracing on (OTLP/HTTP to a local collector): cost per governed call | p50 ${t1.p50_ms - g1.p50_ms >= 0 ? "+" : ""}${(t1.p50_ms - g1.p50_ms).toFixed(2)} ms at c=1; ${((t32.calls_per_s / g32.calls_per_s) * 100).toFixed(0)} % of tracing-off calls/s at c=32; platform CPU ${t32.cpu_ms_per_call.platform} vs ${g32.cpu_ms_per_call.platform} ms/call; ${tracing ? `${tracing.spans} spans in ${tracing.traces} traces received` : "collector count missing"} | measured |`,
      );
    }
    lines.push(
      `| ${label} | platform RSS < 300 MB while serving calls | ${rssPeak} MB peak (VmHWM ${highWater[database] ?? "?"} MB) | ${rssPeak < 300 ? "met" : "**missed**"} |`,
    );
  }
  if (args.faults) lines.push("", ...formatFaults(args.faults));
  if (args.lists) lines.push("", ...formatLists(args.lists));
  if (args.scale) lines.push("", ...formatOrgScale(args.scale));
  if (args.relay) lines.push("", ...formatRelay(args.relay));
  lines.push("", MARK_END);
  return lines.join("\n");
}

const DEFAULT_DOCUMENT = `# Benchmarks

How the MCP gateway performs against calling the upstream directly and against the REST run
endpoint, and how long a large sync takes.

## Reproduce

\`\`\`sh
npx -y pnpm@10 install
npx -y pnpm@10 bench            # builds the server, then tsx bench/run.ts in apps/server
\`\`\`

PostgreSQL is taken from \`BENCH_DATABASE_URL\` (default \`postgres://postgres@127.0.0.1:5432/test\`;
a throw-away database is created and dropped). \`BENCH_REQUESTS\` changes the calls per scenario
(default 2000). The run takes a few minutes.

## Results

${MARK_START}
${MARK_END}
`;

function writeDocument(report: string): void {
  const file = join(REPO_ROOT, "BENCHMARKS.md");
  const current = existsSync(file) ? readFileSync(file, "utf8") : DEFAULT_DOCUMENT;
  const start = current.indexOf(MARK_START);
  const end = current.indexOf(MARK_END);
  const next =
    start === -1 || end === -1
      ? `${current.trimEnd()}\n\n${report}\n`
      : `${current.slice(0, start)}${report}${current.slice(end + MARK_END.length)}`;
  writeFileSync(file, next);
  console.log(`\nWrote ${file}`);
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(" ");
  console.log(
    `Benchmark: ${REQUESTS} calls per scenario, concurrency ${CONCURRENCY.join(" and ")}`,
  );
  const echo = await startUpstream();
  const big = await startUpstream(SYNC_TOOLS);
  const proxy = await startHelper("bench/proxy.ts", [echo.url]);
  const scenarios: ScenarioResult[] = [];
  const syncs: SyncResult[] = [];
  const records: RecordCheck[] = [];
  const highWater: Partial<Record<Database, number>> = {};
  let postgresVersion: string | null = null;
  let faults: FaultResults | null = null;
  let lists: ListsResult | null = null;
  let scale: OrgScaleResult | null = null;
  let relay: RelayResult | null = null;
  try {
    if (process.env.BENCH_SKIP_POSTGRES !== "1") {
      const database = await createBenchDatabase();
      if (database) {
        postgresVersion = database.version;
        try {
          const result = await benchDatabase("postgres", database.url, {
            echo: echo.url,
            echoPid: echo.pid,
            big: big.url,
            proxy,
          });
          scenarios.push(...result.scenarios);
          if (result.records) records.push(result.records);
          if (result.sync) syncs.push(result.sync);
          if (result.highWaterMb !== null) highWater.postgres = result.highWaterMb;
          if (ONLY.has("relay")) relay = await benchRelayPart(database.url, echo.url);
          if (ONLY.has("faults")) faults = await benchFaults(database.url, echo.url);
          if (ONLY.has("lists")) lists = await benchLists(database.url, echo.url);
          if (ONLY.has("scale")) scale = await benchScale(database.url, echo.url);
        } finally {
          await database.drop();
        }
      }
    }
    if (process.env.BENCH_SKIP_PGLITE !== "1") {
      const result = await benchDatabase("pglite", null, {
        echo: echo.url,
        echoPid: echo.pid,
        big: big.url,
        proxy,
      });
      scenarios.push(...result.scenarios);
      if (result.records) records.push(result.records);
      if (result.sync) syncs.push(result.sync);
      if (result.highWaterMb !== null) highWater.pglite = result.highWaterMb;
    }
  } finally {
    await proxy.stop();
    await echo.stop();
    await big.stop();
  }
  const report = formatReport({
    scenarios,
    syncs,
    records,
    highWater,
    postgresVersion,
    startedAt,
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    loadAtStart,
    faults,
    lists,
    scale,
    relay,
  });
  console.log(`\n${report}`);
  if (process.env.BENCH_NO_WRITE !== "1") writeDocument(report);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
