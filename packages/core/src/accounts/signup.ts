/**
 * Who may create an account: `open` anyone; `invite` only someone holding a pending invitation
 * for their address; `closed` nobody through sign-up (accounts come from `admin:create`;
 * existing accounts still accept invitations). The first account of an empty platform may always
 * register: it becomes the platform admin.
 */
export const SIGNUP_MODES = ["open", "invite", "closed"] as const;
export type SignupMode = (typeof SIGNUP_MODES)[number];

export interface SignupPolicy {
  mode: SignupMode;
  /** Lower-case domains new accounts and invitations must use; empty allows any. */
  allowedDomains: readonly string[];
}

export const OPEN_SIGNUP: SignupPolicy = { mode: "open", allowedDomains: [] };

/** Exact domain match: `example.com` allows `a@example.com`, not `a@sub.example.com`. */
export function emailDomainAllowed(policy: SignupPolicy, email: string): boolean {
  if (policy.allowedDomains.length === 0) return true;
  const domain = email.slice(email.lastIndexOf("@") + 1).toLowerCase();
  return policy.allowedDomains.includes(domain);
}

export function domainRefusal(policy: SignupPolicy): string {
  return `Only addresses at ${policy.allowedDomains.join(", ")} may join this platform`;
}
