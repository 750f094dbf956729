import { randomBytes } from "node:crypto";
import { schema } from "@mcp/core/db";
import { desc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  platformAdmin,
  registerUser,
  setDisabled,
  startTestServer,
  uniqueEmail,
  type TestServer,
} from "./harness";
import { startTestIdp, type IdpAccount, type TestIdp } from "./oidc-idp";

/*
 * Sign-in with SSO end to end: a real OpenID provider (oidc-provider) in process, the platform's
 * start and callback routes over HTTP, the outcome read back through the REST API.
 */

const CALLBACK = "/auth/sso/callback";
/** Only this test file's JIT rule names this domain, so other files' users never join its orgs. */
const JIT_DOMAIN = "jit.example.org";

let server: TestServer;
let idp: TestIdp;

beforeAll(async () => {
  if (databaseUnavailable) return;
  idp = await startTestIdp();
  server = await startTestServer({
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: idp.clientId,
    OIDC_CLIENT_SECRET: idp.clientSecret,
    OIDC_ALLOWED_DOMAINS: `example.com, ${JIT_DOMAIN}`,
    OIDC_DISPLAY_NAME: "Acme ID",
  });
  idp.registerPlatform(`${server.url}${CALLBACK}`);
  // Not the platform's first account: that one becomes its admin, whatever the test.
  await registerUser(server, "first");
});

afterAll(async () => {
  if (databaseUnavailable) return;
  await Promise.all([server.close(), idp.close()]);
});

/** An IdP account with a fresh subject. */
function idpAccount(claims: Omit<IdpAccount, "sub">): IdpAccount {
  const account = { sub: `sub-${randomBytes(6).toString("hex")}`, ...claims };
  idp.accounts.set(account.sub, account);
  return account;
}

function cookieValue(response: Response, name: string): string | undefined {
  for (const cookie of response.headers.getSetCookie()) {
    const pair = cookie.split(";")[0] ?? "";
    if (pair.startsWith(`${name}=`)) return pair.slice(name.length + 1);
  }
  return undefined;
}

/** `GET /auth/sso/start`: the IdP URL and the state cookie the browser now holds. */
async function start(next?: string): Promise<{ authorizationUrl: string; stateCookie: string }> {
  const query = next === undefined ? "" : `?next=${encodeURIComponent(next)}`;
  const response = await fetch(`${server.url}/auth/sso/start${query}`, { redirect: "manual" });
  expect(response.status).toBe(303);
  const stateCookie = cookieValue(response, "mcpa_sso_state");
  expect(stateCookie).toBeTruthy();
  return {
    authorizationUrl: response.headers.get("location") ?? "",
    stateCookie: stateCookie ?? "",
  };
}

/** Signs in at the IdP as `account` and follows its redirects up to the platform's callback. */
async function throughIdp(authorizationUrl: string, account: IdpAccount): Promise<string> {
  idp.nextAccount = account.sub;
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
    if (!location) throw new Error(`IdP answered ${response.status}: ${await response.text()}`);
    const target = new URL(location, next).href;
    if (target.startsWith(`${server.url}${CALLBACK}`)) return target;
    next = target;
  }
  throw new Error("too many redirects");
}

function callback(url: string, stateCookie: string | null): Promise<Response> {
  return fetch(url, {
    redirect: "manual",
    headers: stateCookie === null ? {} : { cookie: `mcpa_sso_state=${stateCookie}` },
  });
}

/** The whole browser flow; the callback's response. */
async function ssoSignIn(account: IdpAccount): Promise<Response> {
  const { authorizationUrl, stateCookie } = await start();
  return callback(await throughIdp(authorizationUrl, account), stateCookie);
}

/** The signed-in user behind a successful callback (its session cookie). */
async function signedIn(response: Response): Promise<{ id: string; email: string; token: string }> {
  expect(response.status, await response.clone().text()).toBe(303);
  expect(response.headers.get("location")).toBe(`${server.url}/`);
  const token = cookieValue(response, "mcpa_session");
  expect(token).toBeTruthy();
  const me = await server.request<{ id: string; email: string }>("GET", "/auth/me/", { token });
  expect(me.status).toBe(200);
  return { ...me.body, token: token ?? "" };
}

