import { createHash, randomBytes } from "node:crypto";
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  exchangeAuthorization,
  extractWWWAuthenticateParams,
  refreshAuthorization,
  registerClient,
  startAuthorization,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { checkResourceAllowed } from "@modelcontextprotocol/sdk/shared/auth-utils.js";
import type {
  AuthorizationServerMetadata,
  OAuthClientInformationFull,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { and, eq, isNull, lt } from "drizzle-orm";
import {
  allowInsecureRequests,
  ClientSecretBasic,
  ClientSecretPost,
  customFetch,
  None,
  processRevocationResponse,
  revocationRequest,
} from "oauth4webapi";
import { isUserDisabled } from "../accounts/sessions";
import { recordAudit } from "../audit/audit";
import type { Db } from "../db/client";
import {
  connectionAuthorizations,
  connectionCredentials,
  connections,
  users,
  type JsonObject,
} from "../db/schema";
import { AppError, isAppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { isMcpCallError } from "../mcp/errors";
import { assertOutboundUrlAllowed, privateNetworkGuardedFetch } from "../mcp/outbound";
import type { McpTarget } from "../mcp/target";
import { MCP_CLIENT_INFO, type McpRuntime, type OutboundPolicy } from "../runtime";
import { SecretStoreError } from "../secrets/secret-store";
import type { Connection } from "./connections";

/*
 * Connections to OAuth-protected MCP servers (MCP authorization, 2025-11-25): discovery from the
 * server's 401 through its protected resource metadata (RFC 9728) to its authorization server
 * (RFC 8414), the platform identified by dynamic registration (RFC 7591) or an admin-entered
 * client, the code flow with PKCE and `resource` (RFC 8707), tokens kept in the SecretStore and
 * refreshed before they expire and when the server answers 401. The protocol steps are the MCP
 * SDK's; every URL they fetch goes through the same outbound rules as connections themselves.
 */

export type Credential = typeof connectionCredentials.$inferSelect;
export type CredentialMode = "shared" | "per_user";

/** How long a started authorization may be completed. */
const AUTHORIZATION_TTL_MS = 10 * 60_000;
/** How long the platform waits for an authorization server to revoke one token. */
const REVOCATION_TIMEOUT_MS = 10_000;
/** Tokens this close to expiry are refreshed before use. */
const REFRESH_MARGIN_MS = 60_000;

/** The callback path on the platform, the redirect URI every upstream server is given. */
export const CONNECTION_OAUTH_CALLBACK_PATH = "/oauth/connections/callback";
/** Where the platform serves its client ID metadata document; its URL is the platform's client id. */
export const CONNECTION_OAUTH_CLIENT_METADATA_PATH = "/oauth/connections/client-metadata.json";

/**
 * The platform's client ID metadata document (MCP authorization 2025-11-25), for the platform at
 * `baseUrl`: an authorization server that supports such documents fetches it from the client id
 * itself, so nothing is registered there. A public client: PKCE protects its codes.
 */
export function connectionClientMetadata(baseUrl: string) {
  return {
    client_id: `${baseUrl}${CONNECTION_OAUTH_CLIENT_METADATA_PATH}`,
    client_name: "MCP Agents Platform",
    client_uri: baseUrl,
    redirect_uris: [`${baseUrl}${CONNECTION_OAUTH_CALLBACK_PATH}`],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  };
}

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** The authorization server a connection's tokens come from, as discovered at Connect. */
interface AuthorizationServer {
  url: string;
  metadata: AuthorizationServerMetadata;
  /** The RFC 8707 resource indicator: the server's protected resource. */
  resource: string;
  /** The scope the server asks for (its 401, else its metadata's `scopes_supported`). */
  scope: string | null;
}

/** What a credential's envelope holds. */
interface StoredTokens {
  access_token: string;
  refresh_token: string | null;
  token_type: string;
  scope: string | null;
  server: AuthorizationServer;
}

/** What a started authorization's envelope holds. */
interface StoredFlow {
  code_verifier: string;
  redirect_uri: string;
  server: AuthorizationServer;
}

/** The client identity at the upstream server: registered there, or entered by an admin. */
interface StoredClient {
  client_id: string;
  client_secret?: string | undefined;
  token_endpoint_auth_method?: string | undefined;
  /** For registered clients: the issuer they were registered with. */
  issuer?: string | undefined;
}

/**
 * fetch under the connections' outbound rules: http(s) only, no private or metadata addresses
 * when those are blocked (checked before the request and again on the address dialled), and
 * https only when they are blocked. A refusal names the URL and the rule, so an admin sees which
 * metadata document pointed where.
 */
export function oauthFetch(policy: OutboundPolicy): FetchLike {
  return async (url, init) => {
    const href = String(url);
    try {
      await assertOutboundUrlAllowed(href, policy);
      if (policy.blockPrivateNetworks && new URL(href).protocol !== "https:")
        throw AppError.invalidField("url", "Only https:// URLs are allowed");
    } catch (error) {
      if (!isAppError(error)) throw error;
      throw AppError.invalidField("url", `OAuth discovery refused ${href}: ${error.message}`);
    }
    return (policy.blockPrivateNetworks ? privateNetworkGuardedFetch : fetch)(url, init);
  };
}

function hashState(state: string): string {
  return createHash("sha256").update(state).digest("hex");
}

function clientBinding(connection: { org_id: string; id: string }): string {
  return `connection-oauth-client:${connection.org_id}:${connection.id}`;
}

function credentialBinding(credential: {
  org_id: string;
  connection_id: string;
  user_id: string | null;
}): string {
  return `connection-credential:${credential.org_id}:${credential.connection_id}:${credential.user_id ?? "shared"}`;
}

function flowBinding(flow: { org_id: string; connection_id: string; user_id: string }): string {
  return `connection-authorization:${flow.org_id}:${flow.connection_id}:${flow.user_id}`;
}

/** The JSON an envelope holds; this module wrote it, so callers know its shape. */
function openEnvelope(
  runtime: Pick<McpRuntime, "secrets">,
  ciphertext: string,
  binding: string,
  what: string,
): unknown {
  try {
    return JSON.parse(runtime.secrets.decrypt(ciphertext, binding));
  } catch (error) {
    if (error instanceof SecretStoreError || error instanceof SyntaxError)
      throw new AppError(
        "SECRET_UNREADABLE",
        `The stored ${what} cannot be decrypted; connect again, or restore the key it was encrypted with`,
      );
    throw error;
  }
}

/** The encrypted client for an admin-entered client id and secret. */
export function manualClientCiphertext(
  runtime: McpRuntime,
  connection: { org_id: string; id: string },
  client: { client_id: string; client_secret?: string | undefined },
): string {
  const stored: StoredClient = {
    client_id: client.client_id,
    ...(client.client_secret
      ? { client_secret: client.client_secret, token_endpoint_auth_method: "client_secret_basic" }
      : { token_endpoint_auth_method: "none" }),
  };
  return runtime.secrets.encrypt(JSON.stringify(stored), clientBinding(connection));
}

/** The client secret an admin entered for a manual OAuth client; null for none (or no client). */
export function storedOAuthClientSecret(
  runtime: Pick<McpRuntime, "secrets">,
  connection: Pick<
    Connection,
    "org_id" | "id" | "oauth_client_registration" | "oauth_client_ciphertext"
  >,
): string | null {
  if (connection.oauth_client_registration !== "manual" || !connection.oauth_client_ciphertext)
    return null;
  const stored = openEnvelope(
    runtime,
    connection.oauth_client_ciphertext,
    clientBinding(connection),
    "OAuth client",
  ) as StoredClient;
  return stored.client_secret ?? null;
}

function describeDiscoveryFailure(error: unknown): string {
  if (isAppError(error)) return error.message;
  return error instanceof Error ? error.message : "unknown error";
}

/**
 * Discovery as the MCP specification describes it: an unauthenticated request, the 401's
 * `resource_metadata`, that document, then its authorization server's metadata. Refuses metadata
 * that would let one server speak for another: a `resource` that is not this server, an issuer
 * that is not the URL the metadata was found at (mix-up), no S256 PKCE (downgrade).
 */
async function discoverAuthorizationServer(
  url: string,
  fetchFn: FetchLike,
): Promise<AuthorizationServer> {
  const fail = (message: string) =>
    AppError.invalidField("url", `OAuth discovery for ${url} failed: ${message}`);
  let resourceMetadataUrl: URL | undefined;
  let challengedScope: string | undefined;
  try {
    const probe = await fetchFn(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: LATEST_PROTOCOL_VERSION,
          capabilities: {},
          clientInfo: { name: MCP_CLIENT_INFO.clientName, version: MCP_CLIENT_INFO.clientVersion },
        },
      }),
      signal: AbortSignal.timeout(10_000),
    });
    await probe.body?.cancel();
    if (probe.status === 401)
      ({ resourceMetadataUrl, scope: challengedScope } = extractWWWAuthenticateParams(probe));
  } catch (error) {
    throw fail(describeDiscoveryFailure(error));
  }
  let resource: string;
  let authorizationServerUrl: string;
  let supportedScopes: string[] | undefined;
  try {
    const protectedResource = await discoverOAuthProtectedResourceMetadata(
      url,
      resourceMetadataUrl ? { resourceMetadataUrl } : {},
      fetchFn,
    );
    resource = protectedResource.resource;
    supportedScopes = protectedResource.scopes_supported;
    const [first] = protectedResource.authorization_servers ?? [];
    if (!first) throw new Error("the protected resource metadata names no authorization server");
    authorizationServerUrl = first;
  } catch (error) {
    throw fail(describeDiscoveryFailure(error));
  }
  if (!checkResourceAllowed({ requestedResource: url, configuredResource: resource }))
    throw fail(`its protected resource metadata is for ${resource}, not for this server`);
  let metadata: AuthorizationServerMetadata | undefined;
  try {
    metadata = await discoverAuthorizationServerMetadata(authorizationServerUrl, { fetchFn });
  } catch (error) {
    throw fail(describeDiscoveryFailure(error));
  }
  if (!metadata) throw fail(`${authorizationServerUrl} publishes no authorization server metadata`);
  if (metadata.issuer.replace(/\/$/, "") !== authorizationServerUrl.replace(/\/$/, ""))
    throw fail(
      `the authorization server at ${authorizationServerUrl} calls itself ${metadata.issuer}`,
    );
  if (!metadata.code_challenge_methods_supported?.includes("S256"))
    throw fail(`${metadata.issuer} does not support PKCE with S256`);
  const scope = challengedScope ?? (supportedScopes?.length ? supportedScopes.join(" ") : null);
  return { url: authorizationServerUrl, metadata, resource, scope };
}

