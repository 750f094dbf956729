import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { ErrorState, Loading } from "../../components/States";
import { takeLinkToken } from "../../lib/link-token";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

export default function VerifyEmail() {
  const [token] = useState(() => takeLinkToken("verify-token"));
  const verify = useQuery({
    queryKey: ["verify-email", token],
    queryFn: async () => {
      const result = await trpcClient.auth.verifyEmail.mutate({ token: token ?? "" });
      await queryClient.invalidateQueries(trpc.auth.me.pathFilter());
      return result;
    },
    enabled: token !== null,
    retry: false,
    staleTime: Infinity,
  });
  if (verify.isPending && token) return <Loading label="Confirming your address…" />;
  return (
    <div className="card auth__card" aria-labelledby="verify-title">
      <h1 id="verify-title">E-mail address</h1>
      {verify.data ? (
        <p role="status">
          <strong>{verify.data.email}</strong> is confirmed.
        </p>
      ) : (
        <ErrorState
          error={verify.error ?? new Error("This page needs the whole link from the message.")}
          title="This link cannot be used"
        />
      )}
      <p className="auth__switch">
        <Link to="/">Continue</Link>
      </p>
    </div>
  );
}
