import { hash, randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TestServer, TestUser } from "./harness";

/*
 * The OAuth client side of the gateway's authorization server, step by step over HTTP, for tests
 * that need a grant or probe one step. (The MCP SDK's own client runs the whole flow in the
 * browser e2e test, apps/web/e2e/oauth.e2e.ts.)
 */

export const REDIRECT_URI = "http://127.0.0.1:8976/callback";

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: hash("sha256", verifier, "base64url") };
}

export async function registerClient(
  server: TestServer,
  body: Record<string, unknown> = {},
): Promise<{ status: number; body: Record<string, unknown> & { client_id: string } }> {
  const response = await fetch(`${server.url}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "Test IDE", redirect_uris: [REDIRECT_URI], ...body }),
  });
  return { status: response.status, body: (await response.json()) as never };
}

export function gatewayUrl(server: TestServer, agentId: string): string {
  return `${server.url}/mcp/${agentId}`;
}

/** GET /oauth/authorize without following the redirect; answers where it sends the browser. */
export async function authorize(server: TestServer, params: Record<string, string>): Promise<URL> {
  const response = await fetch(
    `${server.url}/oauth/authorize?${new URLSearchParams(params).toString()}`,
    { redirect: "manual" },
  );
  expect(response.status).toBe(302);
  return new URL(response.headers.get("location") ?? "", server.url);
}

export function authorizeParams(
  server: TestServer,
  input: { clientId: string; agentId: string; challenge: string; state?: string },
): Record<string, string> {
  return {
    response_type: "code",
    client_id: input.clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: input.challenge,
    code_challenge_method: "S256",
    resource: gatewayUrl(server, input.agentId),
    scope: "mcp",
    state: input.state ?? randomBytes(8).toString("hex"),
  };
}

/** The consent page's request id, from where /oauth/authorize sent the browser. */
export function consentRequestId(location: URL): string {
  const match = /^\/oauth\/consent\/([\w-]+)$/.exec(location.pathname);
  expect(match, `expected the consent page, got ${location.href}`).not.toBeNull();
  return match?.[1] ?? "";
}

export function decide(server: TestServer, user: TestUser, requestId: string, approve: boolean) {
  return server.request("POST", `/oauth/authorizations/${requestId}/decision/`, {
    token: user.token,
    body: { approve },
  });
}

export async function tokenRequest(
  server: TestServer,
  params: Record<string, string>,
): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

export async function revokeToken(server: TestServer, clientId: string, token: string) {
  const response = await fetch(`${server.url}/oauth/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: clientId, token }).toString(),
  });
  return response.status;
}

export interface Granted {
  clientId: string;
  accessToken: string;
  refreshToken: string;
  code: string;
  verifier: string;
}

/** The whole code flow: a client registers, `approver` approves, the code becomes tokens. */
export async function grantTokens(
  server: TestServer,
  approver: TestUser,
  agentId: string,
  clientId?: string,
): Promise<Granted> {
  const client = clientId ?? (await registerClient(server)).body.client_id;
  const { verifier, challenge } = pkce();
  const location = await authorize(
    server,
    authorizeParams(server, { clientId: client, agentId, challenge }),
  );
  const decision = await decide(server, approver, consentRequestId(location), true);
  expect(decision.status, JSON.stringify(decision.body)).toBe(200);
  const code = new URL(decision.body.redirect_to as string).searchParams.get("code") ?? "";
  const tokens = await tokenRequest(server, {
    grant_type: "authorization_code",
    code,
    client_id: client,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
    resource: gatewayUrl(server, agentId),
  });
  expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
  return {
    clientId: client,
    accessToken: tokens.body.access_token ?? "",
    refreshToken: tokens.body.refresh_token ?? "",
    code,
    verifier,
  };
}
