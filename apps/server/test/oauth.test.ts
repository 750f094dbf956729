import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pruneOAuthRecords } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  gatewayPost,
  registerUser,
  startTestServer,
  toolCall,
  type TestOrg,
  type TestServer,
  type TestUser,
} from "./harness";
import {
  authorize,
  authorizeParams,
  consentRequestId,
  decide,
  gatewayUrl,
  grantTokens,
  pkce,
  REDIRECT_URI,
  registerClient,
  revokeToken,
  tokenRequest,
} from "./oauth-flow";

/*
 * The gateway as an OAuth 2.1 protected resource and the platform as its authorization server,
 * over the real HTTP surface: discovery, registration, consent, tokens bound to one agent,
 * refresh rotation, revocation, and the attacks each step must withstand.
 */

// Each test walks a whole flow (a dozen requests, a synced connection): more than the default
// allows on a loaded machine. A limit, not a measurement.
vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;
let upstream: RunningTestMcpServer;

interface AgentWorld {
  org: TestOrg;
  agentId: string;
  echoToolId: string;
}

async function agentWorld(): Promise<AgentWorld> {
  const org = await createOrg(server);
  const setup = governance(server, org);
  const connection = await setup.syncedConnection({
    transport: "streamable_http",
    url: upstream.url,
  });
  const agent = await setup.agent();
  await setup.policy({ effect: "allow", tool_pattern: "*", agent_id: agent.id });
  return { org, agentId: agent.id, echoToolId: connection.tools.echo ?? "" };
}

async function callEcho(agentId: string, token: string, text = "hi"): Promise<Response> {
  return gatewayPost(server.url, agentId, token, toolCall("echo", { text }));
}

beforeAll(async () => {
  server = await startTestServer();
  upstream = await startTestMcpServer();
});
afterAll(async () => {
  await server.close();
  await upstream.close();
});

describe.skipIf(databaseUnavailable)("discovery", () => {
  it("a 401 from the gateway names the resource's metadata, which names the authorization server", async () => {
    const { agentId } = await agentWorld();
    const refused = await fetch(gatewayUrl(server, agentId), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(toolCall("echo", {})),
    });
    expect(refused.status).toBe(401);
    const challenge = refused.headers.get("www-authenticate") ?? "";
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${server.url}/.well-known/oauth-protected-resource/mcp/${agentId}`);

    const resource = await fetch(metadataUrl ?? "");
    expect(resource.status).toBe(200);
    expect(resource.headers.get("access-control-allow-origin")).toBe("*");
    const prm = (await resource.json()) as Record<string, unknown>;
    expect(prm).toMatchObject({
      resource: gatewayUrl(server, agentId),
      authorization_servers: [server.url],
      scopes_supported: ["mcp"],
    });

    const as = (await (
      await fetch(`${server.url}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    expect(as).toMatchObject({
      issuer: server.url,
      authorization_endpoint: `${server.url}/oauth/authorize`,
      token_endpoint: `${server.url}/oauth/token`,
      registration_endpoint: `${server.url}/oauth/register`,
      revocation_endpoint: `${server.url}/oauth/revoke`,
      code_challenge_methods_supported: ["S256"],
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
    });
  });

  it("a wrong key's 401 carries the metadata too, with invalid_token", async () => {
    const { agentId } = await agentWorld();
    const refused = await callEcho(agentId, "mcpo_at_not-a-token");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(
      /^Bearer realm="[^"]+", resource_metadata="[^"]+", error="invalid_token"/,
    );
  });

  it("unknown /.well-known, /api and OAuth paths are JSON 404s", async () => {
    for (const path of [
      "/.well-known/openid-configuration",
      "/.well-known/oauth-protected-resource/mcp/not-an-agent",
      "/.well-known/whatever",
      "/api/v2/nothing",
      "/oauth/token/extra",
    ]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers.get("content-type"), path).toMatch(/application\/json/);
    }
  });
});

