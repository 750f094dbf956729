import { schema } from "@mcp/core/db";
import {
  prepareStdioTestServer,
  startTestMcpServer,
  type RunningTestMcpServer,
  type StdioTestServer,
} from "@mcp/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestServer,
} from "./harness";

describe.skipIf(databaseUnavailable)("governed tool runs", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let stdio: StdioTestServer;

  beforeAll(async () => {
    stdio = await prepareStdioTestServer();
    server = await startTestServer({
      MCP_STDIO_SERVERS: JSON.stringify([stdio.declaration("test-server")]),
    });
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  async function setup() {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
      timeout_ms: 1500,
    });
    return { org, g, connection, tools: connection.tools };
  }

  it("denies by default and records the denied run with its decision (201)", async () => {
    const { g, tools } = await setup();
    const response = await g.run(tools.echo ?? "", { input: { text: "hi" } });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      status: "denied",
      tool_name: "echo",
      agent_id: null,
      input: { text: "hi" },
      output: null,
      error: expect.stringMatching(/No allow policy/i),
      decision: { allowed: false },
      triggered_by: { type: "user", surface: "rest" },
    });
  });

  it("runs an allowed call upstream and returns the CallToolResult", async () => {
    const { org, g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const response = await g.run(tools.add ?? "", { input: { a: 2, b: 40 } });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      status: "succeeded",
      error: null,
      output: { content: [{ type: "text", text: "42" }], structuredContent: { sum: 42 } },
      output_truncated: false,
      decision: { allowed: true },
    });
    expect(response.body.duration_ms).toBeGreaterThanOrEqual(0);
    expect(response.body.finished_at).not.toBeNull();
    // The run names the request that made it, as the response header and the logs do.
    expect(response.body.request_id).toEqual(expect.any(String));
    expect(response.body.request_id).toBe(response.headers.get("x-request-id"));

    const got = await server.request("GET", `/runs/${response.body.id}/`, {
      token: org.owner.token,
    });
    expect(got.body).toEqual(response.body);
    const audit = await server.request("GET", `/orgs/${org.id}/audit-events/?action=tool.run`, {
      token: org.owner.token,
    });
    expect(audit.body.results[0]).toMatchObject({
      actor_type: "user",
      actor_id: org.owner.id,
      target_type: "run",
      target_id: response.body.id,
      metadata: { status: "succeeded", tool_name: "add" },
    });
  });

  it("lets deny win over allow, and scopes policies to agents", async () => {
    const { g, tools } = await setup();
    const agent = await g.agent();
    const other = await g.agent();
    await g.policy({ effect: "allow", tool_pattern: "*", agent_id: agent.id });
    await g.policy({ effect: "deny", tool_pattern: "fail", agent_id: agent.id });
    expect(
      (await g.run(tools.echo ?? "", { agent_id: agent.id, input: { text: "x" } })).body.status,
    ).toBe("succeeded");
    const denied = await g.run(tools.fail ?? "", { agent_id: agent.id, input: {} });
    expect(denied.body).toMatchObject({ status: "denied", agent_id: agent.id });
    expect(denied.body.error).toMatch(/Denied by policy/);
    expect(
      (await g.run(tools.echo ?? "", { agent_id: other.id, input: { text: "x" } })).body.status,
    ).toBe("denied");
  });

  it("validates input against the tool's JSON Schema and against policy input schemas", async () => {
    const { g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "echo" });
    await g.policy({
      effect: "deny",
      tool_pattern: "echo",
      input_schema: {
        type: "object",
        properties: { text: { const: "rm -rf /" } },
        required: ["text"],
      },
    });
    const invalid = await g.run(tools.echo ?? "", { input: { text: 42 } });
    expect(invalid.body).toMatchObject({ status: "failed" });
    expect(invalid.body.error).toMatch(/Invalid input: \/text must be string/);
    const dangerous = await g.run(tools.echo ?? "", { input: { text: "rm -rf /" } });
    expect(dangerous.body.status).toBe("denied");
    expect((await g.run(tools.echo ?? "", { input: { text: "ls" } })).body.status).toBe(
      "succeeded",
    );
  });

  it("enforces rate limits atomically per agent and policy: 429, Retry-After and a rate_limited run", async () => {
    const { org, g, tools } = await setup();
    const agent = await g.agent();
    const other = await g.agent();
    await g.policy({
      effect: "allow",
      tool_pattern: "echo",
      rate_limit: { max_calls: 3, per_seconds: 3600 },
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        g.run(tools.echo ?? "", { agent_id: agent.id, input: { text: "x" } }),
      ),
    );
    const succeeded = results.filter((response) => response.status === 201);
    expect(succeeded.map((response) => response.body.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    const limited = results.filter((response) => response.status === 429);
    expect(limited).toHaveLength(3);
    for (const response of limited) {
      expect(response.body).toMatchObject({
        code: "RATE_LIMITED",
        message: expect.stringMatching(/Rate limited by policy .*3 calls per 3600 s/),
        run_id: expect.any(String),
      });
      const retryAfter = Number(response.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(response.body.retry_after_seconds).toBe(retryAfter);
    }
    const run = await server.request("GET", `/runs/${limited[0]?.body.run_id}/`, {
      token: org.owner.token,
    });
    expect(run.body).toMatchObject({
      status: "rate_limited",
      agent_id: agent.id,
      error: expect.stringMatching(/Rate limited by policy/),
      decision: { allowed: false, reason: expect.stringMatching(/Rate limited by policy/) },
    });
    const listed = await server.request("GET", `/orgs/${org.id}/runs/?status=rate_limited`, {
      token: org.owner.token,
    });
    expect(listed.body.results).toHaveLength(3);
    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?target_id=${limited[0]?.body.run_id}`,
      { token: org.owner.token },
    );
    expect(audit.body.results[0]).toMatchObject({
      action: "tool.run",
      metadata: { status: "rate_limited" },
    });
    expect(
      (await g.run(tools.echo ?? "", { agent_id: other.id, input: { text: "x" } })).body.status,
    ).toBe("succeeded");
  });

  it("lets only admins run as an agent, and records both the person and the agent", async () => {
    const { org, g, tools } = await setup();
    const agent = await g.agent();
    await g.policy({ effect: "allow", tool_pattern: "echo", agent_id: agent.id });
    const member = await addMember(server, org, "member");
    const admin = await addMember(server, org, "admin");

    const borrowed = await g.run(
      tools.echo ?? "",
      { agent_id: agent.id, input: { text: "x" } },
      member.token,
    );
    expect(borrowed.status).toBe(403);
    expect(borrowed.body).toMatchObject({
      code: "FORBIDDEN",
      message:
        "Running a tool as an agent (agent_id) needs the admin role or higher; yours is member",
    });
    // Nothing ran, so nothing of the agent's was used.
    const none = await server.request("GET", `/orgs/${org.id}/runs/?agent_id=${agent.id}`, {
      token: org.owner.token,
    });
    expect(none.body.results).toEqual([]);

    const asAgent = await g.run(
      tools.echo ?? "",
      { agent_id: agent.id, input: { text: "x" } },
      admin.token,
    );
    expect(asAgent.status).toBe(201);
    expect(asAgent.body).toMatchObject({
      status: "succeeded",
      kind: "tool",
      agent_id: agent.id,
      user_id: admin.id,
      triggered_by: { type: "user", id: admin.id },
    });
    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?target_id=${asAgent.body.id}`,
      { token: org.owner.token },
    );
    expect(audit.body.results[0]).toMatchObject({
      action: "tool.run",
      actor_type: "user",
      actor_id: admin.id,
      metadata: { agent_id: agent.id, user_id: admin.id },
    });

    // A member still runs tools as themselves; an agent key's run names no person.
    await g.policy({ effect: "allow", tool_pattern: "echo" });
    const own = await g.run(tools.echo ?? "", { input: { text: "m" } }, member.token);
    expect(own.body).toMatchObject({ status: "succeeded", agent_id: null, user_id: member.id });
    const key = await g.key(agent.id);
    const byKey = await g.run(tools.echo ?? "", { input: { text: "k" } }, key.key);
    expect(byKey.body).toMatchObject({ agent_id: agent.id, user_id: null });
  });

  it("records an upstream tool error as failed with its content", async () => {
    const { g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const response = await g.run(tools.fail ?? "", { input: {} });
    expect(response.body).toMatchObject({
      status: "failed",
      output: { isError: true, content: [{ type: "text", text: "The tool failed on purpose" }] },
    });
  });

  it("times out slow calls at the connection's timeout", async () => {
    const { g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const response = await g.run(tools.slow ?? "", { input: { ms: 10_000 } });
    expect(response.body.status).toBe("timeout");
    expect(response.body.error).toMatch(/timed out/i);
  });

  it("caps a huge output at 1 MiB with the truncated flag", async () => {
    const { g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const response = await g.run(tools.huge ?? "", { input: { bytes: 2 * 1024 * 1024 } });
    expect(response.body.status).toBe("succeeded");
    expect(response.body.output_truncated).toBe(true);
    expect(JSON.stringify(response.body.output).length).toBeLessThanOrEqual(1024 * 1024);
  });

  it("passes every content type through unchanged", async () => {
    const { g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const response = await g.run(tools.mixed ?? "", { input: {} });
    const types = (response.body.output.content as { type: string }[]).map((item) => item.type);
    expect(types).toEqual(["text", "image", "audio", "resource", "resource_link"]);
    expect(response.body.output.structuredContent).toEqual({ kind: "mixed", items: 5 });
  });

  it("fails cleanly when a stdio server exits mid-call, and recovers on the next call", async () => {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "stdio",
      stdio_server: "test-server",
    });
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const crashed = await g.run(connection.tools.crash ?? "", { input: {} });
    expect(crashed.body.status).toBe("failed");
    expect(crashed.body.error).toMatch(/exit|closed|connection/i);
    const next = await g.run(connection.tools.echo ?? "", { input: { text: "still here" } });
    expect(next.body).toMatchObject({
      status: "succeeded",
      output: { content: [{ type: "text", text: "still here" }] },
    });
  });

  it("runs as an agent with its key; revoked keys and disabled agents stop at once", async () => {
    const { org, g, tools } = await setup();
    const agent = await g.agent();
    const key = await g.key(agent.id);
    expect(key.key).toMatch(/^mcpa_/);
    await g.policy({ effect: "allow", tool_pattern: "echo", agent_id: agent.id });
    const asAgent = await g.run(tools.echo ?? "", { input: { text: "from agent" } }, key.key);
    expect(asAgent.status).toBe(201);
    expect(asAgent.body).toMatchObject({
      status: "succeeded",
      agent_id: agent.id,
      triggered_by: { type: "agent", id: agent.id },
    });
    const other = await g.agent();
    const impersonate = await g.run(
      tools.echo ?? "",
      { agent_id: other.id, input: { text: "x" } },
      key.key,
    );
    expect(impersonate.status).toBe(400);
    // An agent key opens nothing but tool runs.
    expect(
      (
        await server.request("GET", `/orgs/${org.id}/runs/`, {
          headers: { authorization: `Bearer ${key.key}` },
        })
      ).status,
    ).toBe(403);

    await server.request("PATCH", `/agents/${agent.id}/`, {
      token: org.owner.token,
      body: { status: "disabled" },
    });
    expect((await g.run(tools.echo ?? "", { input: { text: "x" } }, key.key)).status).toBe(401);
    await server.request("PATCH", `/agents/${agent.id}/`, {
      token: org.owner.token,
      body: { status: "active" },
    });
    expect((await g.run(tools.echo ?? "", { input: { text: "x" } }, key.key)).status).toBe(201);
    await server.request("DELETE", `/agents/${agent.id}/keys/${key.id}/`, {
      token: org.owner.token,
    });
    expect((await g.run(tools.echo ?? "", { input: { text: "x" } }, key.key)).status).toBe(401);
  });

  it("keeps runs in their org: another org's tools, agents and keys are not found", async () => {
    const { g, tools } = await setup();
    const stranger = await createOrg(server);
    const sg = governance(server, stranger);
    const strangerAgent = await sg.agent();
    const strangerKey = await sg.key(strangerAgent.id);
    expect((await g.run(tools.echo ?? "", { input: {} }, stranger.owner.token)).status).toBe(404);
    expect((await g.run(tools.echo ?? "", { input: {} }, strangerKey.key)).status).toBe(404);
    const foreignAgent = await g.run(tools.echo ?? "", { agent_id: strangerAgent.id, input: {} });
    expect(foreignAgent.status).toBe(400);
    expect(foreignAgent.body.issues[0].path).toBe("agent_id");
  });

  it("lets members run but not viewers; rejects malformed bodies with 400", async () => {
    const { org, g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const member = await addMember(server, org, "member");
    const viewer = await addMember(server, org, "viewer");
    expect((await g.run(tools.echo ?? "", { input: { text: "m" } }, member.token)).status).toBe(
      201,
    );
    expect((await g.run(tools.echo ?? "", { input: { text: "v" } }, viewer.token)).status).toBe(
      403,
    );
    const notObject = await g.run(tools.echo ?? "", { input: "text" });
    expect(notObject.status).toBe(400);
    expect(notObject.body.issues[0].path).toBe("input");
  });

  it("disabled and stale tools are refused and recorded", async () => {
    const { org, g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "*" });
    await server.request("PATCH", `/tools/${tools.echo}/`, {
      token: org.owner.token,
      body: { enabled: false },
    });
    const disabled = await g.run(tools.echo ?? "", { input: { text: "x" } });
    expect(disabled.body).toMatchObject({
      status: "denied",
      error: expect.stringMatching(/disabled/),
    });
  });

  it("lists runs newest first with filters, and aggregates stats", async () => {
    const { org, g, tools } = await setup();
    await g.policy({ effect: "allow", tool_pattern: "echo" });
    const agent = await g.agent();
    const ids: string[] = [];
    for (let index = 0; index < 3; index++)
      ids.push((await g.run(tools.echo ?? "", { input: { text: `${index}` } })).body.id);
    await g.run(tools.add ?? "", { agent_id: agent.id, input: { a: 1, b: 1 } });

    const all = await server.request("GET", `/orgs/${org.id}/runs/`, { token: org.owner.token });
    expect(all.body.results).toHaveLength(4);
    expect(all.body.results.slice(1).map((run: { id: string }) => run.id)).toEqual(
      [...ids].reverse(),
    );
    const denied = await server.request("GET", `/orgs/${org.id}/runs/?status=denied`, {
      token: org.owner.token,
    });
    expect(denied.body.results).toHaveLength(1);
    const byAgent = await server.request("GET", `/orgs/${org.id}/runs/?agent_id=${agent.id}`, {
      token: org.owner.token,
    });
    expect(byAgent.body.results).toHaveLength(1);
    const byTool = await server.request(
      "GET",
      `/orgs/${org.id}/runs/?tool_id=${tools.echo}&limit=2`,
      { token: org.owner.token },
    );
    expect(byTool.body.results).toHaveLength(2);
    const nextPage = await server.request(
      "GET",
      `/orgs/${org.id}/runs/?tool_id=${tools.echo}&limit=2&cursor=${byTool.body.next_cursor}`,
      {
        token: org.owner.token,
      },
    );
    expect(nextPage.body).toMatchObject({ next_cursor: null });
    expect(nextPage.body.results).toHaveLength(1);
    const future = await server.request(
      "GET",
      `/orgs/${org.id}/runs/?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      {
        token: org.owner.token,
      },
    );
    expect(future.body.results).toHaveLength(0);
    const badStatus = await server.request("GET", `/orgs/${org.id}/runs/?status=exploded`, {
      token: org.owner.token,
    });
    expect(badStatus.status).toBe(400);

    const stats = await server.request("GET", `/orgs/${org.id}/runs/stats/?bucket=minute`, {
      token: org.owner.token,
    });
    expect(stats.status).toBe(200);
    expect(stats.body.totals).toMatchObject({
      runs: 4,
      succeeded: 3,
      denied: 1,
      failed: 0,
      error_rate: 0,
    });
    expect(stats.body.totals.p50_ms).toEqual(expect.any(Number));
    expect(
      stats.body.tools.find((row: { tool_name: string }) => row.tool_name === "echo"),
    ).toMatchObject({ runs: 3, succeeded: 3 });
    expect(
      stats.body.agents.find((row: { agent_id: string | null }) => row.agent_id === agent.id),
    ).toMatchObject({ runs: 1, denied: 1 });
    expect(
      stats.body.series.reduce(
        (sum: number, bucket: { succeeded: number }) => sum + bucket.succeeded,
        0,
      ),
    ).toBe(3);
  });

  it("never stores or returns the connection secret in runs", async () => {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
      secret: { headers: { "x-api-key": "top-secret-value-123" } },
    });
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const response = await g.run(connection.tools.echo_headers ?? "", { input: {} });
    // The upstream received the injected header...
    expect(JSON.stringify(response.body.output)).toContain("x-api-key");
    const rows = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.org_id, org.id));
    expect(JSON.stringify(rows)).not.toContain("top-secret-value-123");
  });
});
