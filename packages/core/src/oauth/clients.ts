import { randomBytes } from "node:crypto";
import { OAuthClientMetadataSchema } from "@modelcontextprotocol/sdk/shared/auth.js";
import { eq } from "drizzle-orm";
import { z } from "zod";
import {
  countAttempts,
  throttleAddress,
  throttleKey,
  type AuthThrottleConfig,
} from "../accounts/throttle";
import type { Db } from "../db/client";
import { oauthClients, type OAuthClientMetadata } from "../db/schema";
import { isAppError } from "../errors";
import { assertOutboundUrlAllowed, privateNetworkGuardedFetch } from "../mcp/outbound";
import type { OutboundPolicy } from "../runtime";
import { OAuthProtocolError } from "./errors";

export type OAuthClient = typeof oauthClients.$inferSelect;

const REGISTERED_CLIENT_PREFIX = "mcpc_";
const MAX_REDIRECT_URIS = 10;
const MAX_URI_LENGTH = 2000;
const MAX_CLIENT_NAME_LENGTH = 200;
/** A metadata document is re-read after this long, so a client's changes reach the platform. */
const METADATA_DOCUMENT_MAX_AGE_MS = 60 * 60 * 1000;
const METADATA_DOCUMENT_MAX_BYTES = 64 * 1024;
const METADATA_DOCUMENT_TIMEOUT_MS = 5000;

/** Schemes a browser must never be sent to with a code, whatever a client registers. */
const FORBIDDEN_SCHEMES = new Set([
  "javascript:",
  "data:",
  "vbscript:",
  "file:",
  "blob:",
  "about:",
  "filesystem:",
  "ws:",
  "wss:",
  "ftp:",
]);

function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]";
}