async function refused(response: Response, status: number, message: RegExp): Promise<void> {
  expect(response.status).toBe(status);
  expect(cookieValue(response, "mcpa_session")).toBeUndefined();
  expect(await response.text()).toMatch(message);
}

describe.skipIf(databaseUnavailable)("SSO sign-in (OpenID Connect)", () => {
  it("tells the SPA the provider's name and where to start", async () => {
    const info = await server.request("GET", "/auth/sso/");
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      enabled: true,
      display_name: "Acme ID",
      start_url: `${server.url}/auth/sso/start`,
    });
  });

  it("opens an account on first sign-in and finds it by subject after an e-mail change", async () => {
    const account = idpAccount({
      email: uniqueEmail("first").replace(/@.*/, "@example.com"),
      email_verified: true,
      given_name: "Ada",
      family_name: "Lovelace",
    });
    const first = await signedIn(await ssoSignIn(account));
    expect(first.email).toBe(account.email);
    const me = await server.request("GET", "/auth/me/", { token: first.token });
    expect(me.body).toMatchObject({ first_name: "Ada", last_name: "Lovelace" });
    // Audited like a password sign-in, with how it happened.
    const events = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.target_id, first.id));
    expect(events.map((event) => [event.action, event.metadata])).toEqual(
      expect.arrayContaining([
        ["user.register", { method: "sso", issuer: idp.issuer }],
        ["user.sso_link", { issuer: idp.issuer, subject: account.sub, email: account.email }],
        ["user.login", { method: "sso", issuer: idp.issuer }],
      ]),
    );

    // The IdP changes the person's address: the (issuer, subject) link still finds the account.
    account.email = uniqueEmail("renamed").replace(/@.*/, "@example.com");
    const again = await signedIn(await ssoSignIn(account));
    expect(again.id).toBe(first.id);

    // An SSO account has no password: password sign-in fails like a wrong password.
    const login = await server.request("POST", "/auth/login/", {
      body: { email: first.email, password: "anything-at-all-123" },
    });
    expect(login.status).toBe(401);
  });

  it("links an existing account by verified e-mail; the password keeps working", async () => {
    const user = await registerUser(server, "linked");
    const address = user.email;
    // registerUser's addresses are at example.com, an allowed domain.
    expect(address.endsWith("@example.com")).toBe(true);
    const account = idpAccount({ email: address.toUpperCase(), email_verified: true });
    const viaSso = await signedIn(await ssoSignIn(account));
    expect(viaSso.id).toBe(user.id);
    const login = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(200);
  });

  it("never links an unverified e-mail to an existing account, nor opens one with it", async () => {
    const user = await registerUser(server, "victim");
    const impostor = idpAccount({ email: user.email, email_verified: false });
    await refused(await ssoSignIn(impostor), 403, /has not verified/);
    const failures = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.target_id, user.id));
    expect(failures.map((event) => [event.action, event.metadata])).toContainEqual([
      "user.login_failed",
      expect.objectContaining({
        method: "sso",
        reason: "email_not_verified",
        subject: impostor.sub,
      }),
    ]);
    // No link was made: the same subject, still unverified, is refused again.
    await refused(await ssoSignIn(impostor), 403, /has not verified/);

    const stranger = idpAccount({
      email: uniqueEmail("unverified").replace(/@.*/, "@example.com"),
      email_verified: false,
    });
    await refused(await ssoSignIn(stranger), 403, /has not verified .* open an account/);
    // And an account with no e-mail claim at all matches nothing.
    await refused(await ssoSignIn(idpAccount({})), 403, /sent no e-mail address/);
  });

  it("opens or links accounts only for the allowed domains", async () => {
    const outsider = idpAccount({
      email: `${randomBytes(4).toString("hex")}@other.net`,
      email_verified: true,
    });
    await refused(await ssoSignIn(outsider), 403, /not open to other\.net addresses/);
    // A subdomain is not the domain.
    const sub = idpAccount({
      email: `${randomBytes(4).toString("hex")}@mail.example.com`,
      email_verified: true,
    });
    await refused(await ssoSignIn(sub), 403, /not open to mail\.example\.com/);
  });

  it("lands on the page the sign-in was started from, never on another site", async () => {
    const account = idpAccount({ email: uniqueEmail("next"), email_verified: true });
    for (const [next, landing] of [
      ["/orgs/some-org/agents?tab=keys", "/orgs/some-org/agents?tab=keys"],
      ["//evil.example/steal", "/"],
      ["/\\evil.example", "/"],
      ["https://evil.example/", "/"],
    ] as const) {
      const { authorizationUrl, stateCookie } = await start(next);
      const response = await callback(await throughIdp(authorizationUrl, account), stateCookie);
      expect(response.status).toBe(303);
      expect(response.headers.get("location"), next).toBe(`${server.url}${landing}`);
    }
  });

  it("refuses SSO sign-in to an account a platform admin disabled, until it is enabled again", async () => {
    const account = idpAccount({
      email: uniqueEmail("locked").replace(/@.*/, "@example.com"),
      email_verified: true,
    });
    const user = await signedIn(await ssoSignIn(account));
    const admin = await platformAdmin(server);
    expect((await setDisabled(server, admin, user.id, true)).status).toBe(200);
    expect((await server.request("GET", "/auth/me/", { token: user.token })).status).toBe(401);
    await refused(await ssoSignIn(account), 403, /disabled/);
    const [refusal] = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.target_id, user.id))
      .orderBy(desc(schema.auditEvents.id))
      .limit(1);
    expect(refusal).toMatchObject({
      action: "user.login_failed",
      metadata: { reason: "disabled" },
    });
    expect((await setDisabled(server, admin, user.id, false)).status).toBe(200);
    expect((await signedIn(await ssoSignIn(account))).id).toBe(user.id);
  });

  it("refuses a callback whose state this browser did not start, with 400", async () => {
    const { authorizationUrl, stateCookie } = await start();
    const back = await throughIdp(
      authorizationUrl,
      idpAccount({ email: uniqueEmail("s"), email_verified: true }),
    );
    // Planted in another browser (no cookie, or another sign-in's cookie).
    await refused(await callback(back, null), 400, /not started in this browser/);
    const other = await start();
    await refused(await callback(back, other.stateCookie), 400, /not started in this browser/);
    // A made-up state with a matching made-up cookie finds no started sign-in.
    const forged = new URL(back);
    forged.searchParams.set("state", "forged-state-value");
    await refused(
      await callback(forged.href, "forged-state-value"),
      400,
      /already completed or has expired/,
    );
    // The real browser still completes it.
    await signedIn(await callback(back, stateCookie));
  });

  it("refuses a replayed callback with 400", async () => {
    const { authorizationUrl, stateCookie } = await start();
    const back = await throughIdp(
      authorizationUrl,
      idpAccount({ email: uniqueEmail("r"), email_verified: true }),
    );
    await signedIn(await callback(back, stateCookie));
    await refused(await callback(back, stateCookie), 400, /already completed or has expired/);
  });

  it("refuses an ID token carrying another sign-in's nonce, with 400", async () => {
    const attacked = await start();
    const other = await start();
    // The attacker's nonce in the victim's request: state and PKCE are right, the nonce is not.
    const url = new URL(attacked.authorizationUrl);
    url.searchParams.set("nonce", new URL(other.authorizationUrl).searchParams.get("nonce") ?? "");
    const back = await throughIdp(
      url.href,
      idpAccount({ email: uniqueEmail("n"), email_verified: true }),
    );
    await refused(await callback(back, attacked.stateCookie), 400, /failed a check/);
  });

  it("refuses the IdP's error answer with 400 and says what it answered", async () => {
    const { authorizationUrl, stateCookie } = await start();
    const state = new URL(authorizationUrl).searchParams.get("state") ?? "";
    const denied = `${server.url}${CALLBACK}?error=access_denied&state=${state}&iss=${encodeURIComponent(idp.issuer)}`;
    await refused(
      await callback(denied, stateCookie),
      400,
      /refused the sign-in: it answered access_denied/,
    );
  });

  it("SSO-only orgs refuse their members' password sign-in, and only theirs", async () => {
    const org = await createOrg(server);
    const member = await addMember(server, org, "member");
    const bystander = await registerUser(server, "bystander");
    const byMember = await server.request("PATCH", `/orgs/${org.id}/sso/`, {
      token: member.token,
      body: { sso_only: true },
    });
    expect(byMember.status).toBe(403);
    const set = await server.request("PATCH", `/orgs/${org.id}/sso/`, {
      token: org.owner.token,
      body: { sso_only: true },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toEqual({ sso_only: true, domain_roles: [] });

    const login = await server.request("POST", "/auth/login/", {
      body: { email: member.email, password: member.password },
    });
    expect(login.status).toBe(403);
    expect(login.body.message).toMatch(/requires signing in with Acme ID/);
    // A wrong password says nothing about SSO.
    const wrong = await server.request("POST", "/auth/login/", {
      body: { email: member.email, password: "not-the-password-1" },
    });
    expect(wrong.status).toBe(401);
    const other = await server.request("POST", "/auth/login/", {
      body: { email: bystander.email, password: bystander.password },
    });
    expect(other.status).toBe(200);

    // The member signs in with SSO instead (linked by verified e-mail).
    const viaSso = await signedIn(
      await ssoSignIn(idpAccount({ email: member.email, email_verified: true })),
    );
    expect(viaSso.id).toBe(member.id);
  });

  it("adds users of a domain to the org with the domain's role at SSO sign-in", async () => {
    const org = await createOrg(server);
    const rules = (domain_roles: unknown) =>
      server.request("PATCH", `/orgs/${org.id}/sso/`, {
        token: org.owner.token,
        body: { domain_roles },
      });
    const notAllowed = await rules([{ domain: "other.net", role: "member" }]);
    expect(notAllowed.status).toBe(400);
    expect(notAllowed.body.issues[0].path).toBe("domain_roles.0.domain");
    expect((await rules([{ domain: JIT_DOMAIN, role: "owner" }])).status).toBe(400);
    const saved = await rules([{ domain: ` ${JIT_DOMAIN.toUpperCase()} `, role: "member" }]);
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.domain_roles).toEqual([{ domain: JIT_DOMAIN, role: "member" }]);
    const read = await server.request("GET", `/orgs/${org.id}/sso/`, { token: org.owner.token });
    expect(read.body).toEqual(saved.body);

    const joiner = await signedIn(
      await ssoSignIn(
        idpAccount({
          email: `${randomBytes(4).toString("hex")}@${JIT_DOMAIN}`,
          email_verified: true,
        }),
      ),
    );
    const orgs = await server.request<{ results: { id: string; role: string }[] }>(
      "GET",
      "/orgs/",
      {
        token: joiner.token,
      },
    );
    expect(orgs.body.results).toEqual([expect.objectContaining({ id: org.id, role: "member" })]);
  });

  it("opens an account by SSO only as the sign-up policy allows", async () => {
    // Set up through the open server; sign in through a replica on the same database whose
    // sign-up is by invitation (production's default).
    const org = await createOrg(server);
    const open = server;
    const byInvitation = await startTestServer({
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: idp.clientId,
      OIDC_CLIENT_SECRET: idp.clientSecret,
      OIDC_ALLOWED_DOMAINS: "example.com",
      SIGNUP_MODE: "invite",
    });
    idp.registerPlatform(`${byInvitation.url}${CALLBACK}`);
    server = byInvitation;
    try {
      const newcomer = (label: string) =>
        idpAccount({
          email: uniqueEmail(label).replace(/@.*/, "@example.com"),
          email_verified: true,
        });
      const uninvited = newcomer("uninvited");
      await refused(await ssoSignIn(uninvited), 403, /by invitation only/);
      const [refusal] = await server.database.db
        .select()
        .from(schema.auditEvents)
        .where(eq(schema.auditEvents.action, "user.login_failed"))
        .orderBy(desc(schema.auditEvents.id))
        .limit(1);
      expect(refusal?.metadata).toMatchObject({ method: "sso", reason: "signup_refused" });

      const invited = newcomer("invited");
      const invitation = await open.request("POST", `/orgs/${org.id}/members/`, {
        token: org.owner.token,
        body: { email: invited.email, role: "member" },
      });
      expect(invitation.status, JSON.stringify(invitation.body)).toBe(201);
      expect((await signedIn(await ssoSignIn(invited))).email).toBe(invited.email);
      // An existing account signs in whatever the policy: it is no sign-up.
      const member = await registerUser(open, "existing");
      const existing = idpAccount({ email: member.email, email_verified: true });
      expect((await signedIn(await ssoSignIn(existing))).id).toBe(member.id);
    } finally {
      server = open;
      await byInvitation.close();
    }
  });
});
