import {
  AGENT_KEY_PREFIX,
  API_TOKEN_PREFIX,
  authenticateAgentKey,
  authenticateApiToken,
  getMembershipRole,
  getUser,
  SESSION_COOKIE_NAME,
  validateSessionToken,
  type Agent,
  type ApiTokenPrincipal,
  type AuthThrottleConfig,
  type Db,
  type Mailer,
  type McpRuntime,
  type OrgRole,
  type RequestOrigin,
  type SsoProvider,
  type SignupPolicy,
  type User,
  type ValidSession,
} from "@mcp/core";

/** What the API needs from its host; the server builds it once at start. */
export interface ApiDeps {
  db: Db;
  runtime: McpRuntime;
  /** Secure cookies (HTTPS deployments). */
  secureCookies: boolean;
  /** The externally visible base URL; the request's own origin when unset. */
  publicUrl: string | undefined;
  /** Limits on sign-in, sign-up and mailed-link attempts. */
  authThrottle: AuthThrottleConfig;
  /** The platform's OpenID Connect identity provider, when it has one. */
  sso: SsoProvider | null;
  /** Who may create an account. */
  signup: SignupPolicy;
  /** Outgoing mail; null when no SMTP server is configured. */
  mailer: Mailer | null;
  /** How long an invitation link works. */
  invitationTtlSeconds: number;
}

export type Auth =
  | { type: "user"; user: User; session: ValidSession; via: "header" | "cookie" }
  | { type: "agent"; agent: Agent; keyId: string }
  | { type: "token"; token: ApiTokenPrincipal }
  /** A credential that names something but may not be used: the 401 says why (revoked, expired). */
  | { type: "refused"; reason: string }
  | null;

/** Who may act on an organization's resources: a signed-in person or one of its API tokens. */
export type Caller = Extract<Auth, { type: "user" } | { type: "token" }>;

/**
 * The caller's role in an org, null when it has none: a person's membership, or a token's own role
 * in its own org only (every other org is, to a token, an org it is not in).
 */
export async function callerRole(db: Db, caller: Caller, orgId: string): Promise<OrgRole | null> {
  if (caller.type === "token") return caller.token.org_id === orgId ? caller.token.role : null;
  return getMembershipRole(db, orgId, caller.user.id);
}

export interface Context {
  deps: ApiDeps;
  db: Db;
  runtime: McpRuntime;
  auth: Auth;
  origin: RequestOrigin;
  /** Where this platform is reached, for URLs handed to clients (e.g. an agent's MCP endpoint). */
  baseUrl: string;
  requestId: string;
  /** Headers to add to the response (cookies); both transports copy them. */
  resHeaders: Headers;
  /**
   * A REST status other than the procedure's success status, set by the procedure: 202 for a
   * call that waits for approval. tRPC answers 200 whatever is set here.
   */
  response: { status: 202 | null };
  surface: "trpc" | "rest";
}

export interface RequestInfo {
  req: Request;
  resHeaders: Headers;
  requestId: string;
  ip: string | null;
  surface: "trpc" | "rest";
}

/** `Authorization: Token <t>` (the seed's scheme) and `Bearer <t>` are both accepted. */
export function readAuthorizationToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^(?:Token|Bearer)\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index === -1) continue;
    if (part.slice(0, index).trim() === name)
      return decodeURIComponent(part.slice(index + 1).trim());
  }
  return null;
}

export function sessionCookie(token: string, expires: Date, secure: boolean): string {
  return [
    `${SESSION_COOKIE_NAME}=${encodeURIComponent(token)}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Expires=${expires.toUTCString()}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

export function clearedSessionCookie(secure: boolean): string {
  return [
    `${SESSION_COOKIE_NAME}=`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    "Max-Age=0",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

async function authenticate(deps: ApiDeps, info: RequestInfo): Promise<Auth> {
  const headerToken = readAuthorizationToken(info.req.headers.get("authorization"));
  const cookieToken = headerToken
    ? null
    : readCookie(info.req.headers.get("cookie"), SESSION_COOKIE_NAME);
  const token = headerToken ?? cookieToken;
  if (!token) return null;
  if (headerToken?.startsWith(AGENT_KEY_PREFIX)) {
    const authenticated = await authenticateAgentKey(deps.db, headerToken, deps.runtime.calls);
    return authenticated ? { type: "agent", ...authenticated } : null;
  }
  if (headerToken?.startsWith(API_TOKEN_PREFIX)) {
    const authenticated = await authenticateApiToken(deps.db, headerToken);
    return authenticated.ok
      ? { type: "token", token: authenticated.token }
      : { type: "refused", reason: authenticated.reason };
  }
  const session = await validateSessionToken(deps.db, token);
  if (!session) return null;
  if (cookieToken && session.renewed) {
    info.resHeaders.append(
      "set-cookie",
      sessionCookie(cookieToken, session.expires_at, deps.secureCookies),
    );
  }
  const user = await getUser(deps.db, session.userId);
  return { type: "user", user, session, via: headerToken ? "header" : "cookie" };
}

export async function createContext(deps: ApiDeps, info: RequestInfo): Promise<Context> {
  return {
    deps,
    db: deps.db,
    runtime: deps.runtime,
    auth: await authenticate(deps, info),
    baseUrl: (deps.publicUrl ?? new URL(info.req.url).origin).replace(/\/+$/, ""),
    origin: {
      ip: info.ip,
      user_agent: info.req.headers.get("user-agent"),
      request_id: info.requestId,
    },
    requestId: info.requestId,
    resHeaders: info.resHeaders,
    response: { status: null },
    surface: info.surface,
  };
}