/**
 * Whether `server` can be told the platform's metadata document URL as its client id: it says it
 * supports them, and can fetch the document, which the specification requires over https (an
 * authorization server itself on plain http is a development one, so an http platform will do).
 */
function acceptsMetadataDocument(server: AuthorizationServer, baseUrl: string): boolean {
  return (
    server.metadata.client_id_metadata_document_supported === true &&
    (new URL(baseUrl).protocol === "https:" || new URL(server.metadata.issuer).protocol === "http:")
  );
}

/**
 * The platform's client at `server`, in the order the MCP specification gives: the one an admin
 * entered (or registered before at this server), the platform's metadata document where the server
 * supports it, else a dynamic registration.
 */
async function clientFor(
  db: Db,
  runtime: McpRuntime,
  connection: Connection,
  server: AuthorizationServer,
  baseUrl: string,
  fetchFn: FetchLike,
): Promise<OAuthClientInformationFull> {
  const redirectUri = `${baseUrl}${CONNECTION_OAUTH_CALLBACK_PATH}`;
  if (connection.oauth_client_ciphertext) {
    const stored = openEnvelope(
      runtime,
      connection.oauth_client_ciphertext,
      clientBinding(connection),
      "OAuth client",
    ) as StoredClient;
    if (
      connection.oauth_client_registration === "manual" ||
      (connection.oauth_client_registration === "dynamic" &&
        stored.issuer === server.metadata.issuer)
    )
      return { ...stored, redirect_uris: [redirectUri] };
  }
  if (acceptsMetadataDocument(server, baseUrl)) {
    const document = connectionClientMetadata(baseUrl);
    await storeClient(db, runtime, connection, "metadata_document", {
      client_id: document.client_id,
      token_endpoint_auth_method: "none",
      issuer: server.metadata.issuer,
    });
    return { ...document, redirect_uris: [redirectUri] };
  }
  if (!server.metadata.registration_endpoint)
    throw AppError.invalidField(
      ["oauth", "client_id"],
      `${server.metadata.issuer} does not offer dynamic client registration: enter the client id (and secret) it issued for the platform`,
    );
  let registered: OAuthClientInformationFull;
  try {
    registered = await registerClient(server.url, {
      metadata: server.metadata,
      clientMetadata: {
        client_name: "MCP Agents Platform",
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        ...(connection.oauth_scope ? { scope: connection.oauth_scope } : {}),
      },
      fetchFn,
    });
  } catch (error) {
    throw new AppError(
      "UPSTREAM",
      `Registering the platform with ${server.metadata.issuer} failed: ${describeDiscoveryFailure(error)}`,
    );
  }
  await storeClient(db, runtime, connection, "dynamic", {
    client_id: registered.client_id,
    client_secret: registered.client_secret,
    token_endpoint_auth_method: registered.token_endpoint_auth_method,
    issuer: server.metadata.issuer,
  });
  return registered;
}

