import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startNonMcpHttpServer } from "@mcp/core/testing";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { databaseUnavailable, TEST_SERVER_ENV, TEST_DB } from "./harness";

const serverDir = join(dirname(fileURLToPath(import.meta.url)), "..");

describe.skipIf(databaseUnavailable)("process lifecycle", () => {
  it("finishes in-flight requests on SIGTERM, then exits 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "mcpa-lifecycle-"));
    const child = spawn(
      process.execPath,
      ["--conditions=@mcp/source", "--import", "tsx", "src/main.ts"],
      {
        cwd: serverDir,
        env: {
          ...process.env,
          ...TEST_SERVER_ENV,
          PORT: "0",
          HOST: "127.0.0.1",
          LOG_LEVEL: "info",
          DATA_DIR: dataDir,
          PGLITE_DIR: join(dataDir, "pglite"),
          ...(TEST_DB === "postgres"
            ? { DATABASE_URL: inject("postgresUrl") }
            : { DATABASE_URL: "" }),
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => {
        resolve(code);
      }),
    );
    const lines = createInterface({ input: child.stdout });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("server did not start"));
      }, 60_000);
      lines.on("line", (line) => {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "MCP Agents Platform listening" && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      });
    });

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get("x-request-id")).toEqual(expect.any(String));

    // A connection test against a server that never answers takes its whole timeout: in flight.
    const hanging = await startNonMcpHttpServer();
    try {
      const register = await fetch(`${url}/api/v1/auth/register/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          email: "lifecycle@example.com",
          password: "lifecycle-pass",
          password_confirm: "lifecycle-pass",
        }),
      });
      expect(register.status, await register.clone().text()).toBe(201);
      const { token } = (await register.json()) as { token: string };
      const auth = { authorization: `Token ${token}`, "content-type": "application/json" };
      const org = (await (
        await fetch(`${url}/api/v1/orgs/`, { method: "POST", headers: auth, body: '{"name":"L"}' })
      ).json()) as { id: string };
      const connection = (await (
        await fetch(`${url}/api/v1/orgs/${org.id}/connections/`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({
            name: "hang",
            transport: "streamable_http",
            url: hanging.hang,
            timeout_ms: 1500,
          }),
        })
      ).json()) as { id?: string };
      expect(connection.id, JSON.stringify(connection)).toEqual(expect.any(String));
      const reachedUpstream = hanging.nextHang();
      const inFlight = fetch(`${url}/api/v1/connections/${connection.id}/test/`, {
        method: "POST",
        headers: auth,
      });
      await reachedUpstream;
      child.kill("SIGTERM");
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { ok: boolean }).ok).toBe(false);
      expect(await exited).toBe(0);
    } finally {
      await hanging.close();
      child.kill("SIGKILL");
    }
  }, 120_000);
});
