import { useMutation } from "@tanstack/react-query";
import { useConfirm } from "../../components/Confirm";
import { useToast } from "../../components/Toast";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

export type CredentialMode = "shared" | "per_user";

/**
 * Connect sends the browser to the server's authorization page; the platform's callback brings it
 * back to My connections with the outcome. Disconnect removes the org's (shared) or the caller's
 * own (per_user) tokens after a confirmation.
 */
export function useOAuthCredential() {
  const confirm = useConfirm();
  const toast = useToast();
  const connect = useMutation(
    trpc.connections.oauthConnect.mutationOptions({
      onSuccess: (started) => {
        window.location.assign(started.authorization_url);
      },
    }),
  );
  const disconnect = (target: { id: string; name: string; credential: CredentialMode }) => {
    confirm({
      title: `Disconnect ${target.name}?`,
      body:
        target.credential === "shared"
          ? "The organization's tokens are removed: calls through this connection fail until an admin connects again."
          : "Your tokens are removed: calls made as you fail until you connect again.",
      confirmLabel: "Disconnect",
      action: async () => {
        await trpcClient.connections.oauthDisconnect.mutate({
          id: target.id,
          credential: target.credential,
        });
        await queryClient.invalidateQueries(trpc.connections.pathFilter());
        toast(`Disconnected ${target.name}`);
      },
    });
  };
  return { connect, disconnect };
}
