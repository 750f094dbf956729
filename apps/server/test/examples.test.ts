import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUnavailable, startTestServer, TEST_DB, type TestServer } from "./harness";

const examplesDir = join(dirname(fileURLToPath(import.meta.url)), "../../../examples");

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The ```bash blocks of a Markdown file, in order. */
function bashBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
}

// The examples do not depend on the database kind: once, against PGlite, is enough. Each runs
// whole programs and shell flows that `run` bounds at 120 s; the test waits as long as they may.
describe.skipIf(databaseUnavailable || TEST_DB === "postgres")(
  "examples in other languages",
  { timeout: 130_000 },
  () => {
    let server: TestServer;
    let upstream: RunningTestMcpServer;
    beforeAll(async () => {
      server = await startTestServer({ DEMO_MCP_SERVER: "true" });
      upstream = await startTestMcpServer();
    });
    afterAll(async () => {
      await server.close();
      await upstream.close();
    });

    it("python quickstart: registers, connects, syncs, governs and runs a tool over REST", async () => {
      const outcome = await run("python3", [
        join(examplesDir, "python/quickstart.py"),
        "--base-url",
        server.url,
        "--mcp-url",
        upstream.url,
        "--tool",
        "echo",
        "--input",
        '{"text": "hello from python"}',
      ]);
      expect(outcome.code, outcome.stderr).toBe(0);
      expect(outcome.stdout).toContain("synced");
      expect(outcome.stdout).toContain("-> hello from python");
      expect(outcome.stdout).toMatch(/1 run\(s\) in the organization/);
      expect(outcome.stdout).toContain("quick start succeeded");
    });

    it("python quickstart: its defaults (tool and input) work with the bundled demo server", async () => {
      const outcome = await run("python3", [join(examplesDir, "python/quickstart.py")], {
        BASE_URL: server.url,
        MCP_URL: `${server.url}/demo/mcp`,
      });
      expect(outcome.code, outcome.stderr).toBe(0);
      expect(outcome.stdout).toContain("ran calculate");
      expect(outcome.stdout).toContain("20");
    });

    it("python quickstart: exits non-zero with the API's error code, field and request id", async () => {
      const outcome = await run("python3", [
        join(examplesDir, "python/quickstart.py"),
        "--base-url",
        server.url,
        "--mcp-url",
        "not-a-url",
      ]);
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain("HTTP 400 BAD_REQUEST");
      expect(outcome.stderr).toMatch(/\n\s+url: /);
      expect(outcome.stderr).toContain("request_id: ");
    });

    it("python quickstart: a tool the server lacks is a clear failure", async () => {
      const outcome = await run("python3", [
        join(examplesDir, "python/quickstart.py"),
        "--base-url",
        server.url,
        "--mcp-url",
        upstream.url,
        "--tool",
        "no_such_tool",
      ]);
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain("no tool named 'no_such_tool'");
    });

    it("curl.md: its bash blocks, run in order in one shell, succeed", async () => {
      const blocks = bashBlocks(readFileSync(join(examplesDir, "curl.md"), "utf8"));
      expect(blocks.length).toBeGreaterThanOrEqual(6);
      const outcome = await run("bash", ["-c", ["set -euo pipefail", ...blocks].join("\n")], {
        BASE_URL: server.url,
        MCP_URL: upstream.url,
        TOOL_NAME: "echo",
        TOOL_INPUT: '{"text": "hello from curl"}',
      });
      expect(outcome.code, `${outcome.stdout}\n${outcome.stderr}`).toBe(0);
      expect(outcome.stdout).toContain("hello from curl");
      expect(outcome.stdout).toMatch(/succeeded/);
      // The last block shows an error body on purpose.
      expect(outcome.stderr).toContain('POST /orgs/ -> HTTP 400 {"code":"BAD_REQUEST"');
    });

    it("curl.md: a failing call stops the flow with curl's error", async () => {
      const blocks = bashBlocks(readFileSync(join(examplesDir, "curl.md"), "utf8"));
      const outcome = await run("bash", ["-c", ["set -euo pipefail", ...blocks].join("\n")], {
        BASE_URL: server.url,
        MCP_URL: "not-a-url",
      });
      expect(outcome.code).not.toBe(0);
      expect(outcome.stderr).toMatch(
        /POST \/orgs\/[\w-]+\/connections\/ -> HTTP 400 \{"code":"BAD_REQUEST"/,
      );
      expect(outcome.stdout).not.toContain("succeeded");
    });
  },
);
