import { findPgError } from "../lib/pg-errors";

/** What clients are told to wait (`Retry-After`) when the database cannot be reached. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Node's socket errors for a peer that refuses, resets, or cannot be reached or resolved. */
const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * What node-postgres and PGlite say when no answer can come: connecting or waiting for a pooled
 * connection timed out, the connection died, the driver stopped waiting for an answer, or the
 * handle is closed (the process is stopping).
 */
const DRIVER_MESSAGES =
  /^(timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|Cannot use a pool after calling end|No answer from the database|PGlite is closed)/;

/**
 * SQLSTATEs of a database that is unreachable, shutting down, out of connections, or that
 * cancelled a statement past `statement_timeout` (57014): retrying later can succeed.
 */
function isUnavailableState(code: string): boolean {
  return (
    code.startsWith("08") || code.startsWith("53") || code.startsWith("57P") || code === "57014"
  );
}

/**
 * True when the error means the database could not be reached or did not answer in time, as
 * opposed to refusing the request: clients get 503 and `Retry-After`, not a 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const sqlState = findPgError(error)?.code;
  if (sqlState !== undefined) return isUnavailableState(sqlState);
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) return true;
    if (DRIVER_MESSAGES.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}
