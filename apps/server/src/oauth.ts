import {
  assertKnownClient,
  exchangeAuthorizationCode,
  OAUTH_SCOPE,
  oauthEndpoints,
  OAuthProtocolError,
  refreshAccessToken,
  registerOAuthClient,
  revokeOAuthToken,
  startAuthorization,
  type ActionContext,
  type AuthThrottleConfig,
  type Db,
  type OAuthTokenLifetimes,
  type OutboundPolicy,
} from "@mcp/core";
import type { Context as HonoContext, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";

/*
 * The HTTP face of the platform's authorization server (core's oauth/): discovery documents,
 * the authorization endpoint (which hands the person to the SPA's consent page), token,
 * registration and revocation. Answers are OAuth's own JSON (`{error, error_description}`).
 */

// The app's variables (app.ts): the routes mount on its Hono instance.
type Env = {
  Variables: { requestId: string; route: string | undefined; traceId: string | undefined };
};
type Context = HonoContext<Env>;

export const OAUTH_PATHS = {
  authorize: "/oauth/authorize",
  token: "/oauth/token",
  register: "/oauth/register",
  revoke: "/oauth/revoke",
  /** SPA routes. */
  consent: "/oauth/consent",
  error: "/oauth/error",
} as const;

export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";
const AUTHORIZATION_SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The origin the platform is reached at: PUBLIC_URL, or the request's own. */
export function platformOrigin(publicUrl: string | undefined, requestUrl: string | URL): string {
  return new URL(publicUrl ?? requestUrl).origin;
}

/** RFC 9728 3.1: the metadata of `https://host/mcp/{id}` is at `/.well-known/…/mcp/{id}`. */
export function protectedResourceMetadataUrl(origin: string, agentId: string): string {
  return `${origin}${PROTECTED_RESOURCE_METADATA_PATH}/mcp/${encodeURIComponent(agentId)}`;
}

export interface OAuthRouteOptions {
  db: Db;
  outbound: OutboundPolicy;
  publicUrl: string | undefined;
  lifetimes: OAuthTokenLifetimes;
  maxBodyBytes: number;
  origin: (c: Context) => { ip: string | null; user_agent: string | null };
  /** Dynamic registrations are throttled per client address (null: not at all). */
  throttle: AuthThrottleConfig | null;
}

function oauthError(c: HonoContext, error: OAuthProtocolError): Response {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (error.status === 401) headers["www-authenticate"] = 'Basic realm="oauth"';
  if (error.retryAfterSeconds !== null) headers["retry-after"] = String(error.retryAfterSeconds);
  return c.json(error.toJSON(), error.status as 400 | 401 | 429, headers);
}

/** A form body (RFC 6749 3.2); each parameter at most once. */
async function formParams(c: Context): Promise<URLSearchParams> {
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded"))
    throw new OAuthProtocolError(
      "invalid_request",
      "The body must be application/x-www-form-urlencoded",
    );
  const params = new URLSearchParams(await c.req.text());
  for (const name of new Set(params.keys())) {
    if (params.getAll(name).length > 1)
      throw new OAuthProtocolError("invalid_request", `${name} is given more than once`);
  }
  return params;
}

/** Public clients name themselves in the body; a Basic header, where sent, must agree. */
function clientIdOf(c: Context, params: URLSearchParams): string | null {
  const fromBody = params.get("client_id");
  const authorization = c.req.header("authorization");
  const basic = authorization ? /^Basic\s+(\S+)$/i.exec(authorization)?.[1] : undefined;
  if (basic === undefined) return fromBody;
  const decoded = Buffer.from(basic, "base64").toString("utf8");
  const fromHeader = decodeURIComponent(decoded.split(":")[0] ?? "");
  if (fromBody !== null && fromBody !== fromHeader)
    throw new OAuthProtocolError("invalid_client", "client_id differs between header and body");
  return fromHeader;
}

export function mountOAuth(app: Hono<Env>, options: OAuthRouteOptions): void {
  const { db, lifetimes } = options;
  const originOf = (c: Context) => platformOrigin(options.publicUrl, c.req.url);
  const systemContext = (c: Context): ActionContext => ({
    actor: { type: "system", id: null },
    ...options.origin(c),
  });

  // Browser-based MCP clients discover, register and exchange codes from their own origins;
  // none of these endpoints reads cookies, so any origin may.
  const openToAllOrigins = cors({
    origin: "*",
    allowMethods: ["GET", "POST", "OPTIONS"],
    allowHeaders: ["content-type", "authorization", "mcp-protocol-version"],
  });
  app.use("/.well-known/*", openToAllOrigins);
  for (const path of [OAUTH_PATHS.token, OAUTH_PATHS.register, OAUTH_PATHS.revoke]) {
    app.use(path, openToAllOrigins);
    app.use(
      path,
      bodyLimit({
        maxSize: Math.min(options.maxBodyBytes, 64 * 1024),
        onError: (c) =>
          oauthError(c, new OAuthProtocolError("invalid_request", "The request body is too large")),
      }),
    );
  }

  app.get(`${PROTECTED_RESOURCE_METADATA_PATH}/mcp/:agentId`, (c) => {
    const agentId = c.req.param("agentId");
    // Served for any agent id: whether the agent exists is the gateway's to tell its key holders.
    if (!UUID.test(agentId)) return c.notFound();
    const origin = originOf(c);
    return c.json({
      resource: oauthEndpoints(origin).gatewayUrl(agentId.toLowerCase()),
      authorization_servers: [origin],
      bearer_methods_supported: ["header"],
      scopes_supported: [OAUTH_SCOPE],
      resource_name: "MCP Agents Platform agent",
    });
  });

  app.get(AUTHORIZATION_SERVER_METADATA_PATH, (c) => {
    const origin = originOf(c);
    return c.json({
      issuer: origin,
      authorization_endpoint: `${origin}${OAUTH_PATHS.authorize}`,
      token_endpoint: `${origin}${OAUTH_PATHS.token}`,
      registration_endpoint: `${origin}${OAUTH_PATHS.register}`,
      revocation_endpoint: `${origin}${OAUTH_PATHS.revoke}`,
      response_types_supported: ["code"],
      response_modes_supported: ["query"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["none"],
      revocation_endpoint_auth_methods_supported: ["none"],
      scopes_supported: [OAUTH_SCOPE],
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
    });
  });

  app.get(OAUTH_PATHS.authorize, async (c) => {
    const outcome = await startAuthorization(
      db,
      options.outbound,
      oauthEndpoints(originOf(c)),
      new URL(c.req.url).searchParams,
    );
    c.header("cache-control", "no-store");
    switch (outcome.kind) {
      case "consent":
        return c.redirect(`${OAUTH_PATHS.consent}/${outcome.requestId}`, 302);
      case "redirect":
        return c.redirect(outcome.location, 302);
      case "error": {
        const query = new URLSearchParams({
          error: outcome.error,
          error_description: outcome.description,
        });
        return c.redirect(`${OAUTH_PATHS.error}?${query.toString()}`, 302);
      }
    }
  });

  app.post(OAUTH_PATHS.token, async (c) => {
    try {
      const params = await formParams(c);
      const clientId = await assertKnownClient(db, clientIdOf(c, params));
      const grantType = params.get("grant_type");
      const resource = params.get("resource");
      let tokens;
      if (grantType === "authorization_code") {
        const code = params.get("code");
        if (!code) throw new OAuthProtocolError("invalid_request", "code is required");
        tokens = await exchangeAuthorizationCode(db, systemContext(c), lifetimes, {
          code,
          client_id: clientId,
          redirect_uri: params.get("redirect_uri"),
          code_verifier: params.get("code_verifier"),
          resource,
        });
      } else if (grantType === "refresh_token") {
        const refreshToken = params.get("refresh_token");
        if (!refreshToken)
          throw new OAuthProtocolError("invalid_request", "refresh_token is required");
        tokens = await refreshAccessToken(db, systemContext(c), lifetimes, {
          refresh_token: refreshToken,
          client_id: clientId,
          resource,
          scope: params.get("scope"),
        });
      } else {
        throw new OAuthProtocolError(
          grantType ? "unsupported_grant_type" : "invalid_request",
          grantType
            ? `grant_type ${grantType} is not supported (authorization_code, refresh_token)`
            : "grant_type is required",
        );
      }
      return c.json(tokens, 200, { "cache-control": "no-store", pragma: "no-cache" });
    } catch (error) {
      if (error instanceof OAuthProtocolError) return oauthError(c, error);
      throw error;
    }
  });

  app.post(OAUTH_PATHS.register, async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return oauthError(
        c,
        new OAuthProtocolError("invalid_client_metadata", "The body must be JSON"),
      );
    }
    try {
      const client = await registerOAuthClient(db, body, {
        throttle: options.throttle,
        ip: options.origin(c).ip,
      });
      return c.json(client, 201, { "cache-control": "no-store" });
    } catch (error) {
      if (error instanceof OAuthProtocolError) return oauthError(c, error);
      throw error;
    }
  });

  app.post(OAUTH_PATHS.revoke, async (c) => {
    try {
      const params = await formParams(c);
      const clientId = await assertKnownClient(db, clientIdOf(c, params));
      const token = params.get("token");
      if (!token) throw new OAuthProtocolError("invalid_request", "token is required");
      await revokeOAuthToken(db, systemContext(c), { token, client_id: clientId });
      return c.body(null, 200);
    } catch (error) {
      if (error instanceof OAuthProtocolError) return oauthError(c, error);
      throw error;
    }
  });
}
