/*
 * Plain constants, no zod: the SPA's shell imports these, and a module without schemas keeps zod
 * out of its first download.
 */

/**
 * The most calls one tRPC batch request may carry (400 beyond): a batch must not multiply what one
 * request can do (150 sign-in guesses, 1,000 organizations). Clients batch at most this many.
 */
export const TRPC_MAX_BATCH_SIZE = 10;

/** How long the platform waits for an MCP server's answer, in ms, when a connection sets nothing. */
export const CONNECTION_TIMEOUT_DEFAULT_MS = 10_000;
export const CONNECTION_TIMEOUT_MIN_MS = 100;
export const CONNECTION_TIMEOUT_MAX_MS = 300_000;

/** Bounds of a connection's scheduled sync interval, in minutes (a minute to a week). */
export const SYNC_INTERVAL_MIN_MINUTES = 1;
export const SYNC_INTERVAL_MAX_MINUTES = 10_080;

/** A guardrail hook's timeout, in ms: what it is when the policy sets none, and its bounds. */
export const GUARDRAIL_HOOK_TIMEOUT_DEFAULT_MS = 5_000;
export const GUARDRAIL_HOOK_TIMEOUT_MIN_MS = 10;
export const GUARDRAIL_HOOK_TIMEOUT_MAX_MS = 30_000;
/** Redaction patterns per policy, and the length of each. */
export const REDACT_PATTERNS_MAX = 20;
export const REDACT_PATTERN_MAX_LENGTH = 500;
