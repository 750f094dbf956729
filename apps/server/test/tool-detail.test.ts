import { uuidv7 } from "@mcp/core";
import { startTestMcpServer, type RunningTestMcpServer, type TestTool } from "@mcp/core/testing";
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createAgentWithConnection,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestAgent,
  type TestServer,
} from "./harness";

/*
 * What a tool's page reads: the definitions it has had approved (and the one under review), who
 * may call it as the policy engine decides per agent and per role, and its runs' stats.
 */

function lookup(description = "Looks a word up"): TestTool {
  return {
    name: "lookup",
    description,
    inputSchema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
    handler: (args) => ({ content: [{ type: "text", text: `looked up ${String(args.word)}` }] }),
  };
}

interface Version {
  id: string;
  tool_id: string;
  hash: string;
  definition: { description: string; input_schema: Record<string, unknown> };
  source: "sync" | "manual" | "approval" | "config" | "backfill";
  actor_type: string;
  actor_id: string | null;
  created_at: string;
}
interface History {
  results: Version[];
  next_cursor: string | null;
  pending: { hash: string; quarantine: string; definition: { description: string } } | null;
}
interface Decision {
  decision: "allow" | "deny" | "require_approval" | "no_policy";
  policy: { id: string; name: string } | null;
  input_dependent: boolean;
  reason: string;
}
interface Access {
  results: (Decision & { agent_id: string; agent_name: string; environment_id: string | null })[];
  next_cursor: string | null;
  people: {
    environment_id: string | null;
    roles: (Decision & { role: string })[];
    policies: { id: string; name: string; effect: string; subject: string }[];
  };
}

