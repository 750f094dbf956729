import type { ReactNode } from "react";
import { useSearchParams } from "react-router";

/** The page around the OAuth steps a person sees, in the sign-in page's style. */
export function OAuthFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth">
      <div className="auth__brand">
        <span className="logo" aria-hidden="true">
          M
        </span>
        MCP Agents Platform
      </div>
      <section className="card auth__card stack" aria-labelledby="oauth-title">
        <h1 id="oauth-title">{title}</h1>
        {children}
      </section>
    </main>
  );
}

/**
 * Where the authorization endpoint sends the browser when it cannot trust the client or its
 * redirect URI: the error is shown here, never sent on (that would make the platform an open
 * redirector).
 */
export default function OAuthError() {
  const [params] = useSearchParams();
  return (
    <OAuthFrame title="This sign-in request cannot be completed">
      <p>The MCP client sent a request the platform cannot accept:</p>
      <p className="mono small" role="alert">
        {params.get("error") ?? "invalid_request"}: {params.get("error_description") ?? ""}
      </p>
      <p className="muted small">Check the client&apos;s configuration, then try again from it.</p>
    </OAuthFrame>
  );
}