async function storeClient(
  db: Db,
  runtime: McpRuntime,
  connection: Connection,
  registration: "dynamic" | "metadata_document",
  client: StoredClient,
): Promise<void> {
  await db
    .update(connections)
    .set({
      oauth_client_registration: registration,
      oauth_client_id: client.client_id,
      oauth_client_ciphertext: runtime.secrets.encrypt(
        JSON.stringify(client),
        clientBinding(connection),
      ),
    })
    .where(and(eq(connections.org_id, connection.org_id), eq(connections.id, connection.id)));
}

function assertOAuthConnection(connection: Connection): CredentialMode {
  if (connection.auth !== "oauth" || !connection.oauth_credential_mode || !connection.url)
    throw AppError.conflict(`Connection "${connection.name}" does not use OAuth`);
  return connection.oauth_credential_mode;
}

/**
 * "Connect": discovers the server's authorization server, makes sure the platform is a client
 * there and returns the URL to send the person to. The state is bound to that person, this org
 * and connection, used once and short-lived; the PKCE verifier never leaves the platform.
 */
export async function startConnectionAuthorization(
  db: Db,
  runtime: McpRuntime,
  input: {
    connection: Connection;
    userId: string;
    /** The platform's own URL, where the callback and its metadata document are served. */
    baseUrl: string;
  },
): Promise<{ authorization_url: string; expires_at: Date }> {
  const { connection, userId, baseUrl } = input;
  const redirectUri = `${baseUrl}${CONNECTION_OAUTH_CALLBACK_PATH}`;
  const mode = assertOAuthConnection(connection);
  const url = connection.url ?? "";
  const fetchFn = oauthFetch(runtime.outbound);
  const server = await discoverAuthorizationServer(url, fetchFn);
  const client = await clientFor(db, runtime, connection, server, baseUrl, fetchFn);
  const state = randomBytes(32).toString("base64url");
  // The admin's choice, else what the server asks for (MCP's scope selection).
  const scope = connection.oauth_scope ?? server.scope;
  const { authorizationUrl, codeVerifier } = await startAuthorization(server.url, {
    metadata: server.metadata,
    clientInformation: client,
    redirectUrl: redirectUri,
    state,
    resource: server.resource,
    ...(scope ? { scope } : {}),
  });
  const flow: StoredFlow = { code_verifier: codeVerifier, redirect_uri: redirectUri, server };
  const owner = { org_id: connection.org_id, connection_id: connection.id, user_id: userId };
  const expiresAt = new Date(Date.now() + AUTHORIZATION_TTL_MS);
  // Abandoned authorizations are cleared as new ones start.
  await db
    .delete(connectionAuthorizations)
    .where(lt(connectionAuthorizations.expires_at, new Date()));
  await db.insert(connectionAuthorizations).values({
    state_hash: hashState(state),
    ...owner,
    credential: mode,
    flow_ciphertext: runtime.secrets.encrypt(JSON.stringify(flow), flowBinding(owner)),
    expires_at: expiresAt,
  });
  return { authorization_url: authorizationUrl.href, expires_at: expiresAt };
}

