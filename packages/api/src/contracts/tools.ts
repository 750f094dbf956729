import { z } from "zod";
import { description, jsonObject, pageInput, queryBoolean, timestamp, uuid } from "./common";

/** Names agents see: what MCP allows for tool names (letters, digits, `_`, `-`, `.`, `/`). */
export const toolName = z
  .string()
  .trim()
  .min(1, "Must not be empty")
  .max(128, "At most 128 characters")
  .regex(/^[A-Za-z0-9_./-]+$/, "Letters, digits, _ - . and / only");

export const tool = z.object({
  id: uuid,
  org_id: uuid,
  connection_id: uuid,
  name: z.string().describe("The name exposed to agents; unique in the organization"),
  upstream_name: z.string(),
  title: z.string().nullable(),
  description: z.string(),
  input_schema: jsonObject,
  output_schema: jsonObject.nullable(),
  annotations: jsonObject.nullable(),
  enabled: z.boolean(),
  stale: z.boolean().describe("No longer offered by the server at the last sync"),
  source: z.enum(["synced", "manual"]),
  created_at: timestamp,
  updated_at: timestamp,
});
export type ToolDto = z.infer<typeof tool>;

export const listToolsInput = pageInput.extend({
  connection_id: uuid.optional(),
  enabled: queryBoolean.optional(),
  stale: queryBoolean.optional(),
  q: z.string().trim().max(200).optional().describe("Matches name, upstream name or description"),
});

export const createToolInput = z.object({
  connection_id: uuid,
  upstream_name: z.string().min(1).max(128),
  name: toolName.optional(),
  title: z.string().max(200).nullable().optional(),
  description: description.optional(),
  input_schema: jsonObject.optional(),
  output_schema: jsonObject.nullable().optional(),
  annotations: jsonObject.nullable().optional(),
  enabled: z.boolean().optional(),
});

export const updateToolInput = z.object({
  name: toolName.optional(),
  description: description.optional(),
  enabled: z.boolean().optional(),
});

export const runToolInput = z.object({
  agent_id: uuid
    .optional()
    .describe("Run on behalf of this agent (policies apply); implied by an agent key"),
  input: jsonObject
    .default({})
    .describe("The tool's arguments, validated against its input_schema"),
});
