import { z } from "zod";
import { timestamp, uuid } from "./common";

export const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: "Must be a valid email address" }));
/*
 * The length rule only: the server also refuses all-whitespace passwords and those in a list of
 * common ones (packages/core accounts/password-policy.ts), which a browser bundle should not carry.
 */
export const NEW_PASSWORD_MIN_LENGTH = 12;
export const NEW_PASSWORD_MAX_LENGTH = 128;
const newPassword = z
  .string()
  .min(NEW_PASSWORD_MIN_LENGTH, `At least ${NEW_PASSWORD_MIN_LENGTH} characters`)
  .max(NEW_PASSWORD_MAX_LENGTH, `At most ${NEW_PASSWORD_MAX_LENGTH} characters`);
const personName = z.string().trim().max(100, "At most 100 characters");
/** The secret of an e-mailed link (invitation, password reset, verification): 43 base64url characters. */
export const oneTimeToken = z
  .string()
  .trim()
  .min(1, "Required")
  .max(200, "At most 200 characters")
  .regex(/^[A-Za-z0-9_-]+$/, "Not a link token: copy the whole link");

/*
 * Where e-mailed links land in the SPA. The token rides in the fragment, which browsers never send
 * to a server, so it stays out of access logs and Referer headers.
 */
export const INVITATION_PATH = "/invitation";
export const RESET_PASSWORD_PATH = "/reset-password";
export const VERIFY_EMAIL_PATH = "/verify-email";

export const registerInput = z
  .object({
    email: email.describe("Trimmed and lower-cased; unique"),
    password: newPassword.describe(
      `${NEW_PASSWORD_MIN_LENGTH} to ${NEW_PASSWORD_MAX_LENGTH} characters, not only spaces, not one of the most common passwords`,
    ),
    password_confirm: z.string(),
    first_name: personName.optional(),
    last_name: personName.optional(),
    invitation_token: oneTimeToken
      .optional()
      .describe(
        "The token of an invitation to this address: sign-up is then allowed in `invite` mode, and the new account joins the org",
      ),
  })
  .superRefine((value, ctx) => {
    if (value.password !== value.password_confirm) {
      ctx.addIssue({
        code: "custom",
        path: ["password_confirm"],
        message: "Passwords do not match",
      });
    }
    if (value.password.trim().toLowerCase() === value.email) {
      ctx.addIssue({
        code: "custom",
        path: ["password"],
        message: "Password must not be the same as the email",
      });
    }
  });
export type RegisterInput = z.infer<typeof registerInput>;

export const loginInput = z.object({
  email: z.string().trim().toLowerCase().min(1, "Required"),
  // Looser than a new password's rules: accounts made under older rules still sign in.
  password: z.string().min(1, "Required").max(256, "At most 256 characters"),
});
export type LoginInput = z.infer<typeof loginInput>;

export const user = z.object({
  id: uuid,
  email: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  is_platform_admin: z.boolean().describe("Operates the platform (not an org role)"),
  email_verified: z.boolean().describe("The owner followed a link mailed to this address"),
  date_joined: timestamp,
});
export type UserDto = z.infer<typeof user>;

export const authResult = z.object({
  token: z.string().describe("Send as `Authorization: Token <token>` (or `Bearer <token>`)"),
  user,
});

export const logoutAllResult = z.object({
  sessions_ended: z
    .number()
    .int()
    .describe("How many sessions were invalidated, the one that asked included"),
});

export const ssoInfo = z.object({
  enabled: z.boolean().describe("The platform has an OpenID Connect identity provider"),
  display_name: z
    .string()
    .nullable()
    .describe('The provider\'s name for the "Sign in with …" button'),
  start_url: z
    .string()
    .nullable()
    .describe("Where a browser goes to start signing in (a redirect to the provider)"),
});
export type SsoInfoDto = z.infer<typeof ssoInfo>;

export const session = z.object({
  id: uuid.describe("The session's public id (not its token, nor anything derived from it)"),
  current: z.boolean().describe("The session that made this request"),
  created_at: timestamp,
  last_seen_at: timestamp.describe("Updated at most once a minute, so up to a minute behind"),
  expires_at: timestamp,
  ip: z.string().nullable().describe("The address it signed in from"),
  user_agent: z.string().nullable().describe("The browser or client it signed in with"),
});
export type SessionDto = z.infer<typeof session>;

export const endOtherSessionsResult = z.object({
  sessions_ended: z.number().int().describe("How many of your other sessions were ended"),
});

export const changePasswordInput = z
  .object({
    current_password: z.string().min(1, "Required").max(256, "At most 256 characters"),
    new_password: newPassword.describe(
      `${NEW_PASSWORD_MIN_LENGTH} to ${NEW_PASSWORD_MAX_LENGTH} characters, not only spaces, not one of the most common passwords`,
    ),
    new_password_confirm: z.string(),
  })
  .superRefine((value, ctx) => {
    if (value.new_password !== value.new_password_confirm) {
      ctx.addIssue({
        code: "custom",
        path: ["new_password_confirm"],
        message: "Passwords do not match",
      });
    }
  });
export type ChangePasswordInput = z.infer<typeof changePasswordInput>;

export const changePasswordResult = z.object({
  sessions_ended: z
    .number()
    .int()
    .describe("How many of your other sessions were ended; this one stays signed in"),
});

export const SIGNUP_MODES = ["open", "invite", "closed"] as const;

export const authSettings = z.object({
  signup_mode: z
    .enum(SIGNUP_MODES)
    .describe("open: anyone; invite: only through an invitation; closed: no sign-up"),
  signup_allowed_domains: z
    .array(z.string())
    .describe("E-mail domains new accounts must use; empty allows any"),
  setup_required: z
    .boolean()
    .describe("No account exists yet: the first sign-up is allowed whatever the mode"),
  email_enabled: z
    .boolean()
    .describe("The platform can send mail (password reset and verification links work)"),
});
export type AuthSettingsDto = z.infer<typeof authSettings>;

export const passwordResetRequestInput = z.object({ email });

export const passwordResetInput = z
  .object({
    token: oneTimeToken,
    password: newPassword.describe(
      `${NEW_PASSWORD_MIN_LENGTH} to ${NEW_PASSWORD_MAX_LENGTH} characters, not only spaces, not one of the most common passwords`,
    ),
    password_confirm: z.string(),
  })
  .superRefine((value, ctx) => {
    if (value.password !== value.password_confirm)
      ctx.addIssue({
        code: "custom",
        path: ["password_confirm"],
        message: "Passwords do not match",
      });
  });
export type PasswordResetInput = z.infer<typeof passwordResetInput>;

export const emailVerificationInput = z.object({ token: oneTimeToken });
export const emailVerificationResult = z.object({ email: z.string() });

export const MAIL_DELIVERIES = ["sent", "failed", "not_configured"] as const;
export const mailDelivery = z
  .enum(MAIL_DELIVERIES)
  .describe(
    "sent: the SMTP server took the message; failed: it did not; not_configured: no SMTP_URL",
  );
export const emailVerificationRequestResult = z.object({ email_delivery: mailDelivery });
