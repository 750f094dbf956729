import { AppError } from "../errors";

/** OWASP ASVS 2.1.1/2.1.2: at least 12 characters, and long passphrases allowed. */
const PASSWORD_MIN_LENGTH = 12;
const PASSWORD_MAX_LENGTH = 128;

let commonPasswords: Promise<ReadonlySet<string>> | undefined;

/**
 * ~50,000 of the most used passwords (lower-case). Loaded on first use so a process that never
 * registers anyone, and any bundle that only imports the contracts, does not carry the list.
 */
function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  commonPasswords ??= import("@zxcvbn-ts/language-common").then(
    ({ dictionary }) => new Set(dictionary["passwords-common"]),
  );
  return commonPasswords;
}

/**
 * The rules a new password must meet; signing in with an older, weaker one still works. Throws a
 * BAD_REQUEST naming the `password` field.
 */
export async function assertAcceptablePassword(
  password: string,
  email: string,
  field = "password",
): Promise<void> {
  const problem = await passwordProblem(password, email);
  if (problem) throw AppError.invalidField(field, problem);
}

async function passwordProblem(password: string, email: string): Promise<string | null> {
  // UTF-16 units, as the contract's (and the browser's) length check counts them.
  if (password.length < PASSWORD_MIN_LENGTH) return `At least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `At most ${PASSWORD_MAX_LENGTH} characters`;
  if (password.trim() === "") return "Password must not be only spaces";
  const normalized = password.trim().toLowerCase();
  if (normalized === email.trim().toLowerCase()) {
    return "Password must not be the same as the email";
  }
  if ((await loadCommonPasswords()).has(normalized)) {
    return "This password is one of the most common ones; choose another";
  }
  return null;
}
