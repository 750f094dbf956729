import { z } from "zod";

/*
 * Browser-safe wire contracts: this folder imports nothing but zod, so the SPA and the SDK can use
 * the same schemas the server validates with. Field names are snake_case, as on the wire.
 */

export const uuid = z.uuid({ error: "Must be a UUID" });
/**
 * An ISO 8601 date-time with offset in the years 0001 to 9999 (in UTC): what every client library
 * and the database can represent. Year 0000 and offsets that cross 9999 are refused.
 */
export const timestamp = z.iso.datetime({ offset: true }).refine((value) => {
  const year = new Date(value).getUTCFullYear();
  return year >= 1 && year <= 9999;
}, "Must be a date between the years 0001 and 9999");
export const trimmedName = z
  .string()
  .trim()
  .min(1, "Must not be empty")
  .max(100, "At most 100 characters");
export const slug = z
  .string()
  .trim()
  .min(1, "Must not be empty")
  .max(63, "At most 63 characters")
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "Lower-case letters, digits and single dashes only");
export const description = z.string().max(2000, "At most 2000 characters");

/** Query strings arrive as text over REST and as numbers over tRPC; both are accepted. */
export const pageInput = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .optional()
    .describe("Page size, 1 to 200 (default 50)"),
  cursor: z.string().max(200).optional().describe("The next_cursor of the previous page"),
});
export type PageInput = z.infer<typeof pageInput>;

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    results: z.array(item),
    next_cursor: z
      .string()
      .nullable()
      .describe("Pass as ?cursor= for the next page; null on the last page"),
  });
}

/** `true`/`false` in a query string, or a real boolean over tRPC. */
export const queryBoolean = z
  .union([z.boolean(), z.enum(["true", "false"])])
  .transform((value) => value === true || value === "true");

export const orgIdInput = z.object({ org_id: uuid });

/** Deletes that would remove policies with what they delete are refused unless this is true. */
export const policyRemovalInput = z.object({
  confirm_policy_removal: queryBoolean
    .optional()
    .describe(
      "Also delete the policies that name it (each audited); without it a delete that would remove policies is refused with 409 listing them",
    ),
});
export const idInput = z.object({ id: uuid });

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
  /** The database cannot be reached right now; `Retry-After` says when to try again. */
  "SERVICE_UNAVAILABLE",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const errorIssue = z.object({
  path: z.string().describe("Dotted path of the field at fault, e.g. `headers.authorization`"),
  message: z.string(),
});

/** The one error body of every REST response that is not a success. */
export const errorBody = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  issues: z.array(errorIssue).optional(),
  retry_after_seconds: z
    .number()
    .int()
    .optional()
    .describe(
      "With RATE_LIMITED: seconds until a call is possible again (also the Retry-After header)",
    ),
  run_id: uuid
    .optional()
    .describe("With RATE_LIMITED from a tool run: the recorded run (status rate_limited)"),
  policies: z
    .array(z.object({ id: uuid, name: z.string() }))
    .optional()
    .describe(
      "With CONFLICT from deleting an agent or environment: the policies the delete would remove",
    ),
  request_id: z.string().optional(),
});
export type ErrorBody = z.infer<typeof errorBody>;

/** Any JSON object (schemas, tool inputs): values are JSON, checked by zod. */
export const jsonObject = z.record(z.string(), z.json());

export const httpUrl = z
  .url({ protocol: /^https?$/, error: "Must be an http:// or https:// URL" })
  .max(2048, "At most 2048 characters");