function credentialScope(credential: { connection_id: string; user_id: string | null }) {
  return and(
    eq(connectionCredentials.connection_id, credential.connection_id),
    credential.user_id === null
      ? isNull(connectionCredentials.user_id)
      : eq(connectionCredentials.user_id, credential.user_id),
  );
}

function tokensCiphertext(
  runtime: McpRuntime,
  owner: { org_id: string; connection_id: string; user_id: string | null },
  tokens: OAuthTokens,
  server: AuthorizationServer,
  previousRefreshToken: string | null,
) {
  const stored: StoredTokens = {
    access_token: tokens.access_token,
    // A server that does not rotate refresh tokens keeps the old one valid.
    refresh_token: tokens.refresh_token ?? previousRefreshToken,
    token_type: tokens.token_type,
    scope: tokens.scope ?? null,
    server,
  };
  return {
    token_ciphertext: runtime.secrets.encrypt(JSON.stringify(stored), credentialBinding(owner)),
    expires_at:
      tokens.expires_in === undefined ? null : new Date(Date.now() + tokens.expires_in * 1000),
  };
}

/** Pool keys of a connection's OAuth sessions start with this; evicting it closes them all. */
function poolKey(connectionId: string, userId: string | null): string {
  return `${connectionId}:oauth:${userId ?? "shared"}`;
}