describe.skipIf(databaseUnavailable)("tool detail: definition history, access and stats", () => {
  let server: TestServer;
  const upstreams: RunningTestMcpServer[] = [];

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await Promise.all(upstreams.splice(0).map((upstream) => upstream.close()));
  });
  afterAll(async () => {
    await server.close();
  });

  async function upstreamWith(tools: TestTool[]): Promise<RunningTestMcpServer> {
    const upstream = await startTestMcpServer({ builtinTools: false, tools });
    upstreams.push(upstream);
    return upstream;
  }
  const as = (setup: TestAgent) => ({ token: setup.org.owner.token });
  const history = async (setup: TestAgent, toolId: string, query = ""): Promise<History> => {
    const response = await server.request<History>(
      "GET",
      `/tools/${toolId}/definitions/${query}`,
      as(setup),
    );
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  };
  const access = async (setup: TestAgent, toolId: string, query = ""): Promise<Access> => {
    const response = await server.request<Access>(
      "GET",
      `/tools/${toolId}/access/${query}`,
      as(setup),
    );
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  };
  const sync = async (setup: TestAgent) =>
    (await server.request("POST", `/connections/${setup.connectionId}/sync/`, as(setup))).body;
  const review = (setup: TestAgent, id: string, verdict: "approve" | "reject", hash: string) =>
    server.request("POST", `/tools/${id}/${verdict}/`, { ...as(setup), body: { hash } });
  const post = async <T>(setup: TestAgent, path: string, body: Record<string, unknown>) => {
    const response = await server.request<T>("POST", path, { ...as(setup), body });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  };

  it("keeps each approved definition, newest first, with the change under review ahead", async () => {
    const upstream = await upstreamWith([lookup()]);
    const setup = await createAgentWithConnection(server, upstream.url);
    const toolId = setup.tools.lookup ?? "";
    const first = await history(setup, toolId);
    expect(first).toMatchObject({ next_cursor: null, pending: null });
    expect(first.results).toMatchObject([
      {
        tool_id: toolId,
        source: "sync",
        actor_type: "user",
        actor_id: setup.org.owner.id,
        definition: { description: "Looks a word up" },
      },
    ]);
    const tool = (await server.request("GET", `/tools/${toolId}/`, as(setup))).body;
    expect(first.results[0]?.hash).toBe(tool.definition_hash);

    upstream.setTools([lookup("Looks a word up; now also sends it elsewhere")]);
    expect(await sync(setup)).toMatchObject({ changed: 1 });
    const quarantined = await history(setup, toolId);
    expect(quarantined.results).toHaveLength(1);
    expect(quarantined.pending).toMatchObject({
      quarantine: "changed",
      definition: { description: "Looks a word up; now also sends it elsewhere" },
    });
    const pendingHash = quarantined.pending?.hash ?? "";

    // A rejection approves nothing: the history stays, the rejected change still under review.
    expect((await review(setup, toolId, "reject", pendingHash)).status).toBe(200);
    const rejected = await history(setup, toolId);
    expect(rejected.results).toHaveLength(1);
    expect(rejected.pending).toMatchObject({ quarantine: "rejected", hash: pendingHash });

    expect((await review(setup, toolId, "approve", pendingHash)).status).toBe(200);
    const approved = await history(setup, toolId);
    expect(approved.pending).toBeNull();
    expect(approved.results.map((version) => [version.source, version.hash])).toEqual([
      ["approval", pendingHash],
      ["sync", first.results[0]?.hash],
    ]);
    expect(approved.results[0]).toMatchObject({
      actor_type: "user",
      actor_id: setup.org.owner.id,
      definition: { description: "Looks a word up; now also sends it elsewhere" },
    });
    // The server going back to the first definition is a change like any other.
    upstream.setTools([lookup()]);
    await sync(setup);
    expect((await history(setup, toolId)).pending).toMatchObject({
      hash: first.results[0]?.hash,
      quarantine: "changed",
    });
  });

  it("records hand-made tools, approvals of new tools and configuration documents by their source", async () => {
    const upstream = await upstreamWith([lookup()]);
    const setup = await createAgentWithConnection(server, upstream.url);
    const manual = await post<{ id: string }>(setup, `/orgs/${setup.org.id}/tools/`, {
      connection_id: setup.connectionId,
      upstream_name: "by_hand",
      description: "Written by an admin",
    });
    expect((await history(setup, manual.id)).results).toMatchObject([
      {
        source: "manual",
        actor_id: setup.org.owner.id,
        definition: { description: "Written by an admin" },
      },
    ]);

    // An org that quarantines new tools: nothing is approved until someone approves it.
    expect(
      (
        await server.request("PATCH", `/orgs/${setup.org.id}/`, {
          ...as(setup),
          body: { quarantine_new_tools: true },
        })
      ).status,
    ).toBe(200);
    const second: TestTool = { ...lookup(), name: "define" };
    const third: TestTool = { ...lookup(), name: "spell" };
    upstream.setTools([lookup(), second, third]);
    expect(await sync(setup)).toMatchObject({ created: 2 });
    const listed = (
      await server.request(
        "GET",
        `/orgs/${setup.org.id}/tools/?connection_id=${setup.connectionId}&quarantined=true`,
        as(setup),
      )
    ).body.results as { id: string; name: string; definition_hash: string }[];
    const define = listed.find((tool) => tool.name === "define");
    const spell = listed.find((tool) => tool.name === "spell");
    if (!define || !spell) throw new Error(`new tools not quarantined: ${JSON.stringify(listed)}`);
    const underReview = await history(setup, define.id);
    expect(underReview.results).toEqual([]);
    expect(underReview.pending).toMatchObject({ quarantine: "new", hash: define.definition_hash });
    expect((await review(setup, define.id, "approve", define.definition_hash)).status).toBe(200);
    expect((await history(setup, define.id)).results).toMatchObject([
      { source: "approval", hash: define.definition_hash },
    ]);

    // The org's document, applied to an empty org: its sync quarantines the tools (the
    // document's setting) and the document approves the hashes it names.
    const exported = await server.request<{ document: string }>(
      "GET",
      `/orgs/${setup.org.id}/config/`,
      as(setup),
    );
    const target = await createOrg(server);
    const applied = await server.request("POST", `/orgs/${target.id}/config/apply/`, {
      token: target.owner.token,
      body: { document: exported.body.document },
    });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    const copied = (
      await server.request("GET", `/orgs/${target.id}/tools/`, { token: target.owner.token })
    ).body.results as { id: string; name: string; quarantine: string | null }[];
    const versions = async (name: string) => {
      const tool = copied.find((entry) => entry.name === name);
      const response = await server.request<History>("GET", `/tools/${tool?.id}/definitions/`, {
        token: target.owner.token,
      });
      return response.body;
    };
    expect((await versions("define")).results).toMatchObject([
      { source: "config", hash: define.definition_hash, actor_id: target.owner.id },
    ]);
    // The document does not approve what its org had not approved.
    expect(await versions("spell")).toMatchObject({
      results: [],
      pending: { quarantine: "new", hash: spell.definition_hash },
    });
  });

  it("pages the history newest first, 200 at most a page", async () => {
    const upstream = await upstreamWith([lookup()]);
    const setup = await createAgentWithConnection(server, upstream.url);
    const toolId = setup.tools.lookup ?? "";
    const [synced] = (await history(setup, toolId)).results;
    // 199 earlier approvals, written as an approval writes them, then a 201st through the API.
    await server.database.db.execute(sql`
      insert into tool_definitions (id, org_id, tool_id, hash, definition, source, actor_type, actor_id)
      select v.id::uuid, ${setup.org.id}, ${toolId}, ${synced?.hash}, ${JSON.stringify(synced?.definition)}::json,
        'approval', 'user', ${setup.org.owner.id}
      from unnest(${sql.param(Array.from({ length: 199 }, () => uuidv7()))}::text[]) as v(id)`);
    upstream.setTools([lookup("The 201st definition")]);
    await sync(setup);
    const pending = (await history(setup, toolId)).pending?.hash ?? "";
    expect((await review(setup, toolId, "approve", pending)).status).toBe(200);

    const page = await history(setup, toolId, "?limit=200");
    expect(page.results).toHaveLength(200);
    expect(page.results[0]).toMatchObject({ hash: pending, source: "approval" });
    const ids = page.results.map((version) => version.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    expect(page.next_cursor).toEqual(expect.any(String));
    const last = await history(setup, toolId, `?limit=200&cursor=${page.next_cursor ?? ""}`);
    expect(last.results).toMatchObject([{ id: synced?.id, source: "sync" }]);
    expect(last.next_cursor).toBeNull();

    const tooMany = await server.request(
      "GET",
      `/tools/${toolId}/definitions/?limit=201`,
      as(setup),
    );
    expect(tooMany.status).toBe(400);
    const badCursor = await server.request(
      "GET",
      `/tools/${toolId}/definitions/?cursor=not-a-cursor`,
      as(setup),
    );
    expect(badCursor.status).toBe(400);
    expect(JSON.stringify(badCursor.body)).toContain("cursor");
  });

  it("gives each agent the policy engine's decision, which a deny policy flips", async () => {
    const upstream = await upstreamWith([lookup(), { ...lookup(), name: "define" }]);
    // `setup.agentId` may call every tool; a second agent has no policy at all.
    const setup = await createAgentWithConnection(server, upstream.url);
    const toolId = setup.tools.lookup ?? "";
    const bare = await post<{ id: string; name: string }>(setup, `/orgs/${setup.org.id}/agents/`, {
      name: "No policies",
    });
    const before = await access(setup, toolId);
    const row = (page: Access, agentId: string) =>
      page.results.find((entry) => entry.agent_id === agentId);
    expect(row(before, setup.agentId)).toMatchObject({
      decision: "allow",
      policy: { name: expect.stringMatching(/^allow-all-/) },
      input_dependent: false,
    });
    expect(row(before, bare.id)).toMatchObject({ decision: "no_policy", policy: null });

    const deny = await post<{ id: string }>(setup, `/orgs/${setup.org.id}/policies/`, {
      name: "no lookups",
      effect: "deny",
      agent_id: setup.agentId,
      tool_pattern: "look*",
    });
    const approval = await post<{ id: string }>(setup, `/orgs/${setup.org.id}/policies/`, {
      name: "ask first",
      effect: "require_approval",
      subject: "agent",
      agent_id: bare.id,
      tool_pattern: toolId,
      input_schema: { type: "object", properties: { word: { maxLength: 3 } } },
    });
    const after = await access(setup, toolId);
    expect(row(after, setup.agentId)).toMatchObject({
      decision: "deny",
      policy: { id: deny.id, name: "no lookups" },
    });
    expect(row(after, bare.id)).toMatchObject({
      decision: "require_approval",
      policy: { id: approval.id },
      input_dependent: true,
    });
    // The other tool is not named by either policy.
    const other = await access(setup, setup.tools.define ?? "");
    expect(row(other, setup.agentId)).toMatchObject({ decision: "allow" });
    expect(row(other, bare.id)).toMatchObject({ decision: "no_policy" });

    // A disabled policy decides nothing.
    await server.request("PATCH", `/policies/${deny.id}/`, {
      ...as(setup),
      body: { enabled: false },
    });
    expect(row(await access(setup, toolId), setup.agentId)).toMatchObject({ decision: "allow" });

    // Agents are paged like every list.
    const firstPage = await access(setup, toolId, "?limit=1");
    expect(firstPage.results).toHaveLength(1);
    const secondPage = await access(
      setup,
      toolId,
      `?limit=1&cursor=${firstPage.next_cursor ?? ""}`,
    );
    expect(secondPage.results).toHaveLength(1);
    expect(secondPage.next_cursor).toBeNull();
    expect(
      [...firstPage.results, ...secondPage.results].map((entry) => entry.agent_id).sort(),
    ).toEqual([setup.agentId, bare.id].sort());
  });

  it("decides in the environment a call runs in, and gives people's side by role", async () => {
    const upstream = await upstreamWith([lookup()]);
    const setup = await createAgentWithConnection(server, upstream.url, { allowAll: false });
    const toolId = setup.tools.lookup ?? "";
    const production = await post<{ id: string }>(setup, `/orgs/${setup.org.id}/environments/`, {
      name: "Production",
      slug: "production",
    });
    const inProduction = await post<{ id: string }>(setup, `/orgs/${setup.org.id}/agents/`, {
      name: "In production",
      environment_id: production.id,
    });
    await post(setup, `/orgs/${setup.org.id}/policies/`, {
      name: "agents in production",
      effect: "allow",
      tool_pattern: "*",
      environment_id: production.id,
    });
    await post(setup, `/orgs/${setup.org.id}/policies/`, {
      name: "admins look up",
      effect: "allow",
      subject: "role",
      min_role: "admin",
      tool_pattern: "lookup",
    });
    const result = await access(setup, toolId);
    expect(result.results.find((entry) => entry.agent_id === inProduction.id)).toMatchObject({
      decision: "allow",
      environment_id: production.id,
      policy: { name: "agents in production" },
    });
    expect(result.results.find((entry) => entry.agent_id === setup.agentId)).toMatchObject({
      decision: "no_policy",
      environment_id: null,
    });
    expect(result.people.environment_id).toBeNull();
    expect(
      result.people.roles.map((entry) => [entry.role, entry.decision, entry.policy?.name ?? null]),
    ).toEqual([
      ["owner", "allow", "admins look up"],
      ["admin", "allow", "admins look up"],
      ["member", "no_policy", null],
    ]);
    // Only people's policies that reach this tool in its connection's environment.
    expect(result.people.policies.map((policy) => [policy.name, policy.subject])).toEqual([
      ["admins look up", "role"],
    ]);

    // What the page says is what a call gets: a member is refused, an admin runs it.
    const member = await addMember(server, setup.org, "member");
    const admin = await addMember(server, setup.org, "admin");
    const run = (token: string) =>
      server.request("POST", `/tools/${toolId}/run/`, { token, body: { input: { word: "x" } } });
    expect((await run(member.token)).body).toMatchObject({ status: "denied" });
    expect((await run(admin.token)).body).toMatchObject({ status: "succeeded" });
  });

  it("filters the run stats by tool", async () => {
    const upstream = await upstreamWith([lookup(), { ...lookup(), name: "define" }]);
    const setup = await createAgentWithConnection(server, upstream.url);
    const toolId = setup.tools.lookup ?? "";
    const run = (id: string, input: Record<string, unknown>) =>
      server.request("POST", `/tools/${id}/run/`, {
        token: setup.key,
        body: { input },
      });
    for (const word of ["a", "b", "c"]) await run(toolId, { word });
    await run(toolId, {});
    await run(setup.tools.define ?? "", { word: "d" });
    const stats = async (tool: string) =>
      (
        await server.request(
          "GET",
          `/orgs/${setup.org.id}/runs/stats/?tool_id=${tool}&since=${new Date(Date.now() - 86_400_000).toISOString()}`,
          as(setup),
        )
      ).body;
    const ofLookup = await stats(toolId);
    // The call without its required argument fails its input validation.
    expect(ofLookup.totals).toMatchObject({ runs: 4, succeeded: 3, failed: 1, error_rate: 0.25 });
    expect(ofLookup.totals.p50_ms).toEqual(expect.any(Number));
    expect(ofLookup.tools.map((entry: { tool_id: string }) => entry.tool_id)).toEqual([toolId]);
    expect((await stats(setup.tools.define ?? "")).totals).toMatchObject({ runs: 1 });
    // The runs list filters by tool already: the page's recent runs.
    const recent = await server.request(
      "GET",
      `/orgs/${setup.org.id}/runs/?tool_id=${toolId}&limit=10`,
      as(setup),
    );
    expect(recent.body.results).toHaveLength(4);
  });

  it("answers 404 for another organization's tool, as for one that does not exist", async () => {
    const upstream = await upstreamWith([lookup()]);
    const setup = await createAgentWithConnection(server, upstream.url);
    const toolId = setup.tools.lookup ?? "";
    const other = await createOrg(server);
    for (const path of [
      `/tools/${toolId}/definitions/`,
      `/tools/${toolId}/access/`,
      `/tools/${uuidv7()}/definitions/`,
      `/tools/${uuidv7()}/access/`,
    ]) {
      const response = await server.request("GET", path, { token: other.owner.token });
      expect(response.status, path).toBe(404);
    }
    // Deleting the tool deletes its history with it.
    expect((await server.request("DELETE", `/tools/${toolId}/`, as(setup))).status).toBe(204);
    const left = await server.database.db.execute(
      sql`select count(*)::int as n from tool_definitions where tool_id = ${toolId}`,
    );
    const rows = Array.isArray(left) ? left : (left as { rows: { n: number }[] }).rows;
    expect(rows).toEqual([{ n: 0 }]);
  });
});
