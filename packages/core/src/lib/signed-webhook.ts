import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { privateNetworkGuardedFetch } from "../mcp/outbound";
import type { OutboundPolicy } from "../runtime";

/**
 * The one way the platform POSTs to a tenant's endpoint (the audit webhook, guardrail hooks):
 * JSON signed with the endpoint's secret, through the private-network guard when it is on, no
 * redirects (one could lead anywhere, the private network included). Each request carries
 *   `X-<Prefix>-Id`         a fresh id per attempt,
 *   `X-<Prefix>-Timestamp`  Unix seconds when it was signed,
 *   `X-<Prefix>-Signature`  `v1=` + hex HMAC-SHA256, keyed with the secret, of `<timestamp>.<raw body>`.
 * Receivers recompute it over the raw body, compare in constant time and refuse old timestamps.
 */

/** `v1=<hex>`: HMAC-SHA256 of `<timestamp>.<body>` under `secret`. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** A new signing secret (`whsec_…`, 256 random bits). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

/** The header names of one kind of signed request, e.g. `x-audit-webhook-signature`. */
function webhookHeaders(prefix: string) {
  return {
    id: `x-${prefix}-id`,
    timestamp: `x-${prefix}-timestamp`,
    signature: `x-${prefix}-signature`,
  } as const;
}

export interface SignedPost {
  url: string;
  secret: string;
  /** The JSON body, already serialised: the signature covers these exact bytes. */
  body: string;
  /** Names the headers (`x-<prefix>-signature`, …) and the user agent. */
  prefix: string;
  /** Ends the request, the answer's body included. */
  signal: AbortSignal;
}

export function postSignedWebhook(
  outbound: Pick<OutboundPolicy, "blockPrivateNetworks">,
  request: SignedPost,
): Promise<Response> {
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = webhookHeaders(request.prefix);
  const fetcher = outbound.blockPrivateNetworks ? privateNetworkGuardedFetch : fetch;
  return fetcher(request.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": `mcp-agents-platform ${request.prefix}`,
      [headers.id]: randomUUID(),
      [headers.timestamp]: String(timestamp),
      [headers.signature]: signWebhook(request.secret, timestamp, request.body),
    },
    body: request.body,
    redirect: "manual",
    signal: request.signal,
  });
}

/** Why a request (or decrypting its secret) failed, in words an admin can act on. */
export function webhookErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch reports "fetch failed"; what failed (refused, blocked, timed out) is its cause.
  const cause: unknown = error.cause;
  const detail = cause instanceof Error ? cause.message : "";
  if (error.name === "TimeoutError") return "The receiver did not answer in time";
  return detail ? `${error.message}: ${detail}` : error.message;
}
