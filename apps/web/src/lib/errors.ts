import { TRPCClientError } from "@trpc/client";
import type { z } from "zod";

interface ErrorData {
  code?: string;
  httpStatus?: number;
  issues?: { path: string; message: string }[];
  policies?: { id: string; name: string }[];
  request_id?: string;
}

function field(record: object, key: string): unknown {
  return (record as Record<string, unknown>)[key];
}

/*
 * Read by hand rather than with zod: this runs in the app shell, and keeping zod out of it keeps
 * the first download small (zod loads with the first form).
 */
function readErrorData(data: unknown): ErrorData | null {
  if (typeof data !== "object" || data === null) return null;
  const code = field(data, "code");
  const httpStatus = field(data, "httpStatus");
  const requestId = field(data, "request_id");
  const rawIssues = field(data, "issues");
  const issues = Array.isArray(rawIssues)
    ? (rawIssues as unknown[]).flatMap((issue) => {
        if (typeof issue !== "object" || issue === null) return [];
        const path = field(issue, "path");
        const message = field(issue, "message");
        return typeof path === "string" && typeof message === "string" ? [{ path, message }] : [];
      })
    : undefined;
  const rawPolicies = field(data, "policies");
  const policies = Array.isArray(rawPolicies)
    ? (rawPolicies as unknown[]).flatMap((policy) => {
        if (typeof policy !== "object" || policy === null) return [];
        const id = field(policy, "id");
        const name = field(policy, "name");
        return typeof id === "string" && typeof name === "string" ? [{ id, name }] : [];
      })
    : undefined;
  return {
    ...(typeof code === "string" ? { code } : {}),
    ...(policies ? { policies } : {}),
    ...(typeof httpStatus === "number" ? { httpStatus } : {}),
    ...(typeof requestId === "string" ? { request_id: requestId } : {}),
    ...(issues ? { issues } : {}),
  };
}

export interface ErrorInfo {
  message: string;
  code: string | null;
  status: number | null;
  issues: { path: string; message: string }[];
  /** With CONFLICT from deleting an agent or environment: the policies it would remove. */
  policies: { id: string; name: string }[];
  requestId: string | null;
}

/** What a failure that is not the API's error shape says beyond its message. */
const NOTHING_MORE: Omit<ErrorInfo, "message"> = {
  code: null,
  status: null,
  issues: [],
  policies: [],
  requestId: null,
};

/** The parts of any thrown value a screen can show: the API's error shape, or a network failure. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof TRPCClientError) {
    const data = readErrorData((error as TRPCClientError<never>).data) ?? {};
    // No error code means the request never got an answer from the API.
    if (data.code === undefined) {
      const offline = error.message.includes("fetch") || error.message.includes("NetworkError");
      return {
        message: offline
          ? "Cannot reach the server. Check your connection and try again."
          : error.message,
        code: null,
        status: null,
        issues: [],
        policies: [],
        requestId: null,
      };
    }
    return {
      message: error.message,
      code: data.code,
      status: data.httpStatus ?? null,
      issues: data.issues ?? [],
      policies: data.policies ?? [],
      requestId: data.request_id ?? null,
    };
  }
  if (error instanceof Error) return { message: error.message, ...NOTHING_MORE };
  return { message: "Something went wrong", ...NOTHING_MORE };
}

export type FieldErrors = Record<string, string>;

/** First message per dotted path; `prefix` strips a wrapper such as `input.` off server paths. */
export function issuesToFieldErrors(
  issues: readonly { path: string; message: string }[],
  prefix = "",
): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) {
    let path = issue.path;
    if (prefix !== "" && path.startsWith(prefix)) path = path.slice(prefix.length);
    errors[path] ??= issue.message;
  }
  return errors;
}

export function fieldErrorsOf(error: unknown, prefix = ""): FieldErrors {
  return issuesToFieldErrors(errorInfo(error).issues, prefix);
}

type SafeParse<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors };

/** Validates a form's payload with a wire contract, so the messages are the server's own. */
export function validate<S extends z.ZodType>(schema: S, payload: unknown): SafeParse<z.output<S>> {
  const result = schema.safeParse(payload);
  if (result.success) return { ok: true, data: result.data };
  return {
    ok: false,
    errors: issuesToFieldErrors(
      result.error.issues.map((issue) => ({
        path: issue.path.map(String).join("."),
        message: issue.message,
      })),
    ),
  };
}

/**
 * Server-side validation reports argument paths as `input.a.b` (tRPC input) or as JSON pointers
 * (`/a/b`, from the tool's schema validator); the form keys its fields as `a.b`.
 */
export function argumentErrors(issues: readonly { path: string; message: string }[]): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) {
    let path = issue.path;
    if (path === "input") path = "";
    else if (path.startsWith("input.")) path = path.slice("input.".length);
    if (path.startsWith("/")) path = path.slice(1).split("/").join(".");
    errors[path] ??= issue.message;
  }
  return errors;
}