/**
 * The callback: takes the authorization started by this same person (a state from anyone else,
 * used before, or expired is refused), exchanges the code with its PKCE verifier and stores the
 * tokens as the org's or the person's credential.
 */
export async function completeConnectionAuthorization(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: { userId: string; state: string; code: string },
): Promise<{ orgId: string; connectionId: string }> {
  const [flowRow] = await db
    .delete(connectionAuthorizations)
    .where(
      and(
        eq(connectionAuthorizations.state_hash, hashState(input.state)),
        eq(connectionAuthorizations.user_id, input.userId),
      ),
    )
    .returning();
  if (!flowRow || flowRow.expires_at.getTime() < Date.now())
    throw AppError.invalidField(
      "state",
      "This authorization is unknown, expired, already used or was started by someone else; start again with Connect",
    );
  const flow = openEnvelope(
    runtime,
    flowRow.flow_ciphertext,
    flowBinding(flowRow),
    "authorization",
  ) as StoredFlow;
  const [connection] = await db
    .select()
    .from(connections)
    .where(and(eq(connections.org_id, flowRow.org_id), eq(connections.id, flowRow.connection_id)));
  if (!connection) throw AppError.notFound("Connection");
  if (!connection.oauth_client_ciphertext)
    throw AppError.conflict(`Connection "${connection.name}" lost its OAuth client; connect again`);
  const client = openEnvelope(
    runtime,
    connection.oauth_client_ciphertext,
    clientBinding(connection),
    "OAuth client",
  ) as StoredClient;
  const fetchFn = oauthFetch(runtime.outbound);
  let tokens: OAuthTokens;
  try {
    tokens = await exchangeAuthorization(flow.server.url, {
      metadata: flow.server.metadata,
      clientInformation: { ...client, redirect_uris: [flow.redirect_uri] },
      authorizationCode: input.code,
      codeVerifier: flow.code_verifier,
      redirectUri: flow.redirect_uri,
      resource: new URL(flow.server.resource),
      fetchFn,
    });
  } catch (error) {
    throw new AppError(
      "UPSTREAM",
      `${flow.server.metadata.issuer} refused the authorization code: ${describeDiscoveryFailure(error)}`,
    );
  }
  const owner = {
    org_id: connection.org_id,
    connection_id: connection.id,
    user_id: flowRow.credential === "shared" ? null : flowRow.user_id,
  };
  const sealed = tokensCiphertext(runtime, owner, tokens, flow.server, null);
  await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(connectionCredentials)
      .set({
        ...sealed,
        needs_reauthorization: false,
        connected_by: flowRow.user_id,
        updated_at: new Date(),
      })
      .where(credentialScope(owner))
      .returning({ id: connectionCredentials.id });
    if (!updated)
      await tx.insert(connectionCredentials).values({
        ...owner,
        ...sealed,
        connected_by: flowRow.user_id,
      });
    if (owner.user_id === null)
      await tx
        .update(connections)
        .set({ needs_reauthorization: false })
        .where(eq(connections.id, connection.id));
    await recordAudit(tx, context, {
      org_id: connection.org_id,
      action: "connection.oauth_connect",
      target_type: "connection",
      target_id: connection.id,
      metadata: { credential: flowRow.credential, user_id: owner.user_id },
    });
  });
  await runtime.pool.evict(poolKey(connection.id, owner.user_id));
  return { orgId: connection.org_id, connectionId: connection.id };
}

/** What became of a removed credential's tokens at the authorization server that issued them. */
export interface UpstreamRevocation {
  /** `unsupported`: the server publishes no revocation endpoint (RFC 7009). */
  outcome: "revoked" | "unsupported" | "failed";
  reason?: string;
}

/**
 * Asks the authorization server that issued `credential` to revoke its tokens (RFC 7009), the
 * refresh token first (which ends the whole grant at most servers), so a credential removed here
 * stops working there too. Best effort: the caller removes the credential whatever the answer and
 * audits the outcome; the requests go through the connections' outbound rules.
 */
