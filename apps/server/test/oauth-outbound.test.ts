import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  gatewayPost,
  platformAdmin,
  registerUser,
  setDisabled,
  startTestServer,
  toolCall,
  type TestOrg,
  type TestServer,
  type TestUser,
} from "./harness";
import { startTestMcpServer } from "@mcp/core/testing";
import { governance } from "./governance";
import { consentRequestId, decide, grantTokens } from "./oauth-flow";
import { startOAuthUpstream, type OAuthUpstream } from "./oauth-upstream";

/*
 * Connections to OAuth-protected MCP servers, end to end: a real authorization server
 * (oidc-provider) in front of a real MCP server that takes only its tokens; the platform
 * discovers it, registers, runs the code flow through its callback, and calls with the org's or
 * each member's own tokens.
 */

const CALLBACK = "/oauth/connections/callback";

let server: TestServer;
let upstream: OAuthUpstream;

beforeAll(async () => {
  if (databaseUnavailable) return;
  [server, upstream] = await Promise.all([startTestServer(), startOAuthUpstream()]);
});

afterAll(async () => {
  if (databaseUnavailable) return;
  await Promise.all([server.close(), upstream.close()]);
});

/** Follows the authorization server's redirects (its cookies kept) up to the platform's callback. */
async function followToCallback(authorizationUrl: string): Promise<string> {
  const jar = new Map<string, string>();
  let next = authorizationUrl;
  for (let hop = 0; hop < 10; hop++) {
    const response = await fetch(next, {
      redirect: "manual",
      headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join("; ") },
    });
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(";")[0] ?? "";
      const index = pair.indexOf("=");
      const value = pair.slice(index + 1);
      if (value === "") jar.delete(pair.slice(0, index));
      else jar.set(pair.slice(0, index), value);
    }
    const location = response.headers.get("location");
    if (!location)
      throw new Error(`authorization server answered ${response.status}: ${await response.text()}`);
    const target = new URL(location, next).href;
    if (target.startsWith(`${server.url}${CALLBACK}`)) return target;
    next = target;
  }
  throw new Error("too many redirects");
}

/** `user` disconnects their own account from a per-user connection. */
async function disconnectOwn(user: TestUser, connectionId: string): Promise<void> {
  const removed = await server.request(
    "DELETE",
    `/connections/${connectionId}/oauth/credential/?credential=per_user`,
    { token: user.token },
  );
  expect(removed.status).toBe(204);
}

function callback(url: string, user: TestUser | null): Promise<Response> {
  return fetch(url, {
    redirect: "manual",
    headers: user ? { cookie: `mcpa_session=${user.token}` } : {},
  });
}

/** The outcome the callback redirected to (My connections with `oauth=…`). */
function outcome(response: Response): URLSearchParams {
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get("location") ?? "");
  expect(location.origin + location.pathname).toBe(`${server.url}/my-connections`);
  return location.searchParams;
}

async function startConnect(
  user: TestUser,
  connectionId: string,
  credential: "shared" | "per_user",
): Promise<string> {
  const started = await server.request<{ authorization_url: string }>(
    "POST",
    `/connections/${connectionId}/oauth/connect/`,
    { token: user.token, body: { credential } },
  );
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  return started.body.authorization_url;
}

/** Connect, as `account` at the authorization server, through the platform's callback. */
async function connect(
  user: TestUser,
  connectionId: string,
  credential: "shared" | "per_user",
  account: string,
): Promise<void> {
  upstream.nextAccount = account;
  const back = await followToCallback(await startConnect(user, connectionId, credential));
  expect(outcome(await callback(back, user)).get("oauth")).toBe("connected");
}

