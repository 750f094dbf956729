import { AGENT_KEY_PLACEHOLDER, mcpClientConfig as sharedClientConfig } from "@mcp/api/contracts";

/** The agent's endpoint as a client must dial it: relative URLs are resolved against this origin. */
export function absoluteUrl(url: string, origin: string): string {
  try {
    return new URL(url, origin).toString();
  } catch {
    return url;
  }
}

/** The `mcpServers` JSON most MCP clients (Claude, Cursor, VS Code, …) read for remote servers. */
export function mcpClientConfig(agentName: string, url: string, key?: string): string {
  return JSON.stringify(sharedClientConfig(agentName, url, key), null, 2);
}

/** A smoke test from a shell: the MCP initialize handshake against the agent's endpoint. */
export function curlSnippet(url: string, key: string = AGENT_KEY_PLACEHOLDER): string {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "curl", version: "1.0.0" },
    },
  });
  return [
    `curl -sS -X POST '${url}' \\`,
    `  -H 'Authorization: Bearer ${key}' \\`,
    "  -H 'Content-Type: application/json' \\",
    "  -H 'Accept: application/json, text/event-stream' \\",
    `  -d '${body}'`,
  ].join("\n");
}
