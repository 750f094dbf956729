import type { Db } from "../db/client";
import type { McpSession, ServerRequestHandling } from "../mcp/client";
import type { McpTarget } from "../mcp/target";
import type { McpRuntime } from "../runtime";
import { connectionTarget, connectionVersion, type Connection } from "./connections";
import { authorizeTarget, isTokenRejected, type CallPrincipal } from "./oauth";

export interface ConnectionSessionOptions {
  /** See McpClientPool.withSession; default true. */
  idempotent?: boolean;
  /** A session of the call's own (relaying the upstream's requests), instead of a pooled one. */
  own?: { serverRequests: ServerRequestHandling; signal?: AbortSignal | undefined };
}

/**
 * Runs `fn` on a session with `connection`, made for `principal`: an OAuth connection sends the
 * org's or that person's access token (refreshed when about to expire) and, when the server
 * answers 401 anyway, refreshes it and tries once more: a 401 means the request was not served.
 */
export async function withConnectionSession<T>(
  db: Db,
  runtime: McpRuntime,
  connection: Connection,
  principal: CallPrincipal,
  /** Also given the target the session was made for (its secrets are what output redaction hides). */
  fn: (session: McpSession, target: McpTarget) => Promise<T>,
  options: ConnectionSessionOptions = {},
): Promise<T> {
  const base = connectionTarget(runtime, connection);
  const run = (key: string, version: string, target: McpTarget) => {
    const withTarget = (session: McpSession) => fn(session, target);
    return options.own
      ? runtime.pool.withOwnSession(
          target,
          options.own.serverRequests,
          withTarget,
          options.own.signal,
        )
      : runtime.pool.withSession(key, version, target, withTarget, {
          idempotent: options.idempotent ?? true,
        });
  };
  if (connection.auth !== "oauth") return run(connection.id, connectionVersion(connection), base);
  const first = await authorizeTarget(db, runtime, connection, base, principal);
  try {
    return await run(first.key, first.version, first.target);
  } catch (error) {
    if (!isTokenRejected(error)) throw error;
  }
  const second = await authorizeTarget(db, runtime, connection, base, principal, {
    forceRefresh: first.credential,
  });
  return run(second.key, second.version, second.target);
}
