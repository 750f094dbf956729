import { z } from "zod";
import { timestamp, trimmedName, uuid } from "./common";

/** Owners manage people and the org itself; a token never holds that role. */
export const API_TOKEN_ROLES = ["admin", "member", "viewer"] as const;
export const apiTokenRole = z.enum(API_TOKEN_ROLES, {
  error: "Must be admin, member or viewer (a token cannot be an owner)",
});
export const API_TOKEN_MAX_DAYS = 3650;

export const apiToken = z.object({
  id: uuid,
  org_id: uuid,
  name: z.string(),
  role: apiTokenRole,
  prefix: z.string().describe("The first characters of the token, to recognise it"),
  created_by: uuid.nullable().describe("The user who created it; null once that account is gone"),
  created_at: timestamp,
  expires_at: timestamp.nullable().describe("Null: never expires"),
  last_used_at: timestamp
    .nullable()
    .describe("Updated at most once a minute, so up to a minute behind"),
  revoked_at: timestamp.nullable(),
});
export type ApiTokenDto = z.infer<typeof apiToken>;

export const createApiTokenInput = z.object({
  name: trimmedName,
  role: apiTokenRole,
  expires_in_days: z
    .number()
    .int("Must be a whole number of days")
    .min(1, "At least 1 day")
    .max(API_TOKEN_MAX_DAYS, `At most ${API_TOKEN_MAX_DAYS} days`)
    .optional()
    .describe("Days until the token expires; omit for a token that does not expire"),
});
export type CreateApiTokenInput = z.infer<typeof createApiTokenInput>;

export const createdApiToken = apiToken.extend({
  token: z
    .string()
    .describe("Shown once, never again: store it now. Send as `Authorization: Bearer <token>`"),
});
