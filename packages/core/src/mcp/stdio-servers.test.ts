import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareStdioTestServer, type StdioTestServer } from "../testing/mcp-servers";
import { connectMcp } from "./client";
import { findBwrap, isLoaderVariable, parseStdioServers, stdioLaunch } from "./stdio-servers";
import type { McpTarget } from "./target";

const HOST = { path: dirname(process.execPath), bwrapPath: null };
const CLIENT = { clientName: "stdio-servers-test", clientVersion: "1.0.0" };
const bwrapPath = findBwrap(process.env.PATH ?? "/usr/bin:/bin");

function parse(value: unknown, host: { path: string; bwrapPath: string | null } = HOST) {
  return parseStdioServers(JSON.stringify(value), "MCP_STDIO_SERVERS", host);
}

describe("parseStdioServers", () => {
  it("resolves commands on PATH and fills defaults", () => {
    const [server] = parse([{ id: "node-server", command: "node", env: ["API_TOKEN"] }]);
    expect(server).toEqual({
      id: "node-server",
      name: "node-server",
      description: "",
      command: join(dirname(process.execPath), "node"),
      args: [],
      env: ["API_TOKEN"],
      cwd: null,
      sandbox: "none",
      read_only_paths: [],
    });
  });

  it.each([
    "NODE_OPTIONS",
    "NODE_PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PERL5OPT",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
    "BASH_ENV",
    "npm_config_node_options",
    "HOME",
    "GIT_SSH_COMMAND",
  ])("refuses the loader variable %s even when the operator declares it", (name) => {
    expect(isLoaderVariable(name)).toBe(true);
    expect(() => parse([{ id: "x", command: "node", env: ["OK_TOKEN", name] }])).toThrow(
      /MCP_STDIO_SERVERS\[0\]\.env\[1\]: Loader and search-path variables/,
    );
  });

  it("accepts ordinary variable names", () => {
    for (const name of ["GITHUB_TOKEN", "API_KEY", "SLACK_BOT_TOKEN"])
      expect(isLoaderVariable(name)).toBe(false);
  });

  it.each([
    ["not JSON", "[{", /is not valid JSON/],
    ["not an array", JSON.stringify({ id: "x" }), /MCP_STDIO_SERVERS: /],
    ["an unknown key", JSON.stringify([{ id: "x", command: "node", shell: true }]), /\[0\]/],
    ["a bad id", JSON.stringify([{ id: "X Y", command: "node" }]), /\[0\]\.id/],
    [
      "a repeated id",
      JSON.stringify([
        { id: "a", command: "node" },
        { id: "a", command: "node" },
      ]),
      /\[1\]\.id: Repeats id "a"/,
    ],
    ["a relative cwd", JSON.stringify([{ id: "a", command: "node", cwd: "srv" }]), /\[0\]\.cwd/],
    [
      "a missing command",
      JSON.stringify([{ id: "a", command: "no-such-command-xyz" }]),
      /\[0\]\.command: "no-such-command-xyz" is not an executable file on PATH/,
    ],
    [
      "bwrap when it is not installed",
      JSON.stringify([{ id: "a", command: "node", sandbox: "bwrap" }]),
      /\[0\]\.sandbox: bwrap is not installed/,
    ],
  ])("refuses %s, naming the entry", (_what, json, message) => {
    expect(() => parseStdioServers(json, "MCP_STDIO_SERVERS", HOST)).toThrow(message);
  });
});

describe("stdioLaunch", () => {
  it("gives the child a fixed base environment and nothing of the platform's", () => {
    const [server] = parse([{ id: "a", command: "node", args: ["server.js"] }]);
    if (!server) throw new Error("no server");
    const launch = stdioLaunch(server, { bwrapPath: null, hiddenPaths: [] });
    expect(Object.keys(launch.env).sort()).toEqual(["HOME", "LANG", "PATH", "TMPDIR"]);
    expect(launch).toMatchObject({ command: server.command, args: ["server.js"] });
  });
});

describe.skipIf(bwrapPath === null)("the bwrap sandbox", () => {
  let stdio: StdioTestServer;
  let dataDir: string;
  let keyFile: string;
  // The repository: the test server's script and its node_modules live in it, and so does the
  // data directory here, so hiding it is what is under test (not merely leaving it unbound).
  const repository = resolve(fileURLToPath(new URL("../../../..", import.meta.url)));

  beforeAll(async () => {
    stdio = await prepareStdioTestServer();
    dataDir = join(
      repository,
      "packages/core/node_modules/.cache/mcp-testing",
      `data-${process.pid}-${Date.now()}`,
    );
    mkdirSync(dataDir, { recursive: true });
    keyFile = join(dataDir, "secret-keys");
    writeFileSync(keyFile, "k1:the-key-material\n", { mode: 0o600 });
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  function target(sandbox: "none" | "bwrap"): McpTarget {
    const [server] = parseStdioServers(
      JSON.stringify([
        { ...stdio.declaration("sandboxed"), sandbox, read_only_paths: [repository] },
      ]),
      "test",
      { path: HOST.path, bwrapPath },
    );
    if (!server) throw new Error("no server");
    return {
      ...stdio.target(),
      stdio: stdioLaunch(server, { bwrapPath, hiddenPaths: [dataDir] }),
      secret: { headers: {}, env: { DECLARED_TOKEN: "tok-123456" } },
    };
  }

  async function readInside(sandbox: "none" | "bwrap", path: string): Promise<string> {
    const session = await connectMcp(target(sandbox), CLIENT);
    try {
      const result = await session.callTool("read_file", { path }, { timeoutMs: 10_000 });
      const [first] = result.content;
      return first?.type === "text" ? first.text : "";
    } finally {
      await session.close();
    }
  }

  it("cannot read the key file in the data directory, which the host process can", async () => {
    expect(await readInside("none", keyFile)).toBe("k1:the-key-material\n");
    expect(await readInside("bwrap", keyFile)).toBe("unreadable: ENOENT");
  });

  it("cannot read the platform's environment through /proc", async () => {
    expect(await readInside("none", `/proc/${process.pid}/environ`)).not.toMatch(/^unreadable/);
    expect(await readInside("bwrap", `/proc/${process.pid}/environ`)).toMatch(/^unreadable/);
  });

  it("gets the declared variables and the fixed base only", async () => {
    const session = await connectMcp(target("bwrap"), CLIENT);
    try {
      const result = await session.callTool(
        "env",
        { names: ["DECLARED_TOKEN", "HOME", "PATH", "SECRET_KEYS", "DATABASE_URL", "USER"] },
        { timeoutMs: 10_000 },
      );
      expect(result.structuredContent).toMatchObject({
        DECLARED_TOKEN: "tok-123456",
        HOME: "/tmp",
        SECRET_KEYS: null,
        DATABASE_URL: null,
        USER: null,
      });
    } finally {
      await session.close();
    }
  });
});
