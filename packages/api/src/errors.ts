import { TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { isAppError, isDatabaseUnavailable, type AppErrorCode } from "@mcp/core";
import type { ErrorCode } from "./contracts/common";

/** The single table from domain error codes to the tRPC code, the wire code and the HTTP status. */
const APP_ERROR_MAP: Record<
  AppErrorCode,
  { trpc: TRPC_ERROR_CODE_KEY; wire: ErrorCode; status: number }
> = {
  BAD_REQUEST: { trpc: "BAD_REQUEST", wire: "BAD_REQUEST", status: 400 },
  UNAUTHORIZED: { trpc: "UNAUTHORIZED", wire: "UNAUTHORIZED", status: 401 },
  FORBIDDEN: { trpc: "FORBIDDEN", wire: "FORBIDDEN", status: 403 },
  NOT_FOUND: { trpc: "NOT_FOUND", wire: "NOT_FOUND", status: 404 },
  CONFLICT: { trpc: "CONFLICT", wire: "CONFLICT", status: 409 },
  PAYLOAD_TOO_LARGE: { trpc: "PAYLOAD_TOO_LARGE", wire: "PAYLOAD_TOO_LARGE", status: 413 },
  RATE_LIMITED: { trpc: "TOO_MANY_REQUESTS", wire: "RATE_LIMITED", status: 429 },
  UPSTREAM: { trpc: "BAD_GATEWAY", wire: "UPSTREAM_ERROR", status: 502 },
  SECRET_UNREADABLE: { trpc: "CONFLICT", wire: "SECRET_UNREADABLE", status: 409 },
  INTERNAL: { trpc: "INTERNAL_SERVER_ERROR", wire: "INTERNAL_SERVER_ERROR", status: 500 },
};

/** tRPC codes that reach the transport without passing through AppError (parse errors, etc.). */
const TRPC_CODE_MAP: Partial<Record<TRPC_ERROR_CODE_KEY, { wire: ErrorCode; status: number }>> = {
  PARSE_ERROR: { wire: "BAD_REQUEST", status: 400 },
  BAD_REQUEST: { wire: "BAD_REQUEST", status: 400 },
  UNAUTHORIZED: { wire: "UNAUTHORIZED", status: 401 },
  FORBIDDEN: { wire: "FORBIDDEN", status: 403 },
  NOT_FOUND: { wire: "NOT_FOUND", status: 404 },
  METHOD_NOT_SUPPORTED: { wire: "METHOD_NOT_ALLOWED", status: 405 },
  CONFLICT: { wire: "CONFLICT", status: 409 },
  PAYLOAD_TOO_LARGE: { wire: "PAYLOAD_TOO_LARGE", status: 413 },
  UNSUPPORTED_MEDIA_TYPE: { wire: "UNSUPPORTED_MEDIA_TYPE", status: 415 },
  TOO_MANY_REQUESTS: { wire: "RATE_LIMITED", status: 429 },
  BAD_GATEWAY: { wire: "UPSTREAM_ERROR", status: 502 },
  SERVICE_UNAVAILABLE: { wire: "SERVICE_UNAVAILABLE", status: 503 },
};

const DATABASE_UNAVAILABLE: WireError = {
  status: 503,
  code: "SERVICE_UNAVAILABLE",
  message: "The database cannot be reached right now; retry shortly",
};

export interface WireError {
  status: number;
  code: ErrorCode;
  message: string;
  issues?: { path: string; message: string }[];
  retry_after_seconds?: number;
  run_id?: string;
  /** CONFLICT of a delete that would remove policies: the ones it would remove. */
  policies?: { id: string; name: string }[];
}

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
}

function isZodLikeError(error: unknown): error is { issues: ZodLikeIssue[] } {
  return (
    typeof error === "object" &&
    error !== null &&
    Array.isArray((error as { issues?: unknown }).issues) &&
    (error as { name?: unknown }).name === "ZodError"
  );
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((segment) => String(segment)).join(".");
}

/** The error as a client may see it: never a stack, SQL or internal message. */
export function toWireError(error: unknown): WireError {
  const cause = error instanceof TRPCError ? error.cause : error;
  if (isDatabaseUnavailable(cause)) return DATABASE_UNAVAILABLE;
  if (isAppError(cause)) {
    const mapped = APP_ERROR_MAP[cause.code];
    if (mapped.status === 500)
      return { status: 500, code: "INTERNAL_SERVER_ERROR", message: "Internal server error" };
    return {
      status: mapped.status,
      code: mapped.wire,
      message: cause.message,
      ...(cause.issues
        ? { issues: cause.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) }
        : {}),
      ...(cause.retryAfterSeconds === undefined
        ? {}
        : { retry_after_seconds: cause.retryAfterSeconds }),
      ...(cause.runId === undefined ? {} : { run_id: cause.runId }),
      ...(cause.policies === undefined ? {} : { policies: cause.policies }),
    };
  }
  if (isZodLikeError(cause)) {
    const issues = cause.issues.map((issue) => ({
      path: formatPath(issue.path),
      message: issue.message,
    }));
    const summary = issues
      .slice(0, 3)
      .map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message))
      .join("; ");
    return { status: 400, code: "BAD_REQUEST", message: `Invalid input: ${summary}`, issues };
  }
  if (error instanceof TRPCError) {
    const mapped = TRPC_CODE_MAP[error.code];
    if (mapped) return { status: mapped.status, code: mapped.wire, message: error.message };
  }
  return { status: 500, code: "INTERNAL_SERVER_ERROR", message: "Internal server error" };
}

/** Domain errors become tRPC errors once, in the base procedure; the cause keeps the AppError. */
export function toTRPCError(error: unknown): unknown {
  if (isAppError(error)) {
    return new TRPCError({
      code: APP_ERROR_MAP[error.code].trpc,
      message: error.message,
      cause: error,
    });
  }
  if (isDatabaseUnavailable(error)) {
    return new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: DATABASE_UNAVAILABLE.message,
      cause: error,
    });
  }
  return error;
}
