import { McpClientPool } from "./mcp/pool";
import type { SecretStore } from "./secrets/secret-store";

/** Outbound rules for reaching MCP servers, set by the operator. */
export interface OutboundPolicy {
  /** Refuse loopback, private, link-local and metadata addresses (default on in production). */
  blockPrivateNetworks: boolean;
  /** Exact commands stdio connections may start; empty disables stdio. */
  stdioAllowedCommands: string[];
}

/** What services need beyond the database to reach MCP servers: built once per process. */
export interface McpRuntime {
  secrets: SecretStore;
  pool: McpClientPool;
  outbound: OutboundPolicy;
}

export const MCP_CLIENT_INFO = {
  clientName: "mcp-agents-platform",
  clientVersion: "1.0.0",
} as const;

export function createMcpRuntime(options: {
  secrets: SecretStore;
  outbound: OutboundPolicy;
  idleMs?: number;
  maxSessions?: number;
}): McpRuntime {
  const pool = new McpClientPool({
    ...MCP_CLIENT_INFO,
    policy: options.outbound,
    ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
    ...(options.maxSessions !== undefined ? { maxSize: options.maxSessions } : {}),
  });
  return { secrets: options.secrets, pool, outbound: options.outbound };
}
