import SwaggerParser from "@apidevtools/swagger-parser";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  databaseUnavailable,
  registerUser,
  startTestServer,
  type ApiResponse,
  type TestServer,
} from "./harness";

/** Every path the original (seed) API documented, with its methods; ours drop the trailing slash. */
const SEED_OPERATIONS = [
  "POST /auth/register",
  "POST /auth/login",
  "POST /auth/logout",
  "GET /auth/me",
  "GET /orgs",
  "POST /orgs",
  "GET /orgs/{org_id}/environments",
  "POST /orgs/{org_id}/environments",
  "GET /orgs/{org_id}/connections",
  "POST /orgs/{org_id}/connections",
  "POST /connections/{id}/test",
  "POST /connections/{id}/sync",
  "GET /orgs/{org_id}/agents",
  "POST /orgs/{org_id}/agents",
  "GET /orgs/{org_id}/tools",
  "POST /orgs/{org_id}/tools",
  "POST /tools/{id}/run",
  "GET /orgs/{org_id}/runs",
];
const PUBLIC_OPERATIONS = new Set([
  "POST /auth/register",
  "POST /auth/login",
  "GET /auth/sso",
  // What the sign-up page may offer, and the one-time links of mails: before any sign-in.
  "GET /auth/settings",
  "POST /auth/password-reset",
  "POST /auth/password-reset/confirm",
  "POST /auth/email-verification/confirm",
  "POST /invitations/preview",
]);

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema?: unknown; example?: unknown }> };
  responses: Record<
    string,
    { description?: string; content?: Record<string, { schema?: unknown; example?: unknown }> }
  >;
}
interface Document {
  openapi: string;
  info: { description: string };
  servers: { url: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

function operations(
  document: Document,
): { key: string; path: string; method: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      key: `${method.toUpperCase()} ${path}`,
      path,
      method,
      operation,
    })),
  );
}

