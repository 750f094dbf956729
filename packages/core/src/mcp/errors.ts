/**
 * Why an operation against an upstream MCP server failed, in terms callers act on:
 *   timeout      no answer within the time budget
 *   unreachable  nothing usable at the address (DNS, refused, TLS, command not found, blocked by policy)
 *   auth         the upstream refused our credentials (HTTP 401/403)
 *   protocol     something answered, but not MCP (HTML page, malformed JSON-RPC, bad result)
 *   closed       the session or process went away, or the caller cancelled
 *   upstream     the server spoke MCP and reported an error (JSON-RPC error, HTTP 5xx)
 */
export type McpCallErrorKind =
  "timeout" | "unreachable" | "auth" | "protocol" | "closed" | "upstream";

/**
 * The only error the MCP client layer throws for upstream trouble. Messages are written for end
 * users and never contain header or environment secrets; the original error is deliberately not
 * attached as `cause` because SDK errors embed raw upstream response bodies.
 */
export class McpCallError extends Error {
  override readonly name = "McpCallError";
  readonly kind: McpCallErrorKind;
  /**
   * The session this happened on is unusable (transport closed, session expired, process exited)
   * while the server itself may be fine: a fresh session can succeed.
   */
  readonly sessionLost: boolean;
  /**
   * The server cannot have acted on the request: it was never sent (the session was already
   * closed) or the server refused it unprocessed (its session had expired). Only then may a call
   * with effects be sent again; a stdio process that died mid-call may have done the work.
   */
  readonly undelivered: boolean;
  /** The upstream HTTP status or JSON-RPC error code, when there was one. */
  readonly code: number | null;

  constructor(
    kind: McpCallErrorKind,
    message: string,
    options: { sessionLost?: boolean; undelivered?: boolean; code?: number | null } = {},
  ) {
    super(message);
    this.kind = kind;
    this.sessionLost = options.sessionLost ?? false;
    this.undelivered = options.undelivered ?? false;
    this.code = options.code ?? null;
  }
}

export function isMcpCallError(error: unknown): error is McpCallError {
  return error instanceof McpCallError;
}

/** True for failures that a new session may fix; see `McpCallError.sessionLost`. */
export function isSessionLost(error: unknown): boolean {
  return error instanceof McpCallError && error.sessionLost;
}

/** True when the request certainly had no effect upstream; see `McpCallError.undelivered`. */
export function isUndelivered(error: unknown): boolean {
  return error instanceof McpCallError && error.undelivered;
}