describe.skipIf(databaseUnavailable)("the code flow", () => {
  it("register, consent, exchange, call as the agent for the approving user, refresh, revoke", async () => {
    const world = await agentWorld();
    const { org, agentId } = world;
    const client = await registerClient(server, {
      token_endpoint_auth_method: "client_secret_post",
    });
    expect(client.status).toBe(201);
    // Public clients only: no secret is issued, whatever was asked.
    expect(client.body.token_endpoint_auth_method).toBe("none");
    expect(client.body.client_secret).toBeUndefined();

    const { verifier, challenge } = pkce();
    const location = await authorize(
      server,
      authorizeParams(server, {
        clientId: client.body.client_id,
        agentId,
        challenge,
        state: "s-123",
      }),
    );
    const requestId = consentRequestId(location);
    const view = await server.request("GET", `/oauth/authorizations/${requestId}/`, {
      token: org.owner.token,
    });
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      client: { client_id: client.body.client_id, kind: "registered", name: "Test IDE" },
      agent: { id: agentId },
      org: { id: org.id },
      can_approve: true,
      approver_role: "admin",
      redirect_uri: REDIRECT_URI,
    });

    const decision = await decide(server, org.owner, requestId, true);
    expect(decision.status).toBe(200);
    const back = new URL(decision.body.redirect_to);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
    expect(back.searchParams.get("state")).toBe("s-123");
    expect(back.searchParams.get("iss")).toBe(server.url);
    const code = back.searchParams.get("code") ?? "";
    // A decided request cannot be decided again.
    expect((await decide(server, org.owner, requestId, true)).status).toBe(404);

    const tokens = await tokenRequest(server, {
      grant_type: "authorization_code",
      code,
      client_id: client.body.client_id,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      resource: gatewayUrl(server, agentId),
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: "Bearer", expires_in: 900, scope: "mcp" });
    const access = tokens.body.access_token ?? "";

    const call = await callEcho(agentId, access, "through oauth");
    expect(call.status).toBe(200);
    expect(JSON.stringify(await call.json())).toContain("through oauth");
    await server.runtime.recorder.idle();
    const runs = await server.request("GET", `/orgs/${org.id}/runs/?agent_id=${agentId}`, {
      token: org.owner.token,
    });
    const [run] = runs.body.results;
    expect(run).toMatchObject({
      agent_id: agentId,
      user_id: org.owner.id,
      triggered_by: { type: "agent", id: agentId, surface: "mcp", acting_user: org.owner.id },
    });
    const audit = await server.request("GET", `/orgs/${org.id}/audit-events/?action=tool.run`, {
      token: org.owner.token,
    });
    expect(audit.body.results[0]).toMatchObject({
      actor_type: "agent",
      actor_id: agentId,
      metadata: { acting_user: org.owner.id, user_id: org.owner.id },
    });
    const approvals = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?action=oauth.authorization.approve`,
      { token: org.owner.token },
    );
    expect(approvals.body.results[0]).toMatchObject({
      actor_type: "user",
      actor_id: org.owner.id,
      target_id: agentId,
      metadata: { client_id: client.body.client_id, client_name: "Test IDE" },
    });

    const listed = await server.request("GET", `/agents/${agentId}/oauth-clients/`, {
      token: org.owner.token,
    });
    expect(listed.body.results).toEqual([
      expect.objectContaining({
        client_id: client.body.client_id,
        client_name: "Test IDE",
        approved_by: expect.objectContaining({ id: org.owner.id, email: org.owner.email }),
      }),
    ]);

    // Refresh: a new pair; the old refresh token is spent.
    const refreshed = await tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: tokens.body.refresh_token ?? "",
      client_id: client.body.client_id,
      resource: gatewayUrl(server, agentId),
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    expect((await callEcho(agentId, refreshed.body.access_token ?? "")).status).toBe(200);

    // Revocation (RFC 7009) of the refresh token ends the grant: its access token is refused.
    expect(
      await revokeToken(server, client.body.client_id, refreshed.body.refresh_token ?? ""),
    ).toBe(200);
    expect((await callEcho(agentId, refreshed.body.access_token ?? "")).status).toBe(401);
    expect(
      (await server.request("GET", `/agents/${agentId}/oauth-clients/`, { token: org.owner.token }))
        .body.results,
    ).toEqual([]);
    // Unknown tokens are "revoked" too (RFC 7009 2.2).
    expect(await revokeToken(server, client.body.client_id, "mcpo_rt_unknown")).toBe(200);
  });

  it("revoking an access token ends only that token; an admin's revoke ends the grant", async () => {
    const { org, agentId } = await agentWorld();
    const first = await grantTokens(server, org.owner, agentId);
    expect(await revokeToken(server, first.clientId, first.accessToken)).toBe(200);
    expect((await callEcho(agentId, first.accessToken)).status).toBe(401);
    const refreshed = await tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: first.refreshToken,
      client_id: first.clientId,
    });
    expect(refreshed.status).toBe(200);
    expect((await callEcho(agentId, refreshed.body.access_token ?? "")).status).toBe(200);

    const [grant] = (
      await server.request("GET", `/agents/${agentId}/oauth-clients/`, { token: org.owner.token })
    ).body.results;
    const revoked = await server.request(
      "DELETE",
      `/agents/${agentId}/oauth-clients/${grant.id}/`,
      {
        token: org.owner.token,
      },
    );
    expect(revoked.status).toBe(204);
    expect((await callEcho(agentId, refreshed.body.access_token ?? "")).status).toBe(401);
    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?action=oauth.grant.revoke`,
      {
        token: org.owner.token,
      },
    );
    expect(audit.body.results[0]).toMatchObject({ actor_id: org.owner.id, target_id: agentId });
  });

  it("agent keys keep working beside OAuth, and record no acting user", async () => {
    const { org, agentId } = await agentWorld();
    const key = await governance(server, org).key(agentId);
    const call = await callEcho(agentId, key.key, "by key");
    expect(call.status).toBe(200);
    expect(JSON.stringify(await call.json())).toContain("by key");
    await server.runtime.recorder.idle();
    const runs = await server.request("GET", `/orgs/${org.id}/runs/?agent_id=${agentId}`, {
      token: org.owner.token,
    });
    expect(runs.body.results[0].user_id).toBeNull();
    expect(runs.body.results[0].triggered_by.acting_user).toBeUndefined();
  });
});

