import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import { and, eq, exists, gt, isNull, lt, not, or } from "drizzle-orm";
import { calculatePKCECodeChallenge } from "oauth4webapi";
import type { Db } from "../db/client";
import {
  agents,
  memberships,
  oauthAuthorizations,
  oauthClients,
  oauthGrants,
  oauthTokens,
  orgs,
  users,
  type OAuthClientMetadata,
} from "../db/schema";
import { isUserDisabled } from "../accounts/sessions";
import type { Agent } from "../agents/agents";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { roleAtLeast, type OrgRole } from "../orgs/roles";
import type { OutboundPolicy } from "../runtime";
import { matchRedirectUri, resolveOAuthClient, findOAuthClient } from "./clients";
import { OAuthProtocolError, type OAuthErrorCode } from "./errors";

/*
 * The platform as the OAuth 2.1 authorization server of its own MCP gateway (MCP authorization,
 * 2025-11-25): authorization code with PKCE (S256 only), every token bound to one agent's MCP URL
 * (RFC 8707 `resource`, required), public clients only, refresh tokens rotated on every use with
 * reuse detection, revocation (RFC 7009). Everything lives in PostgreSQL, so any replica serves
 * any step; codes and tokens are random strings of which only sha256 hashes are stored.
 */

/** The one scope: act as the agent through its MCP endpoint. */
export const OAUTH_SCOPE = "mcp";
export const OAUTH_ACCESS_TOKEN_PREFIX = "mcpo_at_";
const REFRESH_TOKEN_PREFIX = "mcpo_rt_";
const CODE_PREFIX = "mcpo_ac_";
const CODE_TTL_MS = 60_000;
/** How long the person has to sign in and decide. */
const AUTHORIZATION_REQUEST_TTL_MS = 10 * 60_000;
const LAST_USED_RESOLUTION_MS = 60_000;
const MAX_STATE_LENGTH = 1000;
/** RFC 7636 4.1 and 4.2: a verifier of 43–128 unreserved characters; an S256 challenge is 43. */
const CODE_VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;
const S256_CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface OAuthTokenLifetimes {
  accessTokenSeconds: number;
  refreshTokenSeconds: number;
}

export const DEFAULT_OAUTH_TOKEN_LIFETIMES: OAuthTokenLifetimes = {
  accessTokenSeconds: 15 * 60,
  refreshTokenSeconds: 30 * 24 * 60 * 60,
};

/** Where the authorization server and the gateway it protects live. */
export interface OAuthEndpoints {
  /** The issuer: the platform's public origin. */
  issuer: string;
  /** `…/mcp/{agent_id}`: the resource every token is bound to. */
  gatewayUrl: (agentId: string) => string;
}

/** The endpoints of a platform reached at `origin` (PUBLIC_URL, or the request's own origin). */
export function oauthEndpoints(origin: string): OAuthEndpoints {
  return { issuer: origin, gatewayUrl: (agentId) => `${origin}/mcp/${agentId}` };
}

function hashSecret(value: string): string {
  return hash("sha256", value, "hex");
}

function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

/** The agent a resource indicator names, when it is exactly one agent's MCP URL here. */
function agentIdOfResource(resource: string, endpoints: OAuthEndpoints): string | null {
  const match = /\/mcp\/([0-9a-f-]{36})$/i.exec(resource);
  const agentId = match?.[1]?.toLowerCase();
  if (agentId === undefined) return null;
  return endpoints.gatewayUrl(agentId) === resource ? agentId : null;
}

function redirectWith(redirectUri: string, params: Record<string, string | null>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params))
    if (value !== null) url.searchParams.set(name, value);
  return url.href;
}

export type AuthorizeOutcome =
  /** Neither the client nor where to send the browser can be trusted: show the error. */
  | { kind: "error"; error: OAuthErrorCode; description: string }
  /** Back to the client (with an error). */
  | { kind: "redirect"; location: string }
  /** On to the consent page with this request. */
  | { kind: "consent"; requestId: string };

