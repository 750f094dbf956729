export type { McpTarget, McpTransportKind } from "./target";
export { redactSecrets, secretValues } from "./target";
export { McpCallError, isMcpCallError, isSessionLost } from "./errors";
export type { McpCallErrorKind } from "./errors";
export { assertOutboundUrlAllowed, blockedAddressReason } from "./outbound";
export {
  findBwrap,
  isLoaderVariable,
  parseStdioServers,
  stdioLaunch,
  summarizeStdioServer,
  STDIO_SERVER_ID_PATTERN,
} from "./stdio-servers";
export type {
  SandboxSettings,
  StdioLaunch,
  StdioServer,
  StdioServerHost,
  StdioServerSummary,
} from "./stdio-servers";
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
