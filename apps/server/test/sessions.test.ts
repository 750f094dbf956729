import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  databaseUnavailable,
  registerUser,
  startTestServer,
  type TestServer,
  type TestUser,
} from "./harness";

interface SessionRow {
  id: string;
  current: boolean;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
}

describe.skipIf(databaseUnavailable)("a user's sessions", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  async function signIn(user: Pick<TestUser, "email" | "password">, userAgent: string) {
    const response = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: user.password },
      headers: { "user-agent": userAgent },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.token as string;
  }

  async function sessionsOf(token: string): Promise<SessionRow[]> {
    const response = await server.request("GET", "/auth/sessions/", { token });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.results as SessionRow[];
  }

  const signedIn = async (token: string) =>
    (await server.request("GET", "/auth/me/", { token })).status;

  it("lists the user's sessions with where they signed in from, the current one marked", async () => {
    const user = await registerUser(server, "lister");
    const laptop = await signIn(user, "Laptop/1.0");
    const sessions = await sessionsOf(laptop);
    expect(sessions).toHaveLength(2);
    const current = sessions.filter((session) => session.current);
    expect(current).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        current: true,
        created_at: expect.any(String),
        last_seen_at: expect.any(String),
        expires_at: expect.any(String),
        ip: "127.0.0.1",
        user_agent: "Laptop/1.0",
      },
    ]);
    // Neither token nor its hash (the session's key) is ever sent back.
    const text = JSON.stringify(sessions);
    for (const token of [user.token, laptop]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(createHash("sha256").update(token).digest("hex").slice(0, 16));
    }
  });

  it("ends one session: its token stops working, the others do not", async () => {
    const user = await registerUser(server, "ender");
    const phone = await signIn(user, "Phone/2.0");
    const laptop = await signIn(user, "Laptop/1.0");
    const phoneSession = (await sessionsOf(laptop)).find((s) => s.user_agent === "Phone/2.0");
    const ended = await server.request("DELETE", `/auth/sessions/${phoneSession?.id ?? ""}/`, {
      token: laptop,
    });
    expect(ended.status).toBe(204);
    expect(await signedIn(phone)).toBe(401);
    expect(await signedIn(laptop)).toBe(200);
    expect(await signedIn(user.token)).toBe(200);
    const again = await server.request("DELETE", `/auth/sessions/${phoneSession?.id ?? ""}/`, {
      token: laptop,
    });
    expect(again.status).toBe(404);
  });

  it("cannot end, or learn of, another user's session: NOT_FOUND", async () => {
    const victim = await registerUser(server, "victim");
    const attacker = await registerUser(server, "attacker");
    const [victimSession] = await sessionsOf(victim.token);
    expect((await sessionsOf(attacker.token)).map((s) => s.id)).not.toContain(victimSession?.id);
    const response = await server.request("DELETE", `/auth/sessions/${victimSession?.id ?? ""}/`, {
      token: attacker.token,
    });
    expect(response.status).toBe(404);
    expect(response.body.code).toBe("NOT_FOUND");
    expect(await signedIn(victim.token)).toBe(200);
  });

  it("ends every other session, keeping the one that asked", async () => {
    const user = await registerUser(server, "others");
    const phone = await signIn(user, "Phone/2.0");
    const laptop = await signIn(user, "Laptop/1.0");
    const response = await server.request("POST", "/auth/sessions/end-others/", {
      token: laptop,
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ sessions_ended: 2 });
    expect(await signedIn(phone)).toBe(401);
    expect(await signedIn(user.token)).toBe(401);
    expect(await signedIn(laptop)).toBe(200);
    expect((await sessionsOf(laptop)).map((s) => s.current)).toEqual([true]);
  });

  it("changes the password with the current one, ending every other session", async () => {
    const user = await registerUser(server, "changer");
    const phone = await signIn(user, "Phone/2.0");
    const newPassword = "a-new-long-passphrase";
    const wrong = await server.request("POST", "/auth/password/", {
      token: user.token,
      body: {
        current_password: "not-the-password",
        new_password: newPassword,
        new_password_confirm: newPassword,
      },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.issues).toEqual([
      { path: "current_password", message: "The current password is not correct" },
    ]);
    expect(await signedIn(phone)).toBe(200);

    const changed = await server.request("POST", "/auth/password/", {
      token: user.token,
      body: {
        current_password: user.password,
        new_password: newPassword,
        new_password_confirm: newPassword,
      },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toEqual({ sessions_ended: 1 });
    expect(await signedIn(phone)).toBe(401);
    expect(await signedIn(user.token)).toBe(200);
    const old = await server.request("POST", "/auth/login/", {
      body: { email: user.email, password: user.password },
    });
    expect(old.status).toBe(401);
    await signIn({ email: user.email, password: newPassword }, "Phone/2.0");
  });

  it("refuses a weak or mismatched new password, naming the field", async () => {
    const user = await registerUser(server, "weak");
    for (const [body, field] of [
      [{ new_password: "short", new_password_confirm: "short" }, "new_password"],
      [{ new_password: "password1234", new_password_confirm: "password1234" }, "new_password"],
      [
        { new_password: "a-new-long-passphrase", new_password_confirm: "another-one-entirely" },
        "new_password_confirm",
      ],
    ] as const) {
      const response = await server.request("POST", "/auth/password/", {
        token: user.token,
        body: { current_password: user.password, ...body },
      });
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.issues).toEqual([expect.objectContaining({ path: field })]);
    }
  });
});
