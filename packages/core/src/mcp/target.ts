import type { StdioLaunch } from "./stdio-servers";

/**
 * Everything needed to reach one MCP server: the decrypted view of a `connections` row. Secrets
 * stay in `secret` so error paths can redact them and callers never log this object whole.
 */
export interface McpTarget {
  transport: "streamable_http" | "sse" | "stdio";
  url: string | null;
  /** For stdio: the declared server to start, with its fixed base environment. */
  stdio: StdioLaunch | null;
  headers: Record<string, string>;
  secret: { headers: Record<string, string>; env: Record<string, string> } | null;
  timeout_ms: number;
}

export type McpTransportKind = McpTarget["transport"];

/** Secret values worth redacting: short values would blank out ordinary words in messages. */
export function secretValues(target: McpTarget): string[] {
  if (!target.secret) return [];
  const values = [...Object.values(target.secret.headers), ...Object.values(target.secret.env)];
  const tokens = new Set<string>();
  for (const value of values) {
    if (value.length >= 4) tokens.add(value);
    // A bearer header leaks its token even when only the part after the scheme is echoed back.
    const afterScheme = /^\S+\s+(\S{4,})$/.exec(value)?.[1];
    if (afterScheme) tokens.add(afterScheme);
  }
  return [...tokens].sort((a, b) => b.length - a.length);
}

export function redactSecrets(message: string, secrets: readonly string[]): string {
  let result = message;
  for (const secret of secrets) result = result.split(secret).join("[redacted]");
  return result;
}