async function revokeUpstreamTokens(
  runtime: McpRuntime,
  connection: Connection,
  credential: Credential,
): Promise<UpstreamRevocation> {
  let stored: StoredTokens;
  let client: StoredClient;
  try {
    if (!connection.oauth_client_ciphertext)
      return { outcome: "failed", reason: "the connection has no OAuth client any more" };
    stored = openEnvelope(
      runtime,
      credential.token_ciphertext,
      credentialBinding(credential),
      "OAuth tokens",
    ) as StoredTokens;
    client = openEnvelope(
      runtime,
      connection.oauth_client_ciphertext,
      clientBinding(connection),
      "OAuth client",
    ) as StoredClient;
  } catch (error) {
    if (isAppError(error)) return { outcome: "failed", reason: error.message };
    throw error;
  }
  const { metadata } = stored.server;
  // OpenID Provider metadata (the other member of the union) names the endpoint too, untyped.
  const endpoint = "revocation_endpoint" in metadata ? metadata.revocation_endpoint : undefined;
  if (typeof endpoint !== "string") return { outcome: "unsupported" };
  const server = { issuer: metadata.issuer, revocation_endpoint: endpoint };
  const secret = client.client_secret;
  const authentication =
    secret === undefined
      ? None()
      : client.token_endpoint_auth_method === "client_secret_post"
        ? ClientSecretPost(secret)
        : ClientSecretBasic(secret);
  const tokens = [
    { token: stored.refresh_token, hint: "refresh_token" },
    { token: stored.access_token, hint: "access_token" },
  ];
  try {
    for (const { token, hint } of tokens) {
      if (!token) continue;
      const response = await revocationRequest(
        server,
        { client_id: client.client_id },
        authentication,
        token,
        {
          additionalParameters: { token_type_hint: hint },
          signal: AbortSignal.timeout(REVOCATION_TIMEOUT_MS),
          [customFetch]: oauthFetch(runtime.outbound),
          // oauthFetch refuses plain http whenever private networks are blocked.
          [allowInsecureRequests]: true,
        },
      );
      await processRevocationResponse(response);
    }
  } catch (error) {
    return { outcome: "failed", reason: describeDiscoveryFailure(error) };
  }
  return { outcome: "revoked" };
}

function revocationMetadata(revocation: UpstreamRevocation): JsonObject {
  return {
    upstream_revocation: revocation.outcome,
    ...(revocation.reason === undefined ? {} : { upstream_revocation_reason: revocation.reason }),
  };
}

/**
 * Removes the org's or a person's credential, if any, after asking its authorization server to
 * revoke the tokens; calls then need a new Connect. A crash between the two leaves a revoked
 * credential stored: its next call fails to refresh and marks it as needing re-authorization.
 */
export async function disconnectConnectionCredential(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: { connection: Connection; userId: string | null },
): Promise<void> {
  const existing = await loadCredential(db, input.connection, input.userId);
  if (!existing) return;
  const revocation = await revokeUpstreamTokens(runtime, input.connection, existing);
  await db.transaction(async (tx) => {
    const removed = await tx
      .delete(connectionCredentials)
      .where(eq(connectionCredentials.id, existing.id))
      .returning({ id: connectionCredentials.id });
    if (removed.length === 0) return;
    await recordAudit(tx, context, {
      org_id: input.connection.org_id,
      action: "connection.oauth_disconnect",
      target_type: "connection",
      target_id: input.connection.id,
      metadata: {
        credential: input.userId === null ? "shared" : "per_user",
        user_id: input.userId,
        ...revocationMetadata(revocation),
      },
    });
  });
  await runtime.pool.evict(poolKey(input.connection.id, input.userId));
}

/** How many credentials of a deleted connection are revoked at once. */
const REVOCATION_CONCURRENCY = 4;

/**
 * Before an OAuth connection is deleted: revokes every credential it holds (the org's and each
 * member's) at the authorization server, and audits what became of them. Best effort, like a
 * disconnect; the connection is deleted whatever the answers.
 */
export async function revokeConnectionCredentials(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  connection: Connection,
): Promise<void> {
  if (connection.auth !== "oauth") return;
  const credentials = await db
    .select()
    .from(connectionCredentials)
    .where(
      and(
        eq(connectionCredentials.org_id, connection.org_id),
        eq(connectionCredentials.connection_id, connection.id),
      ),
    );
  if (credentials.length === 0) return;
  const counts = { revoked: 0, unsupported: 0, failed: 0 };
  const queue = [...credentials];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift())
      counts[(await revokeUpstreamTokens(runtime, connection, next)).outcome]++;
  };
  await Promise.all(Array.from({ length: REVOCATION_CONCURRENCY }, worker));
  await recordAudit(db, context, {
    org_id: connection.org_id,
    action: "connection.oauth_revoke_all",
    target_type: "connection",
    target_id: connection.id,
    metadata: counts,
  });
}

/** Who a call is made for, and how that was decided, for the refusal that names them. */
export interface CallPrincipal {
  /** The person whose own credential a per-user connection uses; null for none. */
  userId: string | null;
  /** The agent whose "runs as" chose the person (or would have): named in refusals. */
  agentName?: string | undefined;
}

