import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { Button } from "../../components/Button";
import { ErrorState, FormError, Loading } from "../../components/States";
import { errorInfo } from "../../lib/errors";
import { forgetLinkToken, takeLinkToken } from "../../lib/link-token";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import SignUp from "./SignUp";

const TOKEN_KEY = "invitation-token";

/**
 * Where an invitation link lands. Signed in with the invited address: accept. Signed out: sign
 * up with that address (joining at once), or sign in and come back here.
 */
export default function Invitation() {
  const [token] = useState(() => takeLinkToken(TOKEN_KEY));
  const navigate = useNavigate();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), retry: false });
  // A POST (the token stays out of URLs), read like a query.
  const lookup = useQuery({
    queryKey: ["invitation-preview", token],
    queryFn: () => trpcClient.invitations.preview.mutate({ token: token ?? "" }),
    enabled: token !== null,
    retry: false,
  });
  const accept = useMutation(
    trpc.invitations.accept.mutationOptions({
      onSuccess: async (joined) => {
        forgetLinkToken(TOKEN_KEY);
        await queryClient.invalidateQueries(trpc.orgs.pathFilter());
        await navigate(`/orgs/${joined.org_id}/overview`, { replace: true });
      },
    }),
  );

  if (!token)
    return (
      <div className="card auth__card">
        <h1>Invitation</h1>
        <p>This page needs the whole link from your invitation; open it again from the message.</p>
      </div>
    );
  if (lookup.isError)
    return (
      <div className="card auth__card">
        <h1>Invitation</h1>
        <ErrorState error={lookup.error} title="This invitation cannot be used" />
      </div>
    );
  if (!lookup.data || me.isPending) return <Loading label="Opening your invitation…" />;
  const invitation = lookup.data;

  if (me.isError) {
    if (errorInfo(me.error).code !== "UNAUTHORIZED")
      return <ErrorState error={me.error} title="Could not reach the platform" />;
    return (
      <>
        <SignUp invitation={{ token, email: invitation.email, org_name: invitation.org_name }} />
        <p className="auth__switch">
          Already have an account for {invitation.email}?{" "}
          <Link to={`/signin?next=${encodeURIComponent("/invitation")}`}>Sign in</Link> and come
          back to accept.
        </p>
      </>
    );
  }

  const mismatch = me.data.email !== invitation.email;
  return (
    <div className="card auth__card" aria-labelledby="invitation-title">
      <h1 id="invitation-title">Join {invitation.org_name}</h1>
      <p>
        You are invited as <strong>{invitation.role}</strong>. The invitation is for{" "}
        <strong>{invitation.email}</strong>.
      </p>
      {mismatch ? (
        <p role="alert" className="text-danger">
          You are signed in as {me.data.email}. Sign out and sign in as {invitation.email} (or sign
          up with it) to accept.
        </p>
      ) : null}
      <FormError error={accept.error} shownAtFields={{}} />
      <Button
        variant="primary"
        className="btn--block"
        disabled={mismatch}
        busy={accept.isPending}
        onClick={() => {
          accept.mutate({ token });
        }}
      >
        Accept and join
      </Button>
    </div>
  );
}
