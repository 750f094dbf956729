import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { apiClient, TEST_SERVER_ENV, type ApiClient } from "./harness";
import { startBalancer, type Balancer } from "./round-robin";

export { startBalancer, type Balancer, type RoutedRequest } from "./round-robin";

/*
 * Several real server processes (`node --import tsx src/main.ts`, as `pnpm start` runs it) on one
 * PostgreSQL database, and a round-robin balancer in front of them that sends every HTTP request,
 * GET streams included, to the next replica: what a deployment behind a load balancer without
 * sticky sessions looks like. PostgreSQL only (PGlite lives inside one process).
 */

const serverDir = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface Replica {
  url: string;
  child: ChildProcess;
  /** Every JSON line the process logged so far. */
  log: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Keep-alive connections to this replica. */
  agent: http.Agent;
  /** Resolves when the process logs a line with this message. */
  logged: (msg: string) => Promise<void>;
}

/** The environment of a replica on the test PostgreSQL; `overrides` win. */
export function replicaEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: inject("postgresUrl"),
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    NODE_ENV: "test",
    SECRET_KEYS: `replicas:${randomBytes(32).toString("base64")}`,
    DATA_DIR: mkdtempSync(join(tmpdir(), "mcpa-replicas-")),
    ...overrides,
  };
}

/** Spawns one server process; resolves once it listens. Replicas of one cluster share `env`. */
export function startReplica(env: Record<string, string>): Promise<Replica> {
  const child = spawn(
    process.execPath,
    ["--conditions=@mcp/source", "--import", "tsx", "src/main.ts"],
    {
      cwd: serverDir,
      env: { ...process.env, ...TEST_SERVER_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // A test that fails or times out before stopping its replicas leaves none running.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const log: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: () => void }[] = [];
  const logged = (msg: string) =>
    new Promise<void>((resolve) => {
      waiters.push({ msg, resolve });
    });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      process.off("exit", killOnExit);
      resolve({ code, signal });
    }),
  );
  return new Promise((resolve, reject) => {
    void exited.then(({ code }) => {
      reject(new Error(`replica exited with ${code} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      log.push(entry);
      for (const waiter of waiters.filter((candidate) => candidate.msg === entry.msg)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      if (entry.msg === "MCP Agents Platform listening" && typeof entry.url === "string") {
        resolve({
          url: entry.url,
          child,
          log,
          exited,
          agent: new http.Agent({ keepAlive: true }),
          logged,
        });
      }
    });
  });
}

export interface ReplicatedCluster extends ApiClient {
  /** The balancer's URL: what clients use. */
  url: string;
  replicas: Replica[];
  balancer: Balancer;
  close: () => Promise<void>;
}

/**
 * `count` replicas on the test PostgreSQL behind a round-robin balancer. `request` (REST, as on a
 * TestServer) goes through the balancer too, so harness helpers such as createOrg work unchanged.
 */
export async function startReplicatedCluster(
  options: { count?: number; env?: Record<string, string> } = {},
): Promise<ReplicatedCluster> {
  const env = replicaEnv(options.env);
  const started = await Promise.allSettled(
    Array.from({ length: options.count ?? 2 }, () => startReplica(env)),
  );
  const replicas = started.flatMap((result) =>
    result.status === "fulfilled" ? [result.value] : [],
  );
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    for (const replica of replicas) replica.child.kill("SIGKILL");
    throw failed.reason;
  }
  const balancer = await startBalancer(replicas.map((replica) => replica.url));
  return {
    url: balancer.url,
    replicas,
    balancer,
    request: apiClient(balancer.url).request,
    close: async () => {
      await balancer.close();
      await Promise.all(
        replicas.map(async (replica) => {
          replica.agent.destroy();
          replica.child.kill("SIGTERM");
          await replica.exited;
        }),
      );
    },
  };
}
