import {
  AGENT_KEY_PLACEHOLDER,
  mcpClientConfig as sharedClientConfig,
  mcpServerKey,
} from "@mcp/api/contracts";

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

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** How each MCP client people use is pointed at an agent, as that client documents it. */
export const CLIENT_SNIPPETS = [
  {
    id: "json",
    label: "MCP client config (JSON)",
    where: "The mcpServers block most clients read.",
    render: (name: string, url: string, key: string) => mcpClientConfig(name, url, key),
  },
  {
    id: "claude-desktop",
    label: "Claude Desktop",
    where:
      "claude_desktop_config.json (Settings → Developer → Edit Config); needs Node.js for mcp-remote.",
    render: (name: string, url: string, key: string) =>
      json({
        mcpServers: {
          [mcpServerKey(name)]: {
            command: "npx",
            // The header goes through an environment variable: Claude Desktop splits arguments on spaces.
            args: ["-y", "mcp-remote", url, "--header", "Authorization:${AUTH_HEADER}"],
            env: { AUTH_HEADER: `Bearer ${key}` },
          },
        },
      }),
  },
  {
    id: "claude-code",
    label: "Claude Code",
    where: "Run in a terminal.",
    render: (name: string, url: string, key: string) =>
      `claude mcp add --transport http ${mcpServerKey(name)} '${url}' \\\n  --header 'Authorization: Bearer ${key}'`,
  },
  {
    id: "vscode",
    label: "VS Code",
    where: ".vscode/mcp.json in your workspace.",
    render: (name: string, url: string, key: string) =>
      json({
        servers: {
          [mcpServerKey(name)]: { type: "http", url, headers: { Authorization: `Bearer ${key}` } },
        },
      }),
  },
  {
    id: "cursor",
    label: "Cursor",
    where: "~/.cursor/mcp.json, or .cursor/mcp.json in a project.",
    render: (name: string, url: string, key: string) =>
      json({
        mcpServers: { [mcpServerKey(name)]: { url, headers: { Authorization: `Bearer ${key}` } } },
      }),
  },
  {
    id: "windsurf",
    label: "Windsurf",
    where: "~/.codeium/windsurf/mcp_config.json.",
    render: (name: string, url: string, key: string) =>
      json({
        mcpServers: {
          [mcpServerKey(name)]: { serverUrl: url, headers: { Authorization: `Bearer ${key}` } },
        },
      }),
  },
  {
    id: "mcp-remote",
    label: "mcp-remote",
    where: "For any stdio-only client: this command is the server.",
    render: (_name: string, url: string, key: string) =>
      `npx -y mcp-remote '${url}' --header 'Authorization: Bearer ${key}'`,
  },
  {
    id: "curl",
    label: "curl",
    where: "A smoke test: the MCP initialize handshake.",
    render: (_name: string, url: string, key: string) => curlSnippet(url, key),
  },
] as const;