async function emailOf(db: Db, userId: string): Promise<string> {
  const [user] = await db.select({ email: users.email }).from(users).where(eq(users.id, userId));
  return user?.email ?? userId;
}

async function missingCredential(
  db: Db,
  connection: Connection,
  principal: CallPrincipal,
  needsReauthorization: boolean,
): Promise<AppError> {
  const label = `Connection "${connection.name}"`;
  const again = needsReauthorization ? " again (its authorization expired or was revoked)" : "";
  if (connection.oauth_credential_mode === "shared")
    return AppError.conflict(
      `${label} is not connected to its OAuth server: an admin of the organization must connect it${again} with Connect on the connection's page`,
    );
  if (principal.userId === null)
    return AppError.conflict(
      principal.agentName
        ? `${label} uses each member's own account, and agent "${principal.agentName}" runs as no one: an admin must set the agent's "runs as" to a member who has connected it`
        : `${label} uses each member's own account, and this call is made for no member`,
    );
  const email = await emailOf(db, principal.userId);
  return AppError.conflict(
    `${label} uses each member's own account: ${email} must connect it${again} under My connections`,
  );
}

async function loadCredential(
  db: Db,
  connection: Connection,
  userId: string | null,
): Promise<Credential | undefined> {
  const [row] = await db
    .select()
    .from(connectionCredentials)
    .where(
      and(
        eq(connectionCredentials.org_id, connection.org_id),
        credentialScope({ connection_id: connection.id, user_id: userId }),
      ),
    );
  return row;
}

/**
 * Refreshes `seen` unless another call (on any replica) did meanwhile: the row is locked, so one
 * refresh token is spent once. A refusal from the authorization server marks the credential as
 * needing re-authorization (and says so in the audit trail); an unreachable one changes nothing.
 */
async function refreshCredential(
  db: Db,
  runtime: McpRuntime,
  connection: Connection,
  principal: CallPrincipal,
  seen: Credential,
): Promise<Credential> {
  const outcome = await db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(connectionCredentials)
      .where(eq(connectionCredentials.id, seen.id))
      .for("update");
    if (!current) return { refused: "removed" as const };
    if (current.token_ciphertext !== seen.token_ciphertext) return { credential: current };
    if (current.needs_reauthorization) return { refused: "flagged" as const };
    const stored = openEnvelope(
      runtime,
      current.token_ciphertext,
      credentialBinding(current),
      "OAuth tokens",
    ) as StoredTokens;
    let tokens: OAuthTokens | null = null;
    let reason = "no_refresh_token";
    if (stored.refresh_token && connection.oauth_client_ciphertext) {
      const client = openEnvelope(
        runtime,
        connection.oauth_client_ciphertext,
        clientBinding(connection),
        "OAuth client",
      ) as StoredClient;
      try {
        tokens = await refreshAuthorization(stored.server.url, {
          metadata: stored.server.metadata,
          clientInformation: { ...client, redirect_uris: [] },
          refreshToken: stored.refresh_token,
          resource: new URL(stored.server.resource),
          fetchFn: oauthFetch(runtime.outbound),
        });
      } catch (error) {
        if (error instanceof TypeError || isAppError(error))
          return { unreachable: describeDiscoveryFailure(error) };
        // An OAuth error response (invalid_grant and the like): the grant is gone.
        reason =
          error instanceof Error && "errorCode" in error ? String(error.errorCode) : "refused";
      }
    }
    if (tokens) {
      const [updated] = await tx
        .update(connectionCredentials)
        .set({
          ...tokensCiphertext(runtime, current, tokens, stored.server, stored.refresh_token),
          updated_at: new Date(),
        })
        .where(eq(connectionCredentials.id, current.id))
        .returning();
      return updated ? { credential: updated } : { refused: "removed" as const };
    }
    await tx
      .update(connectionCredentials)
      .set({ needs_reauthorization: true, updated_at: new Date() })
      .where(eq(connectionCredentials.id, current.id));
    if (current.user_id === null)
      await tx
        .update(connections)
        .set({ needs_reauthorization: true })
        .where(eq(connections.id, connection.id));
    const metadata: JsonObject = {
      credential: current.user_id === null ? "shared" : "per_user",
      user_id: current.user_id,
      reason,
    };
    await recordAudit(
      tx,
      { actor: { type: "system", id: null }, ip: null, user_agent: null },
      {
        org_id: connection.org_id,
        action: "connection.oauth_reauthorization_required",
        target_type: "connection",
        target_id: connection.id,
        metadata,
      },
    );
    return { refused: "flagged" as const };
  });
  if (outcome.credential) return outcome.credential;
  if (outcome.unreachable !== undefined)
    throw new AppError(
      "UPSTREAM",
      `The authorization server of connection "${connection.name}" could not refresh its token: ${outcome.unreachable}`,
    );
  throw await missingCredential(db, connection, principal, outcome.refused === "flagged");
}

