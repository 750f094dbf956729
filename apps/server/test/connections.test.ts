import { CONNECTION_TIMEOUT_DEFAULT_MS } from "@mcp/api/contracts";
import { schema } from "@mcp/core/db";
import {
  findRefusedPort,
  prepareStdioTestServer,
  startNonMcpHttpServer,
  startSseTestMcpServer,
  startTestMcpServer,
  type RunningNonMcpServer,
  type RunningTestMcpServer,
  type StdioTestServer,
} from "@mcp/core/testing";
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

const SECRET_TOKEN = "s3cr3t-upstream-token-value";

describe.skipIf(databaseUnavailable)("connections", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let protectedUpstream: RunningTestMcpServer;
  let nonMcp: RunningNonMcpServer;
  let stdio: StdioTestServer;

  beforeAll(async () => {
    stdio = await prepareStdioTestServer();
    server = await startTestServer({
      MCP_STDIO_SERVERS: JSON.stringify([
        stdio.declaration("test-server"),
        { ...stdio.declaration("exits-on-start"), args: [...stdio.args, "--exit-on-start", "2"] },
        { ...stdio.declaration("garbage"), args: [...stdio.args, "--garbage"] },
      ]),
    });
    upstream = await startTestMcpServer({ name: "upstream-http", version: "9.9.9" });
    protectedUpstream = await startTestMcpServer({ bearerToken: SECRET_TOKEN });
    nonMcp = await startNonMcpHttpServer();
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
    await protectedUpstream.close();
    await nonMcp.close();
  });

  async function connect(org: TestOrg, body: Record<string, unknown>) {
    const response = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: { name: `conn-${Math.random().toString(36).slice(2, 8)}`, ...body },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as { id: string; slug: string };
  }

  it("creates, reads, updates and deletes a connection; secrets are write-only", async () => {
    const org = await createOrg(server);
    const created = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: {
        name: "GitHub MCP",
        transport: "streamable_http",
        url: protectedUpstream.url,
        headers: { "x-team": "platform" },
        secret: { headers: { Authorization: `Bearer ${SECRET_TOKEN}` } },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "GitHub MCP",
      slug: "github-mcp",
      transport: "streamable_http",
      url: protectedUpstream.url,
      stdio_server: null,
      headers: { "x-team": "platform" },
      has_secret: true,
      secret_keys: { headers: ["Authorization"], env: [] },
      // The default the SPA's form states, from the contract, is the one the server applies.
      timeout_ms: CONNECTION_TIMEOUT_DEFAULT_MS,
      status: "unknown",
      last_tested_at: null,
      server_info: null,
    });
    expect(JSON.stringify(created.body)).not.toContain(SECRET_TOKEN);
    const id: string = created.body.id;

    const get = await server.request("GET", `/connections/${id}/`, { token: org.owner.token });
    expect(get.body).toEqual(created.body);
    const list = await server.request("GET", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
    });
    expect(list.body.results).toEqual([created.body]);

    const patched = await server.request("PATCH", `/connections/${id}/`, {
      token: org.owner.token,
      body: { timeout_ms: 2000, description: "GitHub tools" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      timeout_ms: 2000,
      description: "GitHub tools",
      has_secret: true,
    });

    const cleared = await server.request("PATCH", `/connections/${id}/`, {
      token: org.owner.token,
      body: { secret: null },
    });
    expect(cleared.body).toMatchObject({
      has_secret: false,
      secret_keys: { headers: [], env: [] },
    });

    const [row] = await server.database.db
      .select()
      .from(schema.connections)
      .where(eq(schema.connections.id, id));
    expect(row?.secret_ciphertext).toBeNull();

    const events = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.target_id, id));
    expect(events.map((event) => event.action)).toEqual(
      expect.arrayContaining([
        "connection.create",
        "connection.secret_set",
        "connection.update",
        "connection.secret_clear",
      ]),
    );
    expect(JSON.stringify(events)).not.toContain(SECRET_TOKEN);

    expect(
      (await server.request("DELETE", `/connections/${id}/`, { token: org.owner.token })).status,
    ).toBe(204);
    expect(
      (await server.request("GET", `/connections/${id}/`, { token: org.owner.token })).status,
    ).toBe(404);
  });

  it("stores the secret encrypted, never in plain text", async () => {
    const org = await createOrg(server);
    const connection = await connect(org, {
      transport: "streamable_http",
      url: protectedUpstream.url,
      secret: { headers: { Authorization: `Bearer ${SECRET_TOKEN}` } },
    });
    const [row] = await server.database.db
      .select()
      .from(schema.connections)
      .where(eq(schema.connections.id, connection.id));
    expect(row?.secret_ciphertext).toMatch(/^v2\./);
    expect(JSON.stringify(row)).not.toContain(SECRET_TOKEN);
  });

  it.each([
    ["an http transport without url", { transport: "streamable_http" }, "url"],
    ["stdio without a server", { transport: "stdio" }, "stdio_server"],
    ["a non-http url", { transport: "sse", url: "ftp://example.com/mcp" }, "url"],
    ["an unknown transport", { transport: "carrier-pigeon", url: "http://x" }, "transport"],
    [
      "a timeout too small",
      { transport: "sse", url: "http://127.0.0.1:1/sse", timeout_ms: 5 },
      "timeout_ms",
    ],
    [
      "an invalid header name",
      { transport: "sse", url: "http://127.0.0.1:1/sse", headers: { "bad header": "x" } },
      "headers.bad header",
    ],
    ["a stdio server not declared", { transport: "stdio", stdio_server: "sh" }, "stdio_server"],
  ])("rejects %s with 400 naming the field", async (_label, body, field) => {
    const org = await createOrg(server);
    const response = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: { name: "bad", ...body },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body.issues.map((issue: { path: string }) => issue.path)).toContain(field);
  });

  it("refuses a duplicate name with 409 and an environment of another org with 400", async () => {
    const org = await createOrg(server);
    const other = await createOrg(server);
    const foreignEnv = await server.request("POST", `/orgs/${other.id}/environments/`, {
      token: other.owner.token,
      body: { name: "prod" },
    });
    await connect(org, { name: "dup", transport: "sse", url: "http://127.0.0.1:1/sse" });
    const duplicate = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: { name: "dup", transport: "sse", url: "http://127.0.0.1:1/sse" },
    });
    expect(duplicate.status).toBe(409);
    const foreign = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: {
        name: "x",
        transport: "sse",
        url: "http://127.0.0.1:1/sse",
        environment_id: foreignEnv.body.id,
      },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.issues[0].path).toBe("environment_id");
  });

  it("tests a healthy server with a real handshake over Streamable HTTP, SSE and stdio", async () => {
    const org = await createOrg(server);
    const sse = await startSseTestMcpServer({ name: "upstream-sse" });
    try {
      const cases = [
        { body: { transport: "streamable_http", url: upstream.url }, name: "upstream-http" },
        { body: { transport: "sse", url: sse.url }, name: "upstream-sse" },
        {
          body: { transport: "stdio", stdio_server: "test-server" },
          name: "stdio-test-server",
        },
      ];
      for (const { body, name } of cases) {
        const connection = await connect(org, body);
        const test = await server.request("POST", `/connections/${connection.id}/test/`, {
          token: org.owner.token,
        });
        expect(test.status).toBe(200);
        expect(test.body).toMatchObject({
          ok: true,
          error: null,
          server: { name },
          protocol_version: expect.any(String),
        });
        expect(test.body.latency_ms).toBeGreaterThanOrEqual(0);
        expect(test.body.capabilities).toHaveProperty("tools");
        const after = await server.request("GET", `/connections/${connection.id}/`, {
          token: org.owner.token,
        });
        expect(after.body).toMatchObject({
          status: "healthy",
          last_error: null,
          server_info: { name },
        });
        expect(after.body.last_tested_at).not.toBeNull();
      }
    } finally {
      await sse.close();
    }
  });

  it("reports every kind of broken upstream as ok:false with a clear error, promptly", async () => {
    const org = await createOrg(server);
    const refused = await findRefusedPort();
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { transport: "streamable_http", url: `http://127.0.0.1:${refused}/mcp` },
        /refused|unreachable|connect/i,
      ],
      [
        { transport: "streamable_http", url: "http://no-such-host.invalid/mcp" },
        /resolve|not found|ENOTFOUND|unreachable/i,
      ],
      [{ transport: "streamable_http", url: protectedUpstream.url }, /401|unauthori/i],
      [{ transport: "streamable_http", url: nonMcp.status(403) }, /403|forbidden/i],
      [{ transport: "streamable_http", url: nonMcp.html }, /MCP|JSON|html/i],
      [{ transport: "streamable_http", url: nonMcp.invalidJson }, /MCP|JSON/i],
      [{ transport: "streamable_http", url: nonMcp.hang, timeout_ms: 500 }, /timed out|timeout/i],
      [{ transport: "sse", url: nonMcp.html }, /.+/],
      [{ transport: "stdio", stdio_server: "exits-on-start" }, /exit|refusing|closed/i],
      [{ transport: "stdio", stdio_server: "garbage", timeout_ms: 1000 }, /.+/],
    ];
    for (const [body, pattern] of cases) {
      const connection = await connect(org, body);
      const test = await server.request("POST", `/connections/${connection.id}/test/`, {
        token: org.owner.token,
      });
      expect(test.status, JSON.stringify(body)).toBe(200);
      expect(test.body.ok, JSON.stringify(body)).toBe(false);
      expect(test.body.error, JSON.stringify(body)).toMatch(pattern);
      const after = await server.request("GET", `/connections/${connection.id}/`, {
        token: org.owner.token,
      });
      expect(after.body.status).toBe("unhealthy");
    }
  });

  it("authenticates upstream with the secret header, which never appears in an error", async () => {
    const org = await createOrg(server);
    const withSecret = await connect(org, {
      transport: "streamable_http",
      url: protectedUpstream.url,
      secret: { headers: { Authorization: `Bearer ${SECRET_TOKEN}` } },
    });
    const ok = await server.request("POST", `/connections/${withSecret.id}/test/`, {
      token: org.owner.token,
    });
    expect(ok.body.ok).toBe(true);
    const wrong = await connect(org, {
      transport: "streamable_http",
      url: protectedUpstream.url,
      secret: { headers: { Authorization: "Bearer wrong-token-value" } },
    });
    const denied = await server.request("POST", `/connections/${wrong.id}/test/`, {
      token: org.owner.token,
    });
    expect(denied.body.ok).toBe(false);
    expect(denied.body.error).not.toContain("wrong-token-value");
  });

  it("syncs tools: creates, updates, marks stale and namespaces name clashes", async () => {
    const versioned = await startTestMcpServer({ name: "versioned" });
    try {
      const org = await createOrg(server);
      const first = await connect(org, {
        name: "Alpha",
        transport: "streamable_http",
        url: versioned.url,
      });
      const sync = await server.request("POST", `/connections/${first.id}/sync/`, {
        token: org.owner.token,
      });
      expect(sync.status).toBe(200);
      const total: number = sync.body.total;
      expect(total).toBeGreaterThanOrEqual(8);
      expect(sync.body).toEqual({ created: total, changed: 0, unchanged: 0, stale: 0, total });

      const tools = await server.request(
        "GET",
        `/orgs/${org.id}/tools/?connection_id=${first.id}&limit=200`,
        { token: org.owner.token },
      );
      const echo = tools.body.results.find(
        (tool: { upstream_name: string }) => tool.upstream_name === "echo",
      );
      expect(echo).toMatchObject({
        name: "echo",
        source: "synced",
        enabled: true,
        stale: false,
        description: "Returns the given text",
        input_schema: { type: "object", properties: { text: { type: "string" } } },
        annotations: { readOnlyHint: true },
      });
      const add = tools.body.results.find((tool: { name: string }) => tool.name === "add");
      expect(add.output_schema).toMatchObject({
        type: "object",
        properties: { sum: { type: "number" } },
      });

      versioned.setToolsVersion(2);
      const resync = await server.request("POST", `/connections/${first.id}/sync/`, {
        token: org.owner.token,
      });
      expect(resync.body).toEqual({
        created: 1,
        changed: 0,
        unchanged: total,
        stale: 0,
        total: total + 1,
      });

      versioned.setToolsVersion(1);
      const shrink = await server.request("POST", `/connections/${first.id}/sync/`, {
        token: org.owner.token,
      });
      expect(shrink.body).toEqual({ created: 0, changed: 0, unchanged: total, stale: 1, total });
      const stale = await server.request("GET", `/orgs/${org.id}/tools/?stale=true`, {
        token: org.owner.token,
      });
      expect(stale.body.results).toHaveLength(1);
      expect(stale.body.results[0]).toMatchObject({
        name: "added_in_v2",
        stale: true,
        enabled: false,
      });

      const second = await connect(org, {
        name: "Beta",
        transport: "streamable_http",
        url: upstream.url,
      });
      await server.request("POST", `/connections/${second.id}/sync/`, { token: org.owner.token });
      const betaTools = await server.request(
        "GET",
        `/orgs/${org.id}/tools/?connection_id=${second.id}&q=echo`,
        { token: org.owner.token },
      );
      expect(betaTools.body.results.map((tool: { name: string }) => tool.name)).toContain(
        "beta__echo",
      );

      const connection = await server.request("GET", `/connections/${first.id}/`, {
        token: org.owner.token,
      });
      expect(connection.body.last_synced_at).not.toBeNull();
      const events = await server.request(
        "GET",
        `/orgs/${org.id}/audit-events/?action=connection.sync`,
        { token: org.owner.token },
      );
      expect(events.body.results.length).toBe(4);
    } finally {
      await versioned.close();
    }
  });

  it("follows tools/list pagination and syncs a 1,000-tool server", async () => {
    const big = await startTestMcpServer({
      builtinTools: false,
      generatedTools: 1000,
      pageSize: 100,
    });
    try {
      const org = await createOrg(server);
      const connection = await connect(org, { transport: "streamable_http", url: big.url });
      const sync = await server.request("POST", `/connections/${connection.id}/sync/`, {
        token: org.owner.token,
      });
      expect(sync.body).toEqual({
        created: 1000,
        changed: 0,
        unchanged: 0,
        stale: 0,
        total: 1000,
      });
      const again = await server.request("POST", `/connections/${connection.id}/sync/`, {
        token: org.owner.token,
      });
      expect(again.body).toEqual({
        created: 0,
        changed: 0,
        unchanged: 1000,
        stale: 0,
        total: 1000,
      });
      const page = await server.request("GET", `/orgs/${org.id}/tools/?limit=200`, {
        token: org.owner.token,
      });
      expect(page.body.results).toHaveLength(200);
      expect(page.body.next_cursor).toEqual(expect.any(String));
    } finally {
      await big.close();
    }
  });

  it("answers a sync of an unreachable server with 502 and marks it unhealthy", async () => {
    const org = await createOrg(server);
    const connection = await connect(org, {
      transport: "streamable_http",
      url: `http://127.0.0.1:${await findRefusedPort()}/mcp`,
    });
    const sync = await server.request("POST", `/connections/${connection.id}/sync/`, {
      token: org.owner.token,
    });
    expect(sync.status).toBe(502);
    expect(sync.body.code).toBe("UPSTREAM_ERROR");
    const after = await server.request("GET", `/connections/${connection.id}/`, {
      token: org.owner.token,
    });
    expect(after.body.status).toBe("unhealthy");
  });

  it("a failed sync, test or call marks only its own connection: other orgs' rows are untouched", async () => {
    const orgA = await createOrg(server);
    const orgB = await createOrg(server);
    const synced = async (org: TestOrg, url: string) => {
      const connection = await connect(org, { transport: "streamable_http", url });
      const sync = await server.request("POST", `/connections/${connection.id}/sync/`, {
        token: org.owner.token,
      });
      expect(sync.status, JSON.stringify(sync.body)).toBe(200);
      return connection;
    };
    const bystanders = [
      (await synced(orgB, upstream.url)).id,
      (await connect(orgB, { transport: "streamable_http", url: upstream.url })).id,
      (await synced(orgA, upstream.url)).id,
    ];
    const rows = () =>
      server.database.db
        .select()
        .from(schema.connections)
        .where(inArray(schema.connections.id, bystanders))
        .orderBy(schema.connections.id);
    const before = await rows();
    expect(before.map((row) => row.status).sort()).toEqual(["healthy", "healthy", "unknown"]);

    const refused = `http://127.0.0.1:${await findRefusedPort()}/mcp`;
    const broken = await connect(orgA, { transport: "streamable_http", url: refused });
    const sync = await server.request("POST", `/connections/${broken.id}/sync/`, {
      token: orgA.owner.token,
    });
    expect(sync.status).toBe(502);
    const test = await server.request("POST", `/connections/${broken.id}/test/`, {
      token: orgA.owner.token,
    });
    expect(test.body.ok).toBe(false);

    // A call whose server went away after its tools were synced.
    const vanishing = await startTestMcpServer();
    const gone = await synced(orgA, vanishing.url);
    await vanishing.close();
    const tools = await server.request("GET", `/orgs/${orgA.id}/tools/?connection_id=${gone.id}`, {
      token: orgA.owner.token,
    });
    const echo = (tools.body.results as { id: string; upstream_name: string }[]).find(
      (tool) => tool.upstream_name === "echo",
    );
    const policy = await server.request("POST", `/orgs/${orgA.id}/policies/`, {
      token: orgA.owner.token,
      body: { name: "allow all", effect: "allow", tool_pattern: "*" },
    });
    expect(policy.status).toBe(201);
    const run = await server.request("POST", `/tools/${echo?.id}/run/`, {
      token: orgA.owner.token,
      body: { input: { text: "hi" } },
    });
    expect(run.body.status).toBe("failed");

    const [brokenRow, goneRow] = await Promise.all(
      [broken.id, gone.id].map(async (id) => {
        const [row] = await server.database.db
          .select()
          .from(schema.connections)
          .where(eq(schema.connections.id, id));
        return row;
      }),
    );
    expect(brokenRow?.status).toBe("unhealthy");
    expect(goneRow?.status).toBe("unhealthy");
    expect(await rows()).toEqual(before);
  });

  it("enforces roles and tenancy on every connection endpoint", async () => {
    const org = await createOrg(server);
    const viewer = await addMember(server, org, "viewer");
    const member = await addMember(server, org, "member");
    const stranger = await createOrg(server);
    const connection = await connect(org, { transport: "streamable_http", url: upstream.url });
    const writes: [string, string, unknown?][] = [
      [
        "POST",
        `/orgs/${org.id}/connections/`,
        { name: "n", transport: "sse", url: "http://127.0.0.1:1/sse" },
      ],
      ["PATCH", `/connections/${connection.id}/`, { name: "renamed" }],
      ["POST", `/connections/${connection.id}/test/`],
      ["POST", `/connections/${connection.id}/sync/`],
      ["DELETE", `/connections/${connection.id}/`],
    ];
    for (const user of [viewer, member]) {
      expect(
        (await server.request("GET", `/connections/${connection.id}/`, { token: user.token }))
          .status,
      ).toBe(200);
      for (const [method, path, body] of writes) {
        expect(
          (await server.request(method, path, { token: user.token, body })).status,
          `${method} ${path}`,
        ).toBe(403);
      }
    }
    for (const [method, path, body] of [
      ["GET", `/connections/${connection.id}/`] as [string, string],
      ...writes,
    ]) {
      expect(
        (await server.request(method, path, { token: stranger.owner.token, body })).status,
        `${method} ${path}`,
      ).toBe(404);
    }
  });
});