/**
 * `GET /oauth/authorize`. Until the client and its redirect URI are known good, a refusal is shown
 * to the person (never a redirect: that would be an open redirector); after, it goes back to the
 * client as RFC 6749 4.1.2.1 says.
 */
export async function startAuthorization(
  db: Db,
  outbound: OutboundPolicy,
  endpoints: OAuthEndpoints,
  params: URLSearchParams,
): Promise<AuthorizeOutcome> {
  const repeated = [...new Set(params.keys())].find((name) => params.getAll(name).length > 1);
  const clientId = params.get("client_id");
  if (!clientId)
    return { kind: "error", error: "invalid_request", description: "client_id is required" };
  let client;
  try {
    client = await resolveOAuthClient(db, outbound, clientId);
  } catch (error) {
    if (error instanceof OAuthProtocolError)
      return { kind: "error", error: error.error, description: error.description };
    throw error;
  }
  const requestedRedirect = params.get("redirect_uri");
  const registered = client.metadata.redirect_uris;
  const redirectUri =
    requestedRedirect === null
      ? registered.length === 1
        ? (registered[0] ?? null)
        : null
      : matchRedirectUri(registered, requestedRedirect);
  if (
    redirectUri === null ||
    (repeated !== undefined && ["client_id", "redirect_uri"].includes(repeated))
  ) {
    return {
      kind: "error",
      error: "invalid_request",
      description:
        requestedRedirect === null
          ? "redirect_uri is required (the client registered more than one)"
          : "redirect_uri is not one the client registered",
    };
  }
  const state = params.get("state");
  const back = (error: OAuthErrorCode, description: string): AuthorizeOutcome => ({
    kind: "redirect",
    location: redirectWith(redirectUri, {
      error,
      error_description: description,
      state: state !== null && state.length <= MAX_STATE_LENGTH ? state : null,
      iss: endpoints.issuer,
    }),
  });

  if (repeated !== undefined) return back("invalid_request", `${repeated} is given more than once`);
  if (params.get("response_type") !== "code")
    return back("unsupported_response_type", "response_type must be code");
  if (state !== null && state.length > MAX_STATE_LENGTH)
    return back("invalid_request", `state must be at most ${MAX_STATE_LENGTH} characters`);
  const challenge = params.get("code_challenge");
  if (!challenge) return back("invalid_request", "code_challenge is required (PKCE)");
  // Without a method RFC 7636 means `plain`, which OAuth 2.1 and MCP no longer allow.
  if (params.get("code_challenge_method") !== "S256")
    return back("invalid_request", "code_challenge_method must be S256");
  if (!S256_CHALLENGE_PATTERN.test(challenge))
    return back("invalid_request", "code_challenge is not an S256 challenge");
  const requestedScope = params.get("scope")?.trim() ?? "";
  const scope = requestedScope === "" ? OAUTH_SCOPE : requestedScope;
  if (scope.split(/\s+/).some((item) => item !== OAUTH_SCOPE))
    return back("invalid_scope", `The only scope is ${OAUTH_SCOPE}`);
  const resource = params.get("resource");
  if (!resource)
    return back("invalid_target", "resource is required: the agent's MCP URL (RFC 8707)");
  const agentId = agentIdOfResource(resource, endpoints);
  if (agentId === null)
    return back("invalid_target", "resource must be the MCP URL of one agent on this platform");
  const [agent] = await db
    .select({ id: agents.id, org_id: agents.org_id, status: agents.status })
    .from(agents)
    .where(eq(agents.id, agentId))
    .limit(1);
  if (agent?.status !== "active") return back("invalid_target", "No active agent at this resource");

  const requestId = randomBytes(24).toString("base64url");
  await db.insert(oauthAuthorizations).values({
    id: requestId,
    org_id: agent.org_id,
    agent_id: agent.id,
    client_id: client.client_id,
    redirect_uri: redirectUri,
    state,
    scope,
    resource,
    code_challenge: challenge,
    expires_at: new Date(Date.now() + AUTHORIZATION_REQUEST_TTL_MS),
  });
  return { kind: "consent", requestId };
}

