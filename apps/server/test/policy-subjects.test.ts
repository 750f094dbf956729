import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestServer,
} from "./harness";

/*
 * Policy subjects: a policy governs agents' calls, one member's own calls, the calls of people with
 * at least a role, or everyone's. People's calls (REST, the SPA) meet only user, role and everyone
 * policies; agents' calls (the gateway, REST with an agent key) only agent and everyone policies.
 */
describe.skipIf(databaseUnavailable)("policy subjects", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    await server.close();
    await upstream.close();
  });

  async function world() {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const echo = connection.tools.echo ?? "";
    const agent = await g.agent();
    const key = (await g.key(agent.id)).key as string;
    const admin = await addMember(server, org, "admin");
    const member = await addMember(server, org, "member");
    return { org, g, echo, agent, key, admin, member };
  }

  async function gatewayClient(agentId: string, key: string): Promise<Client> {
    const client = new Client({ name: "subjects-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${agentId}`), {
        requestInit: { headers: { Authorization: `Bearer ${key}` } },
      }),
    );
    clients.push(client);
    return client;
  }

  const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) =>
    (result.content as { type: string; text?: string }[]).map((part) => part.text ?? "").join("");

  it("a role policy lets admins run a tool via REST while every agent stays denied through the gateway", async () => {
    const { org, g, echo, agent, key, admin, member } = await world();
    const policy = await g.policy({
      name: "admins-echo",
      effect: "allow",
      subject: "role",
      min_role: "admin",
      tool_pattern: "echo",
    });
    expect(policy).toMatchObject({
      subject: "role",
      min_role: "admin",
      agent_id: null,
      user_id: null,
    });

    const byAdmin = await g.run(echo, { input: { text: "hi" } }, admin.token);
    expect(byAdmin.body).toMatchObject({ status: "succeeded", agent_id: null, user_id: admin.id });
    const byOwner = await g.run(echo, { input: { text: "hi" } }, org.owner.token);
    expect(byOwner.body).toMatchObject({ status: "succeeded" });
    // Below the role: refused, and told why.
    const byMember = await g.run(echo, { input: { text: "hi" } }, member.token);
    expect(byMember.status).toBe(201);
    expect(byMember.body).toMatchObject({ status: "denied" });
    expect(byMember.body.error).toBe(
      `No allow policy matches tool 'echo' for user ${member.id} (member)`,
    );

    // The agent: neither offered the tool nor allowed to call it, through the gateway or REST.
    const client = await gatewayClient(agent.id, key);
    expect((await client.listTools()).tools).toEqual([]);
    const viaGateway = await client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(viaGateway.isError).toBe(true);
    expect(textOf(viaGateway)).toMatch(/No allow policy matches tool 'echo'/);
    const viaKey = await g.run(echo, { input: { text: "x" } }, key);
    expect(viaKey.body).toMatchObject({ status: "denied", agent_id: agent.id });
    // An admin running the tool as the agent makes the agent's call, not their own.
    const asAgent = await g.run(echo, { input: { text: "x" }, agent_id: agent.id }, admin.token);
    expect(asAgent.body).toMatchObject({ status: "denied", agent_id: agent.id });

    // API tokens count by their role.
    const tokenOf = async (role: string) =>
      (
        await server.request("POST", `/orgs/${org.id}/api-tokens/`, {
          token: org.owner.token,
          body: { name: `t-${role}`, role },
        })
      ).body.token as string;
    expect(
      (await g.run(echo, { input: { text: "t" } }, await tokenOf("admin"))).body,
    ).toMatchObject({ status: "succeeded" });
    expect(
      (await g.run(echo, { input: { text: "t" } }, await tokenOf("member"))).body,
    ).toMatchObject({ status: "denied" });
  });

  it("a user policy covers that member only; a deny for everyone still wins", async () => {
    const { org, g, echo, key, admin, member } = await world();
    await g.policy({ name: "member-echo", effect: "allow", user_id: member.id, tool_pattern: "*" });
    expect((await g.run(echo, { input: { text: "m" } }, member.token)).body).toMatchObject({
      status: "succeeded",
    });
    expect((await g.run(echo, { input: { text: "a" } }, admin.token)).body).toMatchObject({
      status: "denied",
    });
    expect((await g.run(echo, { input: { text: "k" } }, key)).body).toMatchObject({
      status: "denied",
    });

    const listed = await server.request<{ results: { name: string; subject: string }[] }>(
      "GET",
      `/orgs/${org.id}/policies/?subject=user&user_id=${member.id}`,
      { token: org.owner.token },
    );
    expect(listed.body.results.map((p) => [p.name, p.subject])).toEqual([["member-echo", "user"]]);

    // A deny without subject fields is for everyone, as before subjects: it covers people too.
    await g.policy({ name: "no-echo", effect: "deny", tool_pattern: "echo" });
    const denied = await g.run(echo, { input: { text: "m" } }, member.token);
    expect(denied.body).toMatchObject({ status: "denied" });
    expect(denied.body.error).toBe("Denied by policy 'no-echo'");
  });

  it("a policy without subject fields keeps covering agents and people (everyone); subject agent covers agents only", async () => {
    const { org, g, echo, key, member } = await world();
    const legacy = await g.policy({ name: "all", effect: "allow", tool_pattern: "echo" });
    expect(legacy).toMatchObject({ subject: "everyone", agent_id: null });
    expect((await g.run(echo, { input: { text: "p" } }, member.token)).body.status).toBe(
      "succeeded",
    );
    expect((await g.run(echo, { input: { text: "a" } }, key)).body.status).toBe("succeeded");

    const edited = await server.request("PATCH", `/policies/${legacy.id}/`, {
      token: org.owner.token,
      body: { subject: "agent" },
    });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    expect(edited.body).toMatchObject({ subject: "agent", agent_id: null });
    expect((await g.run(echo, { input: { text: "p" } }, member.token)).body.status).toBe("denied");
    expect((await g.run(echo, { input: { text: "a" } }, key)).body.status).toBe("succeeded");
  });

  it("refuses subject fields that do not fit, by name; another org's member is NOT_FOUND", async () => {
    const { org, agent, member } = await world();
    const other = await world();
    const create = (body: Record<string, unknown>) =>
      server.request("POST", `/orgs/${org.id}/policies/`, {
        token: org.owner.token,
        body: { name: `p-${Math.random()}`, effect: "allow", tool_pattern: "*", ...body },
      });

    const foreign = await create({ subject: "user", user_id: other.member.id });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ code: "NOT_FOUND" });
    expect(foreign.body.issues).toEqual([
      { path: "user_id", message: "No such member in this organization" },
    ]);
    // Another org's owner likewise; the answer is the same as for an id nobody has.
    expect((await create({ user_id: other.org.owner.id })).status).toBe(404);
    expect((await create({ user_id: "0190b000-0000-7000-8000-000000000000" })).status).toBe(404);

    const mixed = await create({ subject: "role", min_role: "admin", agent_id: agent.id });
    expect(mixed.status).toBe(400);
    expect(mixed.body.issues?.[0]?.path).toBe("agent_id");
    const missing = await create({ subject: "user" });
    expect(missing.status).toBe(400);
    expect(missing.body.issues?.[0]?.path).toBe("user_id");
    const badRole = await create({ subject: "role", min_role: "boss" });
    expect(badRole.status).toBe(400);
    expect(badRole.body.issues?.[0]?.path).toBe("min_role");
    const twoSubjects = await create({ user_id: member.id, min_role: "admin" });
    expect(twoSubjects.status).toBe(400);

    // Evaluating for another org's member is NOT_FOUND too.
    const evaluated = await server.request("POST", `/orgs/${org.id}/policies/evaluate/`, {
      token: org.owner.token,
      body: { tool_id: other.echo, user_id: other.member.id },
    });
    expect(evaluated.status).toBe(404);
  });

  it("the evaluate endpoint decides for a member, a role or an agent", async () => {
    const { org, g, echo, agent, admin, member } = await world();
    const policy = await g.policy({
      name: "admins",
      effect: "allow",
      subject: "role",
      min_role: "admin",
      tool_pattern: "echo",
    });
    const evaluate = (body: Record<string, unknown>) =>
      server.request("POST", `/orgs/${org.id}/policies/evaluate/`, {
        token: org.owner.token,
        body: { tool_id: echo, input: { text: "x" }, ...body },
      });
    expect((await evaluate({ user_id: admin.id })).body).toMatchObject({
      allowed: true,
      allow_policies: [policy.id],
    });
    expect((await evaluate({ user_id: member.id })).body).toMatchObject({ allowed: false });
    expect((await evaluate({ role: "owner" })).body).toMatchObject({ allowed: true });
    expect((await evaluate({ agent_id: agent.id })).body).toMatchObject({ allowed: false });
    const both = await evaluate({ agent_id: agent.id, role: "admin" });
    expect(both.status).toBe(400);
    expect(both.body.issues?.[0]?.path).toBe("role");
  });

  it("what-if replays people's runs under person subjects and agents' under agent subjects", async () => {
    const { org, g, echo, key, admin, member } = await world();
    for (const token of [admin.token, member.token, key]) {
      expect((await g.run(echo, { input: { text: "x" } }, token)).body.status).toBe("denied");
    }
    const preview = await server.request("POST", `/orgs/${org.id}/policies/what-if/`, {
      token: org.owner.token,
      body: { changes: { effect: "allow", subject: "role", min_role: "admin", tool_pattern: "*" } },
    });
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body).toMatchObject({ runs_considered: 3, to_allowed: 1, unchanged: 2 });
    const forAgents = await server.request("POST", `/orgs/${org.id}/policies/what-if/`, {
      token: org.owner.token,
      body: { changes: { effect: "allow", subject: "agent", tool_pattern: "*" } },
    });
    expect(forAgents.body).toMatchObject({ to_allowed: 1, unchanged: 2 });
    expect(forAgents.body.groups).toMatchObject([{ agent_id: expect.any(String), to_allowed: 1 }]);
    const foreign = await server.request("POST", `/orgs/${org.id}/policies/what-if/`, {
      token: org.owner.token,
      body: {
        changes: {
          effect: "allow",
          user_id: (await world()).member.id,
          tool_pattern: "*",
        },
      },
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.issues?.[0]?.path).toBe("changes.user_id");
  });

  it("removing a member deletes the policies naming them, each audited", async () => {
    const { org, g, member } = await world();
    const allow = await g.policy({
      name: "m-allow",
      effect: "allow",
      user_id: member.id,
      tool_pattern: "*",
    });
    const deny = await g.policy({
      name: "m-deny",
      effect: "deny",
      user_id: member.id,
      tool_pattern: "add",
    });
    await g.policy({
      name: "keep",
      effect: "allow",
      subject: "role",
      min_role: "admin",
      tool_pattern: "*",
    });
    const removed = await server.request("DELETE", `/orgs/${org.id}/members/${member.id}/`, {
      token: org.owner.token,
    });
    expect(removed.status).toBe(204);
    const names = await server.request<{ results: { name: string }[] }>(
      "GET",
      `/orgs/${org.id}/policies/`,
      { token: org.owner.token },
    );
    expect(names.body.results.map((p) => p.name)).toEqual(["keep"]);
    const audit = await server.request<{
      results: { target_id: string; metadata: Record<string, unknown> }[];
    }>("GET", `/orgs/${org.id}/audit-events/?action=policy.delete`, { token: org.owner.token });
    expect(
      audit.body.results
        .map((event): Record<string, unknown> => ({ id: event.target_id, ...event.metadata }))
        .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    ).toEqual([
      {
        id: allow.id,
        name: "m-allow",
        effect: "allow",
        reason: "member_removed",
        user_id: member.id,
      },
      { id: deny.id, name: "m-deny", effect: "deny", reason: "member_removed", user_id: member.id },
    ]);
  });
});
