import { TRPCClientError } from "@trpc/client";
import type { ErrorShape, PlatformRouter } from "./generated/router";

/** The platform's error codes, as in the REST error body's `code`. */
export type ErrorCode = ErrorShape["data"]["code"];

/** An error code, or NETWORK_ERROR when no answer from the platform arrived (DNS, refused, aborted). */
export type PlatformErrorCode = ErrorCode | "NETWORK_ERROR";

export interface ErrorIssue {
  /** Dotted path of the input field at fault, e.g. `secret.headers.Authorization`. */
  path: string;
  message: string;
}

export const ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "METHOD_NOT_ALLOWED",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "RATE_LIMITED",
  "UPSTREAM_ERROR",
  "SECRET_UNREADABLE",
  "INTERNAL_SERVER_ERROR",
  "SERVICE_UNAVAILABLE",
] as const satisfies readonly ErrorCode[];

// Fails to compile when the server gains an error code this list lacks.
type AssertTrue<T extends true> = T;
type _AllCodesListed = AssertTrue<
  [Exclude<ErrorCode, (typeof ERROR_CODES)[number]>] extends [never] ? true : false
>;

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
  503: "SERVICE_UNAVAILABLE",
};

/** The code an HTTP status implies, for answers that carry none (a proxy's error page). */
export function codeForStatus(status: number): ErrorCode {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST");
}

function responseOf(
  meta: Record<string, unknown> | undefined,
): { status: number; headers: { get(name: string): string | null } } | undefined {
  const response = meta?.response;
  if (typeof response !== "object" || response === null) return undefined;
  const { status, headers } = response as { status?: unknown; headers?: unknown };
  if (
    typeof status !== "number" ||
    typeof headers !== "object" ||
    headers === null ||
    !("get" in headers)
  ) {
    return undefined;
  }
  return { status, headers: headers as { get(name: string): string | null } };
}

/**
 * What every failed call of a platform client rejects with. Branch on `code`; `issues` names the
 * input fields at fault for BAD_REQUEST; quote `requestId` when reporting a problem.
 *
 * It is a TRPCClientError too, so tRPC tooling (React Query, etc.) treats it as usual.
 */
export class PlatformError extends TRPCClientError<PlatformRouter> {
  readonly code: PlatformErrorCode;
  /** The HTTP status of the answer; 0 when none arrived. */
  readonly status: number;
  readonly issues: ErrorIssue[];
  readonly requestId: string | undefined;

  constructor(
    message: string,
    options: ConstructorParameters<typeof TRPCClientError<PlatformRouter>>[1] = {},
  ) {
    super(message, options);
    // TRPCClientError pins the prototype to its own; subclasses must restore theirs.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = "PlatformError";
    const response = responseOf(this.meta);
    const data = this.data;
    this.status = data?.httpStatus ?? response?.status ?? 0;
    this.code =
      data?.code ??
      (response ? (CODE_BY_STATUS[response.status] ?? "INTERNAL_SERVER_ERROR") : "NETWORK_ERROR");
    this.issues = data?.issues ?? [];
    this.requestId = data?.request_id ?? response?.headers.get("x-request-id") ?? undefined;
  }

  /** Wraps anything a tRPC call may throw; a PlatformError is returned as is. */
  static override from(cause: unknown): PlatformError {
    if (cause instanceof PlatformError) return cause;
    if (cause instanceof TRPCClientError) {
      const error = cause as TRPCClientError<PlatformRouter>;
      return new PlatformError(error.message, {
        result: error.shape ? { error: error.shape } : undefined,
        cause: error.cause,
        meta: error.meta,
      });
    }
    const error = cause instanceof Error ? cause : new Error(String(cause));
    return new PlatformError(error.message, { cause: error });
  }
}

/** True for a PlatformError; with `code`, only for that code (or any of those codes). */
export function isPlatformError(
  error: unknown,
  code?: PlatformErrorCode | readonly PlatformErrorCode[],
): error is PlatformError {
  if (!(error instanceof PlatformError)) return false;
  if (code === undefined) return true;
  return typeof code === "string" ? error.code === code : code.includes(error.code);
}
