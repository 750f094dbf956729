/** The error codes of RFC 6749, 7591 and 8707 the authorization server answers with. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "unsupported_token_type"
  | "temporarily_unavailable";

/**
 * A refusal in OAuth's own wire format (`{error, error_description}`), which OAuth clients read;
 * the platform's AppError shape is for its API.
 */
export class OAuthProtocolError extends Error {
  override readonly name = "OAuthProtocolError";
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** For a throttled request (429): the seconds to wait, sent as Retry-After. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(description);
  }

  get status(): number {
    if (this.retryAfterSeconds !== null) return 429;
    return this.error === "invalid_client" ? 401 : 400;
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
