/** What the config CLI reads from its environment (the one place it reads process.env). */
export interface CliEnv {
  /** Where the platform is served (MCP_AGENTS_URL); default http://localhost:3000. */
  baseUrl: string;
  /** An API token of the org (`mcpt_…`) or a session token (MCP_AGENTS_TOKEN). */
  token: string | undefined;
  /** A JSON file of secret values by reference name (MCP_AGENTS_SECRETS). */
  secretsFile: string | undefined;
  /** The folder relative paths are read from: where `pnpm` was started (INIT_CWD), else cwd. */
  cwd: string;
}

export function cliEnv(): CliEnv {
  return {
    baseUrl: process.env.MCP_AGENTS_URL ?? "http://localhost:3000",
    token: process.env.MCP_AGENTS_TOKEN,
    secretsFile: process.env.MCP_AGENTS_SECRETS,
    cwd: process.env.INIT_CWD ?? process.cwd(),
  };
}