describe.skipIf(databaseUnavailable)("tokens are bound to one agent", () => {
  it("a token for agent X is refused on agent Y, in the same org and in another", async () => {
    const x = await agentWorld();
    const sameOrgAgent = (await governance(server, x.org).agent()).id;
    const otherOrg = await agentWorld();
    const { accessToken } = await grantTokens(server, x.org.owner, x.agentId);
    expect((await callEcho(x.agentId, accessToken)).status).toBe(200);
    for (const agentId of [sameOrgAgent, otherOrg.agentId]) {
      const refused = await callEcho(agentId, accessToken);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
  });

  it("an authorization request without resource, or for something that is not an agent, is refused", async () => {
    const { agentId } = await agentWorld();
    const { body: client } = await registerClient(server);
    const { challenge } = pkce();
    const params = authorizeParams(server, { clientId: client.client_id, agentId, challenge });
    const cases: [Record<string, string>, string][] = [
      [{ resource: "" }, "invalid_target"],
      [{ resource: `https://elsewhere.example/mcp/${agentId}` }, "invalid_target"],
      [{ resource: `${server.url}/mcp/00000000-0000-4000-8000-000000000000` }, "invalid_target"],
      [{ resource: `${server.url}/api/v1/orgs` }, "invalid_target"],
      [{ scope: "mcp admin" }, "invalid_scope"],
    ];
    for (const [change, error] of cases) {
      const query = { ...params, ...change };
      if (change.resource === "") delete (query as Partial<typeof query>).resource;
      const location = await authorize(server, query);
      expect(`${location.origin}${location.pathname}`, JSON.stringify(change)).toBe(REDIRECT_URI);
      expect(location.searchParams.get("error"), JSON.stringify(change)).toBe(error);
      expect(location.searchParams.get("state")).toBe(params.state);
    }
  });

  it("the token endpoint refuses a resource other than the one authorized", async () => {
    const { org, agentId } = await agentWorld();
    const other = (await governance(server, org).agent()).id;
    const { body: client } = await registerClient(server);
    const { verifier, challenge } = pkce();
    const location = await authorize(
      server,
      authorizeParams(server, { clientId: client.client_id, agentId, challenge }),
    );
    const decision = await decide(server, org.owner, consentRequestId(location), true);
    const code = new URL(decision.body.redirect_to).searchParams.get("code") ?? "";
    const refused = await tokenRequest(server, {
      grant_type: "authorization_code",
      code,
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      resource: gatewayUrl(server, other),
    });
    expect(refused).toMatchObject({ status: 400, body: { error: "invalid_target" } });
  });
});

describe.skipIf(databaseUnavailable)("attacks on the flow", () => {
  it("never redirects to a URI the client did not register (open redirect)", async () => {
    const { agentId } = await agentWorld();
    const { body: client } = await registerClient(server);
    const { challenge } = pkce();
    const base = authorizeParams(server, { clientId: client.client_id, agentId, challenge });
    const changes: Record<string, string>[] = [
      { redirect_uri: "https://evil.example/callback" },
      { redirect_uri: `${REDIRECT_URI}/../evil` },
      { redirect_uri: "http://127.0.0.1.evil.example:8976/callback" },
      { client_id: "mcpc_unknown", redirect_uri: "https://evil.example/callback" },
      { client_id: "" },
    ];
    for (const change of changes) {
      const location = await authorize(server, { ...base, ...change });
      expect(location.origin, JSON.stringify(change)).toBe(server.url);
      expect(location.pathname).toBe("/oauth/error");
      expect(location.searchParams.get("error")).toMatch(/invalid_(request|client)/);
    }
    // A loopback redirect URI matches on any port (RFC 8252), nothing else about it.
    const otherPort = await authorize(server, {
      ...base,
      redirect_uri: "http://127.0.0.1:9123/callback",
    });
    expect(otherPort.pathname).toMatch(/^\/oauth\/consent\//);
  });

  it("registration refuses redirect URIs a code must never reach", async () => {
    for (const uri of [
      "javascript:alert(1)",
      "http://evil.example/callback",
      "https://client.example/cb#fragment",
      "data:text/html,hi",
      "file:///etc/passwd",
    ]) {
      const response = await registerClient(server, { redirect_uris: [uri] });
      expect(response.status, uri).toBe(400);
      expect(response.body.error, uri).toMatch(/invalid_(redirect_uri|client_metadata)/);
    }
    const native = await registerClient(server, {
      redirect_uris: ["cursor://anysphere.cursor-retrieval/oauth/callback", "http://localhost/cb"],
    });
    expect(native.status).toBe(201);
    const nonsense = await fetch(`${server.url}/oauth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(nonsense.status).toBe(400);
  });

  it("PKCE is required, S256 only: plain and missing methods are refused, a wrong verifier fails", async () => {
    const { org, agentId } = await agentWorld();
    const { body: client } = await registerClient(server);
    const { verifier, challenge } = pkce();
    const base = authorizeParams(server, { clientId: client.client_id, agentId, challenge });
    const downgrades: Record<string, string>[] = [
      { code_challenge_method: "plain" },
      { code_challenge_method: "" },
      { code_challenge: "" },
      { code_challenge: "short" },
    ];
    for (const change of downgrades) {
      // An empty value stands for a parameter left out.
      const query = Object.fromEntries(
        Object.entries({ ...base, ...change }).filter(([, value]) => value !== ""),
      );
      const location = await authorize(server, query);
      expect(location.searchParams.get("error"), JSON.stringify(change)).toBe("invalid_request");
    }

    const location = await authorize(server, base);
    const decision = await decide(server, org.owner, consentRequestId(location), true);
    const code = new URL(decision.body.redirect_to).searchParams.get("code") ?? "";
    const exchange = (params: Record<string, string>) =>
      tokenRequest(server, {
        grant_type: "authorization_code",
        code,
        client_id: client.client_id,
        redirect_uri: REDIRECT_URI,
        ...params,
      });
    expect(await exchange({})).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    expect(await exchange({ code_verifier: pkce().verifier })).toMatchObject({
      status: 400,
      body: { error: "invalid_grant" },
    });
    // The challenge itself is not a verifier (a downgrade to plain).
    expect(await exchange({ code_verifier: challenge })).toMatchObject({
      status: 400,
      body: { error: "invalid_grant" },
    });
    expect((await exchange({ code_verifier: verifier })).status).toBe(200);
  });

  it("the code is bound to its redirect URI and client", async () => {
    const { org, agentId } = await agentWorld();
    const { body: client } = await registerClient(server);
    const { body: otherClient } = await registerClient(server);
    const { verifier, challenge } = pkce();
    const location = await authorize(
      server,
      authorizeParams(server, { clientId: client.client_id, agentId, challenge }),
    );
    const decision = await decide(server, org.owner, consentRequestId(location), true);
    const code = new URL(decision.body.redirect_to).searchParams.get("code") ?? "";
    const exchange = (params: Record<string, string>) =>
      tokenRequest(server, {
        grant_type: "authorization_code",
        code,
        client_id: client.client_id,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
        ...params,
      });
    expect(await exchange({ redirect_uri: "http://127.0.0.1:8976/other" })).toMatchObject({
      status: 400,
      body: { error: "invalid_grant" },
    });
    expect(await exchange({ client_id: otherClient.client_id })).toMatchObject({
      status: 400,
      body: { error: "invalid_grant" },
    });
    expect(await exchange({ client_id: "mcpc_nobody" })).toMatchObject({
      status: 401,
      body: { error: "invalid_client" },
    });
    expect((await exchange({})).status).toBe(200);
  });

  it("a code used twice is refused, and the tokens it produced are revoked", async () => {
    const { org, agentId } = await agentWorld();
    const granted = await grantTokens(server, org.owner, agentId);
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(200);
    const again = await tokenRequest(server, {
      grant_type: "authorization_code",
      code: granted.code,
      client_id: granted.clientId,
      redirect_uri: REDIRECT_URI,
      code_verifier: granted.verifier,
    });
    expect(again).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(401);
    const refresh = await tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: granted.refreshToken,
      client_id: granted.clientId,
    });
    expect(refresh.body.error).toBe("invalid_grant");
    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?action=oauth.grant.revoke.code_reuse`,
      { token: org.owner.token },
    );
    expect(audit.body.results).toHaveLength(1);
  });

  it("a refresh token used twice revokes the whole grant (reuse detection)", async () => {
    const { org, agentId } = await agentWorld();
    const granted = await grantTokens(server, org.owner, agentId);
    const refresh = (token: string) =>
      tokenRequest(server, {
        grant_type: "refresh_token",
        refresh_token: token,
        client_id: granted.clientId,
      });
    const rotated = await refresh(granted.refreshToken);
    expect(rotated.status).toBe(200);
    // The thief (or the client) replays the spent token: both lose the grant.
    expect((await refresh(granted.refreshToken)).body.error).toBe("invalid_grant");
    expect((await refresh(rotated.body.refresh_token ?? "")).body.error).toBe("invalid_grant");
    expect((await callEcho(agentId, rotated.body.access_token ?? "")).status).toBe(401);
    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?action=oauth.grant.revoke.refresh_token_reuse`,
      { token: org.owner.token },
    );
    expect(audit.body.results).toHaveLength(1);
  });

  it("another client cannot refresh or revoke a client's tokens", async () => {
    const { org, agentId } = await agentWorld();
    const granted = await grantTokens(server, org.owner, agentId);
    const { body: thief } = await registerClient(server);
    const stolen = await tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: granted.refreshToken,
      client_id: thief.client_id,
    });
    expect(stolen.body.error).toBe("invalid_grant");
    expect(await revokeToken(server, thief.client_id, granted.accessToken)).toBe(200);
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(200);
  });

  it("state and iss come back exactly; a denial is audited and says access_denied", async () => {
    const { org, agentId } = await agentWorld();
    const { body: client } = await registerClient(server);
    const state = "csrf-☃-&=?";
    const location = await authorize(
      server,
      authorizeParams(server, {
        clientId: client.client_id,
        agentId,
        challenge: pkce().challenge,
        state,
      }),
    );
    const denied = await decide(server, org.owner, consentRequestId(location), false);
    const back = new URL(denied.body.redirect_to);
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("state")).toBe(state);
    expect(back.searchParams.get("iss")).toBe(server.url);
    expect(back.searchParams.get("code")).toBeNull();
    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?action=oauth.authorization.deny`,
      { token: org.owner.token },
    );
    expect(audit.body.results).toHaveLength(1);
  });

  it("a cross-site page cannot post the decision with the person's cookie (CSRF)", async () => {
    const { org, agentId } = await agentWorld();
    const { body: client } = await registerClient(server);
    const location = await authorize(
      server,
      authorizeParams(server, { clientId: client.client_id, agentId, challenge: pkce().challenge }),
    );
    const requestId = consentRequestId(location);
    const forged = await fetch(`${server.url}/trpc/oauth.authorizations.decide`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        cookie: `mcpa_session=${org.owner.token}`,
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
      },
      body: JSON.stringify({ id: requestId, approve: true }),
    });
    expect(forged.status).toBe(403);
    // Still pending: the person can still decide.
    const view = await server.request("GET", `/oauth/authorizations/${requestId}/`, {
      token: org.owner.token,
    });
    expect(view.status).toBe(200);
  });
});

