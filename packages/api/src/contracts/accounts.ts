import { z } from "zod";
import { timestamp, uuid } from "./common";

export const email = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: "Must be a valid email address" }));
const password = z.string().min(8, "At least 8 characters").max(256, "At most 256 characters");
const personName = z.string().trim().max(100, "At most 100 characters");

export const registerInput = z
  .object({
    email: email.describe("Trimmed and lower-cased; unique"),
    password,
    password_confirm: z.string(),
    first_name: personName.optional(),
    last_name: personName.optional(),
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
  password: z.string().min(1, "Required").max(256, "At most 256 characters"),
});
export type LoginInput = z.infer<typeof loginInput>;

export const user = z.object({
  id: uuid,
  email: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  date_joined: timestamp,
});
export type UserDto = z.infer<typeof user>;

export const authResult = z.object({
  token: z.string().describe("Send as `Authorization: Token <token>` (or `Bearer <token>`)"),
  user,
});
