import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import type { JsonObject, ToolDefinition, tools } from "../db/schema";

/*
 * A tool's definition is what its server says it is (title, description, input and output
 * schema, annotations): what an agent reads to decide how to call it. The registry pins the
 * definition an admin approved and its hash, so a server cannot change what an approved tool
 * means (a new description carrying instructions, a schema taking new arguments) unseen.
 */

function toJsonObject(value: unknown): JsonObject | null {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as JsonObject)
    : null;
}

/** The definition a server lists for a tool, in the registry's shape. */
export function upstreamDefinition(tool: McpTool): ToolDefinition {
  return {
    title: tool.title ?? tool.annotations?.title ?? null,
    description: tool.description ?? "",
    input_schema: toJsonObject(tool.inputSchema) ?? { type: "object" },
    output_schema: toJsonObject(tool.outputSchema),
    annotations: toJsonObject(tool.annotations),
  };
}

/** The approved definition of a registry tool (its columns, without the admin's overrides). */
export function pinnedDefinition(
  tool: Pick<
    typeof tools.$inferSelect,
    "title" | "description" | "input_schema" | "output_schema" | "annotations"
  >,
): ToolDefinition {
  return {
    title: tool.title,
    description: tool.description,
    input_schema: tool.input_schema,
    output_schema: tool.output_schema,
    annotations: tool.annotations,
  };
}

/**
 * sha256 (hex) of the definition's canonical JSON (RFC 8785: sorted keys, one number format), so
 * a server that only reorders keys or reformats numbers has not changed its tool.
 */
export function definitionHash(definition: ToolDefinition): string {
  const canonical = canonicalize(definition);
  if (canonical === undefined) throw new Error("a tool definition has no JSON form");
  return createHash("sha256").update(canonical).digest("hex");
}
