import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDatabase, createPlatformAdmin, type DatabaseHandle } from "@mcp/core";
import type { DestinationStream } from "pino";
import { inject } from "vitest";
import { loadEnv } from "../src/env";
import { startServer, type RunningServer } from "../src/server";

export const TEST_DB = process.env.TEST_DB === "postgres" ? "postgres" : "pglite";

/** True when this project's database is not available (PostgreSQL down locally); tests skip. */
export const databaseUnavailable = TEST_DB === "postgres" && !inject("postgresUrl");

/*
 * PGlite compiles its WebAssembly on every start, which costs seconds; the pglite project runs
 * without isolation so one in-memory database serves every file of a worker. Tests never share
 * data anyway: each makes its own org.
 */
let sharedPglite: Promise<DatabaseHandle> | undefined;

async function testDatabase(): Promise<{ database: DatabaseHandle; owned: boolean }> {
  if (TEST_DB === "postgres") {
    return {
      database: await createDatabase({ databaseUrl: inject("postgresUrl"), poolSize: 5 }),
      owned: true,
    };
  }
  sharedPglite ??= createDatabase({ pgliteDir: "memory://" });
  return { database: await sharedPglite, owned: false };
}

/** What the org and user helpers below need: a server (or a balancer in front of several). */
export interface ApiClient {
  /** Issues a REST call under /api/v1 (or an absolute path starting with `/`). */
  request: <T = any>(
    method: string,
    path: string,
    options?: RequestOptions,
  ) => Promise<ApiResponse<T>>;
}

export interface TestServer extends RunningServer, ApiClient {}

export interface RequestOptions {
  token?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * What every server a test starts, in-process or spawned, shares. Every test registers its users,
 * and some fail to sign in, from 127.0.0.1, and the counts are shared through the database:
 * per-address limits would couple unrelated tests (a lockout one server writes is honoured by
 * all); test/throttle.test.ts sets real limits, with an address of its own per test.
 */
export const TEST_SERVER_ENV = {
  AUTH_MAX_REGISTRATIONS_PER_IP: "1000000",
  AUTH_MAX_FAILURES_PER_IP: "1000000",
  AUTH_MAX_MAIL_REQUESTS_PER_IP: "1000000",
  OAUTH_MAX_CLIENT_REGISTRATIONS_PER_IP: "1000000",
  // Test files share one database: a server of another file with SMTP would mail about this
  // file's approvals to its own mail server. approval-emails.test.ts turns it on for its server.
  APPROVAL_EMAILS: "false",
};

/** A real server on an ephemeral port over a real database, one per test file. */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { logDestination?: DestinationStream } = {},
): Promise<TestServer> {
  const { database, owned } = await testDatabase();
  const server = await startServer(
    loadEnv({
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      NODE_ENV: "test",
      DATA_DIR: mkdtempSync(join(tmpdir(), "mcpa-test-")),
      ...TEST_SERVER_ENV,
      ...env,
    }),
    { database, ...options },
  );
  return {
    ...server,
    close: async () => {
      await server.close();
      if (owned) await database.close();
    },
    request: apiClient(server.url).request,
  };
}

/** REST calls to the server at `base`. */
export function apiClient(base: string): ApiClient {
  return {
    request: async (method, path, options = {}) => {
      const absolute = /^\/(api|trpc|healthz|readyz|mcp)\b/.test(path);
      const target = `${base}${absolute ? "" : "/api/v1"}${path}`;
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Token ${options.token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        headers["content-type"] ??= "application/json";
        body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      }
      const response = await fetch(target, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed as any, headers: response.headers };
    },
  };
}

/** A JSON-RPC message to an agent's gateway endpoint, as MCP clients send it. */
export function gatewayPost(
  base: string,
  agentId: string,
  key: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${base}/mcp/${agentId}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** A `tools/call` request body. */
export function toolCall(name: string, args: Record<string, unknown>, id: number | string = 1) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } };
}

export function uniqueEmail(prefix = "user"): string {
  return `${prefix}-${randomBytes(6).toString("hex")}@example.com`;
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
}

export async function registerUser(server: ApiClient, prefix = "user"): Promise<TestUser> {
  const email = uniqueEmail(prefix);
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const response = await server.request("POST", "/auth/register/", {
    body: { email, password, password_confirm: password },
  });
  if (response.status !== 201)
    throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
  return { id: response.body.user.id, email, password, token: response.body.token };
}

/** A platform admin of the test's own, made as `admin:create` makes one, signed in over HTTP. */
export async function platformAdmin(server: TestServer): Promise<TestUser> {
  const email = uniqueEmail("platform-admin");
  const password = `pa-${randomBytes(8).toString("hex")}`;
  const user = await createPlatformAdmin(server.database.db, { email, password });
  const login = await server.request("POST", "/auth/login/", { body: { email, password } });
  if (login.status !== 200)
    throw new Error(`platform admin login failed: ${login.status} ${JSON.stringify(login.body)}`);
  return { id: user.id, email, password, token: login.body.token };
}