describe.skipIf(databaseUnavailable)("who may approve", () => {
  async function pendingRequest(agentId: string): Promise<string> {
    const { body: client } = await registerClient(server);
    return consentRequestId(
      await authorize(
        server,
        authorizeParams(server, {
          clientId: client.client_id,
          agentId,
          challenge: pkce().challenge,
        }),
      ),
    );
  }

  it("another org's user learns nothing and cannot decide", async () => {
    const { agentId } = await agentWorld();
    const outsider: TestUser = (await createOrg(server)).owner;
    const requestId = await pendingRequest(agentId);
    const view = await server.request("GET", `/oauth/authorizations/${requestId}/`, {
      token: outsider.token,
    });
    expect(view.status).toBe(404);
    expect((await decide(server, outsider, requestId, true)).status).toBe(404);
    expect((await decide(server, outsider, requestId, false)).status).toBe(404);
    const stranger = await registerUser(server, "stranger");
    expect((await decide(server, stranger, requestId, true)).status).toBe(404);
  });

  it("only the org's approver role may approve (admins by default); the setting widens it", async () => {
    const { org, agentId } = await agentWorld();
    const member = await addMember(server, org, "member");
    const admin = await addMember(server, org, "admin");
    const requestId = await pendingRequest(agentId);
    const view = await server.request("GET", `/oauth/authorizations/${requestId}/`, {
      token: member.token,
    });
    expect(view.body).toMatchObject({
      can_approve: false,
      your_role: "member",
      approver_role: "admin",
    });
    const refused = await decide(server, member, requestId, true);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/admin role/);
    expect((await grantTokens(server, admin, agentId)).accessToken).toMatch(/^mcpo_at_/);

    const changed = await server.request("PATCH", `/orgs/${org.id}/`, {
      token: org.owner.token,
      body: { oauth_approver_role: "member" },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.oauth_approver_role).toBe("member");
    const granted = await grantTokens(server, member, agentId);
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(200);
    // Viewers can never be approvers.
    const viewerSetting = await server.request("PATCH", `/orgs/${org.id}/`, {
      token: org.owner.token,
      body: { oauth_approver_role: "viewer" },
    });
    expect(viewerSetting.status).toBe(400);

    // Back to admins: the member's token stops, since its authority is gone.
    await server.request("PATCH", `/orgs/${org.id}/`, {
      token: org.owner.token,
      body: { oauth_approver_role: "admin" },
    });
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(401);
  });

  it("an approver who leaves the org takes their clients' access along", async () => {
    const { org, agentId } = await agentWorld();
    const admin = await addMember(server, org, "admin");
    const granted = await grantTokens(server, admin, agentId);
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(200);
    const removed = await server.request("DELETE", `/orgs/${org.id}/members/${admin.id}/`, {
      token: org.owner.token,
    });
    expect(removed.status).toBe(204);
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(401);
  });

  it("a disabled agent's tokens are refused", async () => {
    const { org, agentId } = await agentWorld();
    const granted = await grantTokens(server, org.owner, agentId);
    await server.request("PATCH", `/agents/${agentId}/`, {
      token: org.owner.token,
      body: { status: "disabled" },
    });
    expect((await callEcho(agentId, granted.accessToken)).status).toBe(401);
  });
});