export interface AuthorizationRequestView {
  id: string;
  client: {
    client_id: string;
    kind: "registered" | "metadata_document";
    name: string | null;
    uri: string | null;
    logo_uri: string | null;
  };
  redirect_uri: string;
  agent: { id: string; name: string; description: string };
  org: { id: string; name: string };
  scope: string;
  resource: string;
  /** Whether the signed-in person's role lets them approve; deny is always possible. */
  can_approve: boolean;
  approver_role: OrgRole;
  your_role: OrgRole;
  expires_at: Date;
}

async function loadPendingRequest(db: Db, id: string, userId: string) {
  const [row] = await db
    .select({
      request: oauthAuthorizations,
      client: {
        client_id: oauthClients.client_id,
        kind: oauthClients.kind,
        metadata: oauthClients.metadata,
      },
      agent: { id: agents.id, name: agents.name, description: agents.description },
      org: { id: orgs.id, name: orgs.name, approver_role: orgs.oauth_approver_role },
      role: memberships.role,
    })
    .from(oauthAuthorizations)
    .innerJoin(oauthClients, eq(oauthClients.client_id, oauthAuthorizations.client_id))
    .innerJoin(agents, eq(agents.id, oauthAuthorizations.agent_id))
    .innerJoin(orgs, eq(orgs.id, oauthAuthorizations.org_id))
    .leftJoin(
      memberships,
      and(eq(memberships.org_id, oauthAuthorizations.org_id), eq(memberships.user_id, userId)),
    )
    .where(
      and(
        eq(oauthAuthorizations.id, id),
        eq(oauthAuthorizations.status, "pending"),
        gt(oauthAuthorizations.expires_at, new Date()),
      ),
    )
    .limit(1);
  // Someone outside the agent's org learns nothing about the request, not even that it exists.
  if (row?.role == null) throw AppError.notFound("Authorization request");
  return { ...row, role: row.role };
}

function clientView(client: {
  client_id: string;
  kind: "registered" | "metadata_document";
  metadata: OAuthClientMetadata;
}) {
  return {
    client_id: client.client_id,
    kind: client.kind,
    name: client.metadata.client_name ?? null,
    uri: client.metadata.client_uri ?? null,
    logo_uri: client.metadata.logo_uri ?? null,
  };
}

/** What the consent page shows: which client wants to act as which agent, in which org. */
export async function getAuthorizationRequest(
  db: Db,
  input: { id: string; userId: string },
): Promise<AuthorizationRequestView> {
  const { request, client, agent, org, role } = await loadPendingRequest(
    db,
    input.id,
    input.userId,
  );
  return {
    id: request.id,
    client: clientView(client),
    redirect_uri: request.redirect_uri,
    agent,
    org: { id: org.id, name: org.name },
    scope: request.scope,
    resource: request.resource,
    can_approve: roleAtLeast(role, org.approver_role),
    approver_role: org.approver_role,
    your_role: role,
    expires_at: request.expires_at,
  };
}

/**
 * The person's answer. Approving needs the org's approver role; either answer is audited and
 * returns where the browser goes next: the client's redirect URI with a one-time code (or
 * `access_denied`), the state it sent and this issuer (RFC 9207, against mix-up attacks).
 */
