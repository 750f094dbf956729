import { z } from "zod";
import { pageInput, timestamp, uuid } from "./common";
import { listAuditEventsInput } from "./runs";

export const platformOrg = z.object({
  id: uuid,
  name: z.string(),
  slug: z.string(),
  member_count: z.number().int(),
  created_at: timestamp,
});
export type PlatformOrgDto = z.infer<typeof platformOrg>;

export const platformUser = z.object({
  id: uuid,
  email: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  is_platform_admin: z.boolean(),
  email_verified_at: timestamp.nullable(),
  disabled: z
    .boolean()
    .describe("Locked out by a platform admin: no sign-in, sessions, API tokens or OAuth grants"),
  disabled_at: timestamp.nullable(),
  last_sign_in_at: timestamp
    .nullable()
    .describe("When a session was last opened for the account (any sign-in method)"),
  date_joined: timestamp,
});
export type PlatformUserDto = z.infer<typeof platformUser>;

export const platformListInput = pageInput;
export const platformUserInput = z.object({ user_id: uuid });
export const platformAuditEventsInput = listAuditEventsInput;
