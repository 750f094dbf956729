import { createHash } from "node:crypto";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
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

describe.skipIf(databaseUnavailable)("tools, agents, policies and audit", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  it("manages tools: manual registration, rename, enable/disable, filters and deletion", async () => {
    const org = await createOrg(server);
    const token = org.owner.token;
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });

    const manual = await server.request("POST", `/orgs/${org.id}/tools/`, {
      token,
      body: {
        connection_id: connection.id,
        upstream_name: "hidden_tool",
        name: "hidden",
        description: "Not in tools/list",
        input_schema: { type: "object", properties: { q: { type: "string" } } },
      },
    });
    expect(manual.status).toBe(201);
    expect(manual.body).toMatchObject({
      name: "hidden",
      upstream_name: "hidden_tool",
      source: "manual",
      enabled: true,
      stale: false,
    });

    const badSchema = await server.request("POST", `/orgs/${org.id}/tools/`, {
      token,
      body: { connection_id: connection.id, upstream_name: "x", input_schema: { type: 12 } },
    });
    expect(badSchema.status).toBe(400);
    expect(badSchema.body.issues[0].path).toBe("input_schema");
    const foreignConnection = await server.request("POST", `/orgs/${org.id}/tools/`, {
      token,
      body: { connection_id: "00000000-0000-7000-8000-000000000000", upstream_name: "x" },
    });
    expect(foreignConnection.status).toBe(400);
    expect(foreignConnection.body.issues[0].path).toBe("connection_id");

    const renamed = await server.request("PATCH", `/tools/${connection.tools.echo}/`, {
      token,
      body: { name: "say" },
    });
    expect(renamed.body).toMatchObject({ name: "say", upstream_name: "echo" });
    const clash = await server.request("PATCH", `/tools/${connection.tools.add}/`, {
      token,
      body: { name: "say" },
    });
    expect(clash.status).toBe(409);
    const invalidName = await server.request("PATCH", `/tools/${connection.tools.add}/`, {
      token,
      body: { name: "has space" },
    });
    expect(invalidName.status).toBe(400);

    await server.request("PATCH", `/tools/${connection.tools.fail}/`, {
      token,
      body: { enabled: false },
    });
    const disabled = await server.request("GET", `/orgs/${org.id}/tools/?enabled=false`, { token });
    expect(
      disabled.body.results.map((tool: { upstream_name: string }) => tool.upstream_name),
    ).toEqual(["fail"]);
    const search = await server.request("GET", `/orgs/${org.id}/tools/?q=SAY`, { token });
    expect(search.body.results.map((tool: { name: string }) => tool.name)).toEqual(["say"]);
    const wildcard = await server.request("GET", `/orgs/${org.id}/tools/?q=%25`, { token });
    expect(wildcard.body.results).toHaveLength(0);
    const badFilter = await server.request("GET", `/orgs/${org.id}/tools/?enabled=maybe`, {
      token,
    });
    expect(badFilter.status).toBe(400);

    expect((await server.request("DELETE", `/tools/${manual.body.id}/`, { token })).status).toBe(
      204,
    );
    expect((await server.request("GET", `/tools/${manual.body.id}/`, { token })).status).toBe(404);
  });

  it("manages agents and shows a key once, storing only its hash", async () => {
    const org = await createOrg(server);
    const token = org.owner.token;
    const env = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token,
      body: { name: "prod" },
    });
    const created = await server.request("POST", `/orgs/${org.id}/agents/`, {
      token,
      body: { name: "Support bot", description: "Answers tickets", environment_id: env.body.id },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "Support bot",
      status: "active",
      environment_id: env.body.id,
      mcp_url: `${server.url}/mcp/${created.body.id}`,
    });
    const id: string = created.body.id;
    expect(
      (
        await server.request("POST", `/orgs/${org.id}/agents/`, {
          token,
          body: { name: "Support bot" },
        })
      ).status,
    ).toBe(409);

    const key = await server.request("POST", `/agents/${id}/keys/`, {
      token,
      body: { name: "laptop" },
    });
    expect(key.status).toBe(201);
    expect(key.body.key).toMatch(/^mcpa_[A-Za-z0-9_-]{40,}$/);
    expect(key.body.key.startsWith(key.body.prefix)).toBe(true);
    const keys = await server.request("GET", `/agents/${id}/keys/`, { token });
    expect(keys.body.results).toHaveLength(1);
    expect(keys.body.results[0]).not.toHaveProperty("key");
    expect(keys.body.results[0]).toMatchObject({
      prefix: key.body.prefix,
      name: "laptop",
      last_used_at: null,
      revoked_at: null,
    });
    const [row] = await server.database.db
      .select()
      .from(schema.agentKeys)
      .where(eq(schema.agentKeys.id, key.body.id));
    expect(row?.key_hash).toBe(createHash("sha256").update(key.body.key).digest("hex"));
    expect(JSON.stringify(row)).not.toContain(key.body.key);

    const disabled = await server.request("PATCH", `/agents/${id}/`, {
      token,
      body: { status: "disabled" },
    });
    expect(disabled.body.status).toBe("disabled");
    expect(
      (await server.request("DELETE", `/agents/${id}/keys/${key.body.id}/`, { token })).status,
    ).toBe(204);
    expect(
      (await server.request("DELETE", `/agents/${id}/keys/${key.body.id}/`, { token })).status,
    ).toBe(404);
    const revoked = await server.request("GET", `/agents/${id}/keys/`, { token });
    expect(revoked.body.results[0].revoked_at).not.toBeNull();

    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?target_type=agent_key`,
      { token },
    );
    expect(audit.body.results.map((event: { action: string }) => event.action)).toEqual([
      "agent_key.revoke",
      "agent_key.create",
    ]);
    expect(JSON.stringify(audit.body)).not.toContain(key.body.key);

    expect((await server.request("DELETE", `/agents/${id}/`, { token })).status).toBe(204);
    expect((await server.request("GET", `/agents/${id}/`, { token })).status).toBe(404);
  });

  it("validates policies and evaluates calls without running them", async () => {
    const org = await createOrg(server);
    const token = org.owner.token;
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const agent = await g.agent();

    const invalid: [Record<string, unknown>, string][] = [
      [{ effect: "maybe", tool_pattern: "*" }, "effect"],
      [{ effect: "allow", tool_pattern: "" }, "tool_pattern"],
      [{ effect: "allow", tool_pattern: "*", input_schema: { type: "nonsense" } }, "input_schema"],
      [
        { effect: "allow", tool_pattern: "*", rate_limit: { max_calls: 0, per_seconds: 60 } },
        "rate_limit.max_calls",
      ],
      [
        { effect: "allow", tool_pattern: "*", agent_id: "00000000-0000-7000-8000-000000000000" },
        "agent_id",
      ],
    ];
    for (const [body, field] of invalid) {
      const response = await server.request("POST", `/orgs/${org.id}/policies/`, {
        token,
        body: { name: "p", ...body },
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.issues.map((issue: { path: string }) => issue.path)).toContain(field);
    }

    const allow = await g.policy({
      name: "allow-read",
      effect: "allow",
      tool_pattern: "e*",
      agent_id: agent.id,
    });
    expect(allow).toMatchObject({
      name: "allow-read",
      effect: "allow",
      enabled: true,
      rate_limit: null,
      environment_id: null,
    });
    const evaluate = (toolId: string | undefined, input: unknown = {}) =>
      server.request("POST", `/orgs/${org.id}/policies/evaluate/`, {
        token,
        body: { agent_id: agent.id, tool_id: toolId, input },
      });
    const allowed = await evaluate(connection.tools.echo, { text: "x" });
    expect(allowed.status).toBe(200);
    expect(allowed.body).toMatchObject({
      allowed: true,
      matched: [{ policy_id: allow.id, name: "allow-read", effect: "allow" }],
    });
    const notMatched = await evaluate(connection.tools.add);
    expect(notMatched.body).toMatchObject({ allowed: false, matched: [] });
    expect(notMatched.body.reason).toMatch(/No allow policy/);

    const deny = await g.policy({
      name: "no-echo",
      effect: "deny",
      tool_pattern: connection.tools.echo,
    });
    const denied = await evaluate(connection.tools.echo, { text: "x" });
    expect(denied.body.allowed).toBe(false);
    expect(denied.body.reason).toMatch(/no-echo/);

    await server.request("PATCH", `/policies/${deny.id}/`, { token, body: { enabled: false } });
    expect((await evaluate(connection.tools.echo, { text: "x" })).body.allowed).toBe(true);
    expect((await evaluate("00000000-0000-7000-8000-000000000000")).status).toBe(400);

    const list = await server.request("GET", `/orgs/${org.id}/policies/?effect=deny`, { token });
    expect(list.body.results.map((policy: { name: string }) => policy.name)).toEqual(["no-echo"]);
    expect((await server.request("DELETE", `/policies/${deny.id}/`, { token })).status).toBe(204);
    const audit = await server.request("GET", `/orgs/${org.id}/audit-events/?target_type=policy`, {
      token,
    });
    expect(audit.body.results.map((event: { action: string }) => event.action)).toEqual([
      "policy.delete",
      "policy.update",
      "policy.create",
      "policy.create",
    ]);
  });

  it("enforces roles and tenancy on tools, agents, policies, runs and audit", async () => {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const agent = await g.agent();
    const key = await g.key(agent.id);
    const policy = await g.policy({ effect: "allow", tool_pattern: "*" });
    const run = await g.run(connection.tools.echo ?? "", { input: { text: "x" } });
    const viewer = await addMember(server, org, "viewer");
    const member = await addMember(server, org, "member");
    const stranger = await createOrg(server);

    const reads = [
      `/orgs/${org.id}/tools/`,
      `/tools/${connection.tools.echo}/`,
      `/orgs/${org.id}/agents/`,
      `/agents/${agent.id}/`,
      `/agents/${agent.id}/keys/`,
      `/orgs/${org.id}/policies/`,
      `/policies/${policy.id}/`,
      `/orgs/${org.id}/runs/`,
      `/runs/${run.body.id}/`,
      `/orgs/${org.id}/runs/stats/`,
      `/orgs/${org.id}/audit-events/`,
    ];
    const writes: [string, string, unknown?][] = [
      ["POST", `/orgs/${org.id}/tools/`, { connection_id: connection.id, upstream_name: "x" }],
      ["PATCH", `/tools/${connection.tools.echo}/`, { enabled: false }],
      ["DELETE", `/tools/${connection.tools.echo}/`],
      ["POST", `/orgs/${org.id}/agents/`, { name: "x" }],
      ["PATCH", `/agents/${agent.id}/`, { status: "disabled" }],
      ["DELETE", `/agents/${agent.id}/`],
      ["POST", `/agents/${agent.id}/keys/`, {}],
      ["DELETE", `/agents/${agent.id}/keys/${key.id}/`],
      ["POST", `/orgs/${org.id}/policies/`, { name: "x", effect: "allow", tool_pattern: "*" }],
      ["PATCH", `/policies/${policy.id}/`, { enabled: false }],
      ["DELETE", `/policies/${policy.id}/`],
    ];
    for (const user of [viewer, member]) {
      for (const path of reads)
        expect((await server.request("GET", path, { token: user.token })).status, path).toBe(200);
      for (const [method, path, body] of writes) {
        expect(
          (await server.request(method, path, { token: user.token, body })).status,
          `${method} ${path}`,
        ).toBe(403);
      }
    }
    for (const path of reads)
      expect(
        (await server.request("GET", path, { token: stranger.owner.token })).status,
        path,
      ).toBe(404);
    for (const [method, path, body] of writes) {
      expect(
        (await server.request(method, path, { token: stranger.owner.token, body })).status,
        `${method} ${path}`,
      ).toBe(404);
    }
    // The audit log has no write path at all.
    for (const method of ["POST", "PATCH", "DELETE"]) {
      expect(
        (
          await server.request(method, `/orgs/${org.id}/audit-events/`, {
            token: org.owner.token,
            body: {},
          })
        ).status,
      ).toBe(405);
    }
  });
});
