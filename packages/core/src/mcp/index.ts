export type { McpTarget, McpTransportKind } from "./target";
export { redactSecrets, secretValues } from "./target";
export { McpCallError, isMcpCallError, isSessionLost } from "./errors";
export type { McpCallErrorKind } from "./errors";
export {
  assertOutboundUrlAllowed,
  assertStdioCommandAllowed,
  blockedAddressReason,
} from "./outbound";
export { connectMcp } from "./client";
export type {
  McpCallOptions,
  McpConnectOptions,
  McpLogEntry,
  McpRequestOptions,
  McpSession,
} from "./client";
export { testMcpConnection } from "./test-connection";
export type { McpConnectionTestResult } from "./test-connection";
export { McpClientPool } from "./pool";
export type { McpClientPoolOptions } from "./pool";
