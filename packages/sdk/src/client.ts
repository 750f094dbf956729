import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  type TRPCClient,
  type TRPCLink,
} from "@trpc/client";
import { observable } from "@trpc/server/observable";
import { codeForStatus, PlatformError } from "./errors";
import type { PlatformRouter } from "./generated/router";

export type PlatformClient = TRPCClient<PlatformRouter>;

export interface PlatformClientOptions {
  /** Where the platform is served, e.g. `https://mcp.example.com` (the tRPC endpoint is `/trpc` under it). */
  baseUrl: string;
  /**
   * A user's session token from `auth.login` / `auth.register`, or an organization's API token
   * (`mcpt_…`, for automation: it acts with its role in its org), sent as `Authorization: Token …`.
   * A function is called before every request, so a token can be swapped without a new client.
   */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** An agent key (`mcpa_…`), sent as `Authorization: Bearer …`; agent keys may only run tools. */
  apiKey?: string;
  /** Extra headers for every request (tracing, a proxy's auth). */
  headers?: Record<string, string>;
  /** A fetch implementation; the global one by default. */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Send calls made in the same tick as one HTTP request. Off by default: one request per call. */
  batch?: boolean;
}

/** Turns every failure into a PlatformError, so callers branch on one type. */
const platformErrors: TRPCLink<PlatformRouter> =
  () =>
  ({ next, op }) =>
    observable((observer) =>
      next(op).subscribe({
        next: (value) => {
          observer.next(value);
        },
        error: (error) => {
          observer.error(PlatformError.from(error));
        },
        complete: () => {
          observer.complete();
        },
      }),
    );

/**
 * Answers that are not the platform's JSON (a proxy's error page, a wrong baseUrl) become an error
 * body like the platform's, so they reach the caller with their status instead of a parse error.
 */
function normalizeErrors(
  fetchImpl: NonNullable<PlatformClientOptions["fetch"]>,
): NonNullable<PlatformClientOptions["fetch"]> {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    if (response.ok || /\bjson\b/i.test(response.headers.get("content-type") ?? ""))
      return response;
    const text = (await response.text().catch(() => "")).replace(/\s+/g, " ").trim().slice(0, 200);
    const requestId = response.headers.get("x-request-id");
    const body = {
      error: {
        code: -32603,
        message: `HTTP ${response.status} ${response.statusText}${text ? `: ${text}` : ""}`.trim(),
        data: {
          code: codeForStatus(response.status),
          httpStatus: response.status,
          ...(requestId ? { request_id: requestId } : {}),
        },
      },
    };
    return new Response(JSON.stringify(body), {
      status: response.status,
      headers: {
        "content-type": "application/json",
        ...(requestId ? { "x-request-id": requestId } : {}),
      },
    });
  };
}

/**
 * The typed client for the whole API: `client.orgs.list.query()`, `client.tools.run.mutate({…})`.
 * Every call rejects with a PlatformError on failure.
 */
export function createPlatformClient(options: PlatformClientOptions): PlatformClient {
  if (options.token !== undefined && options.apiKey !== undefined) {
    throw new TypeError("Pass either token or apiKey, not both");
  }
  const url = `${options.baseUrl.replace(/\/+$/, "").replace(/\/trpc$/, "")}/trpc`;
  const headers = async (): Promise<Record<string, string>> => {
    const token = typeof options.token === "function" ? await options.token() : options.token;
    const authorization = token
      ? `Token ${token}`
      : options.apiKey
        ? `Bearer ${options.apiKey}`
        : undefined;
    return { ...options.headers, ...(authorization ? { authorization } : {}) };
  };
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const transport = { url, headers, fetch: normalizeErrors(fetchImpl) };
  return createTRPCClient<PlatformRouter>({
    links: [
      platformErrors,
      // The server refuses batches of more than 10 calls (TRPC_MAX_BATCH_SIZE in @mcp/api).
      options.batch ? httpBatchLink({ ...transport, maxItems: 10 }) : httpLink(transport),
    ],
  });
}
