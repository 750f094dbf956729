import { z } from "zod";
import { description, pageInput, timestamp, trimmedName, uuid } from "./common";

export const AGENT_STATUSES = ["active", "disabled"] as const;

export const agent = z.object({
  id: uuid,
  org_id: uuid,
  environment_id: uuid.nullable(),
  name: z.string(),
  description: z.string(),
  status: z.enum(AGENT_STATUSES),
  runs_as_user_id: uuid
    .nullable()
    .describe(
      "The member whose own credentials the agent's keys use on per-user OAuth connections",
    ),
  mcp_url: z.string().describe("The agent's governed MCP endpoint (Streamable HTTP)"),
  mcp_client_config: z
    .record(z.string(), z.unknown())
    .describe(
      "A ready `mcpServers` client configuration for this endpoint; replace <YOUR_AGENT_KEY> with one of the agent's keys",
    ),
  created_at: timestamp,
  updated_at: timestamp,
});
export type AgentDto = z.infer<typeof agent>;

export const listAgentsInput = pageInput.extend({ environment_id: uuid.optional() });

export const createAgentInput = z.object({
  name: trimmedName,
  description: description.optional(),
  environment_id: uuid.nullable().optional(),
  status: z.enum(AGENT_STATUSES).optional(),
  runs_as_user_id: uuid
    .nullable()
    .optional()
    .describe(
      "Per-user OAuth connections: the member whose own credentials the agent's keys use. Only that member can set it (to themselves); null clears it",
    ),
});
export const updateAgentInput = createAgentInput.partial();

export const agentKey = z.object({
  id: uuid,
  agent_id: uuid,
  name: z.string(),
  prefix: z.string().describe("The first characters of the key, to recognise it"),
  created_at: timestamp,
  last_used_at: timestamp.nullable(),
  revoked_at: timestamp.nullable(),
});
export type AgentKeyDto = z.infer<typeof agentKey>;

export const createAgentKeyInput = z.object({ name: z.string().trim().max(100).optional() });

export const createdAgentKey = agentKey.extend({
  key: z.string().describe("Shown once: store it now. Send as `Authorization: Bearer <key>`"),
});

/** Stands for an agent key in configuration snippets handed out before a key is chosen. */
export const AGENT_KEY_PLACEHOLDER = "<YOUR_AGENT_KEY>";

/** A config key MCP clients accept: lower-case letters, digits and dashes. */
export function mcpServerKey(agentName: string): string {
  const key = agentName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return key === "" ? "mcp-agents" : key;
}

/**
 * The `mcpServers` configuration most MCP clients (Claude, Cursor, VS Code, …) read for a remote
 * server: one rule for the API's `mcp_client_config` and the web app's snippet.
 */
export function mcpClientConfig(
  agentName: string,
  url: string,
  key: string = AGENT_KEY_PLACEHOLDER,
): { mcpServers: Record<string, { type: "http"; url: string; headers: Record<string, string> }> } {
  return {
    mcpServers: {
      [mcpServerKey(agentName)]: {
        type: "http",
        url,
        headers: { Authorization: `Bearer ${key}` },
      },
    },
  };
}
