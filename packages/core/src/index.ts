export * from "./errors";
export * from "./db/client";
export * from "./db/pglite-lock";
export { CANCEL_CHANNEL, type ChangeFeed, type ChangeListener } from "./db/changes";
export * from "./db/unavailable";
export type { JsonObject, JsonValue, McpTaskError, RateLimit } from "./db/schema";
export * from "./lib/context";
export * from "./lib/ids";
export * from "./lib/input-defects";
export * from "./lib/pagination";
export * from "./runtime";
export * from "./telemetry";
export * from "./audit/audit";
export * from "./audit/chain";
export * from "./audit/webhooks";
export * from "./accounts/accounts";
export * from "./accounts/sessions";
export * from "./accounts/sso";
export * from "./accounts/signup";
export * from "./accounts/recovery";
export * from "./mail/mailer";
export { hashPassword } from "./accounts/passwords";
export {
  DEFAULT_AUTH_THROTTLE,
  pruneAuthThrottles,
  throttleAddress,
  throttleKey,
  type AuthThrottleConfig,
  type ThrottleRule,
} from "./accounts/throttle";
export * from "./orgs/roles";
export * from "./orgs/orgs";
export * from "./orgs/sso-settings";
export * from "./orgs/api-tokens";
export * from "./orgs/invitations";
export * from "./platform/platform";
export * from "./environments/environments";
export * from "./connections/connections";
export * from "./tools/tools";
export * from "./tools/sync";
export * from "./tools/definitions";
export * from "./tools/history";
export * from "./tools/access";
export * from "./tools/schedule";
export * from "./agents/agents";
export * from "./policies/policies";
export * from "./policies/what-if";
export * from "./policies/subjects";
export {
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  DEFAULT_APPROVER_ROLE,
  evaluatePolicies,
  policyCouldAllow,
  type ApprovalRequirement,
  type PolicyDecision,
  type PolicyPerson,
  type PolicyRule,
} from "./policies/evaluate";
export { startJsonSchemaValidation } from "./lib/json-schema-thread";
export { commonJsExports } from "./lib/commonjs";
export { consumeRateLimit, pruneRateLimitCounters } from "./policies/rate-limit";
export * from "./runs/orchestrator";
export * from "./approvals/approvals";
export { APPROVAL_KEEPALIVE_MS, ApprovalHub, type HeldOutcome } from "./approvals/hub";
export { notifyApprovers, startApprovalNotifier } from "./approvals/notify";
export * from "./runs/catalog";
export * from "./runs/runs";
export * from "./runs/replicas";
export * from "./runs/stats";
export { CallCache } from "./runs/call-cache";
export { pruneRelayRequests, RelayHub, RELAY_ID_PREFIX, type RelayTarget } from "./runs/relay";
export type { RelayedRequest } from "./db/schema";
export { RunRecorder, type RecordFailure, type RunRecorderOptions } from "./runs/recorder";
export * from "./secrets";
export type { McpConnectionTestResult } from "./mcp/test-connection";
export {
  connectMcp,
  relayableCapabilities,
  type McpSession,
  type RelayableRequest,
} from "./mcp/client";
export { McpCallError, isMcpCallError } from "./mcp/errors";
export { McpClientPool } from "./mcp/pool";
export * from "./maintenance/retention";
export {
  findBwrap,
  isLoaderVariable,
  parseStdioServers,
  summarizeStdioServer,
  type SandboxSettings,
  type StdioServer,
  type StdioServerSummary,
} from "./mcp/stdio-servers";
export * from "./mcp-sessions/mcp-sessions";
export * from "./mcp-sessions/events";
export * from "./mcp-sessions/cancellation";
export * from "./mcp-tasks/mcp-tasks";
export { TaskHub } from "./mcp-tasks/hub";
export * from "./oauth/authorization";
export {
  isMetadataDocumentClientId,
  matchRedirectUri,
  redirectUriProblem,
  registerOAuthClient,
  type RegisteredClient,
} from "./oauth/clients";
export { OAuthProtocolError, type OAuthErrorCode } from "./oauth/errors";
export {
  CONNECTION_OAUTH_CALLBACK_PATH,
  CONNECTION_OAUTH_CLIENT_METADATA_PATH,
  connectionClientMetadata,
  completeConnectionAuthorization,
  listMyConnections,
  disconnectConnectionCredential,
  startConnectionAuthorization,
  type CallPrincipal,
} from "./connections/oauth";
export * from "./config/document";
export * from "./config/export";
export * from "./config/apply";
