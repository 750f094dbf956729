import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import type { AppRouter } from "@mcp/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEnv } from "../src/env";
import { databaseUnavailable, registerUser, startTestServer, type TestServer } from "./harness";

describe.skipIf(databaseUnavailable)("server surface", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("reports liveness, and readiness with the database kind", async () => {
    const response = await server.request("GET", "/healthz");
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: "ok" });
    expect(response.headers.get("x-request-id")).toEqual(expect.any(String));
    // The change feed goes live once its listening connection is up.
    await expect
      .poll(async () => (await server.request("GET", "/readyz")).body, { timeout: 20_000 })
      .toEqual({
        status: "ready",
        database: expect.stringMatching(/^(pglite|postgres)$/),
        checks: { database: "ok", change_feed: "live" },
      });
  });

  it("serves the OpenAPI document with the seed's paths and exact success statuses", async () => {
    const response = await server.request("GET", "/api/v1/openapi.json");
    expect(response.status).toBe(200);
    const document = response.body;
    expect(document.openapi).toMatch(/^3\./);
    for (const path of [
      "/auth/register",
      "/auth/login",
      "/auth/logout",
      "/auth/me",
      "/orgs",
      "/orgs/{org_id}/environments",
    ]) {
      expect(Object.keys(document.paths)).toContain(path);
    }
    expect(Object.keys(document.paths["/auth/register"].post.responses)).toContain("201");
    expect(Object.keys(document.paths["/auth/logout"].post.responses)).toContain("204");
    expect(Object.keys(document.paths["/environments/{id}"].delete.responses)).toContain("204");
    expect(Object.keys(document.paths["/auth/login"].post.responses)).toContain("200");
  });

  it("answers unknown routes with 404 JSON and wrong methods with 405", async () => {
    const unknown = await server.request("GET", "/nope/");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: "NOT_FOUND", request_id: expect.any(String) });
    const wrongMethod = await server.request("PUT", "/auth/login/", { body: {} });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });

  it("keeps the caller's request id when it is sane", async () => {
    const response = await server.request("GET", "/healthz", {
      headers: { "x-request-id": "trace-123" },
    });
    expect(response.headers.get("x-request-id")).toBe("trace-123");
  });

  it("serves the same procedures over typed tRPC, with the shared error shape", async () => {
    const user = await registerUser(server);
    const client = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Token ${user.token}` } }),
      ],
    });
    const me = await client.auth.me.query();
    expect(me.email).toBe(user.email);
    const org = await client.orgs.create.mutate({ name: "Typed Org" });
    expect(org.role).toBe("owner");
    const env = await client.environments.create.mutate({ org_id: org.id, name: "prod" });
    expect(env.org_id).toBe(org.id);
    const page = await client.environments.list.query({ org_id: org.id });
    expect(page.results.map((e) => e.id)).toEqual([env.id]);

    const error = await client.environments.create
      .mutate({ org_id: org.id, name: "prod" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    const data = (error as TRPCClientError<AppRouter>).data;
    expect(data?.code).toBe("CONFLICT");
    expect(data?.httpStatus).toBe(409);
    expect(data?.issues?.[0]?.path).toBe("name");

    const invalid = await client.orgs.create.mutate({ name: "" }).catch((e: unknown) => e);
    expect((invalid as TRPCClientError<AppRouter>).data?.code).toBe("BAD_REQUEST");
    expect((invalid as TRPCClientError<AppRouter>).data?.issues?.[0]?.path).toBe("name");

    const anonymous = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${server.url}/trpc` })],
    });
    const unauthorized = await anonymous.auth.me.query().catch((e: unknown) => e);
    expect((unauthorized as TRPCClientError<AppRouter>).data?.httpStatus).toBe(401);
  });
});

