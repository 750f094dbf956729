import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUnavailable, registerUser, startTestServer, type TestServer } from "./harness";

/** Every line the server logs, as written (after redaction and serializers). */
class CapturedLogs extends Writable {
  readonly lines: string[] = [];
  private waiters: { match: RegExp; resolve: (line: string) => void }[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
      this.lines.push(line);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.match.test(line)) return true;
        waiter.resolve(line);
        return false;
      });
    }
    done();
  }

  /** The first line, past or future, matching `match`. */
  next(match: RegExp): Promise<string> {
    const found = this.lines.find((line) => match.test(line));
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

describe.skipIf(databaseUnavailable)("logs never carry credentials", () => {
  let server: TestServer;
  const logs = new CapturedLogs();
  // Registrations with this prefix fail in the database, after the password was hashed.
  const doomed = `doomed-${randomBytes(5).toString("hex")}`;
  const constraint = `test_${doomed.replace(/-/g, "_")}`;

  beforeAll(async () => {
    server = await startTestServer({ LOG_LEVEL: "info" }, { logDestination: logs });
    // NOT VALID: existing rows are not checked; every insert is.
    await server.database.db.execute(
      sql.raw(
        `alter table users add constraint ${constraint} check (email not like '${doomed}%') not valid`,
      ),
    );
  });
  afterAll(async () => {
    await server.database.db.execute(
      sql.raw(`alter table users drop constraint if exists ${constraint}`),
    );
    await server.close();
  });

  it("logs a failed registration without its password or the password's hash", async () => {
    const password = `pw-${randomBytes(12).toString("hex")}`;
    const rest = await server.request("POST", "/auth/register/", {
      body: { email: `${doomed}-rest@example.com`, password, password_confirm: password },
    });
    expect(rest.status).toBe(500);
    const trpc = await fetch(`${server.url}/trpc/auth.register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        email: `${doomed}-trpc@example.com`,
        password,
        password_confirm: password,
      }),
    });
    expect(trpc.status).toBe(500);

    const restLine = await logs.next(
      new RegExp(`"request_id":"${rest.body.request_id}".*"request failed"`),
    );
    const trpcLine = await logs.next(/"procedure failed"/);
    for (const line of [restLine, trpcLine]) {
      const entry = JSON.parse(line) as { err: { message: string; stack: string; type: string } };
      // What the failure is diagnosed from stays: the statement (placeholders) and the cause.
      expect(entry.err.message).toMatch(/^Failed query: insert into "users"/);
      expect(entry.err.message).toContain(constraint);
      expect(line).not.toContain(password);
      expect(line).not.toContain("$argon2");
      expect(line).not.toMatch(/params|Failing row/);
    }
    expect(logs.lines.join("\n")).not.toContain(password);
    expect(logs.lines.join("\n")).not.toContain("$argon2");
  });

  it("redacts credential fields wherever a caller puts them", async () => {
    const user = await registerUser(server);
    server.logger.error(
      {
        password: user.password,
        input: { password: user.password, password_confirm: user.password, token: user.token },
        headers: { authorization: `Token ${user.token}`, cookie: `mcpa_session=${user.token}` },
        req: { headers: { authorization: `Token ${user.token}` } },
      },
      `redaction probe ${user.id}`,
    );
    const line = await logs.next(new RegExp(`redaction probe ${user.id}`));
    expect(line).not.toContain(user.password);
    expect(line).not.toContain(user.token);
    expect(line).toContain("[redacted]");
  });
});