export async function decideAuthorization(
  db: Db,
  context: ActionContext,
  endpoints: OAuthEndpoints,
  input: { id: string; userId: string; approve: boolean },
): Promise<{ redirect_to: string }> {
  return db.transaction(async (tx) => {
    const { request, client, agent, org, role } = await loadPendingRequest(
      tx,
      input.id,
      input.userId,
    );
    if (input.approve && !roleAtLeast(role, org.approver_role)) {
      throw AppError.forbidden(
        `Letting a client act as an agent needs the ${org.approver_role} role or higher in ${org.name}; yours is ${role}`,
      );
    }
    const code = input.approve ? newSecret(CODE_PREFIX) : null;
    const [decided] = await tx
      .update(oauthAuthorizations)
      .set({
        status: input.approve ? "approved" : "denied",
        user_id: input.userId,
        code_hash: code === null ? null : hashSecret(code),
        expires_at: new Date(Date.now() + CODE_TTL_MS),
      })
      .where(and(eq(oauthAuthorizations.id, request.id), eq(oauthAuthorizations.status, "pending")))
      .returning({ id: oauthAuthorizations.id });
    if (!decided) throw AppError.notFound("Authorization request");
    await recordAudit(tx, context, {
      org_id: org.id,
      action: input.approve ? "oauth.authorization.approve" : "oauth.authorization.deny",
      target_type: "agent",
      target_id: agent.id,
      metadata: {
        client_id: client.client_id,
        client_name: client.metadata.client_name ?? null,
        redirect_uri: request.redirect_uri,
        scope: request.scope,
      },
    });
    return {
      redirect_to: redirectWith(request.redirect_uri, {
        ...(code === null
          ? { error: "access_denied", error_description: "The request was denied" }
          : { code }),
        state: request.state,
        iss: endpoints.issuer,
      }),
    };
  });
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

async function issueTokens(
  db: Db,
  grant: { id: string; scope: string },
  lifetimes: OAuthTokenLifetimes,
): Promise<TokenResponse> {
  const access = newSecret(OAUTH_ACCESS_TOKEN_PREFIX);
  const refresh = newSecret(REFRESH_TOKEN_PREFIX);
  const now = Date.now();
  await db.insert(oauthTokens).values([
    {
      token_hash: hashSecret(access),
      grant_id: grant.id,
      kind: "access",
      expires_at: new Date(now + lifetimes.accessTokenSeconds * 1000),
    },
    {
      token_hash: hashSecret(refresh),
      grant_id: grant.id,
      kind: "refresh",
      expires_at: new Date(now + lifetimes.refreshTokenSeconds * 1000),
    },
  ]);
  return {
    access_token: access,
    token_type: "Bearer",
    expires_in: lifetimes.accessTokenSeconds,
    refresh_token: refresh,
    scope: grant.scope,
  };
}

type RevocationReason = "revoked" | "code_reuse" | "refresh_token_reuse";

async function revokeGrantRow(
  db: Db,
  context: ActionContext,
  grant: { id: string; org_id: string; agent_id: string; client_id: string },
  reason: RevocationReason,
): Promise<boolean> {
  const [revoked] = await db
    .update(oauthGrants)
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where(and(eq(oauthGrants.id, grant.id), isNull(oauthGrants.revoked_at)))
    .returning({ id: oauthGrants.id });
  // Its tokens go at once; the grant row stays for the record.
  await db.delete(oauthTokens).where(eq(oauthTokens.grant_id, grant.id));
  if (!revoked) return false;
  await recordAudit(db, context, {
    org_id: grant.org_id,
    action: reason === "revoked" ? "oauth.grant.revoke" : `oauth.grant.revoke.${reason}`,
    target_type: "agent",
    target_id: grant.agent_id,
    metadata: { grant_id: grant.id, client_id: grant.client_id, reason },
  });
  return true;
}

/** Runs the work, then reports the refusal it decided on, so what it revoked stays revoked. */
async function committedThenRefused<T>(
  db: Db,
  work: (tx: Db) => Promise<T | OAuthProtocolError>,
): Promise<T> {
  const result = await db.transaction(work);
  if (result instanceof OAuthProtocolError) throw result;
  return result;
}

async function pkceMatches(verifier: string, challenge: string): Promise<boolean> {
  if (!CODE_VERIFIER_PATTERN.test(verifier)) return false;
  const computed = Buffer.from(await calculatePKCECodeChallenge(verifier));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/**
 * `grant_type=authorization_code`. A code works once, for the client it was issued to, with the
 * same redirect URI and the PKCE verifier of its challenge; presenting a used code again revokes
 * everything it produced (RFC 6749 4.1.2: it has probably been stolen).
 */
export async function exchangeAuthorizationCode(
  db: Db,
  context: ActionContext,
  lifetimes: OAuthTokenLifetimes,
  input: {
    code: string;
    client_id: string;
    redirect_uri: string | null;
    code_verifier: string | null;
    resource: string | null;
  },
): Promise<TokenResponse> {
  return committedThenRefused(db, async (tx) => {
    const [request] = await tx
      .select()
      .from(oauthAuthorizations)
      .where(eq(oauthAuthorizations.code_hash, hashSecret(input.code)))
      .for("update")
      .limit(1);
    const invalid = (description: string) => new OAuthProtocolError("invalid_grant", description);
    if (!request) return invalid("Unknown authorization code");
    if (request.client_id !== input.client_id)
      return invalid("The code was issued to another client");
    if (request.status === "exchanged") {
      if (request.grant_id !== null) {
        await revokeGrantRow(
          tx,
          context,
          {
            id: request.grant_id,
            org_id: request.org_id,
            agent_id: request.agent_id,
            client_id: request.client_id,
          },
          "code_reuse",
        );
      }
      return invalid("The code was already used; the tokens issued for it are revoked");
    }
    if (request.status !== "approved" || request.user_id === null)
      return invalid("Unknown authorization code");
    if (await isUserDisabled(tx, request.user_id))
      return invalid("The account that approved this request is disabled");
    if (request.expires_at.getTime() <= Date.now()) return invalid("The code has expired");
    if (input.redirect_uri !== request.redirect_uri)
      return invalid("redirect_uri does not match the authorization request");
    if (input.code_verifier === null)
      return new OAuthProtocolError("invalid_request", "code_verifier is required (PKCE)");
    if (!(await pkceMatches(input.code_verifier, request.code_challenge)))
      return invalid("code_verifier does not match the code_challenge");
    if (input.resource !== null && input.resource !== request.resource)
      return new OAuthProtocolError("invalid_target", "resource differs from the one authorized");

    const [grant] = await tx
      .insert(oauthGrants)
      .values({
        org_id: request.org_id,
        agent_id: request.agent_id,
        client_id: request.client_id,
        user_id: request.user_id,
        scope: request.scope,
        resource: request.resource,
      })
      .returning();
    if (!grant) throw new Error("insert returned no grant");
    await tx
      .update(oauthAuthorizations)
      .set({ status: "exchanged", grant_id: grant.id })
      .where(eq(oauthAuthorizations.id, request.id));
    return issueTokens(tx, grant, lifetimes);
  });
}

/**
 * `grant_type=refresh_token`: each refresh token works once and is replaced by a new one. A
 * refresh token presented a second time means two parties hold it; the whole grant is revoked
 * (OAuth 2.1 4.3.1), so whoever stole it loses access along with the client.
 */
export async function refreshAccessToken(
  db: Db,
  context: ActionContext,
  lifetimes: OAuthTokenLifetimes,
  input: {
    refresh_token: string;
    client_id: string;
    resource: string | null;
    scope: string | null;
  },
): Promise<TokenResponse> {
  return committedThenRefused(db, async (tx) => {
    const [row] = await tx
      .select({ token: oauthTokens, grant: oauthGrants })
      .from(oauthTokens)
      .innerJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grant_id))
      .where(
        and(
          eq(oauthTokens.token_hash, hashSecret(input.refresh_token)),
          eq(oauthTokens.kind, "refresh"),
        ),
      )
      .for("update")
      .limit(1);
    const invalid = (description: string) => new OAuthProtocolError("invalid_grant", description);
    if (row?.grant.client_id !== input.client_id) return invalid("Unknown refresh token");
    const { token, grant } = row;
    if (token.consumed_at !== null) {
      await revokeGrantRow(tx, context, grant, "refresh_token_reuse");
      return invalid("The refresh token was already used; the grant is revoked");
    }
    if (grant.revoked_at !== null || token.expires_at.getTime() <= Date.now())
      return invalid("The refresh token has expired or was revoked");
    if (await isUserDisabled(tx, grant.user_id))
      return invalid("The account that approved this grant is disabled");
    if (input.resource !== null && input.resource !== grant.resource)
      return new OAuthProtocolError("invalid_target", "resource differs from the one authorized");
    if (input.scope?.split(/\s+/).some((item) => item !== grant.scope))
      return new OAuthProtocolError("invalid_scope", "A refresh cannot widen the scope");
    await tx
      .update(oauthTokens)
      .set({ consumed_at: new Date() })
      .where(eq(oauthTokens.token_hash, token.token_hash));
    return issueTokens(tx, grant, lifetimes);
  });
}

