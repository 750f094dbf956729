import { AppError } from "../errors";

/** Postgres error details, found on the error itself or on any `cause` a driver wrapped it in. */
function findPgError(error: unknown): { code?: string; constraint?: string } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const candidate = current as { code?: unknown; constraint?: unknown; cause?: unknown };
    if (typeof candidate.code === "string" && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      return {
        code: candidate.code,
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
 * True when PostgreSQL refused the data itself (SQLSTATE classes 22 and 23: say a `\u0000` in
 * JSON, or a constraint): sending the same statement again can never succeed.
 */
export function isDataError(error: unknown): boolean {
  const code = findPgError(error)?.code;
  return code !== undefined && (code.startsWith("22") || code.startsWith("23"));
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
