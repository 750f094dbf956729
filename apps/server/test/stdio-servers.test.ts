import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findBwrap } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { prepareStdioTestServer, type StdioTestServer } from "@mcp/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEnv } from "../src/env";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

const repository = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const bwrapPath = findBwrap("/usr/local/bin:/usr/bin:/bin");

describe("MCP_STDIO_SERVERS configuration", () => {
  let stdio: StdioTestServer;
  beforeAll(async () => {
    stdio = await prepareStdioTestServer();
  });

  it("reads the declarations inline or from a file", () => {
    const declarations = JSON.stringify([{ ...stdio.declaration("a"), env: ["API_TOKEN"] }]);
    expect(loadEnv({ MCP_STDIO_SERVERS: declarations }).MCP_STDIO_SERVERS).toMatchObject([
      { id: "a", command: stdio.command, args: stdio.args, env: ["API_TOKEN"] },
    ]);
    const directory = mkdtempSync(join(tmpdir(), "stdio-servers-"));
    try {
      const file = join(directory, "stdio-servers.json");
      writeFileSync(file, declarations);
      expect(loadEnv({ MCP_STDIO_SERVERS: file }).MCP_STDIO_SERVERS).toHaveLength(1);
      expect(() => loadEnv({ MCP_STDIO_SERVERS: join(directory, "missing.json") })).toThrow(
        /MCP_STDIO_SERVERS: not a JSON array and not a readable file \(ENOENT\)/,
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
    expect(loadEnv({}).MCP_STDIO_SERVERS).toEqual([]);
  });

  it("refuses loader variables an operator declares, before the server starts", () => {
    expect(() =>
      loadEnv({
        MCP_STDIO_SERVERS: JSON.stringify([
          { ...stdio.declaration("a"), env: ["API_TOKEN", "NODE_OPTIONS"] },
        ]),
      }),
    ).toThrow(/MCP_STDIO_SERVERS\[0\]\.env\[1\]: Loader and search-path variables/);
  });

  it("refuses the old command allow-list instead of silently ignoring it", () => {
    expect(() => loadEnv({ MCP_STDIO_ALLOWED_COMMANDS: "npx" })).toThrow(
      /MCP_STDIO_ALLOWED_COMMANDS: No longer supported: declare each stdio server in MCP_STDIO_SERVERS/,
    );
  });
});

describe.skipIf(databaseUnavailable)("stdio connections", () => {
  let server: TestServer;
  let stdio: StdioTestServer;
  let dataDir: string;

  beforeAll(async () => {
    stdio = await prepareStdioTestServer();
    // Inside the repository, which the sandboxed declaration makes visible: the data directory
    // must be hidden on purpose, not merely left out.
    dataDir = join(repository, "apps/server/node_modules/.cache", `stdio-data-${process.pid}`);
    mkdirSync(dataDir, { recursive: true });
    server = await startTestServer({
      DATA_DIR: dataDir,
      MCP_STDIO_SERVERS: JSON.stringify([
        { ...stdio.declaration("tokens"), name: "Token server", env: ["API_TOKEN", "REGION"] },
        { ...stdio.declaration("plain"), description: "No variables" },
        ...(bwrapPath
          ? [
              {
                ...stdio.declaration("sandboxed"),
                sandbox: "bwrap",
                env: ["API_TOKEN"],
                read_only_paths: [repository],
              },
            ]
          : []),
      ]),
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const create = (org: TestOrg, body: Record<string, unknown>) =>
    server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: {
        name: `stdio-${Math.random().toString(36).slice(2, 8)}`,
        transport: "stdio",
        ...body,
      },
    });

  it("lists the declared servers with their variable names, never the host's command", async () => {
    const org = await createOrg(server);
    const viewer = await addMember(server, org, "viewer");
    const list = await server.request("GET", `/orgs/${org.id}/stdio-servers/`, {
      token: viewer.token,
    });
    expect(list.status).toBe(200);
    expect(list.body.results.slice(0, 2)).toEqual([
      {
        id: "tokens",
        name: "Token server",
        description: "",
        env: ["API_TOKEN", "REGION"],
        sandboxed: false,
      },
      { id: "plain", name: "plain", description: "No variables", env: [], sandboxed: false },
    ]);
    expect(JSON.stringify(list.body)).not.toContain(stdio.command);
    expect(JSON.stringify(list.body)).not.toContain("stdio-mcp-server");
    const stranger = await createOrg(server);
    expect(
      (
        await server.request("GET", `/orgs/${org.id}/stdio-servers/`, {
          token: stranger.owner.token,
        })
      ).status,
    ).toBe(404);
  });

  it("takes only the variables the server declares", async () => {
    const org = await createOrg(server);
    for (const name of ["NODE_OPTIONS", "LD_PRELOAD", "PATH", "UNDECLARED"]) {
      const response = await create(org, {
        stdio_server: "tokens",
        secret: { env: { API_TOKEN: "tok-1", [name]: "x" } },
      });
      expect(response.status).toBe(400);
      expect(response.body.issues).toEqual([
        expect.objectContaining({ path: `secret.env.${name}` }),
      ]);
      expect(response.body.message).toContain("it takes: API_TOKEN, REGION");
    }
    const plain = await create(org, { stdio_server: "plain", secret: { env: { API_TOKEN: "x" } } });
    expect(plain.status).toBe(400);
    expect(plain.body.message).toBe('Stdio server "plain" takes no variables');
  });

  it("starts the child with the declared variables and a scrubbed environment", async () => {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "stdio",
      stdio_server: "tokens",
      secret: { env: { API_TOKEN: "tok-declared-123", REGION: "eu" } },
    });
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const run = await g.run(connection.tools.env ?? "", {
      input: { names: ["API_TOKEN", "REGION", "TEST_DB", "SECRET_KEYS", "DATABASE_URL", "LANG"] },
    });
    expect(run.body.status).toBe("succeeded");
    expect(run.body.output.structuredContent).toEqual({
      // The child has the token; the output it returns is redacted of the connection's secrets.
      API_TOKEN: "[REDACTED]",
      REGION: "eu",
      // Set in this test process (the platform's environment); the child never sees it.
      TEST_DB: null,
      SECRET_KEYS: null,
      DATABASE_URL: null,
      LANG: "C.UTF-8",
    });
  });

  it("clears the secret when the connection moves to another server", async () => {
    const org = await createOrg(server);
    const created = await create(org, {
      stdio_server: "tokens",
      secret: { env: { API_TOKEN: "tok-1" } },
    });
    expect(created.status).toBe(201);
    const moved = await server.request("PATCH", `/connections/${created.body.id}/`, {
      token: org.owner.token,
      body: { stdio_server: "plain" },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      stdio_server: "plain",
      has_secret: false,
      secret_cleared: true,
    });
  });

  it("refuses to start connections from before declarations, or of a server no longer declared", async () => {
    const org = await createOrg(server);
    const created = await create(org, { stdio_server: "plain" });
    const id: string = created.body.id;
    const test = () =>
      server.request("POST", `/connections/${id}/test/`, { token: org.owner.token });

    await server.database.db
      .update(schema.connections)
      .set({ stdio_server: null })
      .where(eq(schema.connections.id, id));
    const legacy = await test();
    expect(legacy.status).toBe(409);
    expect(legacy.body.message).toMatch(/edit it and pick one of the declared stdio servers/);

    await server.database.db
      .update(schema.connections)
      .set({ stdio_server: "removed" })
      .where(eq(schema.connections.id, id));
    const gone = await test();
    expect(gone.status).toBe(409);
    expect(gone.body.message).toContain('stdio server "removed", which is no longer declared');

    const fixed = await server.request("PATCH", `/connections/${id}/`, {
      token: org.owner.token,
      body: { stdio_server: "plain" },
    });
    expect(fixed.status).toBe(200);
    expect((await test()).body.ok).toBe(true);
  });

  it.skipIf(bwrapPath === null)(
    "runs a sandboxed server without access to the data directory and its key file",
    async () => {
      const org = await createOrg(server);
      const g = governance(server, org);
      await g.policy({ effect: "allow", tool_pattern: "*" });
      const keyFile = join(dataDir, "secret-keys");
      const read = async (stdioServer: string) => {
        const connection = await g.syncedConnection({
          transport: "stdio",
          stdio_server: stdioServer,
        });
        const run = await g.run(connection.tools.read_file ?? "", { input: { path: keyFile } });
        return JSON.stringify(run.body.output);
      };
      // The same read from an unsandboxed server succeeds: the file is there.
      expect(await read("plain")).toMatch(/k\d{8}-[0-9a-f]{4}:/);
      expect(await read("sandboxed")).toContain("unreadable: ENOENT");
    },
  );
});
