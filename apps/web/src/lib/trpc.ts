import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { TRPC_MAX_BATCH_SIZE } from "@mcp/api/contracts";
import type { AppRouter } from "./api";
import { errorInfo } from "./errors";

// Same-origin `/trpc`: the session cookie is httpOnly and the server refuses cookie mutations
// from other origins, so the SPA never handles a token itself.
export const trpcClient = createTRPCClient<AppRouter>({
  links: [httpBatchLink({ url: "/trpc", maxURLLength: 4000, maxItems: TRPC_MAX_BATCH_SIZE })],
});

function onUnauthorized(error: unknown): void {
  // A session that expired mid-use: refresh `auth.me` so the auth guard sends the user to sign in.
  // Without a signed-in user there is no session to lose: a 401 then answers the request itself
  // (a wrong password), and refreshing `auth.me` would remount the sign-in form, wiping it.
  const signedIn = queryClient.getQueryData(trpc.auth.me.queryKey()) !== undefined;
  if (signedIn && errorInfo(error).code === "UNAUTHORIZED" && !signedOutRecently) {
    signedOutRecently = true;
    void queryClient.invalidateQueries({ queryKey: trpc.auth.me.queryKey() }).finally(() => {
      signedOutRecently = false;
    });
  }
}
let signedOutRecently = false;

export const queryClient = new QueryClient({
  queryCache: new QueryCache({
    onError: (error, query) => {
      // auth.me failing is how the guard learns the session is gone; refetching it would loop.
      const [path] = query.queryKey;
      if (Array.isArray(path) && path.join(".") === "auth.me") return;
      onUnauthorized(error);
    },
  }),
  mutationCache: new MutationCache({ onError: onUnauthorized }),
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      refetchOnWindowFocus: false,
      retry: (failures, error) => {
        const { status } = errorInfo(error);
        // Client errors will not change by asking again; network blips and 5xx might.
        if (status !== null && status < 500) return false;
        return failures < 2;
      },
    },
  },
});

export const trpc = createTRPCOptionsProxy<AppRouter>({ client: trpcClient, queryClient });