describe("configuration", () => {
  it("names every bad variable", () => {
    expect(() => loadEnv({ PORT: "eighty", DATABASE_URL: "mysql://x", LOG_LEVEL: "loud" })).toThrow(
      /PORT[\s\S]*DATABASE_URL[\s\S]*LOG_LEVEL|PORT[\s\S]*LOG_LEVEL[\s\S]*DATABASE_URL/,
    );
  });

  it("defaults to port 3000 on the embedded database", () => {
    const env = loadEnv({});
    expect(env.PORT).toBe(3000);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.PGLITE_DIR).toBe(".data/pglite");
  });

  it("keeps connections open past balancers' idle timeouts and data for 90/365 days by default", () => {
    expect(loadEnv({})).toMatchObject({
      KEEP_ALIVE_TIMEOUT_MS: 65_000,
      SHUTDOWN_TIMEOUT_MS: 15_000,
      RUNS_RETENTION_DAYS: 90,
      AUDIT_RETENTION_DAYS: 365,
    });
    expect(loadEnv({ RUNS_RETENTION_DAYS: "0" }).RUNS_RETENTION_DAYS).toBe(0);
    expect(() => loadEnv({ RUNS_RETENTION_DAYS: "-1", AUDIT_RETENTION_DAYS: "a year" })).toThrow(
      /RUNS_RETENTION_DAYS[\s\S]*AUDIT_RETENTION_DAYS: Must be a whole number of days/,
    );
  });

  it("reads the SSO provider from OIDC_*, and names what is missing or wrong", () => {
    expect(loadEnv({}).SSO).toBeNull();
    expect(
      loadEnv({
        OIDC_ISSUER: "https://login.example.com",
        OIDC_CLIENT_ID: "platform",
        OIDC_ALLOWED_DOMAINS: " Example.com, example.org ,",
      }).SSO,
    ).toEqual({
      issuer: "https://login.example.com",
      clientId: "platform",
      clientSecret: undefined,
      allowedDomains: ["example.com", "example.org"],
      displayName: "SSO",
      allowInsecureIssuer: true,
    });
    expect(() => loadEnv({ OIDC_ISSUER: "https://login.example.com" })).toThrow(
      /OIDC_CLIENT_ID: required when OIDC_ISSUER is set/,
    );
    expect(() => loadEnv({ OIDC_CLIENT_ID: "platform" })).toThrow(
      /OIDC_ISSUER: required when OIDC_CLIENT_ID/,
    );
    expect(() =>
      loadEnv({
        NODE_ENV: "production",
        ALLOW_GENERATED_SECRET_KEY: "true",
        OIDC_ISSUER: "http://login.example.com",
        OIDC_CLIENT_ID: "platform",
      }),
    ).toThrow(/OIDC_ISSUER: must be an https:\/\/ URL in production/);
    expect(() => loadEnv({ OIDC_ALLOWED_DOMAINS: "example.com,not a domain" })).toThrow(
      /OIDC_ALLOWED_DOMAINS[\s\S]*Must be comma-separated e-mail domains/,
    );
  });
});

describe.skipIf(databaseUnavailable)("the SPA's pages", () => {
  let server: TestServer;
  beforeAll(async () => {
    const dist = mkdtempSync(join(tmpdir(), "spa-dist-"));
    writeFileSync(join(dist, "index.html"), "<!doctype html><title>SPA</title>");
    mkdirSync(join(dist, "assets"));
    writeFileSync(join(dist, "assets", "app.js"), "console.log(1)");
    server = await startTestServer({ WEB_DIST_DIR: dist });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(["/", "/index.html", "/orgs/some/client/route"])(
    "serves %s under the CSP with frame-ancestors 'none'",
    async (path) => {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain("<title>SPA</title>");
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(response.headers.get("cache-control")).toBe("no-cache");
    },
  );

  it("serves assets as immutable files", async () => {
    const response = await fetch(`${server.url}/assets/app.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toContain("immutable");
  });

  it("answers a missing asset with 404, never the SPA's page", async () => {
    // What a browser on an old build asks for after a deploy replaced the chunks.
    const response = await fetch(`${server.url}/assets/Runs-0ld0ld.js`);
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.headers.get("cache-control") ?? "").not.toContain("immutable");
    expect(await response.text()).not.toContain("<title>SPA</title>");
  });
});
