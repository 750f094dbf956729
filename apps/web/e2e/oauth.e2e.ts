import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  UnauthorizedError,
  type OAuthClientProvider,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "./browser";
import { startTestServer, type TestServer } from "./server";

/*
 * An MCP client signs in to the gateway by OAuth, exactly as a desktop or IDE client does: the
 * MCP SDK's Client with its OAuth client provider discovers the authorization server from the
 * gateway's 401, registers itself, sends the person's browser (Chromium) to sign in and approve on
 * the SPA's consent page, exchanges the code, calls tools, refreshes, and is refused once revoked.
 */

const RUN = Date.now().toString(36);
const OWNER = { email: `oauth.${RUN}@example.com`, password: "correct horse battery oauth" };

let server: TestServer;
let baseUrl = "";
let browser: Browser;
let ownerToken = "";

/** The client's loopback redirect URI: records what the browser brings back. */
interface Callback {
  url: string;
  next: () => Promise<URLSearchParams>;
  close: () => Promise<void>;
}

async function startCallback(): Promise<Callback> {
  let waiting: ((params: URLSearchParams) => void) | null = null;
  const http: Server = createServer((req, res) => {
    const params = new URL(req.url ?? "/", "http://127.0.0.1").searchParams;
    res.writeHead(200, { "content-type": "text/plain" }).end("You can close this window.");
    waiting?.(params);
    waiting = null;
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/callback`,
    next: () =>
      new Promise((resolve) => {
        waiting = resolve;
      }),
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => {
          resolve();
        });
      }),
  };
}

/** What a desktop client keeps between runs, in memory. */
class MemoryProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  stored: OAuthTokens | undefined;
  verifier = "";
  authorizationUrl: URL | null = null;
  sentState = "";

  constructor(private readonly callbackUrl: string) {}

  get redirectUrl(): string {
    return this.callbackUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "E2E Desktop Client",
      redirect_uris: [this.callbackUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state(): string {
    this.sentState = randomBytes(16).toString("hex");
    return this.sentState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens: OAuthTokens) {
    this.stored = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.stored = undefined;
    if (scope === "all" || scope === "client") this.client = undefined;
  }
}

async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(ownerToken ? { authorization: `Token ${ownerToken}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

async function connectedClient(
  agentId: string,
  provider: MemoryProvider,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp/${agentId}`), {
    authProvider: provider,
  });
  const client = new Client({ name: "e2e-oauth", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

/** The person's part: sign in (the consent page sends a signed-out person there), then approve. */
async function approveInBrowser(page: Page, url: URL): Promise<void> {
  await page.goto(url.href);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByLabel("Email").fill(OWNER.email);
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page
    .getByRole("heading", { name: /Allow E2E Desktop Client to act as IDE agent/ })
    .waitFor();
  await page.getByRole("button", { name: "Approve" }).click();
}

let agentX = "";
let agentY = "";

beforeAll(async () => {
  server = await startTestServer();
  baseUrl = server.baseUrl;
  browser = await launchBrowser();
  const registered = await api<{ token: string }>("POST", "/auth/register/", {
    email: OWNER.email,
    password: OWNER.password,
    password_confirm: OWNER.password,
  });
  ownerToken = registered.token;
  const org = await api<{ id: string }>("POST", "/orgs/", { name: `OAuth ${RUN}` });
  const connection = await api<{ id: string }>("POST", `/orgs/${org.id}/connections/`, {
    name: "demo",
    transport: "streamable_http",
    url: `${baseUrl}/demo/mcp`,
  });
  await api("POST", `/connections/${connection.id}/sync/`);
  agentX = (await api<{ id: string }>("POST", `/orgs/${org.id}/agents/`, { name: "IDE agent" })).id;
  agentY = (await api<{ id: string }>("POST", `/orgs/${org.id}/agents/`, { name: "Other agent" }))
    .id;
  await api("POST", `/orgs/${org.id}/policies/`, {
    name: "all tools",
    effect: "allow",
    tool_pattern: "*",
  });
});

afterAll(async () => {
  await browser.close();
  await server.stop();
});

describe("an MCP client connects to the gateway by OAuth", () => {
  it("discovers, registers, gets approved in the browser, calls, refreshes, and is refused once revoked", async () => {
    const callback = await startCallback();
    const context = await browser.newContext({ baseURL: baseUrl });
    const page = await context.newPage();
    try {
      const provider = new MemoryProvider(callback.url);
      // No token yet: the gateway's 401 starts discovery, registration and the redirect.
      await expect(connectedClient(agentX, provider)).rejects.toBeInstanceOf(UnauthorizedError);
      expect(provider.client?.client_id).toMatch(/^mcpc_/);
      const authorizationUrl = provider.authorizationUrl;
      expect(authorizationUrl?.searchParams.get("resource")).toBe(`${baseUrl}/mcp/${agentX}`);
      expect(authorizationUrl?.searchParams.get("code_challenge_method")).toBe("S256");

      const returned = callback.next();
      await approveInBrowser(page, authorizationUrl ?? new URL(baseUrl));
      const params = await returned;
      // The client checks what it sent came back, and from which issuer (mix-up defence).
      expect(params.get("state")).toBe(provider.sentState);
      expect(params.get("iss")).toBe(baseUrl);
      const code = params.get("code") ?? "";

      const first = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp/${agentX}`), {
        authProvider: provider,
      });
      await first.finishAuth(code);
      expect(provider.stored?.access_token).toMatch(/^mcpo_at_/);

      const { client } = await connectedClient(agentX, provider);
      const tools = await client.listTools();
      expect(tools.tools.length).toBeGreaterThan(0);
      const calculate = tools.tools.find((tool) => tool.name.endsWith("calculate"))?.name ?? "";
      expect(calculate).not.toBe("");
      const result = await client.callTool({ name: calculate, arguments: { expression: "6 * 7" } });
      expect(JSON.stringify(result.content)).toContain("42");

      // The agent page lists the client and who approved it.
      const grants = await api<{
        results: { client_name: string; approved_by: { email: string } }[];
      }>("GET", `/agents/${agentX}/oauth-clients/`);
      expect(grants.results).toEqual([
        expect.objectContaining({
          client_name: "E2E Desktop Client",
          approved_by: expect.objectContaining({ email: OWNER.email }),
        }),
      ]);

      // The access token expires (here: is replaced by a dead one): the SDK refreshes on the 401.
      const before = provider.stored;
      if (!before) throw new Error("the client holds no tokens");
      provider.stored = { ...before, access_token: "mcpo_at_expired" };
      const again = await client.callTool({ name: calculate, arguments: { expression: "2^8" } });
      expect(JSON.stringify(again.content)).toContain("256");
      expect(provider.stored.refresh_token).not.toBe(before.refresh_token);

      // The token is for agent X only.
      const onY = await fetch(`${baseUrl}/mcp/${agentY}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${provider.stored.access_token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(onY.status).toBe(401);

      // Revocation (RFC 7009) of the refresh token: the client is refused from its next call.
      const access = provider.stored.access_token;
      const revoked = await fetch(`${baseUrl}/oauth/revoke`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          client_id: provider.client?.client_id ?? "",
          token: provider.stored.refresh_token ?? "",
        }).toString(),
      });
      expect(revoked.status).toBe(200);
      const afterRevoke = await fetch(`${baseUrl}/mcp/${agentX}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${access}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(afterRevoke.status).toBe(401);
      await expect(client.listTools()).rejects.toThrow();
      await client.close().catch(() => undefined);
    } finally {
      await context.close();
      await callback.close();
    }
  });

  it("an authorization request without resource never reaches the consent page", async () => {
    const response = await fetch(
      `${baseUrl}/oauth/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: "mcpc_unknown",
        redirect_uri: "https://evil.example/cb",
        code_challenge: "x".repeat(43),
        code_challenge_method: "S256",
      }).toString()}`,
      { redirect: "manual" },
    );
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("location") ?? "", baseUrl);
    expect(location.origin).toBe(baseUrl);
    expect(location.pathname).toBe("/oauth/error");
  });

  it("a member below the approver role sees the request but cannot approve it", async () => {
    const callback = await startCallback();
    const context = await browser.newContext({ baseURL: baseUrl });
    const page = await context.newPage();
    try {
      const member = {
        email: `member.${RUN}@example.com`,
        password: "another long password oauth",
      };
      const registered = await api<{ token: string }>("POST", "/auth/register/", {
        ...member,
        password_confirm: member.password,
      });
      const orgs = await api<{ results: { id: string }[] }>("GET", "/orgs/");
      // Adding a member invites them; they join by accepting the link's token (its fragment).
      const invited = await api<{ url: string }>(
        "POST",
        `/orgs/${orgs.results[0]?.id ?? ""}/members/`,
        { email: member.email, role: "member" },
      );
      const accepted = await fetch(`${baseUrl}/api/v1/invitations/accept/`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Token ${registered.token}`,
        },
        body: JSON.stringify({ token: new URL(invited.url).hash.slice(1) }),
      });
      expect(accepted.ok, await accepted.clone().text()).toBe(true);
      const provider = new MemoryProvider(callback.url);
      await expect(connectedClient(agentX, provider)).rejects.toBeInstanceOf(UnauthorizedError);
      await page.goto(provider.authorizationUrl?.href ?? baseUrl);
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.getByLabel("Email").fill(member.email);
      await page.getByLabel("Password").fill(member.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText(/Approving needs the admin role or higher/).waitFor();
      expect(await page.getByRole("button", { name: "Approve" }).isDisabled()).toBe(true);
      const returned = callback.next();
      // The SPA leaves for the client's callback once the decision is stored; waiting for that
      // URL (armed before the click) rather than the click's own navigation wait, which can hang
      // on a cross-origin redirect when the whole file shares one browser.
      await Promise.all([
        page.waitForURL((url) => url.href.startsWith(callback.url)),
        // Deprecated only because it is to become the default; until then it is what opts out.
        // eslint-disable-next-line @typescript-eslint/no-deprecated
        page.getByRole("button", { name: "Deny" }).click({ noWaitAfter: true }),
      ]);
      const params = await returned;
      expect(params.get("error")).toBe("access_denied");
    } finally {
      await context.close();
      await callback.close();
    }
  });
});