/**
 * RFC 7009. Revoking a refresh token ends its grant (and so every token of it); an access token
 * goes alone. Unknown tokens, and tokens of another client, are answered the same way: success.
 */
export async function revokeOAuthToken(
  db: Db,
  context: ActionContext,
  input: { token: string; client_id: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .select({ token: oauthTokens, grant: oauthGrants })
      .from(oauthTokens)
      .innerJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grant_id))
      .where(eq(oauthTokens.token_hash, hashSecret(input.token)))
      .limit(1);
    if (row?.grant.client_id !== input.client_id) return;
    if (row.token.kind === "access") {
      await tx.delete(oauthTokens).where(eq(oauthTokens.token_hash, row.token.token_hash));
      return;
    }
    await revokeGrantRow(tx, context, row.grant, "revoked");
  });
}

/** Whether a client id is known at all (the token endpoint authenticates public clients by it). */
export async function assertKnownClient(db: Db, clientId: string | null): Promise<string> {
  if (!clientId) throw new OAuthProtocolError("invalid_client", "client_id is required");
  if (!(await findOAuthClient(db, clientId)))
    throw new OAuthProtocolError("invalid_client", "Unknown client_id");
  return clientId;
}

export interface AuthenticatedOAuthToken {
  agent: Agent;
  grantId: string;
  /** The person who approved the client: every call is recorded as made for them. */
  userId: string;
}

