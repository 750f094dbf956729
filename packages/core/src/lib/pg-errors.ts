import { AppError } from "../errors";

/** Postgres error details, found on the error itself or on any `cause` a driver wrapped it in. */
export function findPgError(
  error: unknown,
): { code: string; message: string; constraint?: string } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const candidate = current as {
      code?: unknown;
      message?: unknown;
      constraint?: unknown;
      cause?: unknown;
    };
    if (typeof candidate.code === "string" && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      return {
        code: candidate.code,
        message: typeof candidate.message === "string" ? candidate.message : "",
        ...(typeof candidate.constraint === "string" ? { constraint: candidate.constraint } : {}),
      };
    }
    current = candidate.cause;
  }
  return undefined;
}

/** True for a unique violation, optionally of one named constraint/index. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pgError = findPgError(error);
  if (pgError?.code !== "23505") return false;
  return constraint === undefined || pgError.constraint === constraint;
}

export function isForeignKeyViolation(error: unknown): boolean {
  return findPgError(error)?.code === "23503";
}

/**
 * SQLSTATE classes of failures that say nothing about the statement: the connection (08), a
 * transaction rolled back to be retried (40), resources (53), a lock or state (55), a cancel or
 * shutdown (57), the system (58), an aborted or timed-out transaction (25).
 */
const TRANSIENT_CLASSES = new Set(["08", "25", "40", "53", "55", "57", "58"]);

/**
 * True when PostgreSQL refused the statement itself (a `\u0000` in JSON, a constraint, a value
 * nested too deep for it, …): sending the same statement again can never succeed. Errors without
 * a SQLSTATE (the network, the pool) and the transient classes above are worth retrying.
 */
export function isRefusedStatement(error: unknown): boolean {
  const code = findPgError(error)?.code;
  return code !== undefined && !TRANSIENT_CLASSES.has(code.slice(0, 2));
}

/**
 * What went wrong in a few words, for a record or a log line: PostgreSQL's own message and code,
 * or the innermost cause's message. Never a driver's wrapper message, which repeats the whole
 * statement and its parameters (the data).
 */
export function briefError(error: unknown, maxLength = 200): string {
  const pgError = findPgError(error);
  let text: string;
  if (pgError) text = `${pgError.message} (SQLSTATE ${pgError.code})`;
  else {
    let innermost: unknown = error;
    for (let depth = 0; depth < 5; depth++) {
      const cause = (innermost as { cause?: unknown } | null)?.cause;
      if (!(cause instanceof Error)) break;
      innermost = cause;
    }
    text = innermost instanceof Error ? innermost.message : String(innermost);
  }
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > maxLength ? `${line.slice(0, maxLength - 1)}…` : line;
}

/**
 * Maps unique violations of the named constraints to 409s naming the field at fault; any other
 * error passes through unchanged, so callers can `throw toConflict(error)`.
 */
export function conflictMapper(constraints: Record<string, { field: string; message: string }>) {
  return (error: unknown): unknown => {
    for (const [constraint, { field, message }] of Object.entries(constraints)) {
      if (isUniqueViolation(error, constraint))
        return AppError.conflict(message, [{ path: [field], message }]);
    }
    return error;
  };
}
