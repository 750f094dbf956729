import { STATUS_CODES } from "node:http";
import { SseError } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { McpCallError } from "./errors";
import type { McpTarget } from "./target";
import { redactSecrets } from "./target";

/** What the connection saw besides the error itself; SDK errors alone lose most of the story. */
export class Diagnostics {
  /** The last connection error (fetch or node:http): it keeps errno, address and port that the SDK's own errors drop. */
  lastNetworkError: unknown = null;
  /** Transport-level complaints (unparseable lines, malformed messages) seen while waiting. */
  readonly protocolErrors: string[] = [];
  /** True once `initialize` completed. */
  established = false;
  private stderrTail = "";

  constructor(private readonly stderrLimit = 8 * 1024) {}

  recordProtocolError(message: string): void {
    if (this.protocolErrors.length < 5) this.protocolErrors.push(message);
  }

  appendStderr(chunk: string): void {
    this.stderrTail = (this.stderrTail + chunk).slice(-this.stderrLimit);
  }

  /** The last few stderr lines, for "process exited" messages. */
  stderrSummary(maxChars = 600): string {
    const trimmed = this.stderrTail.trim();
    const tail = trimmed.length > maxChars ? `…${trimmed.slice(-maxChars)}` : trimmed;
    return tail.replace(/\s*\n\s*/g, " | ");
  }
}

export interface TranslationContext {
  target: McpTarget;
  diagnostics: Diagnostics;
  phase: "connect" | "request";
  /** The MCP method involved, for messages such as "invalid tools/list result". */
  operation: string;
  timeoutMs: number;
  timedOut: boolean;
  cancelled: boolean;
  secrets: readonly string[];
}

interface ErrnoDetails {
  code: string;
  message: string;
  address: string | null;
  port: number | null;
  hostname: string | null;
  syscall: string | null;
}

// The SDK raises these codes locally (closed transport, elapsed timeout); they are not upstream errors.
const CONNECTION_CLOSED: number = ErrorCode.ConnectionClosed;
const REQUEST_TIMEOUT: number = ErrorCode.RequestTimeout;

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NODATA",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "EPIPE",
  "EPROTO",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "ENOENT",
  "EACCES",
]);

function isTlsCode(code: string): boolean {
  return (
    code.startsWith("ERR_TLS_") ||
    code.startsWith("ERR_SSL_") ||
    code.startsWith("CERT_") ||
    code === "EPROTO" ||
    code.includes("SELF_SIGNED") ||
    code.startsWith("UNABLE_TO_") ||
    code === "HOSTNAME_MISMATCH"
  );
}

function stringProp(value: object, key: string): string | null {
  const found: unknown = Reflect.get(value, key);
  return typeof found === "string" ? found : null;
}

function numberProp(value: object, key: string): number | null {
  const found: unknown = Reflect.get(value, key);
  return typeof found === "number" ? found : null;
}

/** Digs the errno-style error out of fetch's `TypeError: fetch failed` cause chain. */
export function findErrno(error: unknown, depth = 0): ErrnoDetails | null {
  if (!(error instanceof Error) || depth > 6) return null;
  // undici reports multi-address failures as an AggregateError whose members carry the addresses.
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = findErrno(inner, depth + 1);
      if (found) return found;
    }
  }
  const code = stringProp(error, "code");
  if (code !== null && (NETWORK_CODES.has(code) || isTlsCode(code))) {
    return {
      code,
      message: error.message,
      address: stringProp(error, "address"),
      port: numberProp(error, "port"),
      hostname: stringProp(error, "hostname"),
      syscall: stringProp(error, "syscall"),
    };
  }
  return findErrno(error.cause, depth + 1);
}

/**
 * The private-network guard's refusal to dial (outbound.ts `BlockedAddressError`), found in a
 * cause chain: an address that resolved to a public one when the connection was saved can
 * resolve to an internal one later (DNS rebinding).
 */
function findBlockedDial(error: unknown, depth = 0): Error | null {
  if (!(error instanceof Error) || depth > 6) return null;
  if (stringProp(error, "code") === "EBLOCKEDADDRESS") return error;
  return findBlockedDial(error.cause, depth + 1);
}

function blockedDialError(error: Error): McpCallError {
  return new McpCallError(
    "unreachable",
    `${error.message}; connections to private and internal networks are blocked on this server`,
  );
}

/**
 * fetch refuses the ports the Fetch standard lists as unsafe (1, 9, 25, 6000, …) before dialling,
 * with nothing but "bad port" as the cause.
 */