describe.skipIf(databaseUnavailable)("OpenAPI document and reference", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let document: Document;
  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
    const response = await server.request<Document>("GET", "/api/v1/openapi.json");
    expect(response.status).toBe(200);
    document = response.body;
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  it("is valid OpenAPI 3.1 (swagger-parser)", async () => {
    expect(document.openapi).toMatch(/^3\.1\./);
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeTruthy();
  });

  it("documents every path of the seed API, and says trailing slashes are accepted", () => {
    const keys = operations(document).map((entry) => entry.key);
    for (const operation of SEED_OPERATIONS) expect(keys).toContain(operation);
    expect(document.info.description).toContain("trailing slash");
    expect(document.servers[0]?.url).toBe(`${server.url}/api/v1`);
  });

  it("gives every operation an id, a summary, known tags, schemas, error responses and its security", () => {
    const tagNames = new Set(document.tags.map((tag) => tag.name));
    const ids = new Set<string>();
    expect(document.components.securitySchemes.Token).toMatchObject({
      type: "apiKey",
      in: "header",
      name: "Authorization",
    });
    for (const { key, method, operation } of operations(document)) {
      expect(operation.operationId, key).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.has(operation.operationId ?? ""), `${key}: duplicate operationId`).toBe(false);
      ids.add(operation.operationId ?? "");
      expect(operation.summary, key).toEqual(expect.any(String));
      expect(operation.tags?.length, key).toBeGreaterThan(0);
      for (const tag of operation.tags ?? [])
        expect(tagNames.has(tag), `${key}: tag ${tag}`).toBe(true);

      const statuses = Object.keys(operation.responses);
      // One success status; running a tool also answers 202 for a call held for approval.
      const success = statuses.filter(
        (status) => status.startsWith("2") && !(key === "POST /tools/{id}/run" && status === "202"),
      );
      expect(success, key).toHaveLength(1);
      const successStatus = success[0] ?? "";
      if (successStatus !== "204") {
        expect(
          operation.responses[successStatus]?.content?.["application/json"]?.schema,
          key,
        ).toBeDefined();
      }
      if (method === "post" || method === "patch") {
        if (operation.requestBody)
          expect(operation.requestBody.content["application/json"]?.schema, key).toBeDefined();
      }
      for (const status of statuses.filter((s) => !s.startsWith("2"))) {
        expect(
          operation.responses[status]?.content?.["application/json"]?.schema,
          `${key} ${status}`,
        ).toEqual({
          $ref: "#/components/schemas/Error",
        });
      }
      expect(statuses, key).toContain("500");

      if (PUBLIC_OPERATIONS.has(key)) {
        // No credentials needed; a 403 may still say no (sign-up closed, SSO-only sign-in).
        expect(operation.security, key).toBeUndefined();
      } else {
        expect(operation.security, key).toEqual([{ Token: [] }]);
        expect(statuses, key).toEqual(expect.arrayContaining(["401", "403"]));
      }
    }
    expect(
      operations(document).find((entry) => entry.key === "POST /auth/register")?.operation
        .responses,
    ).toHaveProperty("201");
    expect(
      operations(document).find((entry) => entry.key === "DELETE /agents/{id}")?.operation
        .responses,
    ).toHaveProperty("204");
    expect(
      operations(document).find((entry) => entry.key === "GET /tools/{id}")?.operation.responses,
    ).toHaveProperty("404");
  });

  it("has examples that satisfy their own schemas", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(document, "openapi.json");
    const pointer = (...segments: string[]) =>
      segments.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
    let checked = 0;
    for (const { key, path, method, operation } of operations(document)) {
      const media = [
        ...(operation.requestBody ? [["requestBody", "content", "application/json"]] : []),
        ...Object.keys(operation.responses).map((status) => [
          "responses",
          status,
          "content",
          "application/json",
        ]),
      ];
      for (const segments of media) {
        let target: unknown = operation;
        for (const segment of segments)
          target = (target as Record<string, unknown> | undefined)?.[segment];
        const { example, schema } = (target ?? {}) as { example?: unknown; schema?: unknown };
        if (example === undefined || schema === undefined) continue;
        const validate = ajv.compile({
          $ref: `openapi.json#/${pointer("paths", path, method, ...segments, "schema")}`,
        });
        expect(
          validate(example),
          `${key} ${segments.join(".")}: ${ajv.errorsText(validate.errors)}`,
        ).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("describes what the server really answers (statuses and bodies along the quick-start flow)", async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(document, "openapi.json");
    const templates = operations(document).map((entry) => ({
      ...entry,
      pattern: new RegExp(`^${entry.path.replace(/\{\w+\}/g, "[^/]+")}$`),
    }));
    const auth: { token?: string } = {};
    const call = async (
      method: string,
      path: string,
      body?: unknown,
    ): Promise<ApiResponse<any>> => {
      const response = await server.request(method, path, { token: auth.token, body });
      const concrete = (path.split("?")[0] ?? "").replace(/\/$/, "");
      const entry = templates.find(
        (t) => t.method === method.toLowerCase() && t.pattern.test(concrete),
      );
      expect(entry, `${method} ${path} is documented`).toBeDefined();
      if (!entry) return response;
      const status = String(response.status);
      expect(Object.keys(entry.operation.responses), `${entry.key} answered ${status}`).toContain(
        status,
      );
      const schemaPath = [
        "paths",
        entry.path,
        entry.method,
        "responses",
        status,
        "content",
        "application/json",
        "schema",
      ];
      if (status === "204") {
        expect(response.body).toBeUndefined();
      } else {
        const ref = schemaPath.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
        const validate = ajv.compile({ $ref: `openapi.json#/${ref}` });
        expect(
          validate(response.body),
          `${entry.key} ${status}: ${ajv.errorsText(validate.errors)}`,
        ).toBe(true);
      }
      return response;
    };

    const user = await registerUser(server, "openapi");
    expect(
      (await call("POST", "/auth/login/", { email: user.email, password: "wrong-password" }))
        .status,
    ).toBe(401);
    auth.token = (
      await call("POST", "/auth/login/", { email: user.email, password: user.password })
    ).body.token;
    await call("GET", "/auth/me/");
    const org = (await call("POST", "/orgs/", { name: `OpenAPI ${Date.now()}` })).body;
    await call("GET", "/orgs/");
    await call("POST", `/orgs/${org.id}/environments/`, { name: "prod" });
    const connection = (
      await call("POST", `/orgs/${org.id}/connections/`, {
        name: "Test MCP",
        transport: "streamable_http",
        url: upstream.url,
      })
    ).body;
    expect((await call("POST", `/connections/${connection.id}/test/`)).body.ok).toBe(true);
    await call("POST", `/connections/${connection.id}/sync/`);
    const tools = (await call("GET", `/orgs/${org.id}/tools/?limit=200`)).body.results as {
      id: string;
      name: string;
    }[];
    const echo = tools.find((tool) => tool.name === "echo");
    expect(echo).toBeDefined();
    const agent = (await call("POST", `/orgs/${org.id}/agents/`, { name: "Agent" })).body;
    await call("POST", `/agents/${agent.id}/keys/`, { name: "ci" });
    await call("POST", `/orgs/${org.id}/policies/`, {
      name: "Echo",
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "echo",
    });
    const run = (
      await call("POST", `/tools/${echo?.id ?? ""}/run/`, {
        agent_id: agent.id,
        input: { text: "hi" },
      })
    ).body;
    expect(run.status).toBe("succeeded");
    await call("GET", `/runs/${run.id}/`);
    await call("GET", `/orgs/${org.id}/runs/?limit=1`);
    await call("GET", `/orgs/${org.id}/runs/stats/`);
    await call("GET", `/orgs/${org.id}/audit-events/`);
    expect((await call("POST", `/orgs/${org.id}/agents/`, { name: "" })).status).toBe(400);
    expect((await call("GET", `/agents/00000000-0000-4000-8000-000000000000/`)).status).toBe(404);
    // A delete that would take the "Echo" policy with it is refused until confirmed.
    const refused = await call("DELETE", `/agents/${agent.id}/`);
    expect(refused.status).toBe(409);
    expect(refused.body.policies).toEqual([{ id: expect.any(String), name: "Echo" }]);
    expect((await call("DELETE", `/agents/${agent.id}/?confirm_policy_removal=true`)).status).toBe(
      204,
    );
    await call("POST", "/auth/logout/");
    expect((await call("GET", "/auth/me/")).status).toBe(401);
  });

  it("serves the interactive reference at /api/docs from our own origin, under a strict CSP", async () => {
    const page = await fetch(`${server.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    const html = await page.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    expect(html).not.toMatch(/(src|href)="https?:/);
    const assets = [...html.matchAll(/(?:src|href)="(\/api\/docs\/[^"]+)"/g)].map(
      (match) => match[1] ?? "",
    );
    expect(assets.some((asset) => asset.endsWith(".js"))).toBe(true);
    expect(assets.some((asset) => asset.endsWith(".css"))).toBe(true);
    for (const asset of assets) {
      const response = await fetch(`${server.url}${asset}`);
      expect(response.status, asset).toBe(200);
      expect((await response.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
      if (asset.endsWith(".js"))
        expect(response.headers.get("content-type"), asset).toMatch(/javascript/);
      if (asset.endsWith(".css"))
        expect(response.headers.get("content-type"), asset).toMatch(/^text\/css/);
    }
    const init = assets.find((asset) => asset.endsWith("/init.js")) ?? "";
    expect(await (await fetch(`${server.url}${init}`)).text()).toContain("/api/v1/openapi.json");
    expect((await fetch(`${server.url}/api/docs/assets/0.0.0/nope.js`)).status).toBe(404);
  });
});