/** Serves one JSON document and counts the requests it gets. */
async function documentServer(
  body: (url: string) => unknown,
): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  let base = "";
  const http: Server = createServer((_req, res) => {
    hits += 1;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body(base)));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/client.json`;
  return {
    url: base,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => {
          resolve();
        });
      }),
  };
}

describe.skipIf(databaseUnavailable)("client id metadata documents", () => {
  it("a client identifies itself by the URL of its metadata document", async () => {
    const { org, agentId } = await agentWorld();
    const document = await documentServer((url) => ({
      client_id: url,
      client_name: "Doc Client",
      client_uri: "https://client.example",
      redirect_uris: [REDIRECT_URI],
    }));
    try {
      const { challenge } = pkce();
      const location = await authorize(
        server,
        authorizeParams(server, { clientId: document.url, agentId, challenge }),
      );
      const view = await server.request(
        "GET",
        `/oauth/authorizations/${consentRequestId(location)}/`,
        { token: org.owner.token },
      );
      expect(view.body.client).toMatchObject({
        client_id: document.url,
        kind: "metadata_document",
        name: "Doc Client",
      });
      expect(document.hits()).toBe(1);
    } finally {
      await document.close();
    }
  });

  it("a document that names another client id, or no redirect URIs, is refused", async () => {
    const { agentId } = await agentWorld();
    for (const body of [
      (url: string) => ({ client_id: `${url}?other`, redirect_uris: [REDIRECT_URI] }),
      (url: string) => ({ client_id: url, redirect_uris: [] }),
      (url: string) => ({ client_id: url, redirect_uris: ["javascript:alert(1)"] }),
    ]) {
      const document = await documentServer(body);
      try {
        const location = await authorize(
          server,
          authorizeParams(server, { clientId: document.url, agentId, challenge: pkce().challenge }),
        );
        expect(location.pathname).toBe("/oauth/error");
        expect(location.searchParams.get("error")).toBe("invalid_client");
      } finally {
        await document.close();
      }
    }
  });

  it("with private networks blocked, a metadata URL inside them is never fetched (SSRF)", async () => {
    const guarded = await startTestServer({ MCP_BLOCK_PRIVATE_NETWORKS: "true" });
    const document = await documentServer((url) => ({
      client_id: url,
      redirect_uris: [REDIRECT_URI],
    }));
    try {
      const org = await createOrg(guarded);
      const agent = await governance(guarded, org).agent();
      const port = new URL(document.url).port;
      for (const clientId of [
        document.url,
        `https://127.0.0.1:${port}/client.json`,
        `https://localhost:${port}/client.json`,
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/client.json",
      ]) {
        const location = await authorize(
          guarded,
          authorizeParams(guarded, { clientId, agentId: agent.id, challenge: pkce().challenge }),
        );
        expect(location.pathname, clientId).toBe("/oauth/error");
        expect(location.searchParams.get("error"), clientId).toBe("invalid_client");
      }
      expect(document.hits()).toBe(0);
    } finally {
      await document.close();
      await guarded.close();
    }
  });
});

