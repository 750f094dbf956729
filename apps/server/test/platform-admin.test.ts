import { randomBytes } from "node:crypto";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { schema } from "@mcp/core/db";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  gatewayPost,
  linkToken,
  platformAdmin,
  registerUser,
  setDisabled,
  startTestServer,
  toolCall,
  uniqueEmail,
  type TestOrg,
  type TestServer,
  type TestUser,
} from "./harness";
import { linkIn, startTestMailServer, type TestMailServer } from "./mail-server";
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
  tokenRequest,
} from "./oauth-flow";

/*
 * A platform admin's powers and their limits over the real HTTP surface: the platform-wide lists,
 * disabling an account (locked out of every credential at once) and re-enabling it, the audit trail
 * of both, and everyone else refused.
 */

// Whole flows (an OAuth grant, a synced connection, mailed links): a limit, not a measurement.
vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;
/** A second replica on the same database: what one disables, the other refuses. */
let replica: TestServer;
let mail: TestMailServer;
let upstream: RunningTestMcpServer;

beforeAll(async () => {
  if (databaseUnavailable) return;
  mail = await startTestMailServer();
  upstream = await startTestMcpServer();
  server = await startTestServer({ SMTP_URL: mail.url, SMTP_FROM: "noreply@platform.test" });
  replica = await startTestServer();
  // Not the platform's first account: that one becomes its admin, whatever the test.
  await registerUser(server, "first");
});
afterAll(async () => {
  if (databaseUnavailable) return;
  await Promise.all([server.close(), replica.close(), mail.close(), upstream.close()]);
});

const disable = (admin: TestUser, userId: string) => setDisabled(server, admin, userId, true);
const enable = (admin: TestUser, userId: string) => setDisabled(server, admin, userId, false);
const login = (user: TestUser) =>
  server.request("POST", "/auth/login/", { body: { email: user.email, password: user.password } });
const me = (token: string) => server.request("GET", "/auth/me/", { token });

