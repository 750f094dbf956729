import { useQuery } from "@tanstack/react-query";
import { Navigate, Outlet, useLocation, useSearchParams } from "react-router";
import { ErrorState, Loading } from "../components/States";
import { errorInfo } from "../lib/errors";
import { trpc } from "../lib/trpc";

export function useMe() {
  return useQuery({ ...trpc.auth.me.queryOptions(), staleTime: 60_000, retry: false });
}

/** Signed-in area: anyone else goes to sign in, and comes back to where they were afterwards. */
export function RequireAuth() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <Loading label="Checking your session…" />;
  if (me.isError) {
    if (errorInfo(me.error).code === "UNAUTHORIZED") {
      const next = `${location.pathname}${location.search}`;
      return (
        <Navigate
          to={next === "/" ? "/signin" : `/signin?next=${encodeURIComponent(next)}`}
          replace
        />
      );
    }
    return (
      <div className="page">
        <ErrorState
          error={me.error}
          onRetry={() => void me.refetch()}
          title="Could not reach the platform"
        />
      </div>
    );
  }
  return <Outlet />;
}

/** Sign-in and sign-up: someone already signed in is sent on. */
export function GuestOnly() {
  const me = useMe();
  const [params] = useSearchParams();
  // Only the first check: a later refetch must not unmount the form someone is typing in.
  if (me.isPending && me.errorUpdateCount === 0) return <Loading label="Checking your session…" />;
  if (me.isSuccess) return <Navigate to={safeNext(params.get("next"))} replace />;
  return <AuthShell />;
}

/**
 * The pages an e-mailed link opens (invitation, password reset, verification): reachable signed
 * in or not, in the sign-in page's frame.
 */
export function AuthShell() {
  return (
    <main className="auth">
      <div className="auth__brand">
        <span className="logo" aria-hidden="true">
          M
        </span>
        MCP Agents Platform
      </div>
      <Outlet />
    </main>
  );
}

/** Only same-site paths: `next` comes from the URL, so it must not send the user elsewhere. */
export function safeNext(next: string | null): string {
  if (next?.startsWith("/") && !next.startsWith("//")) return next;
  return "/";
}
