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
  ) {
    super(description);
  }

  get status(): number {
    return this.error === "invalid_client" ? 401 : 400;
  }

  /** Seconds a throttled client should wait (sent as Retry-After), for 429 answers only. */
  get retryAfterSeconds(): number | null {
    return null;
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/** Too many dynamic registrations from one address: 429 with Retry-After. */
export class RegistrationThrottled extends OAuthProtocolError {
  constructor(private readonly waitSeconds: number) {
    super(
      "temporarily_unavailable",
      `Too many client registrations from your address; try again in ${waitSeconds} seconds`,
    );
  }

  override get status(): number {
    return 429;
  }

  override get retryAfterSeconds(): number {
    return this.waitSeconds;
  }
}
