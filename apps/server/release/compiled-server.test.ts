import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayPost, TEST_SERVER_ENV, toolCall, uniqueEmail } from "../test/harness";

/*
 * The compiled server (`pnpm build`: dist/main.js and dist/scripts/*.js), run with plain node as
 * production runs it: no tsx, no TypeScript, the workspace packages through their compiled
 * `dist`. `admin:create` on a new install, then a real flow through it over an embedded database
 * folder, the folder's single writer (a second process refused, `db:seed` going through the
 * running server, a kill -9 taken over), a quiet Ctrl-C, and production refusing to start
 * without SECRET_KEYS. dist/main.js bundles its dependencies (tsup.config.ts), so what it loads
 * only on first use (chunks of its own) is exercised through it too.
 */
const serverDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const node = (script: string) => [process.execPath, [join(serverDir, "dist", script)]] as const;

interface Compiled {
  child: ChildProcess;
  url: string;
  /** Every stdout line so far, parsed (the server logs JSON here). */
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

function baseEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...TEST_SERVER_ENV,
    NODE_ENV: "development",
    LOG_FORMAT: "json",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: dataDir,
    PGLITE_DIR: join(dataDir, "pglite"),
    ...extra,
  };
  delete env.DATABASE_URL;
  return env;
}

function startCompiled(env: NodeJS.ProcessEnv): Promise<Compiled> {
  const [command, args] = node("main.js");
  const child = spawn(command, args, { cwd: serverDir, env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const lines: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    void exited.then((code) => {
      reject(new Error(`the compiled server exited with ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === "MCP Agents Platform listening")
        resolve({ child, url: String(entry.url), lines, stderr: () => stderr, exited });
    });
  });
}

function runScript(
  script: string,
  env: NodeJS.ProcessEnv,
  options: { args?: string[]; stdin?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, nodeArgs] = node(script);
  const child = spawn(command, [...nodeArgs, ...(options.args ?? [])], {
    cwd: serverDir,
    env,
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  child.stdin?.end(options.stdin);
  let stdout = "";
  let stderr = "";
  // Both are pipes (stdio above); the union type of spawn's options hides that.
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      resolve({ code, stdout, stderr });
    }),
  );
}

async function rest(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Token ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

describe.runIf(process.platform === "linux")("the compiled server", () => {
  let upstream: RunningTestMcpServer;
  const started: ChildProcess[] = [];
  beforeAll(async () => {
    expect(existsSync(join(serverDir, "dist/main.js")), "run `pnpm build` first").toBe(true);
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
    await upstream.close();
  });

  const start = async (env: NodeJS.ProcessEnv) => {
    const server = await startCompiled(env);
    started.push(server.child);
    return server;
  };

  it(
    "serves a real flow, keeps its folder to itself, seeds through itself and stops quietly",
    { timeout: 900_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "mcpa-compiled-"));
      const env = baseEnv(dataDir);
      // The operator's first step on a new install: a platform admin, the password on stdin.
      const adminEmail = uniqueEmail("operator");
      const adminPassword = "operator-pass-1234";
      const admin = await runScript("scripts/admin-create.js", env, {
        args: ["--email", adminEmail],
        stdin: `${adminPassword}\n`,
      });
      expect(admin.code, admin.stderr).toBe(0);
      expect(admin.stdout).toContain(`Platform admin ${adminEmail} created`);
      const server = await start(env);
      const adminLogin = await rest(server.url, "POST", "/auth/login/", {
        email: adminEmail,
        password: adminPassword,
      });
      expect(adminLogin.status).toBe(200);
      expect(adminLogin.body.user.is_platform_admin).toBe(true);
      expect(
        server.lines.find((line) => line.msg === "MCP Agents Platform listening"),
      ).toMatchObject({
        mode: "development",
        database: "pglite",
        database_location: `embedded PGlite in ${join(dataDir, "pglite")}`,
      });
      expect(server.lines.map((line) => line.msg)).toContainEqual(
        expect.stringMatching(/^private-network blocking is off/),
      );

      // Register → org → connection to a test MCP server → sync → agent, key, policy → gateway.
      const email = uniqueEmail("compiled");
      const password = "compiled-pass-1234";
      const user = await rest(server.url, "POST", "/auth/register/", {
        email,
        password,
        password_confirm: password,
      });
      expect(user.status).toBe(201);
      const token: string = user.body.token;
      const org = await rest(server.url, "POST", "/orgs/", { name: "Compiled" }, token);
      expect(org.status).toBe(201);
      const connection = await rest(
        server.url,
        "POST",
        `/orgs/${org.body.id}/connections/`,
        { name: "upstream", transport: "streamable_http", url: upstream.url },
        token,
      );
      expect(connection.status).toBe(201);
      const sync = await rest(
        server.url,
        "POST",
        `/connections/${connection.body.id}/sync/`,
        undefined,
        token,
      );
      expect(sync.status, JSON.stringify(sync.body)).toBe(200);
      expect(sync.body.total).toBeGreaterThan(0);
      const agent = await rest(
        server.url,
        "POST",
        `/orgs/${org.body.id}/agents/`,
        { name: "a" },
        token,
      );
      const key = await rest(
        server.url,
        "POST",
        `/agents/${agent.body.id}/keys/`,
        { name: "k" },
        token,
      );
      const policy = await rest(
        server.url,
        "POST",
        `/orgs/${org.body.id}/policies/`,
        { name: "all", effect: "allow", agent_id: agent.body.id, tool_pattern: "*" },
        token,
      );
      expect(policy.status).toBe(201);
      const call = await gatewayPost(
        server.url,
        agent.body.id,
        key.body.key,
        toolCall("echo", { text: "compiled" }),
      );
      expect(call.status).toBe(200);
      expect(await call.json()).toMatchObject({
        result: { content: [{ type: "text", text: "compiled" }] },
      });
      // The gateway answers before its record is written: it follows within a write.
      await expect
        .poll(async () => {
          const runs = await rest(
            server.url,
            "GET",
            `/orgs/${org.body.id}/runs/`,
            undefined,
            token,
          );
          return runs.body.results[0];
        })
        .toMatchObject({
          tool_name: "echo",
          status: "succeeded",
          request_id: call.headers.get("x-request-id"),
        });

      // A second process on the same folder is refused at once, naming the holder.
      const second = await runScript("scripts/migrate.js", env);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`in use by another process: pid ${server.child.pid}`);
      expect(second.stderr).toContain(`serving ${server.url}`);

      // db:seed goes through the running server; its login works there and after a restart.
      const port = new URL(server.url).port;
      const seed = await runScript("scripts/seed.js", {
        ...env,
        PORT: port,
        DEMO_PASSWORD: "demo-pass-1234",
      });
      expect(seed.code, seed.stderr).toBe(0);
      expect(seed.stdout).toContain(`through the running server (pid ${server.child.pid})`);
      expect(seed.stdout).toContain("Demo data created");
      const demoLogin = { email: "demo@example.com", password: "demo-pass-1234" };
      expect((await rest(server.url, "POST", "/auth/login/", demoLogin)).status).toBe(200);

      // Ctrl-C: exit 0, nothing on stderr, no error logged.
      server.child.kill("SIGINT");
      expect(await server.exited).toBe(0);
      expect(server.stderr()).toBe("");
      expect(server.lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
      expect(server.lines.at(-1)).toMatchObject({ msg: "stopped" });

      const again = await start(env);
      expect((await rest(again.url, "POST", "/auth/login/", demoLogin)).status).toBe(200);
      expect((await rest(again.url, "POST", "/auth/login/", { email, password })).status).toBe(200);

      // kill -9 leaves the lock behind; the next start sees its holder is gone and takes over.
      again.child.kill("SIGKILL");
      await again.exited;
      expect(existsSync(join(dataDir, "pglite.lock"))).toBe(true);
      const third = await start(env);
      expect((await rest(third.url, "POST", "/auth/login/", demoLogin)).status).toBe(200);
      third.child.kill("SIGTERM");
      expect(await third.exited).toBe(0);
      expect(existsSync(join(dataDir, "pglite.lock"))).toBe(false);
    },
  );

  it(
    "loads what it loads on first use: YAML, the OpenAPI generator, Swagger UI, OpenTelemetry",
    { timeout: 120_000 },
    async () => {
      let traceExports = 0;
      const receiver = createServer((req, res) => {
        req.resume();
        req.on("end", () => {
          if (req.url === "/v1/traces") traceExports++;
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = receiver.address() as AddressInfo;
        const dataDir = mkdtempSync(join(tmpdir(), "mcpa-compiled-"));
        const server = await start(
          baseEnv(dataDir, {
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
            OTEL_BSP_SCHEDULE_DELAY: "10",
          }),
        );
        const password = "compiled-pass-1234";
        const user = await rest(server.url, "POST", "/auth/register/", {
          email: uniqueEmail("lazy"),
          password,
          password_confirm: password,
        });
        const token: string = user.body.token;
        const org = await rest(server.url, "POST", "/orgs/", { name: "Lazy" }, token);
        const exported = await rest(
          server.url,
          "GET",
          `/orgs/${org.body.id}/config`,
          undefined,
          token,
        );
        expect(exported.status, JSON.stringify(exported.body)).toBe(200);
        expect(exported.body.document).toContain("kind: OrgConfig");
        const applied = await rest(
          server.url,
          "POST",
          `/orgs/${org.body.id}/config/apply`,
          { document: exported.body.document, dry_run: true },
          token,
        );
        expect(applied.status, JSON.stringify(applied.body)).toBe(200);

        const openapi = await rest(server.url, "GET", "/openapi.json");
        expect(openapi.status).toBe(200);
        expect(openapi.body.paths["/orgs/{org_id}/config"]).toBeDefined();
        const docs = await fetch(`${server.url}/api/docs`);
        const css = /href="([^"]+\/swagger-ui\.css)"/.exec(await docs.text())?.[1];
        expect(css).toBeDefined();
        expect((await fetch(`${server.url}${css ?? ""}`)).status).toBe(200);

        await expect.poll(() => traceExports).toBeGreaterThan(0);
        server.child.kill("SIGTERM");
        expect(await server.exited).toBe(0);
        expect(server.stderr()).toBe("");
        expect(server.lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
      } finally {
        receiver.close();
      }
    },
  );

  it(
    "refuses to start in production without SECRET_KEYS, unless told to",
    { timeout: 120_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "mcpa-compiled-"));
      const refused = await runScript("main.js", baseEnv(dataDir, { NODE_ENV: "production" }));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("SECRET_KEYS: required in production");
      expect(refused.stderr).toContain("ALLOW_GENERATED_SECRET_KEY=true");
      expect(existsSync(join(dataDir, "pglite"))).toBe(false);
    },
  );
});