/**
 * Resolves a gateway access token. It is refused once expired, once its grant is revoked, when
 * the agent is disabled, when the approver has left the org or no longer holds the approver role,
 * and while the approver's account is disabled: access never outlives the authority that granted it.
 */
export async function authenticateOAuthAccessToken(
  db: Db,
  token: string,
): Promise<AuthenticatedOAuthToken | null> {
  if (!token.startsWith(OAUTH_ACCESS_TOKEN_PREFIX)) return null;
  const [row] = await db
    .select({
      agent: agents,
      grantId: oauthGrants.id,
      userId: oauthGrants.user_id,
      lastUsed: oauthGrants.last_used_at,
      role: memberships.role,
      approverRole: orgs.oauth_approver_role,
    })
    .from(oauthTokens)
    .innerJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grant_id))
    .innerJoin(agents, eq(agents.id, oauthGrants.agent_id))
    .innerJoin(orgs, eq(orgs.id, oauthGrants.org_id))
    .innerJoin(
      memberships,
      and(eq(memberships.org_id, oauthGrants.org_id), eq(memberships.user_id, oauthGrants.user_id)),
    )
    .innerJoin(users, eq(users.id, oauthGrants.user_id))
    .where(
      and(
        eq(oauthTokens.token_hash, hashSecret(token)),
        eq(oauthTokens.kind, "access"),
        gt(oauthTokens.expires_at, new Date()),
        isNull(oauthGrants.revoked_at),
        isNull(users.disabled_at),
      ),
    )
    .limit(1);
  if (row?.agent.status !== "active" || !roleAtLeast(row.role, row.approverRole)) return null;
  const now = Date.now();
  if (now - (row.lastUsed?.getTime() ?? 0) > LAST_USED_RESOLUTION_MS) {
    await db
      .update(oauthGrants)
      .set({ last_used_at: new Date(now) })
      .where(
        and(
          eq(oauthGrants.id, row.grantId),
          or(
            isNull(oauthGrants.last_used_at),
            lt(oauthGrants.last_used_at, new Date(now - LAST_USED_RESOLUTION_MS)),
          ),
        ),
      );
  }
  return { agent: row.agent, grantId: row.grantId, userId: row.userId };
}