async function createApiToken(org: TestOrg, role: string): Promise<string> {
  const created = await server.request("POST", `/orgs/${org.id}/api-tokens/`, {
    token: org.owner.token,
    body: { name: `token-${randomBytes(3).toString("hex")}`, role },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.token as string;
}

/** Every page of a platform list, following next_cursor. */
async function everyPage<T>(admin: TestUser, path: string, limit: number): Promise<T[]> {
  const rows: T[] = [];
  let cursor: string | null = null;
  do {
    const query = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = await server.request("GET", `${path}${query}`, { token: admin.token });
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    rows.push(...(page.body.results as T[]));
    cursor = page.body.next_cursor as string | null;
  } while (cursor !== null);
  return rows;
}

describe.skipIf(databaseUnavailable)("platform admin", () => {
  it("refuses everyone but platform admins: members, org owners, API tokens, no credentials", async () => {
    const org = await createOrg(server);
    const member = await addMember(server, org, "admin");
    const apiToken = await createApiToken(org, "admin");
    const requests: [string, string][] = [
      ["GET", "/platform/orgs/"],
      ["GET", "/platform/users/"],
      ["GET", "/platform/audit-events/"],
      ["POST", `/platform/users/${member.id}/disable/`],
      ["POST", `/platform/users/${member.id}/enable/`],
    ];
    for (const [method, path] of requests) {
      for (const token of [org.owner.token, member.token, apiToken]) {
        const refused = await server.request(method, path, { token });
        expect(refused.status, `${method} ${path}`).toBe(403);
      }
      expect((await server.request(method, path)).status).toBe(401);
    }
    // Nothing changed: the member still works.
    expect((await me(member.token)).status).toBe(200);
  });

  it("lists every org with its member count and every account, a page at a time", async () => {
    const admin = await platformAdmin(server);
    const org = await createOrg(server);
    const member = await addMember(server, org, "viewer");
    const orgs = await everyPage<{ id: string; name: string; member_count: number }>(
      admin,
      "/platform/orgs/",
      200,
    );
    expect(orgs.find((row) => row.id === org.id)).toMatchObject({ member_count: 2 });
    const users = await everyPage<Record<string, unknown>>(admin, "/platform/users/", 200);
    const listed = users.find((row) => row.id === member.id);
    expect(listed).toMatchObject({
      email: member.email,
      disabled: false,
      disabled_at: null,
      is_platform_admin: false,
      last_sign_in_at: expect.any(String),
    });
    expect(users.find((row) => row.id === admin.id)).toMatchObject({ is_platform_admin: true });
    // No secret of any kind in the listing.
    expect(JSON.stringify(users)).not.toMatch(/password|hash/i);
    // Ids are unique across pages (keyset pagination, oldest first).
    expect(new Set(users.map((row) => row.id)).size).toBe(users.length);
  });

  it("reaches the 201st account and beyond through the cursor", async () => {
    const admin = await platformAdmin(server);
    // The accounts made here are the newest, so a walk of 200-row pages needs a second page.
    const made = await server.database.db
      .insert(schema.users)
      .values(Array.from({ length: 201 }, (_, index) => ({ email: uniqueEmail(`bulk${index}`) })))
      .returning({ id: schema.users.id });
    const users = await everyPage<{ id: string }>(admin, "/platform/users/", 200);
    const ids = new Set(users.map((row) => row.id));
    expect(made.every(({ id }) => ids.has(id))).toBe(true);
    expect(users.length).toBeGreaterThan(200);
  }, 300_000);

  it("disables an account everywhere at once: sessions, sign-in, API tokens, OAuth grants, reset links", async () => {
    const admin = await platformAdmin(server);
    const org = await createOrg(server);
    const setup = governance(server, org);
    await setup.syncedConnection({ transport: "streamable_http", url: upstream.url });
    const agent = await setup.agent();
    await setup.policy({ effect: "allow", tool_pattern: "*", agent_id: agent.id });
    const user = org.owner;
    // Signed in on the other replica too, whose requests the disable never passes through.
    const replicaLogin = await replica.request("POST", "/auth/login/", {
      body: { email: user.email, password: user.password },
    });
    const secondSession = replicaLogin.body.token as string;
    expect((await replica.request("GET", "/auth/me/", { token: secondSession })).status).toBe(200);
    const apiToken = await createApiToken(org, "member");
    const grant = await grantTokens(server, user, agent.id);
    await mail.next(user.email); // the verification mail of the sign-up
    expect(
      (await server.request("POST", "/auth/password-reset/", { body: { email: user.email } }))
        .status,
    ).toBe(204);
    const resetToken = linkToken(linkIn(await mail.next(user.email), "/reset-password"));
    const echo = (token: string) =>
      gatewayPost(server.url, agent.id, token, toolCall("echo", { text: "hi" }));
    expect((await echo(grant.accessToken)).status).toBe(200);
    const orgRequest = (token: string) =>
      server.request("GET", `/orgs/${org.id}/`, { headers: { authorization: `Bearer ${token}` } });
    expect((await orgRequest(apiToken)).status).toBe(200);

    const disabled = await disable(admin, user.id);
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    expect(disabled.body).toMatchObject({
      id: user.id,
      disabled: true,
      disabled_at: expect.any(String),
    });

    // Sessions: ended, and gone from the database.
    expect((await me(user.token)).status).toBe(401);
    expect((await replica.request("GET", "/auth/me/", { token: secondSession })).status).toBe(401);
    const sessionRows = await server.database.db
      .select()
      .from(schema.sessions)
      .where(eq(schema.sessions.userId, user.id));
    expect(sessionRows).toHaveLength(0);
    // Password sign-in: refused, saying why only to whoever knows the password.
    const refused = await login(user);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/disabled/);
    const wrongPassword = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: "not-the-password-1" },
    });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.message).not.toMatch(/disabled/);
    // API token the user created.
    const tokenRefused = await orgRequest(apiToken);
    expect(tokenRefused.status).toBe(401);
    expect(tokenRefused.body.message).toMatch(/disabled/);
    expect(
      (
        await replica.request("GET", `/orgs/${org.id}/`, {
          headers: { authorization: `Bearer ${apiToken}` },
        })
      ).status,
    ).toBe(401);
    // OAuth grant the user approved: the access token at the gateway, and its refresh token.
    expect((await echo(grant.accessToken)).status).toBe(401);
    const refresh = await tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: grant.refreshToken,
      client_id: grant.clientId,
      resource: gatewayUrl(server, agent.id),
    });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe("invalid_grant");
    // A reset link mailed before: refused, the password unchanged; a new request mails nothing.
    const reset = await server.request("POST", "/auth/password-reset/confirm/", {
      body: {
        token: resetToken,
        password: "a-new-password-1",
        password_confirm: "a-new-password-1",
      },
    });
    expect(reset.status).toBe(403);
    const tokensBefore = await server.database.db
      .select()
      .from(schema.userTokens)
      .where(
        and(
          eq(schema.userTokens.user_id, user.id),
          eq(schema.userTokens.purpose, "password_reset"),
        ),
      );
    const again = await server.request("POST", "/auth/password-reset/", {
      body: { email: user.email },
    });
    expect(again.status).toBe(204);
    const tokensAfter = await server.database.db
      .select()
      .from(schema.userTokens)
      .where(
        and(
          eq(schema.userTokens.user_id, user.id),
          eq(schema.userTokens.purpose, "password_reset"),
        ),
      );
    expect(tokensAfter).toHaveLength(tokensBefore.length);

    // Re-enabled: sign-in works again, the ended sessions stay ended, the unrevoked token and
    // grant work again (they were never revoked, only refused while the account was disabled).
    const enabled = await enable(admin, user.id);
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ disabled: false, disabled_at: null });
    for (const token of [user.token, secondSession]) expect((await me(token)).status).toBe(401);
    const back = await login(user);
    expect(back.status).toBe(200);
    expect((await me(back.body.token as string)).status).toBe(200);
    expect((await orgRequest(apiToken)).status).toBe(200);
    expect((await echo(grant.accessToken)).status).toBe(200);
    // The reset link still works once the account may sign in again (it was never spent).
    const resetNow = await server.request("POST", "/auth/password-reset/confirm/", {
      body: {
        token: resetToken,
        password: "a-new-password-1",
        password_confirm: "a-new-password-1",
      },
    });
    expect(resetNow.status).toBe(200);
  });

  it("is audited: a platform event and one in each org of the account", async () => {
    const admin = await platformAdmin(server);
    const org = await createOrg(server);
    const otherOrg = await createOrg(server, org.owner);
    const member = await addMember(server, org, "member");
    expect((await disable(admin, member.id)).status).toBe(200);
    // Asking again changes nothing and records nothing.
    expect((await disable(admin, member.id)).status).toBe(200);
    expect((await enable(admin, member.id)).status).toBe(200);

    const platform = await server.request(
      "GET",
      `/platform/audit-events/?target_id=${member.id}&limit=10`,
      { token: admin.token },
    );
    expect(platform.status).toBe(200);
    const platformActions = (
      platform.body.results as { action: string; org_id: string | null; actor_id: string }[]
    ).filter((event) => event.action.startsWith("platform."));
    expect(platformActions.map((event) => event.action)).toEqual([
      "platform.user.enable",
      "platform.user.disable",
    ]);
    for (const event of platformActions) {
      expect(event).toMatchObject({ org_id: null, actor_id: admin.id });
    }

    const orgEvents = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?target_id=${member.id}&action=platform.user.disable`,
      { token: org.owner.token },
    );
    expect(orgEvents.body.results).toHaveLength(1);
    expect(orgEvents.body.results[0]).toMatchObject({
      actor_id: admin.id,
      metadata: { email: member.email, by: "platform_admin" },
      chain_seq: expect.any(Number),
    });
    // The member is not in the other org: nothing is written there.
    const otherEvents = await server.request(
      "GET",
      `/orgs/${otherOrg.id}/audit-events/?target_id=${member.id}`,
      { token: org.owner.token },
    );
    expect(otherEvents.body.results).toHaveLength(0);
    const chain = await server.request("GET", `/orgs/${org.id}/audit-events/verify/`, {
      token: org.owner.token,
    });
    expect(chain.body.valid).toBe(true);
  });

  it("cannot disable itself, nor can two admins disabling each other at once leave no admin", async () => {
    const admin = await platformAdmin(server);
    const self = await disable(admin, admin.id);
    expect(self.status).toBe(403);
    expect(self.body.message).toMatch(/own account/);
    expect((await me(admin.token)).status).toBe(200);
    expect((await disable(admin, "00000000-0000-7000-8000-000000000000")).status).toBe(404);

    const other = await platformAdmin(server);
    const [first, second] = await Promise.all([disable(admin, other.id), disable(other, admin.id)]);
    const statuses = [first.status, second.status].sort();
    expect(statuses[0]).toBe(200);
    expect([401, 403]).toContain(statuses[1]);
    // Exactly one of them is still signed in, and the platform keeps an enabled admin.
    const signedIn = [(await me(admin.token)).status, (await me(other.token)).status];
    expect(signedIn.filter((status) => status === 200)).toHaveLength(1);
  });

  it("refuses to exchange a code its approver approved before being disabled", async () => {
    const admin = await platformAdmin(server);
    const org = await createOrg(server);
    const agent = await governance(server, org).agent();
    const client = (await registerClient(server)).body.client_id;
    const { verifier, challenge } = pkce();
    const location = await authorize(
      server,
      authorizeParams(server, { clientId: client, agentId: agent.id, challenge }),
    );
    const decision = await decide(server, org.owner, consentRequestId(location), true);
    expect(decision.status).toBe(200);
    const code = new URL(decision.body.redirect_to as string).searchParams.get("code") ?? "";
    expect((await disable(admin, org.owner.id)).status).toBe(200);
    const exchanged = await tokenRequest(server, {
      grant_type: "authorization_code",
      code,
      client_id: client,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      resource: gatewayUrl(server, agent.id),
    });
    expect(exchanged.status).toBe(400);
    expect(exchanged.body).toMatchObject({ error: "invalid_grant" });
    expect(exchanged.body.error_description).toMatch(/disabled/);
  });

  it("gives no org membership: a platform admin gets 404 on an org's resources", async () => {
    const admin = await platformAdmin(server);
    const org = await createOrg(server);
    for (const path of [
      `/orgs/${org.id}/`,
      `/orgs/${org.id}/connections/`,
      `/orgs/${org.id}/members/`,
    ]) {
      expect((await server.request("GET", path, { token: admin.token })).status).toBe(404);
    }
  });
});
