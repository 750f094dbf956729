import type { ConnectionTest, SyncOutcome } from "../../lib/api";
import { useMutation } from "@tanstack/react-query";
import { queryClient, trpc } from "../../lib/trpc";

/** Test and sync refresh the connection's status and the tool list, wherever they were started. */
export function useConnectionActions(callbacks: {
  onTested?: (id: string, result: ConnectionTest) => void;
  onSynced?: (id: string, result: SyncOutcome) => void;
}) {
  const test = useMutation(
    trpc.connections.test.mutationOptions({
      onSuccess: async (result, input) => {
        callbacks.onTested?.(input.id, result);
        await queryClient.invalidateQueries(trpc.connections.pathFilter());
      },
    }),
  );
  const sync = useMutation(
    trpc.connections.sync.mutationOptions({
      onSuccess: async (result, input) => {
        callbacks.onSynced?.(input.id, result);
        await Promise.all([
          queryClient.invalidateQueries(trpc.connections.pathFilter()),
          queryClient.invalidateQueries(trpc.tools.pathFilter()),
        ]);
      },
      onError: async () => {
        // A failed sync marks the connection unhealthy on the server.
        await queryClient.invalidateQueries(trpc.connections.pathFilter());
      },
    }),
  );
  return { test, sync };
}
