/**
 * The token of an e-mailed link travels in the URL fragment (`/invitation#<token>`), which the
 * browser never sends to the server. A page that needs it across a sign-in keeps it in this tab's
 * session storage under `key`, and drops it from the address bar.
 */
export function takeLinkToken(key: string): string | null {
  const fromHash = window.location.hash.slice(1);
  if (fromHash) {
    sessionStorage.setItem(key, fromHash);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    return fromHash;
  }
  return sessionStorage.getItem(key);
}

export function forgetLinkToken(key: string): void {
  sessionStorage.removeItem(key);
}
