import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { DATABASE_RETRY_AFTER_SECONDS } from "@mcp/core";
import type { RequestId } from "@modelcontextprotocol/sdk/types.js";

const REALM = "mcp-agents-platform";

/*
 * The gateway is served from the Node request and response directly rather than through Hono's
 * fetch adapter: building a web Request and Response per call (headers copied both ways, a web
 * stream around each body) cost about as much CPU as governing the call. Web objects are made
 * only for the SDK transport, on the requests the gateway does not answer itself.
 */

/** A header as one string, or null: repeated headers are joined as HTTP says they may be. */
export function header(incoming: IncomingMessage, name: string): string | null {
  const value = incoming.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The URL the client asked for, as the fetch adapter would rebuild it. */
export function requestUrl(incoming: IncomingMessage): URL {
  const encrypted = "encrypted" in incoming.socket && incoming.socket.encrypted === true;
  return new URL(
    incoming.url ?? "/",
    `${encrypted ? "https" : "http"}://${header(incoming, "host") ?? "localhost"}`,
  );
}

/**
 * DNS-rebinding defence required of MCP HTTP servers. Only browsers send `Origin`, so requests
 * without one (every native MCP client) pass. With PUBLIC_URL set, that origin is the only one
 * allowed. Without it, the request's own origin is accepted only when its host cannot be a
 * rebound DNS name (an IP literal or `localhost`): a rebinding page is same-origin with its own
 * hostname, so "Origin equals Host" alone would let it through.
 */
export function originAllowed(
  origin: string | null,
  url: () => URL,
  publicOrigin: string | null,
): boolean {
  if (origin === null) return true;
  if (publicOrigin !== null) return origin === publicOrigin;
  const own = url();
  if (origin !== own.origin) return false;
  const host = own.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || isIP(host) !== 0;
}

export function readBearerToken(authorization: string | null): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return match?.[1] ?? null;
}

/** An answer the gateway makes itself: always JSON. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function send(outgoing: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  outgoing
    .writeHead(reply.status, {
      ...reply.headers,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    })
    .end(text);
}

/**
 * RFC 6750: no `error` attribute when the request carried no credentials at all. The challenge
 * names the resource's protected resource metadata (RFC 9728), where OAuth clients discover the
 * platform's authorization server (MCP authorization).
 */
export function unauthorized(
  reason: { error: "invalid_token"; description: string } | null,
  resourceMetadataUrl: string,
): Reply {
  const attributes = [`realm="${REALM}"`, `resource_metadata="${resourceMetadataUrl}"`];
  if (reason)
    attributes.push(`error="${reason.error}"`, `error_description="${reason.description}"`);
  return {
    status: 401,
    body: {
      error: reason?.error ?? "unauthorized",
      error_description:
        reason?.description ??
        "Sign in with OAuth (see the resource metadata) or send an agent key as Authorization: Bearer mcpa_…",
    },
    headers: { "www-authenticate": `Bearer ${attributes.join(", ")}` },
  };
}

export function forbiddenOrigin(): Reply {
  return { status: 403, body: { error: "forbidden", error_description: "Origin not allowed" } };
}

/**
 * GET (the standalone SSE stream) and DELETE belong to a session: without `Mcp-Session-Id` there
 * is nothing to stream or to end, and the spec allows 405.
 */
export function methodNotAllowed(): Reply {
  return {
    status: 405,
    body: {
      jsonrpc: "2.0",
      error: {
        code: -32000,
        message:
          "Method not allowed: POST, or GET and DELETE with the Mcp-Session-Id that initialize returned",
      },
      id: null,
    },
    headers: { allow: "POST, GET, DELETE" },
  };
}

/**
 * MCP's answer to a session id the server does not know: the client starts a new session. Also
 * the answer for another agent's or another key's session, so that nobody learns it exists.
 */
export function sessionNotFound(): Reply {
  return {
    status: 404,
    body: { jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null },
  };
}

export function jsonRpcError(status: number, code: number, message: string): Reply {
  return { status, body: { jsonrpc: "2.0", error: { code, message }, id: null } };
}

/**
 * The JSON-RPC error for a request that could not be served because the database cannot be
 * reached (a server error in JSON-RPC's implementation-defined range; `data` says when to retry).
 */
export const DATABASE_UNAVAILABLE_ERROR = {
  code: -32000,
  message: "Service unavailable: the database cannot be reached; retry shortly",
  data: { retry_after_seconds: DATABASE_RETRY_AFTER_SECONDS },
} as const;

/**
 * The answer when the database is unreachable: each JSON-RPC request gets its error (so the
 * client's pending request fails with it); without any request id to answer, 503.
 */
export function serviceUnavailable(ids: RequestId[], batch: boolean): Reply {
  const headers = { "retry-after": String(DATABASE_RETRY_AFTER_SECONDS) };
  const [only] = ids;
  if (only === undefined) {
    return {
      status: 503,
      body: { jsonrpc: "2.0", error: DATABASE_UNAVAILABLE_ERROR, id: null },
      headers,
    };
  }
  const responses = ids.map((id) => ({ jsonrpc: "2.0", error: DATABASE_UNAVAILABLE_ERROR, id }));
  return { status: 200, body: batch ? responses : responses[0], headers };
}

export class BodyTooLarge extends Error {}

/**
 * Reads the body, refusing more than `maxBytes` without buffering the excess. With plain stream
 * events: an async iterator over the request costs measurably more per call.
 */
export function readBody(incoming: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(header(incoming, "content-length") ?? "0");
  if (declared > maxBytes) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        incoming.off("data", onData);
        incoming.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    incoming.on("data", onData);
    incoming.once("end", () => {
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    incoming.once("error", reject);
  });
}

/** The web Request the SDK transport reads headers from (its body is passed parsed). */
export function webRequest(incoming: IncomingMessage, url: URL): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return new Request(url, { method: incoming.method ?? "POST", headers });
}

/** Writes a web Response (the SDK transport's answer) to the Node response, streaming its body. */
export async function sendWebResponse(
  outgoing: ServerResponse,
  response: Response,
  extraHeaders: Record<string, string> = {},
): Promise<void> {
  const headers: OutgoingHttpHeaders = { ...extraHeaders };
  response.headers.forEach((value, name) => {
    // Connection management is Node's (the SDK says `keep-alive`, which would override the
    // `close` a stopping server answers with).
    if (name !== "connection" && name !== "keep-alive") headers[name] = value;
  });
  outgoing.writeHead(response.status, headers);
  const body = response.body;
  if (!body) {
    outgoing.end();
    return;
  }
  const reader = body.getReader();
  // A client that hangs up stops the stream (and with it the SDK's handling of the request).
  const stop = (): void => {
    reader.cancel().catch(() => undefined);
  };
  outgoing.once("close", stop);
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      outgoing.write(chunk.value);
    }
    outgoing.end();
  } catch {
    outgoing.destroy();
  } finally {
    outgoing.off("close", stop);
  }
}