describe.skipIf(databaseUnavailable)("unauthenticated registration", () => {
  it("throttles dynamic registrations per client address, on every replica, with Retry-After", async () => {
    const limits = { TRUST_PROXY: "true", OAUTH_MAX_CLIENT_REGISTRATIONS_PER_IP: "2" };
    const [first, replica] = await Promise.all([startTestServer(limits), startTestServer(limits)]);
    try {
      const register = (target: TestServer, ip: string) =>
        fetch(`${target.url}/oauth/register`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": ip },
          body: JSON.stringify({ client_name: "Spray", redirect_uris: [REDIRECT_URI] }),
        });
      const ip = `10.77.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
      expect((await register(first, ip)).status).toBe(201);
      expect((await register(replica, ip)).status).toBe(201);
      const refused = await register(first, ip);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ error: "temporarily_unavailable" });
      // Another address is not affected (another /16, so never the same address).
      expect((await register(replica, ip.replace(/^10\.77\./, "10.78."))).status).toBe(201);
    } finally {
      await Promise.all([first.close(), replica.close()]);
    }
  });

  it("forgets clients nobody authorized after a day, and keeps those with a grant", async () => {
    const world = await agentWorld();
    const unused = await registerClient(server);
    const used = await grantTokens(server, world.org.owner, world.agentId);
    await pruneOAuthRecords(server.database.db, new Date(Date.now() + 2 * 24 * 3_600_000));

    const left = await server.database.db
      .select({ client_id: schema.oauthClients.client_id })
      .from(schema.oauthClients)
      .where(inArray(schema.oauthClients.client_id, [unused.body.client_id, used.clientId]));
    expect(left).toEqual([{ client_id: used.clientId }]);
  });
});
