import { createHash } from "node:crypto";
import { hashPassword } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  databaseUnavailable,
  registerUser,
  startTestServer,
  uniqueEmail,
  type TestServer,
} from "./harness";

describe.skipIf(databaseUnavailable)("auth", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("registers with the seed's body and returns a token", async () => {
    const email = uniqueEmail();
    const response = await server.request("POST", "/auth/register/", {
      body: {
        email,
        password: "securepass123",
        password_confirm: "securepass123",
        first_name: "John",
        last_name: "Doe",
      },
    });
    expect(response.status).toBe(201);
    expect(response.body.token).toEqual(expect.any(String));
    expect(response.body.user).toEqual({
      id: expect.any(String),
      email,
      first_name: "John",
      last_name: "Doe",
      // The first account of the test database is the platform admin: whichever test made it.
      is_platform_admin: expect.any(Boolean),
      email_verified: false,
      date_joined: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(response.body.user).not.toHaveProperty("password_hash");
  });

  it("trims and lower-cases the email and refuses a duplicate with 409", async () => {
    const email = uniqueEmail();
    const first = await server.request("POST", "/auth/register", {
      body: {
        email: `  ${email.toUpperCase()} `,
        password: "securepass123",
        password_confirm: "securepass123",
      },
    });
    expect(first.status).toBe(201);
    expect(first.body.user.email).toBe(email);
    const second = await server.request("POST", "/auth/register/", {
      body: { email, password: "otherpass123", password_confirm: "otherpass123" },
    });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe("CONFLICT");
    expect(second.body.issues).toEqual([{ path: "email", message: expect.any(String) }]);
  });

  it.each([
    [
      "mismatched confirmation",
      { password: "securepass123", password_confirm: "securepass124" },
      "password_confirm",
    ],
    ["a short password", { password: "short", password_confirm: "short" }, "password"],
    [
      "an 11-character password",
      { password: "k7#mq9!zr2w", password_confirm: "k7#mq9!zr2w" },
      "password",
    ],
    [
      "a too long password",
      { password: "x".repeat(129), password_confirm: "x".repeat(129) },
      "password",
    ],
    [
      "an invalid email",
      { email: "not-an-email", password: "securepass123", password_confirm: "securepass123" },
      "email",
    ],
    [
      "a missing email",
      { email: undefined, password: "securepass123", password_confirm: "securepass123" },
      "email",
    ],
  ])("rejects %s with 400 naming the field", async (_name, fields, field) => {
    const response = await server.request("POST", "/auth/register/", {
      body: { email: uniqueEmail(), ...fields },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("BAD_REQUEST");
    expect(response.body.issues.map((issue: { path: string }) => issue.path)).toContain(field);
    expect(response.body.request_id).toEqual(expect.any(String));
  });

  it.each([
    ["12345678", /at least 12/i],
    ["password", /at least 12/i],
    [" ".repeat(12), /only spaces/i],
    ["\t ".repeat(8), /only spaces/i],
    ["password1234", /common/i],
    ["Qwerty123456", /common/i],
    [" 123456789012 ", /common/i],
  ])("refuses the weak password %j, naming the field", async (password, message) => {
    const response = await server.request("POST", "/auth/register/", {
      body: { email: uniqueEmail(), password, password_confirm: password },
    });
    expect(response.status).toBe(400);
    expect(response.body.issues).toEqual([
      { path: "password", message: expect.stringMatching(message) },
    ]);
  });

  it("accepts passwords of 12 and of 128 characters", async () => {
    for (const password of ["k7#mq9!zr2wx", "x7".repeat(64)]) {
      const response = await server.request("POST", "/auth/register/", {
        body: { email: uniqueEmail(), password, password_confirm: password },
      });
      expect(response.status).toBe(201);
    }
  });

  it("still signs in an account whose password predates the rules", async () => {
    const user = await registerUser(server);
    await server.database.db
      .update(schema.users)
      .set({ password_hash: await hashPassword("12345678") })
      .where(eq(schema.users.id, user.id));
    const login = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: "12345678" },
    });
    expect(login.status).toBe(200);
  });

  it("rejects a password equal to the email", async () => {
    const email = uniqueEmail();
    const response = await server.request("POST", "/auth/register/", {
      body: { email, password: email, password_confirm: email },
    });
    expect(response.status).toBe(400);
    expect(response.body.issues).toContainEqual({
      path: "password",
      message: expect.stringContaining("email"),
    });
  });

  it("answers malformed bodies with clear 4xx errors, never 500", async () => {
    const badJson = await server.request("POST", "/auth/login/", { body: "{not json" });
    expect(badJson.status).toBe(400);
    expect(badJson.body.message).toMatch(/JSON/);
    const notObject = await server.request("POST", "/auth/login/", { body: "[1,2]" });
    expect(notObject.status).toBe(400);
    const wrongType = await server.request("POST", "/auth/login/", {
      body: "email=a",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(wrongType.status).toBe(415);
    const huge = await server.request("POST", "/auth/login/", {
      body: { email: "a@b.co", password: "x".repeat(2 * 1024 * 1024) },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("logs in, reads /auth/me with Token and Bearer, and logs out", async () => {
    const user = await registerUser(server);
    const login = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(200);
    const token: string = login.body.token;
    expect(login.body.user.email).toBe(user.email);

    const me = await server.request("GET", "/auth/me/", {
      headers: { authorization: `Token ${token}` },
    });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: user.id,
      email: user.email,
      first_name: "",
      last_name: "",
      is_platform_admin: expect.any(Boolean),
      email_verified: false,
      date_joined: expect.any(String),
    });
    const bearer = await server.request("GET", "/auth/me", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bearer.status).toBe(200);

    const logout = await server.request("POST", "/auth/logout/", { token });
    expect(logout.status).toBe(204);
    const after = await server.request("GET", "/auth/me/", { token });
    expect(after.status).toBe(401);
    // The other session of the same user is untouched.
    expect((await server.request("GET", "/auth/me/", { token: user.token })).status).toBe(200);
  });

  it("signs out everywhere: every session of the user ends, audited, other users' stay", async () => {
    const user = await registerUser(server);
    const other = await registerUser(server);
    const tokens = [user.token];
    for (let index = 0; index < 2; index++) {
      const login = await server.request("POST", "/auth/login/", {
        body: { email: user.email, password: user.password },
      });
      tokens.push(login.body.token);
    }
    expect((await server.request("POST", "/auth/logout-all/")).status).toBe(401);

    const response = await server.request("POST", "/auth/logout-all/", { token: tokens[1] });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ sessions_ended: 3 });
    for (const token of tokens) {
      expect((await server.request("GET", "/auth/me/", { token })).status).toBe(401);
    }
    expect((await server.request("GET", "/auth/me/", { token: other.token })).status).toBe(200);
    const again = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: user.password },
    });
    expect((await server.request("GET", "/auth/me/", { token: again.body.token })).status).toBe(
      200,
    );

    const events = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.action, "user.logout_all"));
    const mine = events.filter((event) => event.target_id === user.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.actor_id).toBe(user.id);
    expect(mine[0]?.metadata).toEqual({ sessions: 3 });
  });

  it("gives the same 401 for a wrong password and an unknown email", async () => {
    const user = await registerUser(server);
    const wrongPassword = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: "wrong-password" },
    });
    const unknownEmail = await server.request("POST", "/auth/login/", {
      body: { email: uniqueEmail("nobody"), password: "wrong-password" },
    });
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(wrongPassword.body.message).toBe(unknownEmail.body.message);
    expect(wrongPassword.body.code).toBe(unknownEmail.body.code);
  });

  it("answers 401 with WWW-Authenticate for a missing or invalid token", async () => {
    const missing = await server.request("GET", "/auth/me/");
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/Token/);
    const invalid = await server.request("GET", "/auth/me/", { token: "not-a-real-token" });
    expect(invalid.status).toBe(401);
    const logoutWithout = await server.request("POST", "/auth/logout/");
    expect(logoutWithout.status).toBe(401);
  });

  it("stores sha256(token) as the session id and an argon2id hash, never the secrets", async () => {
    const user = await registerUser(server);
    const db = server.database.db;
    const sessions = await db
      .select()
      .from(schema.sessions)
      .where(eq(schema.sessions.userId, user.id));
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.id).toBe(createHash("sha256").update(user.token).digest("hex"));
    expect(sessions[0]?.id).not.toContain(user.token);
    const expires = sessions[0]?.expiresAt.getTime() ?? 0;
    expect(expires - Date.now()).toBeGreaterThan(29 * 24 * 3600 * 1000);
    const [row] = await db.select().from(schema.users).where(eq(schema.users.id, user.id));
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it("records login, failed login and logout in the audit log without secrets", async () => {
    const user = await registerUser(server);
    await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: "wrong-password" },
    });
    await server.request("POST", "/auth/logout/", { token: user.token });
    const db = server.database.db;
    const events = await db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.target_id, user.id));
    const actions = events.map((event) => event.action);
    expect(actions).toEqual(
      expect.arrayContaining(["user.register", "user.login_failed", "user.logout"]),
    );
    expect(JSON.stringify(events)).not.toContain(user.password);
    expect(JSON.stringify(events)).not.toContain(user.token);
  });

  it("gives the SPA an httpOnly cookie session over tRPC, refusing cross-site mutations", async () => {
    const user = await registerUser(server);
    const login = await fetch(`${server.url}/trpc/auth.login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^mcpa_session=[^;]+;/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    const cookie = setCookie.split(";")[0] ?? "";

    const me = await fetch(`${server.url}/trpc/auth.me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    const meBody = (await me.json()) as { result: { data: { email: string } } };
    expect(meBody.result.data.email).toBe(user.email);

    const crossSite = await fetch(`${server.url}/api/v1/orgs/`, {
      method: "POST",
      headers: { cookie, origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ name: "Evil" }),
    });
    expect(crossSite.status).toBe(403);
    const sameSite = await fetch(`${server.url}/api/v1/orgs/`, {
      method: "POST",
      headers: { cookie, origin: server.url, "content-type": "application/json" },
      body: JSON.stringify({ name: "Fine" }),
    });
    expect(sameSite.status).toBe(201);

    const elsewhere = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: user.password },
    });
    const forcedSignOut = await fetch(`${server.url}/trpc/auth.logoutAll`, {
      method: "POST",
      headers: { cookie, origin: "https://evil.example", "content-type": "application/json" },
      body: "{}",
    });
    expect(forcedSignOut.status).toBe(403);
    const logoutAll = await fetch(`${server.url}/trpc/auth.logoutAll`, {
      method: "POST",
      headers: { cookie, origin: server.url, "content-type": "application/json" },
      body: "{}",
    });
    expect(logoutAll.status).toBe(200);
    expect(logoutAll.headers.get("set-cookie")).toMatch(/Max-Age=0/);
    expect((await fetch(`${server.url}/trpc/auth.me`, { headers: { cookie } })).status).toBe(401);
    expect((await server.request("GET", "/auth/me/", { token: elsewhere.body.token })).status).toBe(
      401,
    );
  });

  it("signs the SPA out over tRPC", async () => {
    const user = await registerUser(server);
    const login = await fetch(`${server.url}/trpc/auth.login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const logout = await fetch(`${server.url}/trpc/auth.logout`, {
      method: "POST",
      headers: { cookie, origin: server.url, "content-type": "application/json" },
      body: "{}",
    });
    expect(logout.status).toBe(200);
    expect(logout.headers.get("set-cookie")).toMatch(/Max-Age=0/);
    expect((await fetch(`${server.url}/trpc/auth.me`, { headers: { cookie } })).status).toBe(401);
  });
});
