import {
  completeSsoSignIn,
  isAppError,
  SSO_CALLBACK_PATH,
  SSO_FLOW_TTL_SECONDS,
  SSO_START_PATH,
  SSO_STATE_COOKIE_NAME,
  startSsoSignIn,
  type Db,
  type McpRuntime,
  type RequestOrigin,
  type SignupPolicy,
  type SsoProvider,
} from "@mcp/core";
import { readCookie, sessionCookie, toWireError } from "@mcp/api";
import type { Context as HonoContext, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { platformOrigin } from "./oauth";

/*
 * Sign-in with the platform's OpenID Connect provider (core's accounts/sso.ts does the protocol):
 * `start` sends the browser to the IdP with the started sign-in's state in an HttpOnly cookie
 * scoped to the callback; the callback signs the browser in (the session cookie the SPA uses)
 * and lands on the SPA's home. A refused callback answers a 4xx page that says why, with a way
 * back to the sign-in page: the browser is the one reading it.
 */

type Env = {
  Variables: { requestId: string; route: string | undefined; traceId: string | undefined };
};

export interface SsoRouteOptions {
  db: Db;
  runtime: McpRuntime;
  provider: SsoProvider;
  /** New accounts made by SSO follow the platform's sign-up policy. */
  signup: SignupPolicy;
  publicUrl: string | undefined;
  secureCookies: boolean;
  origin: (c: HonoContext<Env>) => RequestOrigin;
}

function stateCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${SSO_STATE_COOKIE_NAME}=${value}`,
    `Path=${SSO_CALLBACK_PATH}`,
    "HttpOnly",
    // Lax: sent on the IdP's top-level redirect back, never on another site's subrequests.
    "SameSite=Lax",
    `Max-Age=${maxAgeSeconds}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function refusalPage(message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>Sign-in failed</h1>
<p role="alert">${escapeHtml(message)}</p>
<p><a href="/signin">Back to sign in</a></p>
</body></html>`;
}

export function mountSso(app: Hono<Env>, options: SsoRouteOptions): void {
  const noStore = (c: HonoContext<Env>) => {
    c.header("cache-control", "no-store");
    c.header("referrer-policy", "no-referrer");
  };
  const refuse = (c: HonoContext<Env>, error: unknown) => {
    const wire = toWireError(error);
    noStore(c);
    // Nothing runs, loads or submits from this page; its one style is inline.
    c.header(
      "content-security-policy",
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    c.header("set-cookie", stateCookie("", 0, options.secureCookies));
    return c.html(refusalPage(wire.message), wire.status as ContentfulStatusCode);
  };

  app.get(SSO_START_PATH, async (c) => {
    c.set("route", SSO_START_PATH);
    const origin = platformOrigin(options.publicUrl, c.req.url);
    try {
      const started = await startSsoSignIn(options.db, options.runtime, options.provider, {
        redirectUri: `${origin}${SSO_CALLBACK_PATH}`,
        // Where the sign-in page was sent from (the SPA's `next`); only a path of this platform.
        returnTo: c.req.query("next") ?? null,
      });
      noStore(c);
      c.header(
        "set-cookie",
        stateCookie(started.state, SSO_FLOW_TTL_SECONDS, options.secureCookies),
      );
      return c.redirect(started.authorizationUrl, 303);
    } catch (error) {
      if (!isAppError(error)) throw error;
      return refuse(c, error);
    }
  });

  app.get(SSO_CALLBACK_PATH, async (c) => {
    c.set("route", SSO_CALLBACK_PATH);
    try {
      const { session, returnTo } = await completeSsoSignIn(
        options.db,
        options.runtime,
        options.provider,
        options.signup,
        options.origin(c),
        {
          query: new URL(c.req.url).searchParams,
          cookieState: readCookie(c.req.header("cookie") ?? null, SSO_STATE_COOKIE_NAME),
        },
      );
      noStore(c);
      c.header("set-cookie", stateCookie("", 0, options.secureCookies));
      c.header(
        "set-cookie",
        sessionCookie(session.token, session.expires_at, options.secureCookies),
        {
          append: true,
        },
      );
      return c.redirect(new URL(returnTo, platformOrigin(options.publicUrl, c.req.url)).href, 303);
    } catch (error) {
      if (!isAppError(error)) throw error;
      return refuse(c, error);
    }
  });
}
