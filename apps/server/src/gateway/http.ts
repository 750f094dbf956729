import { isIP } from "node:net";

const REALM = "mcp-agents-platform";

/**
 * DNS-rebinding defence required of MCP HTTP servers. Only browsers send `Origin`, so requests
 * without one (every native MCP client) pass. With PUBLIC_URL set, that origin is the only one
 * allowed. Without it, the request's own origin is accepted only when its host cannot be a
 * rebound DNS name (an IP literal or `localhost`): a rebinding page is same-origin with its own
 * hostname, so "Origin equals Host" alone would let it through.
 */
export function originAllowed(req: Request, publicOrigin: string | null): boolean {
  const origin = req.headers.get("origin");
  if (origin === null) return true;
  if (publicOrigin !== null) return origin === publicOrigin;
  const own = new URL(req.url);
  if (origin !== own.origin) return false;
  const host = own.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || isIP(host) !== 0;
}

export function readBearerToken(req: Request): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
  return match?.[1] ?? null;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** RFC 6750: no `error` attribute when the request carried no credentials at all. */
export function unauthorized(
  reason: { error: "invalid_token"; description: string } | null,
): Response {
  const challenge = reason
    ? `Bearer realm="${REALM}", error="${reason.error}", error_description="${reason.description}"`
    : `Bearer realm="${REALM}"`;
  return json(
    401,
    {
      error: reason?.error ?? "unauthorized",
      error_description:
        reason?.description ?? "Send the agent's API key as Authorization: Bearer mcpa_…",
    },
    { "www-authenticate": challenge },
  );
}

export function forbiddenOrigin(): Response {
  return json(403, { error: "forbidden", error_description: "Origin not allowed" });
}

/**
 * The gateway keeps no sessions (see server.ts), so there is no standalone SSE stream to open
 * with GET and no session to end with DELETE; the spec allows 405 for both.
 */
export function methodNotAllowed(): Response {
  return json(
    405,
    {
      jsonrpc: "2.0",
      error: { code: -32000, message: "Method not allowed: this endpoint is stateless, use POST" },
      id: null,
    },
    { allow: "POST" },
  );
}

export function jsonRpcError(status: number, code: number, message: string): Response {
  return json(status, { jsonrpc: "2.0", error: { code, message }, id: null });
}

export class BodyTooLarge extends Error {}

/**
 * Reads the body, refusing more than `maxBytes` without buffering the excess. From the Node
 * request when there is one: going through `req.body` would first build a full fetch Request and
 * a web stream around it, a measurable share of a gateway call's CPU.
 */
export async function readBody(
  req: Request,
  maxBytes: number,
  incoming?: AsyncIterable<unknown>,
): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw new BodyTooLarge();
  const source: AsyncIterable<unknown> | null = incoming ?? req.body;
  if (!source) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    const bytes = chunk instanceof Uint8Array ? chunk : Buffer.from(String(chunk));
    size += bytes.byteLength;
    if (size > maxBytes) throw new BodyTooLarge();
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString("utf8");
}
