import { createHash, randomBytes } from "node:crypto";

/**
 * Secrets mailed or handed out as links (invitations, password resets, e-mail verification):
 * 256 random bits, of which the database keeps only the sha256, so a leaked table opens nothing.
 */
export function newOneTimeToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashOneTimeToken(token) };
}

export function hashOneTimeToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
