import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createDatabase } from "@mcp/core";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadEnv } from "../src/env";
import { startServer } from "../src/server";
import {
  apiClient,
  databaseUnavailable,
  linkToken,
  registerUser,
  startTestServer,
  TEST_SERVER_ENV,
  TEST_DB,
  uniqueEmail,
  type TestServer,
} from "./harness";
import { linkIn, startTestMailServer, type TestMailServer } from "./mail-server";

const newPassword = () => `new-${randomBytes(8).toString("hex")}`;

describe.skipIf(databaseUnavailable)("password reset and e-mail verification", () => {
  let mail: TestMailServer;
  let server: TestServer;

  beforeAll(async () => {
    mail = await startTestMailServer();
    server = await startTestServer({
      SMTP_URL: mail.url,
      SMTP_FROM: "noreply@platform.test",
      AUTH_MAX_MAIL_REQUESTS_PER_ADDRESS: "3",
    });
  });
  afterAll(async () => {
    await server.close();
    await mail.close();
  });

  const login = (email: string, password: string) =>
    server.request("POST", "/auth/login/", { body: { email, password } });
  const requestReset = (email: string) =>
    server.request("POST", "/auth/password-reset/", { body: { email } });
  const confirmReset = (token: string, password: string) =>
    server.request("POST", "/auth/password-reset/confirm/", {
      body: { token, password, password_confirm: password },
    });

  it("resets by the mailed link, once; ends every other session", async () => {
    const user = await registerUser(server, "reset");
    await mail.next(user.email); // the verification mail sign-up sends
    const otherSession = (await login(user.email, user.password)).body.token as string;

    const requested = await requestReset(user.email.toUpperCase());
    expect(requested.status).toBe(204);
    const message = await mail.next(user.email);
    expect(message.subject).toBe("Reset your password");
    const token = linkToken(linkIn(message, "/reset-password"));

    const weak = await confirmReset(token, "password1234");
    expect(weak.status).toBe(400);
    expect(weak.body.issues[0].path).toBe("password");

    const chosen = newPassword();
    const reset = await confirmReset(token, chosen);
    expect(reset.status).toBe(200);
    expect(reset.body.user).toMatchObject({ id: user.id, email_verified: true });
    for (const old of [user.token, otherSession]) {
      expect((await server.request("GET", "/auth/me/", { token: old })).status).toBe(401);
    }
    expect((await server.request("GET", "/auth/me/", { token: reset.body.token })).status).toBe(
      200,
    );
    expect((await login(user.email, user.password)).status).toBe(401);
    expect((await login(user.email, chosen)).status).toBe(200);

    const reused = await confirmReset(token, newPassword());
    expect(reused.status).toBe(400);
    expect(reused.body.issues[0].path).toBe("token");
  });

  it("refuses an expired link, and a link of another kind", async () => {
    const user = await registerUser(server, "expiry");
    const verification = linkToken(linkIn(await mail.next(user.email), "/verify-email"));
    expect((await confirmReset(verification, newPassword())).status).toBe(400);

    await requestReset(user.email);
    const token = linkToken(linkIn(await mail.next(user.email), "/reset-password"));
    await server.database.db.execute(
      sql`update user_tokens set expires_at = now() - interval '1 second' where user_id = ${user.id} and purpose = 'password_reset'`,
    );
    const expired = await confirmReset(token, newPassword());
    expect(expired.status).toBe(400);
    expect(expired.body.issues[0].path).toBe("token");
    expect((await login(user.email, user.password)).status).toBe(200);
  });

  it("answers a reset request for an unknown address exactly like a known one, and mails nothing", async () => {
    const user = await registerUser(server, "known");
    await mail.next(user.email);
    const unknown = uniqueEmail("nobody");
    const forUnknown = await requestReset(unknown);
    const forKnown = await requestReset(user.email);
    expect(forUnknown.status).toBe(forKnown.status);
    expect(forUnknown.body).toEqual(forKnown.body);
    await mail.next(user.email);
    expect(mail.all().filter((message) => message.to.includes(unknown))).toEqual([]);

    // The per-address limit counts unknown addresses too, so it tells nothing either.
    for (const email of [unknown, user.email]) {
      await requestReset(email);
      await requestReset(email);
      const limited = await requestReset(email);
      expect(limited.status, email).toBe(429);
      expect(limited.headers.get("retry-after")).toEqual(expect.stringMatching(/^\d+$/));
    }
  });

  it("verifies the address by the link mailed at sign-up, once", async () => {
    const user = await registerUser(server, "verify");
    const me = await server.request("GET", "/auth/me/", { token: user.token });
    expect(me.body.email_verified).toBe(false);
    const message = await mail.next(user.email);
    expect(message.subject).toBe("Confirm your e-mail address");
    const token = linkToken(linkIn(message, "/verify-email"));
    const verified = await server.request("POST", "/auth/email-verification/confirm/", {
      body: { token },
    });
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({ email: user.email });
    const after = await server.request("GET", "/auth/me/", { token: user.token });
    expect(after.body.email_verified).toBe(true);
    const again = await server.request("POST", "/auth/email-verification/confirm/", {
      body: { token },
    });
    expect(again.status).toBe(400);
    const resend = await server.request("POST", "/auth/email-verification/", {
      token: user.token,
    });
    expect(resend.status).toBe(409);
  });

  it("mails a new verification link on request", async () => {
    const user = await registerUser(server, "resend");
    await mail.next(user.email);
    const resend = await server.request("POST", "/auth/email-verification/", {
      token: user.token,
    });
    expect(resend.status).toBe(200);
    expect(resend.body).toEqual({ email_delivery: "sent" });
    const token = linkToken(linkIn(await mail.next(user.email), "/verify-email"));
    expect(
      (await server.request("POST", "/auth/email-verification/confirm/", { body: { token } }))
        .status,
    ).toBe(200);
  });
});