async function createOAuthConnection(
  org: TestOrg,
  mode: "shared" | "per_user",
): Promise<{ id: string }> {
  const created = await server.request<{ id: string }>("POST", `/orgs/${org.id}/connections/`, {
    token: org.owner.token,
    body: {
      name: `oauth-${mode}-${Math.random().toString(36).slice(2, 8)}`,
      transport: "streamable_http",
      url: upstream.url,
      auth: "oauth",
      oauth: { credential_mode: mode },
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  // Runs without an agent are allowed every tool of the org.
  const policy = await server.request("POST", `/orgs/${org.id}/policies/`, {
    token: org.owner.token,
    body: { name: `allow-${created.body.id}`, effect: "allow", agent_id: null, tool_pattern: "*" },
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(201);
  return created.body;
}

async function syncedTool(user: TestUser, org: TestOrg, connectionId: string): Promise<string> {
  const sync = await server.request("POST", `/connections/${connectionId}/sync/`, {
    token: user.token,
  });
  expect(sync.status, JSON.stringify(sync.body)).toBe(200);
  const tools = await server.request<{ results: { id: string; upstream_name: string }[] }>(
    "GET",
    `/orgs/${org.id}/tools/?connection_id=${connectionId}`,
    { token: user.token },
  );
  const tool = tools.body.results.find((candidate) => candidate.upstream_name === "whoami");
  if (!tool) throw new Error("whoami not synced");
  return tool.id;
}

/** Runs whoami as `token`'s user (or agent key): the account the upstream saw, or the refusal. */
async function whoami(token: string, toolId: string) {
  const response = await server.request<{ status: string; output: unknown; message?: string }>(
    "POST",
    `/tools/${toolId}/run/`,
    { token, body: { input: {} } },
  );
  return response;
}

function accountOf(run: { status: string; output: unknown }): string {
  expect(run.status).toBe("succeeded");
  const output = run.output as { content: { text: string }[] };
  return output.content[0]?.text ?? "";
}

async function auditActions(org: TestOrg): Promise<string[]> {
  const events = await server.request<{ results: { action: string; metadata: unknown }[] }>(
    "GET",
    `/orgs/${org.id}/audit-events/?limit=200`,
    { token: org.owner.token },
  );
  return events.body.results.map((event) => event.action);
}

describe.skipIf(databaseUnavailable)("connections to OAuth-protected MCP servers", () => {
  it("connects a shared credential (discovery, registration, PKCE, resource), syncs and calls", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "shared");

    // Before Connect, calls are refused with who must connect.
    const before = await server.request("POST", `/connections/${connection.id}/sync/`, {
      token: org.owner.token,
    });
    expect(before.status).toBe(409);
    expect(JSON.stringify(before.body)).toContain("an admin of the organization must connect it");

    const registrations = upstream.registrations;
    await connect(org.owner, connection.id, "shared", "acme-bot");
    expect(upstream.registrations).toBe(registrations + 1);

    const toolId = await syncedTool(org.owner, org, connection.id);
    const run = await whoami(org.owner.token, toolId);
    expect(accountOf(run.body)).toBe("acme-bot");

    // Another member's call uses the org's one credential too.
    const member = await addMember(server, org, "member");
    expect(accountOf((await whoami(member.token, toolId)).body)).toBe("acme-bot");

    const shown = await server.request<Record<string, unknown>>(
      "GET",
      `/connections/${connection.id}/`,
      { token: org.owner.token },
    );
    expect(shown.body).toMatchObject({
      auth: "oauth",
      needs_reauthorization: false,
      oauth: { credential_mode: "shared", client_registration: "dynamic" },
    });
    // No token anywhere the platform answers or records.
    const token = upstream.lastToken.get("acme-bot") ?? "missing";
    const runs = await server.request("GET", `/orgs/${org.id}/runs/?limit=50`, {
      token: org.owner.token,
    });
    const audit = await server.request("GET", `/orgs/${org.id}/audit-events/?limit=200`, {
      token: org.owner.token,
    });
    for (const body of [shown.body, run.body, runs.body, audit.body])
      expect(JSON.stringify(body)).not.toContain(token);
    expect(await auditActions(org)).toContain("connection.oauth_connect");

    // A second Connect reuses the registration.
    await connect(org.owner, connection.id, "shared", "acme-bot");
    expect(upstream.registrations).toBe(registrations + 1);
  });

  it("refreshes a token about to expire before using it, and a revoked one on the 401", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "shared");
    upstream.accessTokenTtl = 30; // inside the platform's refresh margin
    try {
      await connect(org.owner, connection.id, "shared", "short-lived");
    } finally {
      upstream.accessTokenTtl = 3600;
    }
    const refreshes = upstream.refreshes;
    const toolId = await syncedTool(org.owner, org, connection.id);
    expect(upstream.refreshes).toBe(refreshes + 1);
    expect(accountOf((await whoami(org.owner.token, toolId)).body)).toBe("short-lived");

    // The access token is revoked upstream: the call meets a 401, refreshes once, and succeeds.
    await upstream.revokeAccessToken("short-lived");
    const afterRevoke = upstream.refreshes;
    expect(accountOf((await whoami(org.owner.token, toolId)).body)).toBe("short-lived");
    expect(upstream.refreshes).toBe(afterRevoke + 1);
  });

  it("marks the connection as needing re-authorization when the refresh is refused", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "shared");
    await connect(org.owner, connection.id, "shared", "revoked-user");
    const toolId = await syncedTool(org.owner, org, connection.id);
    expect(accountOf((await whoami(org.owner.token, toolId)).body)).toBe("revoked-user");

    await upstream.revokeGrant("revoked-user");
    const refused = await whoami(org.owner.token, toolId);
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toContain("must connect it again");

    const shown = await server.request<{ needs_reauthorization: boolean }>(
      "GET",
      `/connections/${connection.id}/`,
      { token: org.owner.token },
    );
    expect(shown.body.needs_reauthorization).toBe(true);
    expect(await auditActions(org)).toContain("connection.oauth_reauthorization_required");
    const mine = await server.request<{ results: { connection_id: string; status: string }[] }>(
      "GET",
      `/orgs/${org.id}/my-connections/`,
      { token: org.owner.token },
    );
    expect(mine.body.results).toContainEqual(
      expect.objectContaining({ connection_id: connection.id, status: "needs_reauthorization" }),
    );

    // Connecting again clears it.
    await connect(org.owner, connection.id, "shared", "revoked-user");
    expect(accountOf((await whoami(org.owner.token, toolId)).body)).toBe("revoked-user");
    const cleared = await server.request<{ needs_reauthorization: boolean }>(
      "GET",
      `/connections/${connection.id}/`,
      { token: org.owner.token },
    );
    expect(cleared.body.needs_reauthorization).toBe(false);
  });

  it("per-user credentials: each member's calls use their own token, never another's", async () => {
    const org = await createOrg(server);
    const alice = await addMember(server, org, "admin");
    const bob = await addMember(server, org, "member");
    const carol = await addMember(server, org, "member");
    const connection = await createOAuthConnection(org, "per_user");

    // A per-user connection has no org credential to connect.
    const shared = await server.request("POST", `/connections/${connection.id}/oauth/connect/`, {
      token: alice.token,
      body: { credential: "shared" },
    });
    expect(shared.status).toBe(400);

    await connect(alice, connection.id, "per_user", "alice-account");
    await connect(bob, connection.id, "per_user", "bob-account");
    const toolId = await syncedTool(alice, org, connection.id);

    expect(accountOf((await whoami(alice.token, toolId)).body)).toBe("alice-account");
    expect(accountOf((await whoami(bob.token, toolId)).body)).toBe("bob-account");
    const refused = await whoami(carol.token, toolId);
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toContain(`${carol.email} must connect it`);

    // Bob disconnects: his calls are refused, Alice's go on with her own token.
    await disconnectOwn(bob, connection.id);
    expect((await whoami(bob.token, toolId)).status).toBe(409);
    expect(accountOf((await whoami(alice.token, toolId)).body)).toBe("alice-account");
    const mine = await server.request<{ results: { connection_id: string; status: string }[] }>(
      "GET",
      `/orgs/${org.id}/my-connections/`,
      { token: bob.token },
    );
    expect(mine.body.results).toEqual([
      expect.objectContaining({ connection_id: connection.id, status: "not_connected" }),
    ]);
  });

  it("revokes the tokens at the authorization server on disconnect, and every member's on delete", async () => {
    const org = await createOrg(server);
    const alice = await addMember(server, org, "admin");
    const bob = await addMember(server, org, "member");
    const connection = await createOAuthConnection(org, "per_user");
    await connect(alice, connection.id, "per_user", "alice-revoked");
    await connect(bob, connection.id, "per_user", "bob-revoked");
    const toolId = await syncedTool(alice, org, connection.id);
    expect(accountOf((await whoami(alice.token, toolId)).body)).toBe("alice-revoked");
    expect(accountOf((await whoami(bob.token, toolId)).body)).toBe("bob-revoked");
    const issued = async (account: string) => {
      const token = upstream.lastToken.get(account);
      if (!token) throw new Error(`no token seen for ${account}`);
      return upstream.provider.AccessToken.find(token);
    };
    expect(await issued("bob-revoked")).toBeDefined();

    await disconnectOwn(bob, connection.id);
    expect(await issued("bob-revoked")).toBeUndefined();
    expect(await issued("alice-revoked")).toBeDefined();
    const events = await server.request<{ results: { action: string; metadata: unknown }[] }>(
      "GET",
      `/orgs/${org.id}/audit-events/?action=connection.oauth_disconnect`,
      { token: org.owner.token },
    );
    expect(events.body.results[0]?.metadata).toMatchObject({ upstream_revocation: "revoked" });

    await connect(bob, connection.id, "per_user", "bob-again");
    expect(accountOf((await whoami(bob.token, toolId)).body)).toBe("bob-again");
    const deleted = await server.request("DELETE", `/connections/${connection.id}/`, {
      token: org.owner.token,
    });
    expect(deleted.status).toBe(204);
    expect(await issued("alice-revoked")).toBeUndefined();
    expect(await issued("bob-again")).toBeUndefined();
    const revokedAll = await server.request<{ results: { metadata: unknown }[] }>(
      "GET",
      `/orgs/${org.id}/audit-events/?action=connection.oauth_revoke_all`,
      { token: org.owner.token },
    );
    expect(revokedAll.body.results[0]?.metadata).toEqual({ revoked: 2, unsupported: 0, failed: 0 });
  });

  it("agent keys act for the member the agent runs as, chosen by that member only", async () => {
    const org = await createOrg(server);
    const alice = await addMember(server, org, "admin");
    const connection = await createOAuthConnection(org, "per_user");
    await connect(alice, connection.id, "per_user", "alice-for-agent");
    const toolId = await syncedTool(alice, org, connection.id);
    const agent = await server.request<{ id: string; runs_as_user_id: string | null }>(
      "POST",
      `/orgs/${org.id}/agents/`,
      { token: alice.token, body: { name: "runner" } },
    );
    expect(agent.body.runs_as_user_id).toBeNull();
    await server.request("POST", `/orgs/${org.id}/policies/`, {
      token: alice.token,
      body: { name: "allow", effect: "allow", agent_id: agent.body.id, tool_pattern: "*" },
    });
    const key = await server.request<{ key: string }>("POST", `/agents/${agent.body.id}/keys/`, {
      token: alice.token,
      body: { name: "k" },
    });

    const nobody = await whoami(key.body.key, toolId);
    expect(nobody.status).toBe(409);
    expect(JSON.stringify(nobody.body)).toContain("runs as no one");

    // The owner cannot make the agent spend Alice's account; Alice can.
    const byOwner = await server.request("PATCH", `/agents/${agent.body.id}/`, {
      token: org.owner.token,
      body: { runs_as_user_id: alice.id },
    });
    expect(byOwner.status).toBe(400);
    const byAlice = await server.request("PATCH", `/agents/${agent.body.id}/`, {
      token: alice.token,
      body: { runs_as_user_id: alice.id },
    });
    expect(byAlice.status).toBe(200);
    expect(accountOf((await whoami(key.body.key, toolId)).body)).toBe("alice-for-agent");

    // The gateway uses the same credential.
    const tool = await server.request<{ name: string }>("GET", `/tools/${toolId}/`, {
      token: alice.token,
    });
    const answer = await gatewayPost(server.url, agent.body.id, key.body.key, {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    });
    expect(answer.status).toBe(200);
    const session = answer.headers.get("mcp-session-id");
    const called = await fetch(`${server.url}/mcp/${agent.body.id}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key.body.key}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-06-18",
        ...(session ? { "mcp-session-id": session } : {}),
      },
      body: JSON.stringify(toolCall(tool.body.name, {})),
    });
    expect(await called.text()).toContain("alice-for-agent");
  });

  it("a gateway call with an OAuth token uses the account of the person who authorized it", async () => {
    const org = await createOrg(server);
    const alice = await addMember(server, org, "admin");
    const bob = await addMember(server, org, "admin");
    const connection = await createOAuthConnection(org, "per_user");
    await connect(alice, connection.id, "per_user", "alice-by-agent");
    await connect(bob, connection.id, "per_user", "bob-by-oauth");
    const toolId = await syncedTool(alice, org, connection.id);
    const agent = await server.request<{ id: string }>("POST", `/orgs/${org.id}/agents/`, {
      token: alice.token,
      body: { name: "ide", runs_as_user_id: alice.id },
    });
    expect(agent.status, JSON.stringify(agent.body)).toBe(201);
    await server.request("POST", `/orgs/${org.id}/policies/`, {
      token: alice.token,
      body: { name: "allow-ide", effect: "allow", agent_id: agent.body.id, tool_pattern: "*" },
    });
    const tool = await server.request<{ name: string }>("GET", `/tools/${toolId}/`, {
      token: alice.token,
    });
    const call = async (accessToken: string) => {
      const response = await gatewayPost(
        server.url,
        agent.body.id,
        accessToken,
        toolCall(tool.body.name, {}),
      );
      return response.text();
    };

    // Bob's token acts for Bob, whoever the agent runs as; his grant ends, his account is no
    // longer reachable through it, and the agent's member is never used in his place.
    const granted = await grantTokens(server, bob, agent.body.id);
    expect(await call(granted.accessToken)).toContain("bob-by-oauth");
    expect(await call(granted.accessToken)).not.toContain("alice-by-agent");
    await disconnectOwn(bob, connection.id);
    const refused = await call(granted.accessToken);
    expect(refused).toContain(`${bob.email} must connect it`);
    expect(refused).not.toContain("alice-by-agent");
  });
});

describe.skipIf(databaseUnavailable)("per-user credentials of a disabled account", () => {
  it("are not used while a platform admin has the account disabled, even by an agent running as it", async () => {
    const org = await createOrg(server);
    const alice = await addMember(server, org, "admin");
    const connection = await createOAuthConnection(org, "per_user");
    await connect(alice, connection.id, "per_user", "alice-disabled");
    const toolId = await syncedTool(alice, org, connection.id);
    const agent = await server.request<{ id: string }>("POST", `/orgs/${org.id}/agents/`, {
      token: alice.token,
      body: { name: "runner", runs_as_user_id: alice.id },
    });
    await server.request("POST", `/orgs/${org.id}/policies/`, {
      token: alice.token,
      body: { name: "allow", effect: "allow", agent_id: agent.body.id, tool_pattern: "*" },
    });
    const key = await server.request<{ key: string }>("POST", `/agents/${agent.body.id}/keys/`, {
      token: alice.token,
      body: { name: "k" },
    });
    expect(accountOf((await whoami(key.body.key, toolId)).body)).toBe("alice-disabled");

    const admin = await platformAdmin(server);
    expect((await setDisabled(server, admin, alice.id, true)).status).toBe(200);
    const refused = await whoami(key.body.key, toolId);
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toContain(`${alice.email}'s account is disabled`);

    expect((await setDisabled(server, admin, alice.id, false)).status).toBe(200);
    expect(accountOf((await whoami(key.body.key, toolId)).body)).toBe("alice-disabled");
  });
});