export interface OAuthGrantView {
  id: string;
  agent_id: string;
  client_id: string;
  client_name: string | null;
  client_uri: string | null;
  scope: string;
  approved_by: { id: string; email: string; first_name: string; last_name: string };
  created_at: Date;
  last_used_at: Date | null;
}

/** The clients an agent has authorized and who approved each; revoked grants are in the audit log. */
export async function listAgentOAuthGrants(
  db: Db,
  input: PageRequest & { orgId: string; agentId: string },
): Promise<Page<OAuthGrantView>> {
  const query = keyset(
    oauthGrants.id,
    input,
    and(
      eq(oauthGrants.org_id, input.orgId),
      eq(oauthGrants.agent_id, input.agentId),
      isNull(oauthGrants.revoked_at),
    ),
    "desc",
  );
  const rows = await db
    .select({
      id: oauthGrants.id,
      agent_id: oauthGrants.agent_id,
      client_id: oauthGrants.client_id,
      metadata: oauthClients.metadata,
      scope: oauthGrants.scope,
      approved_by: {
        id: users.id,
        email: users.email,
        first_name: users.first_name,
        last_name: users.last_name,
      },
      created_at: oauthGrants.created_at,
      last_used_at: oauthGrants.last_used_at,
    })
    .from(oauthGrants)
    .innerJoin(oauthClients, eq(oauthClients.client_id, oauthGrants.client_id))
    .innerJoin(users, eq(users.id, oauthGrants.user_id))
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  const page = toPage(rows, query);
  return {
    ...page,
    results: page.results.map(({ metadata, ...row }) => ({
      ...row,
      client_name: metadata.client_name ?? null,
      client_uri: metadata.client_uri ?? null,
    })),
  };
}

/** An admin ends a client's access to an agent: its tokens stop working on the next request. */
export async function revokeAgentOAuthGrant(
  db: Db,
  context: ActionContext,
  input: { orgId: string; agentId: string; grantId: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    const [grant] = await tx
      .select()
      .from(oauthGrants)
      .where(
        and(
          eq(oauthGrants.org_id, input.orgId),
          eq(oauthGrants.agent_id, input.agentId),
          eq(oauthGrants.id, input.grantId),
          isNull(oauthGrants.revoked_at),
        ),
      )
      .for("update")
      .limit(1);
    if (!grant) throw AppError.notFound("Authorized client");
    await revokeGrantRow(tx, context, grant, "revoked");
  });
}

/**
 * How long a client nobody authorized is kept. Dynamic registration needs no sign-in, so clients
 * that never reach a consent would otherwise pile up; a metadata-document client is only a cached
 * copy, fetched again when next used.
 */
const UNUSED_CLIENT_TTL_MS = 24 * 3_600_000;

/**
 * Expired authorization requests and codes, expired tokens, and clients older than a day that no
 * authorization request or grant names: nothing reads them again.
 */
export async function pruneOAuthRecords(db: Db, now = new Date()): Promise<number> {
  const requests = await db
    .delete(oauthAuthorizations)
    .where(lt(oauthAuthorizations.expires_at, now))
    .returning({ id: oauthAuthorizations.id });
  const tokens = await db
    .delete(oauthTokens)
    .where(lt(oauthTokens.expires_at, now))
    .returning({ hash: oauthTokens.token_hash });
  const clients = await db
    .delete(oauthClients)
    .where(
      and(
        lt(oauthClients.created_at, new Date(now.getTime() - UNUSED_CLIENT_TTL_MS)),
        not(
          exists(
            db
              .select({ one: oauthGrants.id })
              .from(oauthGrants)
              .where(eq(oauthGrants.client_id, oauthClients.client_id)),
          ),
        ),
        not(
          exists(
            db
              .select({ one: oauthAuthorizations.id })
              .from(oauthAuthorizations)
              .where(eq(oauthAuthorizations.client_id, oauthClients.client_id)),
          ),
        ),
      ),
    )
    .returning({ client_id: oauthClients.client_id });
  return requests.length + tokens.length + clients.length;
}
