import { randomBytes, randomInt } from "node:crypto";
import { pruneAuthThrottles, throttleAddress, throttleKey } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { count, eq, inArray, like, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  databaseUnavailable,
  registerUser,
  startTestServer,
  uniqueEmail,
  type TestServer,
  type TestUser,
} from "./harness";

/** A client address no other test uses, sent through the trusted proxy's X-Forwarded-For. */
function uniqueIp(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

const LIMITS = {
  AUTH_MAX_FAILURES_PER_ACCOUNT_IP: "5",
  AUTH_MAX_FAILURES_PER_ACCOUNT: "12",
  AUTH_MAX_FAILURES_PER_IP: "16",
  AUTH_MAX_REGISTRATIONS_PER_IP: "3",
};

describe.skipIf(databaseUnavailable)("sign-in and sign-up throttling", () => {
  let server: TestServer;
  let replica: TestServer;
  beforeAll(async () => {
    // Two processes on one database, as behind a load balancer.
    server = await startTestServer({ TRUST_PROXY: "true", ...LIMITS });
    replica = await startTestServer({ TRUST_PROXY: "true", ...LIMITS });
  });
  afterAll(async () => {
    await replica.close();
    await server.close();
  });

  const login = (target: TestServer, email: string, password: string, ip: string) =>
    target.request("POST", "/auth/login/", {
      body: { email, password },
      headers: { "x-forwarded-for": `198.51.100.7, ${ip}` },
    });

  const wrong = (user: TestUser) => `wrong-${user.password}`;

  /** Registered from an address of its own: this file never locks out 127.0.0.1 for the others. */
  async function newUser(): Promise<TestUser> {
    const email = uniqueEmail();
    const password = `pw-${randomBytes(8).toString("hex")}`;
    const response = await server.request("POST", "/auth/register/", {
      body: { email, password, password_confirm: password },
      headers: { "x-forwarded-for": uniqueIp() },
    });
    expect(response.status).toBe(201);
    return { id: response.body.user.id, email, password, token: response.body.token };
  }

  it("refuses the 51st attempt after 50 wrong ones with 429 and Retry-After, right password or not", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      statuses.push((await login(server, user.email, wrong(user), ip)).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));

    const right = await login(server, user.email, user.password, ip);
    expect(right.status).toBe(429);
    expect(right.body.code).toBe("RATE_LIMITED");
    expect(right.body.message).toMatch(/try again in \d+ seconds/);
    expect(right.body).not.toHaveProperty("token");
    // The first lockout is a minute, counted on the database clock.
    const retryAfter = Number(right.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The lockout is for this account from this address: the owner elsewhere still signs in.
    expect((await login(server, user.email, user.password, uniqueIp())).status).toBe(200);
  });

  it("shares the counts between two servers on the same database", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await login(server, user.email, wrong(user), ip)).status).toBe(401);
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      expect((await login(replica, user.email, wrong(user), ip)).status).toBe(401);
    }
    const refused = await login(replica, user.email, user.password, ip);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect((await login(server, user.email, user.password, ip)).status).toBe(429);
  });

  it("counts concurrent guesses before checking them: a burst gets no more than the limit", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        login(index % 2 ? replica : server, user.email, wrong(user), ip),
      ),
    );
    const statuses = burst.map((response) => response.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
  });

  it("forgives an account's failures when its owner signs in", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    for (let attempt = 0; attempt < 4; attempt++) {
      expect((await login(server, user.email, wrong(user), ip)).status).toBe(401);
    }
    expect((await login(server, user.email, user.password, ip)).status).toBe(200);
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await login(server, user.email, wrong(user), ip)).status).toBe(401);
    }
    expect((await login(server, user.email, wrong(user), ip)).status).toBe(429);
  });

  it("limits one account's failures from many addresses, more loosely", async () => {
    const user = await newUser();
    for (let attempt = 0; attempt < 12; attempt++) {
      expect((await login(server, user.email, wrong(user), uniqueIp())).status).toBe(401);
    }
    const refused = await login(server, user.email, user.password, uniqueIp());
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
  });

  it("limits one address's failures across accounts, unknown ones included", async () => {
    const ip = uniqueIp();
    for (let attempt = 0; attempt < 16; attempt++) {
      const response = await login(server, uniqueEmail("nobody"), "not-the-password", ip);
      expect(response.status).toBe(401);
    }
    const other = await newUser();
    expect((await login(server, other.email, other.password, ip)).status).toBe(429);
    expect((await login(server, other.email, other.password, uniqueIp())).status).toBe(200);
  });

  it("doubles each further lockout", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    const key = throttleKey("loginPerAccountAndIp", user.email, throttleAddress(ip)).key;
    const lockoutAfterFiveFailures = async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        expect((await login(server, user.email, wrong(user), ip)).status).toBe(401);
      }
      const refused = await login(server, user.email, wrong(user), ip);
      expect(refused.status).toBe(429);
      return refused.headers.get("retry-after");
    };
    expect(await lockoutAfterFiveFailures()).toBe("60");
    // The lockout running out, without waiting a minute for it.
    await server.database.db
      .update(schema.authThrottles)
      .set({ locked_until: sql`now() - interval '1 second'` })
      .where(eq(schema.authThrottles.key, key));
    expect(await lockoutAfterFiveFailures()).toBe("120");
  });

  it("records the start of a lockout in the audit log, without the password", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    for (let attempt = 0; attempt < 6; attempt++) await login(server, user.email, wrong(user), ip);
    const events = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.target_id, user.id));
    const locked = events.filter((event) => event.action === "user.login_locked");
    expect(locked).toHaveLength(1);
    expect(locked[0]?.metadata).toEqual({
      email: user.email,
      scope: "loginPerAccountAndIp",
      seconds: 60,
    });
    expect(JSON.stringify(events)).not.toContain(wrong(user));
  });

  it("stores neither emails nor addresses, and prunes keys past remembering", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    await login(server, user.email, wrong(user), ip);
    const db = server.database.db;
    const [leaks] = await db.select({ n: count() }).from(schema.authThrottles)
      .where(sql`${schema.authThrottles.key} like ${`%${user.email}%`} or
        ${schema.authThrottles.key} like ${`%${ip}%`}`);
    expect(leaks?.n).toBe(0);

    const stale = `loginPerIp:stale-${randomBytes(6).toString("hex")}`;
    await db.insert(schema.authThrottles).values({
      key: stale,
      attempts: 3,
      window_start: sql`now() - interval '2 days'`,
      expires_at: sql`now() - interval '1 second'`,
    });
    const live = throttleKey("loginPerAccountAndIp", user.email, throttleAddress(ip)).key;
    expect(await pruneAuthThrottles(db)).toBeGreaterThanOrEqual(1);
    const left = await db
      .select({ key: schema.authThrottles.key })
      .from(schema.authThrottles)
      .where(inArray(schema.authThrottles.key, [stale, live]));
    expect(left.map((row) => row.key)).toEqual([live]);
  });

  it("limits registrations per address", async () => {
    const ip = uniqueIp();
    const register = (target: TestServer, from: string) => {
      const password = `pw-${randomBytes(8).toString("hex")}`;
      return target.request("POST", "/auth/register/", {
        body: { email: uniqueEmail(), password, password_confirm: password },
        headers: { "x-forwarded-for": from },
      });
    };
    expect((await register(server, ip)).status).toBe(201);
    expect((await register(replica, ip)).status).toBe(201);
    expect((await register(server, ip)).status).toBe(201);
    const refused = await register(replica, ip);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("RATE_LIMITED");
    expect(refused.headers.get("retry-after")).toBe("3600");
    expect((await register(server, uniqueIp())).status).toBe(201);
  });

  it("counts an IPv6 client by its /64", async () => {
    const prefix = `2001:db8:${randomInt(0xffff).toString(16)}:${randomInt(0xffff).toString(16)}`;
    const statuses: number[] = [];
    for (const host of ["1", "2", "abcd:ef01:2345:6789", "ffff"]) {
      const password = `pw-${randomBytes(8).toString("hex")}`;
      const response = await server.request("POST", "/auth/register/", {
        body: { email: uniqueEmail(), password, password_confirm: password },
        headers: { "x-forwarded-for": `${prefix}::${host}`.replace("::abcd", ":abcd") },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it("answers TOO_MANY_REQUESTS over tRPC with Retry-After", async () => {
    const user = await newUser();
    const ip = uniqueIp();
    const calls = 10;
    const input = Object.fromEntries(
      Array.from({ length: calls }, (_, index) => [
        String(index),
        { email: user.email, password: wrong(user) },
      ]),
    );
    const response = await fetch(
      `${server.url}/trpc/${Array(calls).fill("auth.login").join(",")}?batch=1`,
      {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": ip },
        body: JSON.stringify(input),
      },
    );
    const results = (await response.json()) as { error: { data: { code: string } } }[];
    const codes = results.map((result) => result.error.data.code);
    expect(codes.filter((code) => code === "UNAUTHORIZED")).toHaveLength(5);
    expect(codes.filter((code) => code === "RATE_LIMITED")).toHaveLength(5);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe.skipIf(databaseUnavailable)("tRPC batches", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const mutations = (paths: string, inputs: unknown[], token: string) =>
    fetch(`${server.url}/trpc/${paths}?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Token ${token}` },
      body: JSON.stringify(Object.fromEntries(inputs.map((input, index) => [index, input]))),
    });
  const queries = (paths: string, token: string) =>
    fetch(`${server.url}/trpc/${paths}?batch=1&input=%7B%7D`, {
      headers: { authorization: `Token ${token}` },
    });

  it("refuses a batch of more than 10 calls with 400 saying so, and runs none of it", async () => {
    const user = await registerUser(server);
    const prefix = `Batch ${randomBytes(4).toString("hex")}`;
    const inputs = Array.from({ length: 11 }, (_, index) => ({ name: `${prefix} ${index}` }));
    for (const separator of [",", "%2C", "%2c"]) {
      const response = await mutations(
        Array(11).fill("orgs.create").join(separator),
        inputs,
        user.token,
      );
      expect(response.status).toBe(400);
      const body = (await response.json()) as { code: string; message: string };
      expect(body.code).toBe("BAD_REQUEST");
      expect(body.message).toBe("A tRPC batch may carry at most 10 calls; this one has 11");
    }
    const many = await queries(Array(150).fill("auth.me").join(","), user.token);
    expect(many.status).toBe(400);
    const [created] = await server.database.db
      .select({ n: count() })
      .from(schema.orgs)
      .where(like(schema.orgs.name, `${prefix}%`));
    expect(created?.n).toBe(0);
  });

  it("runs a batch of 10", async () => {
    const user = await registerUser(server);
    const response = await queries(Array(10).fill("auth.me").join(","), user.token);
    expect(response.status).toBe(200);
    const results = (await response.json()) as { result: { data: { email: string } } }[];
    expect(results.map((result) => result.result.data.email)).toEqual(Array(10).fill(user.email));
  });
});