describe.skipIf(databaseUnavailable)("the platform's client ID metadata document", () => {
  it("identifies the platform to a server that takes metadata documents, with nothing registered", async () => {
    // Upstream: an agent of another organization on this platform, whose gateway is an MCP server
    // behind the platform's own authorization server (which takes metadata documents).
    const echo = await startTestMcpServer();
    try {
      const other = await createOrg(server);
      const setup = governance(server, other);
      await setup.syncedConnection({ transport: "streamable_http", url: echo.url });
      const agent = (await setup.agent()) as { id: string; mcp_url: string };
      await setup.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });

      const document = await fetch(`${server.url}/oauth/connections/client-metadata.json`);
      expect(document.status).toBe(200);
      const metadata = (await document.json()) as Record<string, unknown>;
      const clientId = `${server.url}/oauth/connections/client-metadata.json`;
      expect(metadata).toMatchObject({
        client_id: clientId,
        redirect_uris: [`${server.url}${CALLBACK}`],
        token_endpoint_auth_method: "none",
      });

      const org = await createOrg(server);
      const created = await server.request<{ id: string }>("POST", `/orgs/${org.id}/connections/`, {
        token: org.owner.token,
        body: {
          name: "other-platform",
          transport: "streamable_http",
          url: agent.mcp_url,
          auth: "oauth",
          oauth: { credential_mode: "shared" },
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const connectionId = created.body.id;
      const started = new URL(await startConnect(org.owner, connectionId, "shared"));
      expect(started.searchParams.get("client_id")).toBe(clientId);
      const toConsent = await fetch(started, { redirect: "manual" });
      expect(toConsent.status).toBe(302);
      const requestId = consentRequestId(
        new URL(toConsent.headers.get("location") ?? "", server.url),
      );
      const view = await server.request("GET", `/oauth/authorizations/${requestId}/`, {
        token: other.owner.token,
      });
      expect(view.body).toMatchObject({
        client: { client_id: clientId, name: "MCP Agents Platform" },
      });
      const decision = await decide(server, other.owner, requestId, true);
      expect(decision.status, JSON.stringify(decision.body)).toBe(200);
      const back = (decision.body as { redirect_to: string }).redirect_to;
      expect(outcome(await callback(back, org.owner)).get("oauth")).toBe("connected");

      const shown = await server.request<{ oauth: Record<string, unknown> }>(
        "GET",
        `/connections/${connectionId}/`,
        { token: org.owner.token },
      );
      expect(shown.body.oauth).toMatchObject({
        client_registration: "metadata_document",
        client_id: clientId,
      });
      const sync = await server.request<{ created: number }>(
        "POST",
        `/connections/${connectionId}/sync/`,
        { token: org.owner.token },
      );
      expect(sync.status, JSON.stringify(sync.body)).toBe(200);
      expect(sync.body.created).toBeGreaterThan(0);

      const grants = () =>
        server.request<{ results: { client_id: string }[] }>(
          "GET",
          `/agents/${agent.id}/oauth-clients/`,
          { token: other.owner.token },
        );
      expect((await grants()).body.results).toEqual([
        expect.objectContaining({ client_id: clientId }),
      ]);

      // The platform is a public client there: the revocation on disconnect needs no secret.
      const removed = await server.request(
        "DELETE",
        `/connections/${connectionId}/oauth/credential/?credential=shared`,
        { token: org.owner.token },
      );
      expect(removed.status).toBe(204);
      const events = await server.request<{ results: { metadata: unknown }[] }>(
        "GET",
        `/orgs/${org.id}/audit-events/?action=connection.oauth_disconnect`,
        { token: org.owner.token },
      );
      expect(events.body.results[0]?.metadata).toMatchObject({ upstream_revocation: "revoked" });
      expect((await grants()).body.results).toEqual([]);
    } finally {
      await echo.close();
    }
  });
});

describe.skipIf(databaseUnavailable)("OAuth connect: security", () => {
  it("the callback completes only for the person who started it, once, with a valid state", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "shared");
    upstream.nextAccount = "csrf-test";
    const back = await followToCallback(await startConnect(org.owner, connection.id, "shared"));

    // Without a session, or in someone else's browser: nothing is connected.
    expect(outcome(await callback(back, null)).get("oauth")).toBe("error");
    const mallory = await registerUser(server, "mallory");
    const foreign = outcome(await callback(back, mallory));
    expect(foreign.get("oauth")).toBe("error");
    expect(foreign.get("message")).toContain("started by someone else");

    // A forged state.
    const forged = new URL(back);
    forged.searchParams.set("state", "forged-state");
    expect(outcome(await callback(forged.href, org.owner)).get("oauth")).toBe("error");

    // The starter completes it; the same callback again (code and state replayed) is refused.
    expect(outcome(await callback(back, org.owner)).get("oauth")).toBe("connected");
    const replay = outcome(await callback(back, org.owner));
    expect(replay.get("oauth")).toBe("error");
    expect(replay.get("message")).toContain("already used");
  });

  it("the authorization server refuses a redirect URI the platform did not register", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "shared");
    const authorization = new URL(await startConnect(org.owner, connection.id, "shared"));
    expect(authorization.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorization.searchParams.get("resource")).toBe(upstream.url);
    authorization.searchParams.set("redirect_uri", "https://attacker.example/callback");
    const response = await fetch(authorization, { redirect: "manual" });
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
  });

  it("refuses metadata naming an authorization server that is not the issuer it serves (mix-up)", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "shared");
    upstream.advertisedAuthorizationServer = new URL(upstream.url).origin;
    try {
      const started = await server.request("POST", `/connections/${connection.id}/oauth/connect/`, {
        token: org.owner.token,
        body: { credential: "shared" },
      });
      expect(started.status).toBe(400);
      expect(JSON.stringify(started.body)).toContain(`calls itself ${upstream.issuer}`);
    } finally {
      upstream.advertisedAuthorizationServer = upstream.issuer;
    }
  });

  it("fetches discovery and metadata URLs under the private-network rules", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "shared");
    // A second replica on the same database with private networks blocked (production's default).
    const guarded = await startTestServer({ MCP_BLOCK_PRIVATE_NETWORKS: "true" });
    try {
      const started = await guarded.request(
        "POST",
        `/connections/${connection.id}/oauth/connect/`,
        { token: org.owner.token, body: { credential: "shared" } },
      );
      expect(started.status).toBe(400);
      expect(JSON.stringify(started.body)).toContain("OAuth discovery refused");
      expect(JSON.stringify(started.body)).toContain("private and internal networks are blocked");
    } finally {
      await guarded.close();
    }
  });

  it("another org cannot connect, disconnect or see the connection", async () => {
    const org = await createOrg(server);
    const connection = await createOAuthConnection(org, "per_user");
    const other = await createOrg(server);
    for (const [method, path] of [
      ["POST", `/connections/${connection.id}/oauth/connect/`],
      ["DELETE", `/connections/${connection.id}/oauth/credential/?credential=per_user`],
    ] as const) {
      const response = await server.request(method, path, {
        token: other.owner.token,
        ...(method === "POST" ? { body: { credential: "per_user" } } : {}),
      });
      expect(response.status).toBe(404);
    }
  });
});