/** A platform admin disables (true) or re-enables (false) an account; the answer's user. */
export async function setDisabled(
  server: ApiClient,
  admin: TestUser,
  userId: string,
  disabled: boolean,
): Promise<ApiResponse<any>> {
  return server.request("POST", `/platform/users/${userId}/${disabled ? "disable" : "enable"}/`, {
    token: admin.token,
  });
}

export interface TestOrg {
  id: string;
  name: string;
  owner: TestUser;
}

/** Each test makes its own org with a fresh owner, so tests never see each other's data. */
export async function createOrg(server: ApiClient, owner?: TestUser): Promise<TestOrg> {
  const user = owner ?? (await registerUser(server, "owner"));
  const response = await server.request("POST", "/orgs/", {
    token: user.token,
    body: { name: `Org ${randomBytes(4).toString("hex")}` },
  });
  if (response.status !== 201)
    throw new Error(`create org failed: ${response.status} ${JSON.stringify(response.body)}`);
  return { id: response.body.id, name: response.body.name, owner: user };
}

/** The token of an invitation link (`…/invitation#<token>`). */
export function linkToken(url: string): string {
  return new URL(url).hash.slice(1);
}

/** Adds a freshly registered user to the org with the given role: invited, then accepting. */
export async function addMember(server: ApiClient, org: TestOrg, role: string): Promise<TestUser> {
  const user = await registerUser(server, role);
  await joinOrg(server, org.id, org.owner, user, role);
  return user;
}

/** `inviter` invites `user` into the org with `role`, and `user` accepts. */
export async function joinOrg(
  server: ApiClient,
  orgId: string,
  inviter: TestUser,
  user: TestUser,
  role: string,
): Promise<void> {
  const invited = await server.request("POST", `/orgs/${orgId}/members/`, {
    token: inviter.token,
    body: { email: user.email, role },
  });
  if (invited.status !== 201)
    throw new Error(`invite failed: ${invited.status} ${JSON.stringify(invited.body)}`);
  const accepted = await server.request("POST", "/invitations/accept/", {
    token: user.token,
    body: { token: linkToken(invited.body.url) },
  });
  if (accepted.status !== 200)
    throw new Error(`accept failed: ${accepted.status} ${JSON.stringify(accepted.body)}`);
}

async function created<T>(
  api: ApiClient,
  owner: TestUser,
  path: string,
  body: unknown,
): Promise<T> {
  const response = await api.request<T>("POST", path, { token: owner.token, body });
  if (response.status !== 201)
    throw new Error(`POST ${path} failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

export interface TestAgent {
  org: TestOrg;
  agentId: string;
  key: string;
  keyId: string;
  connectionId: string;
  /** Synced tool ids by upstream name. */
  tools: Record<string, string>;
}

/**
 * In a new org (or `options.org`): a Streamable HTTP connection to `upstreamUrl`, synced, an
 * agent with a key and, unless `allowAll: false`, a policy allowing it every tool.
 */
export async function createAgentWithConnection(
  api: ApiClient,
  upstreamUrl: string,
  options: { org?: TestOrg; allowAll?: boolean } = {},
): Promise<TestAgent> {
  const org = options.org ?? (await createOrg(api));
  const suffix = randomBytes(4).toString("hex");
  const connection = await created<{ id: string }>(api, org.owner, `/orgs/${org.id}/connections/`, {
    name: `upstream-${suffix}`,
    transport: "streamable_http",
    url: upstreamUrl,
  });
  const sync = await api.request("POST", `/connections/${connection.id}/sync/`, {
    token: org.owner.token,
  });
  if (sync.status !== 200) throw new Error(`sync failed: ${JSON.stringify(sync.body)}`);
  const listed = await api.request<{ results: { id: string; upstream_name: string }[] }>(
    "GET",
    `/orgs/${org.id}/tools/?connection_id=${connection.id}&limit=200`,
    { token: org.owner.token },
  );
  const tools = Object.fromEntries(
    listed.body.results.map((tool) => [tool.upstream_name, tool.id] as const),
  );
  const agent = await created<{ id: string }>(api, org.owner, `/orgs/${org.id}/agents/`, {
    name: `Agent ${suffix}`,
  });
  const key = await created<{ id: string; key: string }>(
    api,
    org.owner,
    `/agents/${agent.id}/keys/`,
    { name: "test" },
  );
  if (options.allowAll !== false)
    await created(api, org.owner, `/orgs/${org.id}/policies/`, {
      name: `allow-all-${suffix}`,
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "*",
    });
  return {
    org,
    agentId: agent.id,
    key: key.key,
    keyId: key.id,
    connectionId: connection.id,
    tools,
  };
}
