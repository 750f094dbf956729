/**
 * The one error type domain services throw. Transports (tRPC, REST, the MCP gateway) map `code`
 * to their own status codes in a single table; services never know about HTTP.
 */
export const APP_ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "RATE_LIMITED",
  /** An MCP server the platform called failed or could not be reached. */
  "UPSTREAM",
  /** A stored secret cannot be decrypted (tampered, copied from another row, or its key is gone). */
  "SECRET_UNREADABLE",
  "INTERNAL",
] as const;

export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

/** A problem with one input field, addressed by its path (`["headers", "x-api-key"]`). */
export interface FieldIssue {
  path: (string | number)[];
  message: string;
}

export class AppError extends Error {
  override readonly name = "AppError";
  readonly code: AppErrorCode;
  readonly issues: FieldIssue[] | undefined;
  /** RATE_LIMITED: when to try again (REST sends it as `Retry-After`). */
  readonly retryAfterSeconds: number | undefined;
  /** RATE_LIMITED by a tool run's policy: the run that records the refusal. */
  readonly runId: string | undefined;
  /** CONFLICT of a delete that would remove policies: the ones it would remove. */
  readonly policies: { id: string; name: string }[] | undefined;

  constructor(
    code: AppErrorCode,
    message: string,
    options?: {
      issues?: FieldIssue[];
      cause?: unknown;
      retryAfterSeconds?: number;
      runId?: string;
      policies?: { id: string; name: string }[];
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options?.issues;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.runId = options?.runId;
    this.policies = options?.policies;
  }

  static rateLimited(
    message: string,
    retryAfterSeconds: number,
    options?: { runId?: string },
  ): AppError {
    return new AppError("RATE_LIMITED", message, { retryAfterSeconds, ...options });
  }

  static badRequest(message: string, issues?: FieldIssue[]): AppError {
    return new AppError("BAD_REQUEST", message, issues ? { issues } : undefined);
  }

  /** A single invalid field: the message names it so clients can show it beside the input. */
  static invalidField(path: string | (string | number)[], message: string): AppError {
    const fieldPath = Array.isArray(path) ? path : [path];
    return new AppError("BAD_REQUEST", message, { issues: [{ path: fieldPath, message }] });
  }

  static notFound(what: string): AppError {
    return new AppError("NOT_FOUND", `${what} not found`);
  }

  static conflict(message: string, issues?: FieldIssue[]): AppError {
    return new AppError("CONFLICT", message, issues ? { issues } : undefined);
  }

  static forbidden(message = "Your role does not allow this action"): AppError {
    return new AppError("FORBIDDEN", message);
  }

  static unauthorized(message = "Authentication required"): AppError {
    return new AppError("UNAUTHORIZED", message);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