/**
 * Why `uri` cannot be a redirect URI, or null. OAuth 2.1 and RFC 8252: https anywhere, http only
 * to the loopback interface (native apps), or an app's private-use scheme; never a fragment.
 */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length > MAX_URI_LENGTH) return `must be at most ${MAX_URI_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not a valid URL";
  }
  if (url.hash !== "" || uri.includes("#")) return "must not contain a fragment";
  if (url.username !== "" || url.password !== "") return "must not contain credentials";
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname))
    return "may use http:// only for the loopback interface (localhost, 127.0.0.1, [::1])";
  return null;
}

/**
 * The registered redirect URI `requested` stands for, or null. Exact match, except that a loopback
 * URI matches on any port (RFC 8252 7.3: native apps listen on whatever port is free).
 */
export function matchRedirectUri(registered: string[], requested: string): string | null {
  if (registered.includes(requested)) return requested;
  let asked: URL;
  try {
    asked = new URL(requested);
  } catch {
    return null;
  }
  if (asked.protocol !== "http:" || !isLoopbackHost(asked.hostname)) return null;
  for (const candidate of registered) {
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      continue;
    }
    if (url.protocol !== "http:" || !isLoopbackHost(url.hostname)) continue;
    url.port = asked.port;
    if (url.href === asked.href) return requested;
  }
  return null;
}

const clientMetadataInput = OAuthClientMetadataSchema.extend({
  redirect_uris: z.array(z.string()).min(1).max(MAX_REDIRECT_URIS),
  client_name: z.string().max(MAX_CLIENT_NAME_LENGTH).optional(),
});

type ClientMetadataInput = z.infer<typeof clientMetadataInput>;

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid client metadata";
  const field = issue.path.map(String).join(".");
  return field ? `${field}: ${issue.message}` : issue.message;
}

/** Checks what both kinds of client declare; returns the part the platform keeps. */
function acceptedMetadata(
  input: ClientMetadataInput,
  errorCode: "invalid_client_metadata" | "invalid_redirect_uri" | "invalid_client",
): OAuthClientMetadata {
  for (const [index, uri] of input.redirect_uris.entries()) {
    const problem = redirectUriProblem(uri);
    if (problem) {
      throw new OAuthProtocolError(
        errorCode === "invalid_client_metadata" ? "invalid_redirect_uri" : errorCode,
        `redirect_uris.${index}: ${problem}`,
      );
    }
  }
  const unsupportedGrant = input.grant_types?.find(
    (grant) => grant !== "authorization_code" && grant !== "refresh_token",
  );
  if (unsupportedGrant !== undefined) {
    throw new OAuthProtocolError(
      errorCode === "invalid_redirect_uri" ? "invalid_client_metadata" : errorCode,
      `grant_types: ${unsupportedGrant} is not supported (authorization_code, refresh_token)`,
    );
  }
  const unsupportedResponse = input.response_types?.find((type) => type !== "code");
  if (unsupportedResponse !== undefined) {
    throw new OAuthProtocolError(
      errorCode === "invalid_redirect_uri" ? "invalid_client_metadata" : errorCode,
      `response_types: ${unsupportedResponse} is not supported (code)`,
    );
  }
  return {
    redirect_uris: input.redirect_uris,
    ...(input.client_name ? { client_name: input.client_name } : {}),
    ...(input.client_uri ? { client_uri: input.client_uri } : {}),
    ...(input.logo_uri ? { logo_uri: input.logo_uri } : {}),
  };
}

export interface RegisteredClient extends OAuthClientMetadata {
  client_id: string;
  client_id_issued_at: number;
  token_endpoint_auth_method: "none";
  grant_types: string[];
  response_types: string[];
}

/**
 * RFC 7591 Dynamic Client Registration. Every client is public (PKCE protects its codes): a
 * request for a client secret is answered with `token_endpoint_auth_method: none`, as the RFC
 * lets a server replace what it does not support.
 */
export async function registerOAuthClient(
  db: Db,
  body: unknown,
  options: { throttle: AuthThrottleConfig | null; ip: string | null },
): Promise<RegisteredClient> {
  if (options.throttle) {
    const outcome = await countAttempts(db, options.throttle, [
      throttleKey("oauthClientRegistrationPerIp", throttleAddress(options.ip)),
    ]);
    if (!outcome.allowed)
      throw new OAuthProtocolError(
        "temporarily_unavailable",
        `Too many client registrations from your address; try again in ${outcome.retryAfterSeconds} seconds`,
        outcome.retryAfterSeconds,
      );
  }
  const parsed = clientMetadataInput.safeParse(body);
  if (!parsed.success)
    throw new OAuthProtocolError("invalid_client_metadata", firstIssue(parsed.error));
  const metadata = acceptedMetadata(parsed.data, "invalid_client_metadata");
  const clientId = `${REGISTERED_CLIENT_PREFIX}${randomBytes(24).toString("base64url")}`;
  const [row] = await db
    .insert(oauthClients)
    .values({ client_id: clientId, kind: "registered", metadata })
    .returning();
  if (!row) throw new Error("insert returned no client");
  return {
    ...metadata,
    client_id: clientId,
    client_id_issued_at: Math.floor(row.created_at.getTime() / 1000),
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
  };
}

/** Client ID Metadata Documents: the client id is the https URL of the client's metadata. */
export function isMetadataDocumentClientId(clientId: string): boolean {
  return clientId.startsWith("https://") || clientId.startsWith("http://");
}

function metadataDocumentUrl(clientId: string, outbound: OutboundPolicy): URL {
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw new OAuthProtocolError("invalid_client", "client_id is not a valid URL");
  }
  // http only where private networks are open too (development): a document served over http
  // could be swapped in transit, and with it the redirect URIs codes are sent to.
  if (url.protocol !== "https:" && (outbound.blockPrivateNetworks || url.protocol !== "http:"))
    throw new OAuthProtocolError(
      "invalid_client",
      "A client metadata document must be served over https",
    );
  if (url.pathname === "/" || url.hash !== "" || url.username !== "" || url.password !== "")
    throw new OAuthProtocolError(
      "invalid_client",
      "A client metadata URL needs a path and no fragment or credentials",
    );
  return url;
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes)
    throw new OAuthProtocolError("invalid_client", "The client metadata document is too large");
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new OAuthProtocolError("invalid_client", "The client metadata document is too large");
    }
    chunks.push(chunk.value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Fetches a client's metadata document under the same outbound rules as MCP connections (no
 * private or internal addresses when they are blocked, checked on the address dialled; no
 * redirects), so a client id cannot make the platform reach inside its own network.
 */
async function fetchMetadataDocument(
  clientId: string,
  outbound: OutboundPolicy,
): Promise<OAuthClientMetadata> {
  const url = metadataDocumentUrl(clientId, outbound);
  try {
    await assertOutboundUrlAllowed(url.href, outbound);
  } catch (error) {
    if (isAppError(error))
      throw new OAuthProtocolError("invalid_client", `client_id: ${error.message}`);
    throw error;
  }
  const fetcher = outbound.blockPrivateNetworks ? privateNetworkGuardedFetch : fetch;
  let text: string;
  try {
    const response = await fetcher(url, {
      headers: { accept: "application/json" },
      redirect: "error",
      signal: AbortSignal.timeout(METADATA_DOCUMENT_TIMEOUT_MS),
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new OAuthProtocolError(
        "invalid_client",
        `The client metadata document answered HTTP ${response.status}`,
      );
    }
    text = await readCapped(response, METADATA_DOCUMENT_MAX_BYTES);
  } catch (error) {
    if (error instanceof OAuthProtocolError) throw error;
    throw new OAuthProtocolError(
      "invalid_client",
      "The client metadata document could not be fetched",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OAuthProtocolError("invalid_client", "The client metadata document is not JSON");
  }
  const parsed = clientMetadataInput.extend({ client_id: z.string() }).safeParse(json);
  if (!parsed.success)
    throw new OAuthProtocolError(
      "invalid_client",
      `Client metadata document: ${firstIssue(parsed.error)}`,
    );
  if (parsed.data.client_id !== clientId)
    throw new OAuthProtocolError(
      "invalid_client",
      "The client metadata document's client_id is not the URL it was fetched from",
    );
  const method = parsed.data.token_endpoint_auth_method;
  if (method !== undefined && method !== "none")
    throw new OAuthProtocolError(
      "invalid_client",
      `token_endpoint_auth_method ${method} is not supported; metadata-document clients are public (none)`,
    );
  return acceptedMetadata(parsed.data, "invalid_client");
}

/**
 * The client a request names: a registered one, or one identified by its metadata document
 * (fetched, or re-read when the stored copy is older than an hour). Unknown clients are
 * `invalid_client`.
 */
export async function resolveOAuthClient(
  db: Db,
  outbound: OutboundPolicy,
  clientId: string,
): Promise<OAuthClient> {
  const [stored] = await db
    .select()
    .from(oauthClients)
    .where(eq(oauthClients.client_id, clientId))
    .limit(1);
  if (!isMetadataDocumentClientId(clientId)) {
    if (stored?.kind !== "registered")
      throw new OAuthProtocolError("invalid_client", "Unknown client_id");
    return stored;
  }
  if (stored && Date.now() - stored.fetched_at.getTime() < METADATA_DOCUMENT_MAX_AGE_MS)
    return stored;
  const metadata = await fetchMetadataDocument(clientId, outbound);
  const now = new Date();
  const [row] = await db
    .insert(oauthClients)
    .values({ client_id: clientId, kind: "metadata_document", metadata, fetched_at: now })
    .onConflictDoUpdate({
      target: oauthClients.client_id,
      set: { metadata, fetched_at: now },
      setWhere: eq(oauthClients.kind, "metadata_document"),
    })
    .returning();
  if (!row) throw new OAuthProtocolError("invalid_client", "Unknown client_id");
  return row;
}

/** A client already known to the platform (the token and revocation endpoints fetch nothing). */
export async function findOAuthClient(db: Db, clientId: string): Promise<OAuthClient | null> {
  const [row] = await db
    .select()
    .from(oauthClients)
    .where(eq(oauthClients.client_id, clientId))
    .limit(1);
  return row ?? null;
}