function fetchBlockedPort(error: unknown): ((target: McpTarget) => McpCallError) | null {
  if (
    !(error instanceof Error) ||
    !(error.cause instanceof Error) ||
    error.cause.message !== "bad port"
  )
    return null;
  return (target) =>
    new McpCallError(
      "unreachable",
      `Port refused by fetch at ${targetHost(target)}: the Fetch standard blocks this port as unsafe; serve MCP on another port`,
    );
}

function targetHost(target: McpTarget): string {
  if (target.url === null) return "the server";
  try {
    return new URL(target.url).host;
  } catch {
    return "the server";
  }
}

function describeErrno(details: ErrnoDetails, target: McpTarget): McpCallError {
  const host = targetHost(target);
  const where =
    details.address !== null
      ? `${details.address}${details.port !== null ? `:${details.port}` : ""}`
      : host;
  if (details.syscall?.startsWith("spawn") === true) {
    const command = target.stdio?.command ?? "";
    if (details.code === "ENOENT")
      return new McpCallError("unreachable", `Command not found: ${command}`);
    if (details.code === "EACCES")
      return new McpCallError("unreachable", `Command is not executable: ${command}`);
  }
  if (isTlsCode(details.code)) {
    const reason = details.code.startsWith("ERR_SSL_")
      ? details.code
      : `${details.message} (${details.code})`;
    const hint =
      details.code === "ERR_SSL_WRONG_VERSION_NUMBER"
        ? "; the server may not speak TLS (try http://)"
        : "";
    return new McpCallError("unreachable", `TLS handshake with ${host} failed: ${reason}${hint}`);
  }
  switch (details.code) {
    case "ECONNREFUSED":
      return new McpCallError("unreachable", `Connection refused at ${where}`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_FAIL":
    case "EAI_NODATA":
      return new McpCallError(
        "unreachable",
        `Could not resolve host ${details.hostname ?? host} (${details.code})`,
      );
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return new McpCallError("unreachable", `Connection to ${where} timed out`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
    case "EADDRNOTAVAIL":
      return new McpCallError("unreachable", `Host unreachable: ${where} (${details.code})`);
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_CLOSED":
      return new McpCallError("unreachable", `Connection to ${where} was reset by the server`);
    default:
      return new McpCallError("unreachable", `Could not reach ${where} (${details.code})`);
  }
}

function statusText(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? "Unknown Status"}`;
}

function fromHttpStatus(status: number, ctx: TranslationContext): McpCallError {
  if (status === 401 || status === 403) {
    return new McpCallError("auth", `Upstream answered ${statusText(status)}`, { code: status });
  }
  if (status === 404 && ctx.phase === "request" && ctx.diagnostics.established) {
    return new McpCallError("closed", `Upstream session expired (answered ${statusText(status)})`, {
      code: status,
      sessionLost: true,
      // The server turned the request away for its unknown session id without running it.
      undelivered: true,
    });
  }
  if (
    ctx.phase === "connect" &&
    status >= 400 &&
    status < 500 &&
    status !== 408 &&
    status !== 429
  ) {
    return new McpCallError(
      "protocol",
      `Server did not speak MCP: it answered ${statusText(status)}`,
      {
        code: status,
      },
    );
  }
  return new McpCallError("upstream", `Upstream answered ${statusText(status)}`, { code: status });
}

function closedMessage(ctx: TranslationContext): string {
  if (ctx.target.transport === "stdio") {
    const stderr = ctx.diagnostics.stderrSummary();
    const when = ctx.phase === "connect" ? " during the MCP handshake" : "";
    return `MCP server process exited${when}${stderr === "" ? "" : `; stderr: ${stderr}`}`;
  }
  return ctx.phase === "connect"
    ? "Connection closed during the MCP handshake"
    : "Connection to the MCP server was closed";
}

function notMcp(ctx: TranslationContext, detail: string): McpCallError {
  return ctx.phase === "connect" || !ctx.diagnostics.established
    ? new McpCallError("protocol", `Server did not speak MCP: ${detail}`)
    : new McpCallError("protocol", `Upstream sent an invalid ${ctx.operation} response: ${detail}`);
}

function truncate(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function translate(error: unknown, ctx: TranslationContext): McpCallError {
  if (error instanceof McpCallError) return error;
  if (ctx.timedOut) {
    const protocolError = ctx.diagnostics.protocolErrors[0];
    if (ctx.phase === "connect" && protocolError !== undefined) return notMcp(ctx, protocolError);
    return new McpCallError("timeout", `Timed out after ${ctx.timeoutMs} ms`);
  }
  if (ctx.cancelled) return new McpCallError("closed", "Cancelled by the caller");

  if (error instanceof McpError) {
    if (error.code === CONNECTION_CLOSED && error.message.endsWith("Connection closed")) {
      return new McpCallError("closed", closedMessage(ctx), {
        sessionLost: ctx.phase === "request",
      });
    }
    if (error.code === REQUEST_TIMEOUT) {
      return new McpCallError("timeout", `Timed out after ${ctx.timeoutMs} ms`);
    }
    const detail = error.message.replace(/^MCP error -?\d+: /, "");
    return new McpCallError("upstream", `Upstream error ${error.code}: ${truncate(detail)}`, {
      code: error.code,
    });
  }

  if (error instanceof StreamableHTTPError) {
    if (error.code !== undefined && error.code >= 100) return fromHttpStatus(error.code, ctx);
    const contentType = /Unexpected content type: (.*)$/.exec(error.message)?.[1];
    if (contentType !== undefined)
      return notMcp(ctx, `it answered with content type ${truncate(contentType, 80)}`);
  }

  if (error instanceof SseError) {
    if (error.message.includes("Invalid content type")) {
      return notMcp(ctx, "its SSE endpoint did not answer with an event stream");
    }
    if (error.code !== undefined && error.code >= 100) return fromHttpStatus(error.code, ctx);
    // EventSource flattens network failures into text; the fetch wrapper kept the real error.
    const blockedDial = findBlockedDial(ctx.diagnostics.lastNetworkError);
    if (blockedDial) return blockedDialError(blockedDial);
    const network = findErrno(ctx.diagnostics.lastNetworkError);
    if (network) return describeErrno(network, ctx.target);
    const blocked = fetchBlockedPort(ctx.diagnostics.lastNetworkError);
    if (blocked) return blocked(ctx.target);
    return new McpCallError(
      "unreachable",
      `Could not open the SSE stream at ${targetHost(ctx.target)}`,
    );
  }

  const blockedDial = findBlockedDial(error);
  if (blockedDial) return blockedDialError(blockedDial);
  const errno = findErrno(error);
  if (errno) return describeErrno(errno, ctx.target);
  const blockedPort = fetchBlockedPort(error) ?? fetchBlockedPort(ctx.diagnostics.lastNetworkError);
  if (blockedPort) return blockedPort(ctx.target);

  if (error instanceof Error) {
    // The legacy SSE transport reports POST failures as plain errors with the status in the text.
    const postStatus = /Error POSTing to endpoint \(HTTP (\d{3})\)/.exec(error.message)?.[1];
    if (postStatus !== undefined) return fromHttpStatus(Number(postStatus), ctx);
    if (error.message === "Not connected") {
      // The SDK refuses to send on a transport it no longer has.
      return new McpCallError("closed", closedMessage(ctx), {
        sessionLost: ctx.phase === "request",
        undelivered: true,
      });
    }
    if (isZodError(error)) return notMcp(ctx, "it sent a message that is not valid MCP JSON-RPC");
    if (error instanceof SyntaxError) return notMcp(ctx, "it sent invalid JSON");
    if (error.message.startsWith("Server's protocol version is not supported")) {
      return new McpCallError("protocol", `Server did not speak MCP: ${truncate(error.message)}`);
    }
    if (error.name === "AbortError")
      return new McpCallError("closed", closedMessage(ctx), { sessionLost: true });
    return new McpCallError("upstream", truncate(error.message));
  }
  return new McpCallError("upstream", "Unknown error from the MCP server");
}

/** Maps any failure from the SDK, fetch or child_process into a secret-free `McpCallError`. */
/**
 * A schema violation: zod's own ZodError, or the `$ZodError` the SDK's zod-compat parse rejects a
 * request with when the result does not fit its schema (SDK path of `tools/call`).
 */
export function isZodError(error: Error): boolean {
  return error.name === "ZodError" || error.name === "$ZodError";
}

export function translateError(error: unknown, ctx: TranslationContext): McpCallError {
  const translated = translate(error, ctx);
  const message = redactSecrets(translated.message, ctx.secrets);
  if (message === translated.message) return translated;
  return new McpCallError(translated.kind, message, {
    sessionLost: translated.sessionLost,
    undelivered: translated.undelivered,
    code: translated.code,
  });
}
