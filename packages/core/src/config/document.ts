import type * as Yaml from "yaml";
import type { GuardrailHook, JsonObject, policies, RateLimit } from "../db/schema";
import { AppError } from "../errors";
import { commonJsExports } from "../lib/commonjs";
import { findInputDefect } from "../lib/input-defects";
import type { OrgRole } from "../orgs/roles";

/*
 * An organization's configuration as a YAML document (config as code): what admins set up, named
 * by name and never by id, so the same document applies to another organization. Secret values
 * are never in it: a secret is a reference `{ name }` whose value comes with the apply request
 * (or stays as stored). See export.ts and apply.ts.
 */

let loadedYaml: Promise<typeof Yaml> | undefined;

/** The YAML library, loaded on first use: only config as code needs it, and it slows every start. */
function yaml(): Promise<typeof Yaml> {
  loadedYaml ??= import("yaml").then(commonJsExports);
  return loadedYaml;
}

export const CONFIG_API_VERSION = "mcp-agents.dev/v1";
export const CONFIG_KIND = "OrgConfig";

/** The largest document accepted, in characters. */
export const CONFIG_MAX_CHARS = 512 * 1024;
/** Aliases a document may expand (YAML "billion laughs" documents expand a few into millions). */
export const CONFIG_MAX_ALIASES = 100;
/** Flow collections (`[` `{`) nested deeper than this are refused before the parser recurses. */
const CONFIG_MAX_FLOW_DEPTH = 100;

/** Where a secret value comes from: the apply request's `secrets[name]`, else the stored value. */
export interface SecretRef {
  name: string;
}

export interface ConfigSettings {
  quarantine_new_tools: boolean;
  oauth_approver_role: Exclude<OrgRole, "viewer">;
  email_approvers: boolean;
}

export interface ConfigEnvironment {
  name: string;
  slug?: string | undefined;
  description: string;
}

export interface ConfigTool {
  /** The server's name for the tool: with the connection, what identifies it. */
  upstream_name: string;
  /** The name agents see; absent: whatever the sync assigns. */
  name?: string | undefined;
  enabled: boolean;
  /** The admin's overrides of what agents see; absent: the server's. */
  title?: string | null | undefined;
  description?: string | null | undefined;
  /** sha256 of the definition approved for the tool; absent: none approved (quarantined as new). */
  approved_hash?: string | undefined;
}

export interface ConfigConnection {
  name: string;
  slug?: string | undefined;
  description: string;
  environment?: string | null | undefined;
  transport: "streamable_http" | "sse" | "stdio";
  url?: string | null | undefined;
  stdio_server?: string | null | undefined;
  headers: Record<string, string>;
  secrets?:
    | {
        headers?: Record<string, SecretRef> | undefined;
        env?: Record<string, SecretRef> | undefined;
      }
    | undefined;
  auth?: "none" | "headers" | "oauth" | undefined;
  oauth?:
    | {
        credential_mode: "shared" | "per_user";
        client_id?: string | undefined;
        client_secret?: SecretRef | undefined;
        scope?: string | undefined;
      }
    | undefined;
  timeout_ms: number;
  allow_sampling: boolean;
  allow_elicitation: boolean;
  allow_tasks: boolean;
  sync_interval_minutes?: number | null | undefined;
  tools: ConfigTool[];
}

export interface ConfigAgent {
  name: string;
  description: string;
  environment?: string | null | undefined;
  status: "active" | "disabled";
}

export interface ConfigPolicy {
  name: string;
  description: string;
  /** Every effect policies have (the column's type, so a new effect is one here too). */
  effect: (typeof policies.$inferSelect)["effect"];
  /**
   * Whose calls: absent, implied as by the API (user → user, min_role → role, agent → agent, else
   * everyone).
   */
  subject?: (typeof policies.$inferSelect)["subject"] | undefined;
  /** For subject agent: an agent's name; absent: any agent. */
  agent?: string | null | undefined;
  /** For subject user: a member's e-mail address. */
  user?: string | null | undefined;
  /** For subject role: the least role. */
  min_role?: OrgRole | null | undefined;
  target: "tool" | "prompt" | "resource";
  /** A glob over names; or, for one tool, `tool` instead. */
  tool_pattern?: string | undefined;
  tool?: { connection: string; upstream_name: string } | undefined;
  environment?: string | null | undefined;
  input_schema?: JsonObject | null | undefined;
  rate_limit?: RateLimit | null | undefined;
  pre_call_hook?: GuardrailHook | null | undefined;
  post_call_hook?: GuardrailHook | null | undefined;
  redact_patterns: string[];
  /** For require_approval: absent, the defaults (admin, an hour). */
  approver_role?: (typeof policies.$inferSelect)["approver_role"] | undefined;
  approval_timeout_seconds?: number | null | undefined;
  enabled: boolean;
}

export interface ConfigDocument {
  apiVersion: typeof CONFIG_API_VERSION;
  kind: typeof CONFIG_KIND;
  settings: ConfigSettings;
  environments: ConfigEnvironment[];
  connections: ConfigConnection[];
  agents: ConfigAgent[];
  policies: ConfigPolicy[];
}

function refused(message: string): AppError {
  return AppError.invalidField("document", message);
}

/** How deep the document's flow collections nest, counted on the lexer's tokens (no recursion). */
function flowDepthExceeds(lib: typeof Yaml, text: string, limit: number): boolean {
  let depth = 0;
  for (const token of new lib.Lexer().lex(text)) {
    if (token === "[" || token === "{") {
      depth++;
      if (depth > limit) return true;
    } else if (token === "]" || token === "}") depth--;
  }
  return false;
}

/**
 * Parses a configuration document, refusing what a hostile one could do to the server: too long,
 * aliases expanding past CONFIG_MAX_ALIASES, nesting deep enough to exhaust the stack, several
 * documents, duplicate keys, explicit tags, text the database cannot store. The result is plain
 * JSON-like data for the schema to check.
 */
export async function parseConfigYaml(text: string): Promise<unknown> {
  if (text.length > CONFIG_MAX_CHARS)
    throw refused(`The document is longer than ${CONFIG_MAX_CHARS} characters`);
  const lib = await yaml();
  if (flowDepthExceeds(lib, text, CONFIG_MAX_FLOW_DEPTH))
    throw refused(`The document nests deeper than ${CONFIG_MAX_FLOW_DEPTH} levels`);
  let value: unknown;
  try {
    const document = lib.parseDocument(text, {
      uniqueKeys: true,
      resolveKnownTags: false,
      prettyErrors: true,
    });
    const problem = document.errors[0] ?? document.warnings[0];
    if (problem)
      throw refused(`Not a valid YAML document: ${problem.message.split("\n")[0] ?? ""}`);
    value = document.toJS({ maxAliasCount: CONFIG_MAX_ALIASES });
  } catch (error) {
    if (error instanceof AppError) throw error;
    // The alias limit, and a stack exhausted by block nesting, throw.
    const reason = error instanceof Error ? error.message : String(error);
    throw refused(`Not an acceptable YAML document: ${reason}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw refused("The document must be a mapping (apiVersion, kind, settings, …)");
  const defect = findInputDefect(value as Record<string, unknown>);
  if (defect) throw AppError.badRequest(`${defect.path.join(".")}: ${defect.message}`, [defect]);
  return value;
}

/** The document as YAML: keys in the order they were built, no anchors, no folded lines. */
export async function renderConfigYaml(document: ConfigDocument): Promise<string> {
  return (await yaml()).stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 });
}