describe("the first account", () => {
  it("may register on an empty platform whatever the mode, and becomes the platform admin", async () => {
    const database = await createDatabase({ pgliteDir: "memory://" });
    const server = await startServer(
      loadEnv({
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        NODE_ENV: "production",
        SECRET_KEYS: `k1:${randomBytes(32).toString("base64")}`,
        SIGNUP_MODE: "closed",
        ...TEST_SERVER_ENV,
      }),
      { database },
    );
    try {
      const api = apiClient(server.url);
      const body = (email: string) => ({
        email,
        password: "a-long-password-1",
        password_confirm: "a-long-password-1",
      });
      const before = await api.request("GET", "/auth/settings/");
      expect(before.body).toMatchObject({ signup_mode: "closed", setup_required: true });
      const first = await api.request("POST", "/auth/register/", { body: body(uniqueEmail()) });
      expect(first.status).toBe(201);
      expect(first.body.user.is_platform_admin).toBe(true);
      const second = await api.request("POST", "/auth/register/", { body: body(uniqueEmail()) });
      expect(second.status).toBe(403);
      const after = await api.request("GET", "/auth/settings/");
      expect(after.body.setup_required).toBe(false);
    } finally {
      await server.close();
      await database.close();
    }
  }, 300_000); // a PGlite of its own: its WebAssembly compiles at start

  it("defaults to invitation-only sign-up in production and open elsewhere", () => {
    const secret = `k1:${randomBytes(32).toString("base64")}`;
    expect(loadEnv({ NODE_ENV: "production", SECRET_KEYS: secret }).SIGNUP.mode).toBe("invite");
    expect(loadEnv({ NODE_ENV: "development" }).SIGNUP.mode).toBe("open");
    expect(() => loadEnv({ SIGNUP_MODE: "everyone" })).toThrow(/SIGNUP_MODE/);
    expect(() => loadEnv({ SIGNUP_ALLOWED_DOMAINS: "example.com,not a domain" })).toThrow(
      /SIGNUP_ALLOWED_DOMAINS/,
    );
    expect(() => loadEnv({ SMTP_URL: "smtp://127.0.0.1:25" })).toThrow(/SMTP_FROM/);
    expect(() => loadEnv({ SMTP_URL: "http://mail.example.com" })).toThrow(/SMTP_URL/);
  });
});

describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")("admin:create", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  /** What `pnpm admin:create` runs, without pnpm's start-up; the password on standard input. */
  function adminCreate(args: string[], stdin: string) {
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        "node_modules/.bin/tsx",
        ["--conditions=@mcp/source", "src/scripts/admin-create.ts", ...args],
        {
          cwd: new URL("..", import.meta.url).pathname,
          env: { ...process.env, DATABASE_URL: inject("postgresUrl"), LOG_LEVEL: "silent" },
        },
        (error, stdout, stderr) => {
          resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
        },
      );
      child.stdin?.end(stdin);
    });
  }

  it("creates a platform admin with the password from standard input, never from the arguments", async () => {
    const email = uniqueEmail("admin");
    const password = `admin-${randomBytes(8).toString("hex")}`;
    const onArgv = await adminCreate(["--email", email, "--password", password], "");
    expect(onArgv.code).toBe(2);
    const weak = await adminCreate(["--email", email], "password1234\n");
    expect(weak.code).toBe(1);
    const created = await adminCreate(["--email", email, "--first-name", "Ada"], `${password}\n`);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(email);
    const login = await server.request("POST", "/auth/login/", { body: { email, password } });
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ is_platform_admin: true, first_name: "Ada" });
    const again = await adminCreate(["--email", email], `${password}\n`);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists");
  }, 120_000);
});
