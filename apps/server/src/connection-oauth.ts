import {
  completeConnectionAuthorization,
  CONNECTION_OAUTH_CALLBACK_PATH,
  CONNECTION_OAUTH_CLIENT_METADATA_PATH,
  connectionClientMetadata,
  isAppError,
  SESSION_COOKIE_NAME,
  validateSessionToken,
  type Db,
  type McpRuntime,
  type RequestOrigin,
} from "@mcp/core";
import { readCookie } from "@mcp/api";
import type { Context as HonoContext, Hono } from "hono";
import { platformOrigin } from "./oauth";

/*
 * Where upstream authorization servers send the person back after "Connect" (core's
 * connections/oauth.ts). The state names the authorization; the session cookie names the person,
 * and only the person who started it can complete it (a link planted in someone else's browser
 * connects nothing). The answer is always a redirect to the SPA's My connections page, a path of
 * the platform's own: nothing in the request chooses where the browser goes.
 */

type Env = {
  Variables: { requestId: string; route: string | undefined; traceId: string | undefined };
};

/** The SPA page that shows the outcome. */
export const MY_CONNECTIONS_PATH = "/my-connections";

export interface ConnectionOAuthRouteOptions {
  db: Db;
  runtime: McpRuntime;
  publicUrl: string | undefined;
  origin: (c: HonoContext<Env>) => RequestOrigin;
}

export function mountConnectionOAuth(app: Hono<Env>, options: ConnectionOAuthRouteOptions): void {
  // Fetched by authorization servers that take the platform's metadata document URL as its client
  // id: public, and the same for every connection.
  app.get(CONNECTION_OAUTH_CLIENT_METADATA_PATH, (c) => {
    c.set("route", CONNECTION_OAUTH_CLIENT_METADATA_PATH);
    c.header("cache-control", "public, max-age=3600");
    return c.json(connectionClientMetadata(platformOrigin(options.publicUrl, c.req.url)));
  });
  app.get(CONNECTION_OAUTH_CALLBACK_PATH, async (c) => {
    c.set("route", CONNECTION_OAUTH_CALLBACK_PATH);
    const outcome = (params: Record<string, string>) => {
      const target = new URL(MY_CONNECTIONS_PATH, platformOrigin(options.publicUrl, c.req.url));
      for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
      c.header("cache-control", "no-store");
      c.header("referrer-policy", "no-referrer");
      return c.redirect(target.href, 303);
    };
    const token = readCookie(c.req.header("cookie") ?? null, SESSION_COOKIE_NAME);
    const session = token ? await validateSessionToken(options.db, token) : null;
    if (!session)
      return outcome({
        oauth: "error",
        message: "Sign in to the platform in this browser, then connect again",
      });
    const state = c.req.query("state");
    const code = c.req.query("code");
    const upstreamError = c.req.query("error");
    if (upstreamError !== undefined)
      return outcome({
        oauth: "error",
        message: `The authorization server answered ${upstreamError.slice(0, 100)}; nothing was connected`,
      });
    if (!state || !code)
      return outcome({ oauth: "error", message: "The callback carries no state or no code" });
    try {
      const connected = await completeConnectionAuthorization(
        options.db,
        options.runtime,
        { ...options.origin(c), actor: { type: "user", id: session.userId } },
        { userId: session.userId, state, code },
      );
      return outcome({ oauth: "connected", connection_id: connected.connectionId });
    } catch (error) {
      if (!isAppError(error)) throw error;
      return outcome({ oauth: "error", message: error.message });
    }
  });
}
