import { createPlatformClient, isPlatformError } from "@mcp-agents/sdk";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  toolCall,
  type TestOrg,
  type TestServer,
} from "./harness";

interface CreatedToken {
  id: string;
  token: string;
  prefix: string;
  role: string;
  expires_at: string | null;
}

describe.skipIf(databaseUnavailable)("API tokens", () => {
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

  async function createToken(
    org: TestOrg,
    body: Record<string, unknown>,
    by = org.owner.token,
  ): Promise<CreatedToken> {
    const response = await server.request("POST", `/orgs/${org.id}/api-tokens/`, {
      token: by,
      body,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as CreatedToken;
  }

  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  it("is shown once: the list has its prefix and dates, never the token or its hash", async () => {
    const org = await createOrg(server);
    const created = await createToken(org, { name: "CI deploys", role: "member" });
    expect(created.token).toMatch(/^mcpt_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(created.prefix)).toBe(true);
    expect(created.expires_at).toBeNull();

    const listed = await server.request("GET", `/orgs/${org.id}/api-tokens/`, {
      token: org.owner.token,
    });
    expect(listed.status).toBe(200);
    expect(listed.body.results).toEqual([
      {
        id: created.id,
        org_id: org.id,
        name: "CI deploys",
        role: "member",
        prefix: created.prefix,
        created_by: org.owner.id,
        created_at: expect.any(String),
        expires_at: null,
        last_used_at: null,
        revoked_at: null,
      },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(created.token);
  });

  it("acts with its role: a viewer token reads but cannot write, an admin token writes", async () => {
    const org = await createOrg(server);
    const viewer = await createToken(org, { name: "dashboards", role: "viewer" });
    const admin = await createToken(org, { name: "terraform", role: "admin" });

    const read = await server.request("GET", `/orgs/${org.id}/agents/`, bearer(viewer.token));
    expect(read.status).toBe(200);
    const refused = await server.request("POST", `/orgs/${org.id}/agents/`, {
      ...bearer(viewer.token),
      body: { name: "from-viewer" },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(
      "This action needs the admin role or higher; yours is viewer",
    );

    const made = await server.request("POST", `/orgs/${org.id}/agents/`, {
      ...bearer(admin.token),
      body: { name: "from-terraform" },
    });
    expect(made.status).toBe(201);
    // Owners' work (people, deleting the org) needs a person, whatever the token.
    const deleteOrg = await server.request("DELETE", `/orgs/${org.id}/`, bearer(admin.token));
    expect(deleteOrg.status).toBe(403);
  });

  it("records its changes in the audit log as the token, by id and name", async () => {
    const org = await createOrg(server);
    const admin = await createToken(org, { name: "terraform", role: "admin" });
    const made = await server.request("POST", `/orgs/${org.id}/agents/`, {
      ...bearer(admin.token),
      body: { name: "audited" },
    });
    expect(made.status).toBe(201);
    const events = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?target_id=${made.body.id as string}`,
      { token: org.owner.token },
    );
    expect(events.body.results).toEqual([
      expect.objectContaining({
        action: "agent.create",
        actor_type: "token",
        actor_id: admin.id,
        metadata: expect.objectContaining({ token_name: "terraform" }),
      }),
    ]);
  });

  it("runs tools as a member token (recorded as the token), not as a viewer token", async () => {
    const org = await createOrg(server);
    const setup = governance(server, org);
    const connection = await setup.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    await setup.policy({ effect: "allow", tool_pattern: "*" });
    const echo = connection.tools.echo ?? "";
    const member = await createToken(org, { name: "runner", role: "member" });
    const viewer = await createToken(org, { name: "reader", role: "viewer" });

    const ran = await setup.run(echo, { input: { text: "hi" } }, member.token);
    expect(ran.status, JSON.stringify(ran.body)).toBe(201);
    expect(ran.body.status).toBe("succeeded");
    expect(ran.body.triggered_by).toMatchObject({ type: "token", id: member.id, surface: "rest" });
    expect(ran.body.user_id).toBeNull();
    expect((await setup.run(echo, { input: { text: "hi" } }, viewer.token)).status).toBe(403);
  });

  it("sees only its own org: another org's resources are NOT_FOUND", async () => {
    const mine = await createOrg(server);
    const theirs = await createOrg(server);
    const agent = await governance(server, theirs).agent();
    const admin = await createToken(mine, { name: "mine", role: "admin" });
    for (const [method, path] of [
      ["GET", `/orgs/${theirs.id}/agents/`],
      ["GET", `/agents/${agent.id as string}/`],
      ["DELETE", `/agents/${agent.id as string}/`],
    ] as const) {
      const response = await server.request(method, path, bearer(admin.token));
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body.code).toBe("NOT_FOUND");
    }
    const still = await server.request("GET", `/agents/${agent.id as string}/`, {
      token: theirs.owner.token,
    });
    expect(still.status).toBe(200);
  });

  it("cannot manage tokens, nor use a person's account endpoints", async () => {
    const org = await createOrg(server);
    const admin = await createToken(org, { name: "automation", role: "admin" });
    for (const [method, path] of [
      ["GET", `/orgs/${org.id}/api-tokens/`],
      ["POST", `/orgs/${org.id}/api-tokens/`],
      ["GET", "/auth/me/"],
      ["GET", "/auth/sessions/"],
      ["GET", "/orgs/"],
    ] as const) {
      const response = await server.request(method, path, {
        ...bearer(admin.token),
        ...(method === "POST" ? { body: { name: "successor", role: "admin" } } : {}),
      });
      expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBe(403);
    }
  });

  it("is refused with 401 once revoked, and says so", async () => {
    const org = await createOrg(server);
    const token = await createToken(org, { name: "short-lived", role: "viewer" });
    expect((await server.request("GET", `/orgs/${org.id}/`, bearer(token.token))).status).toBe(200);
    const revoked = await server.request("DELETE", `/orgs/${org.id}/api-tokens/${token.id}/`, {
      token: org.owner.token,
    });
    expect(revoked.status).toBe(204);
    const refused = await server.request("GET", `/orgs/${org.id}/`, bearer(token.token));
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/^This API token was revoked at \d{4}-/);
    const again = await server.request("DELETE", `/orgs/${org.id}/api-tokens/${token.id}/`, {
      token: org.owner.token,
    });
    expect(again.status).toBe(404);
    const listed = await server.request("GET", `/orgs/${org.id}/api-tokens/`, {
      token: org.owner.token,
    });
    expect(listed.body.results[0].revoked_at).toEqual(expect.any(String));
  });

  it("is refused with 401 once expired, and says so; unknown tokens too", async () => {
    const org = await createOrg(server);
    const token = await createToken(org, { name: "a day", role: "viewer", expires_in_days: 1 });
    const expiresIn = Date.parse(token.expires_at ?? "") - Date.now();
    expect(expiresIn).toBeGreaterThan(23 * 3600_000);
    expect(expiresIn).toBeLessThanOrEqual(24 * 3600_000);
    expect((await server.request("GET", `/orgs/${org.id}/`, bearer(token.token))).status).toBe(200);
    // A day passing, without waiting for one.
    await server.database.db
      .update(schema.apiTokens)
      .set({ expires_at: sql`now() - interval '1 second'` })
      .where(eq(schema.apiTokens.id, token.id));
    const refused = await server.request("GET", `/orgs/${org.id}/`, bearer(token.token));
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/^This API token expired at \d{4}-/);

    const unknown = await server.request(
      "GET",
      `/orgs/${org.id}/`,
      bearer(`mcpt_${"x".repeat(43)}`),
    );
    expect(unknown.status).toBe(401);
    expect(unknown.body.message).toBe("Unknown API token");
  });

  it("refuses an owner role and bad expiries, naming the field", async () => {
    const org = await createOrg(server);
    for (const [body, field] of [
      [{ name: "x", role: "owner" }, "role"],
      [{ name: "x", role: "admin", expires_in_days: 0 }, "expires_in_days"],
      [{ name: "x", role: "admin", expires_in_days: 1.5 }, "expires_in_days"],
      [{ name: " ", role: "admin" }, "name"],
    ] as const) {
      const response = await server.request("POST", `/orgs/${org.id}/api-tokens/`, {
        token: org.owner.token,
        body,
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.issues).toEqual([expect.objectContaining({ path: field })]);
    }
  });

  it("is needed by admins to manage tokens: members get 403", async () => {
    const org = await createOrg(server);
    const member = await addMember(server, org, "member");
    const response = await server.request("GET", `/orgs/${org.id}/api-tokens/`, {
      token: member.token,
    });
    expect(response.status).toBe(403);
  });

  it("records its last use at most once a minute", async () => {
    const org = await createOrg(server);
    const token = await createToken(org, { name: "busy", role: "viewer" });
    const lastUsed = async () =>
      (await server.request("GET", `/orgs/${org.id}/api-tokens/`, { token: org.owner.token })).body
        .results[0].last_used_at as string | null;
    await server.request("GET", `/orgs/${org.id}/`, bearer(token.token));
    const first = await lastUsed();
    expect(first).toEqual(expect.any(String));
    await server.request("GET", `/orgs/${org.id}/`, bearer(token.token));
    expect(await lastUsed()).toBe(first);
    // A minute later (set back rather than waited for), the next use is written.
    await server.database.db
      .update(schema.apiTokens)
      .set({ last_used_at: sql`now() - interval '61 seconds'` })
      .where(eq(schema.apiTokens.id, token.id));
    await server.request("GET", `/orgs/${org.id}/`, bearer(token.token));
    expect(Date.parse((await lastUsed()) ?? "")).toBeGreaterThan(Date.parse(first ?? ""));
  });

  it("is revoked when its creator leaves the org or drops below admin", async () => {
    const org = await createOrg(server);
    const leaving = await addMember(server, org, "admin");
    const demoted = await addMember(server, org, "admin");
    const left = await createToken(org, { name: "left", role: "viewer" }, leaving.token);
    const lowered = await createToken(org, { name: "lowered", role: "viewer" }, demoted.token);
    const kept = await createToken(org, { name: "kept", role: "viewer" });
    await server.request("DELETE", `/orgs/${org.id}/members/${leaving.id}/`, {
      token: org.owner.token,
    });
    await server.request("PATCH", `/orgs/${org.id}/members/${demoted.id}/`, {
      token: org.owner.token,
      body: { role: "member" },
    });
    for (const token of [left, lowered]) {
      const refused = await server.request("GET", `/orgs/${org.id}/`, bearer(token.token));
      expect(refused.status).toBe(401);
      expect(refused.body.message).toMatch(/revoked/);
    }
    expect((await server.request("GET", `/orgs/${org.id}/`, bearer(kept.token))).status).toBe(200);
  });

  it("is not an agent key, and an agent key is not an API token", async () => {
    const org = await createOrg(server);
    const setup = governance(server, org);
    const agent = await setup.agent();
    const key = await setup.key(agent.id);
    const token = await createToken(org, { name: "admin", role: "admin" });

    const asAgentKey = await gatewayPost(server.url, agent.id, token.token, toolCall("echo", {}));
    expect(asAgentKey.status).toBe(401);
    const asApiToken = await server.request("GET", `/orgs/${org.id}/agents/`, bearer(key.key));
    expect(asApiToken.status).toBe(403);
    expect(asApiToken.body.message).toMatch(/^Agent keys can only run tools/);
  });

  it("works in the SDK as its token: reads with a viewer token, refused a write", async () => {
    const org = await createOrg(server);
    const viewer = await createToken(org, { name: "sdk", role: "viewer" });
    const client = createPlatformClient({ baseUrl: server.url, token: viewer.token });
    const agents = await client.agents.list.query({ org_id: org.id });
    expect(agents.results).toEqual([]);
    const refused = await client.agents.create
      .mutate({ org_id: org.id, name: "from-sdk" })
      .catch((error: unknown) => error);
    expect(isPlatformError(refused) && refused.code).toBe("FORBIDDEN");
  });
});