describe.skipIf(databaseUnavailable)("outbound safety", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_BLOCK_PRIVATE_NETWORKS: "true" });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each([
    "http://127.0.0.1:8080/mcp",
    "http://localhost/mcp",
    "http://10.1.2.3/mcp",
    "http://192.168.1.1/mcp",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/mcp",
  ])("refuses %s with a 400 that says why", async (url) => {
    const org = await createOrg(server);
    const response = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: { name: "internal", transport: "streamable_http", url },
    });
    expect(response.status).toBe(400);
    expect(response.body.issues[0].path).toBe("url");
    expect(response.body.message).toMatch(/private|loopback|link-local|metadata|local/i);
  });

  it("does not say what an internal name resolves to", async () => {
    const org = await createOrg(server);
    const response = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: { name: "internal", transport: "streamable_http", url: "http://localhost:8080/mcp" },
    });
    expect(response.status).toBe(400);
    expect(response.body.issues).toEqual([
      {
        path: "url",
        message:
          "Host localhost resolves to a private or reserved address; connections to private and internal networks are blocked on this server",
      },
    ]);
    expect(JSON.stringify(response.body)).not.toMatch(/127\.0\.0\.1|::1|loopback/);
  });

  it("refuses stdio when the operator declared no stdio servers", async () => {
    const org = await createOrg(server);
    const response = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: { name: "local", transport: "stdio", stdio_server: "node" },
    });
    expect(response.status).toBe(400);
    expect(response.body.issues).toEqual([expect.objectContaining({ path: "stdio_server" })]);
    expect(response.body.message).toMatch(/^No stdio servers are declared on this server/);
  });
});
