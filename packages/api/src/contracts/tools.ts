import { z } from "zod";
import {
  description,
  jsonObject,
  pageInput,
  pageOf,
  queryBoolean,
  timestamp,
  uuid,
} from "./common";
import { orgRole } from "./orgs";
import { POLICY_EFFECTS, POLICY_SUBJECTS } from "./policies";

/** Names agents see: what MCP allows for tool names (letters, digits, `_`, `-`, `.`, `/`). */
export const toolName = z
  .string()
  .trim()
  .min(1, "Must not be empty")
  .max(128, "At most 128 characters")
  .regex(/^[A-Za-z0-9_./-]+$/, "Letters, digits, _ - . and / only");

export const TOOL_QUARANTINE_REASONS = ["new", "changed", "rejected"] as const;

/** What a server says a tool is: the part that is pinned, hashed and reviewed. */
export const toolDefinition = z.object({
  title: z.string().nullable(),
  description: z.string(),
  input_schema: jsonObject,
  output_schema: jsonObject.nullable(),
  annotations: jsonObject.nullable(),
});
export type ToolDefinitionDto = z.infer<typeof toolDefinition>;

/** sha256 (hex) of a definition's canonical JSON (RFC 8785). */
export const definitionHash = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "A sha256 in lowercase hex (64 characters)");

export const tool = z.object({
  id: uuid,
  org_id: uuid,
  connection_id: uuid,
  name: z.string().describe("The name exposed to agents; unique in the organization"),
  upstream_name: z.string(),
  title: z.string().nullable().describe("What agents see: title_override, else upstream_title"),
  description: z
    .string()
    .describe("What agents see: description_override, else upstream_description"),
  upstream_title: z.string().nullable().describe("The approved definition's title"),
  upstream_description: z.string().describe("The approved definition's description"),
  title_override: z.string().nullable().describe("The admin's title, kept across syncs"),
  description_override: z
    .string()
    .nullable()
    .describe("The admin's description, kept across syncs"),
  input_schema: jsonObject.describe("The approved definition's input schema"),
  output_schema: jsonObject.nullable(),
  annotations: jsonObject.nullable(),
  definition_hash: z
    .string()
    .nullable()
    .describe(
      "sha256 of the approved definition's canonical JSON (RFC 8785); null until the next sync for tools synced before pinning",
    ),
  quarantine: z
    .enum(TOOL_QUARANTINE_REASONS)
    .nullable()
    .describe(
      "Why the tool may not be called (and is not listed to agents) until an admin reviews it: new (the org quarantines new tools), changed (the server changed the definition since it was approved), rejected (an admin rejected the change); null when not quarantined",
    ),
  pending_definition: toolDefinition
    .nullable()
    .describe("The server's changed definition, waiting for approval (changed or rejected)"),
  pending_hash: z.string().nullable(),
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
  quarantined: queryBoolean.optional().describe("Only tools that are (or are not) quarantined"),
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
  title: z
    .string()
    .max(200)
    .nullable()
    .optional()
    .describe("Shown to agents instead of the server's title, across syncs; null restores it"),
  description: description
    .nullable()
    .optional()
    .describe(
      "Shown to agents instead of the server's description, across syncs; null restores it",
    ),
  enabled: z.boolean().optional(),
});

export const reviewToolInput = z.object({
  hash: definitionHash.describe(
    "The hash of the definition under review (pending_hash, or definition_hash for a new tool), as read: a definition that changed since is refused with 409",
  ),
});

export const runToolInput = z.object({
  agent_id: uuid
    .optional()
    .describe("Run on behalf of this agent (policies apply); implied by an agent key"),
  input: jsonObject
    .default({})
    .describe("The tool's arguments, validated against its input_schema"),
});

export const TOOL_DEFINITION_SOURCES = [
  "sync",
  "manual",
  "approval",
  "config",
  "backfill",
] as const;

/** One definition a tool has had approved. */
export const toolDefinitionVersion = z.object({
  id: uuid,
  tool_id: uuid,
  hash: definitionHash,
  definition: toolDefinition,
  source: z
    .enum(TOOL_DEFINITION_SOURCES)
    .describe(
      "How it was approved: sync (first seen by a sync, in an org that does not quarantine new tools), manual (registered by hand), approval (an admin approved it under review), config (a configuration document approved its hash), backfill (the approved definition when the history began)",
    ),
  actor_type: z.enum(["user", "agent", "system", "token"]),
  actor_id: z.string().nullable().describe("The user or API token; null for the system"),
  created_at: timestamp.describe("When it was approved"),
});
export type ToolDefinitionVersionDto = z.infer<typeof toolDefinitionVersion>;

export const toolDefinitionHistory = pageOf(toolDefinitionVersion).extend({
  pending: z
    .object({
      hash: definitionHash,
      definition: toolDefinition,
      quarantine: z.enum(TOOL_QUARANTINE_REASONS),
    })
    .nullable()
    .describe(
      "The definition under review, ahead of the approved ones (on every page): the server's changed one, or a new tool's first; null when none",
    ),
});
export type ToolDefinitionHistoryDto = z.infer<typeof toolDefinitionHistory>;

export const ACCESS_DECISIONS = ["allow", "deny", "require_approval", "no_policy"] as const;

const accessDecision = {
  decision: z
    .enum(ACCESS_DECISIONS)
    .describe(
      "The policy engine's decision for a call whose input every applicable input schema accepts; no_policy: nothing applies, so calls are denied by default",
    ),
  policy: z
    .object({ id: uuid, name: z.string() })
    .nullable()
    .describe(
      "The deciding policy: the first deny, else the strictest require_approval, else the first allow",
    ),
  input_dependent: z
    .boolean()
    .describe("An applicable policy has an input schema: a call's input may be decided otherwise"),
  reason: z.string(),
  matched: z.array(z.object({ policy_id: uuid, name: z.string(), effect: z.enum(POLICY_EFFECTS) })),
};

export const toolAccess = pageOf(
  z.object({
    agent_id: uuid,
    agent_name: z.string(),
    agent_status: z.enum(["active", "disabled"]),
    environment_id: uuid
      .nullable()
      .describe("The environment its calls run in: the agent's, else the tool's connection's"),
    ...accessDecision,
  }),
).extend({
  people: z
    .object({
      environment_id: uuid
        .nullable()
        .describe("People's calls run in the connection's environment"),
      roles: z
        .array(z.object({ role: orgRole, ...accessDecision }))
        .describe(
          "A member or API token with each role that may run tools, without a user policy of their own",
        ),
      policies: z
        .array(
          z.object({
            id: uuid,
            name: z.string(),
            effect: z.enum(POLICY_EFFECTS),
            subject: z.enum(POLICY_SUBJECTS),
            user_id: uuid.nullable(),
            min_role: orgRole.nullable(),
            environment_id: uuid.nullable(),
            input_dependent: z.boolean(),
          }),
        )
        .describe("The enabled user, role and everyone policies that cover this tool"),
    })
    .describe("The same on every page"),
});
export type ToolAccessDto = z.infer<typeof toolAccess>;