/** A connection's target with its OAuth access token, for one principal. */
export interface AuthorizedTarget {
  target: McpTarget;
  /** The pool key: one session per credential. */
  key: string;
  /** Changes with the token, so a refreshed token gets a new session. */
  version: string;
  credential: Credential;
}

/**
 * Adds the principal's (or the org's) access token to `target`, refreshing it first when it is
 * about to expire. Throws a CONFLICT naming who must connect when there is no usable credential.
 */
export async function authorizeTarget(
  db: Db,
  runtime: McpRuntime,
  connection: Connection,
  target: McpTarget,
  principal: CallPrincipal,
  options: { forceRefresh?: Credential } = {},
): Promise<AuthorizedTarget> {
  const userId = connection.oauth_credential_mode === "per_user" ? principal.userId : null;
  if (connection.oauth_credential_mode === "per_user" && userId === null)
    throw await missingCredential(db, connection, principal, false);
  // A disabled account's own credential is not used, whoever the call is made for it by (an agent
  // that runs as them); checked on every call, as the credential itself is.
  if (userId !== null && (await isUserDisabled(db, userId)))
    throw AppError.conflict(
      `Connection "${connection.name}" uses each member's own account, and ${await emailOf(db, userId)}'s account is disabled`,
    );
  let credential = await loadCredential(db, connection, userId);
  if (!credential || credential.needs_reauthorization)
    throw await missingCredential(db, connection, principal, credential !== undefined);
  const expiring =
    credential.expires_at !== null &&
    credential.expires_at.getTime() - Date.now() < REFRESH_MARGIN_MS;
  if (expiring || options.forceRefresh?.token_ciphertext === credential.token_ciphertext)
    credential = await refreshCredential(db, runtime, connection, principal, credential);
  const tokens = openEnvelope(
    runtime,
    credential.token_ciphertext,
    credentialBinding(credential),
    "OAuth tokens",
  ) as StoredTokens;
  return {
    target: {
      ...target,
      // In `secret`, so error paths redact the token like any other secret.
      secret: {
        headers: {
          ...(target.secret?.headers ?? {}),
          authorization: `Bearer ${tokens.access_token}`,
        },
        env: target.secret?.env ?? {},
      },
    },
    key: poolKey(connection.id, userId),
    version: `${connection.updated_at.toISOString()}:${credential.updated_at.toISOString()}`,
    credential,
  };
}

/** Whether the upstream refused the token itself (401), so a refresh may help. */
export function isTokenRejected(error: unknown): boolean {
  return isMcpCallError(error) && error.kind === "auth" && error.code === 401;
}

/** The org's OAuth connections with the state of the credential each uses for this person. */
export async function listMyConnections(
  db: Db,
  input: { orgId: string; userId: string },
): Promise<
  {
    connection_id: string;
    name: string;
    url: string | null;
    credential_mode: CredentialMode;
    status: "connected" | "needs_reauthorization" | "not_connected";
  }[]
> {
  const rows = await db
    .select()
    .from(connections)
    .where(and(eq(connections.org_id, input.orgId), eq(connections.auth, "oauth")))
    .orderBy(connections.name);
  const credentials = await db
    .select({
      connection_id: connectionCredentials.connection_id,
      user_id: connectionCredentials.user_id,
      needs_reauthorization: connectionCredentials.needs_reauthorization,
    })
    .from(connectionCredentials)
    .where(eq(connectionCredentials.org_id, input.orgId));
  return rows.flatMap((row) => {
    const mode = row.oauth_credential_mode;
    if (!mode) return [];
    const owner = mode === "shared" ? null : input.userId;
    const credential = credentials.find(
      (candidate) => candidate.connection_id === row.id && candidate.user_id === owner,
    );
    return [
      {
        connection_id: row.id,
        name: row.name,
        url: row.url,
        credential_mode: mode,
        status: !credential
          ? ("not_connected" as const)
          : credential.needs_reauthorization
            ? ("needs_reauthorization" as const)
            : ("connected" as const),
      },
    ];
  });
}
