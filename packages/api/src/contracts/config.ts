import { z } from "zod";
import { description, httpUrl, jsonObject, slug, trimmedName } from "./common";
import {
  connectionOAuthInput,
  connectionSettingsFields,
  envName,
  headerName,
  transport,
} from "./connections";
import { OAUTH_APPROVER_ROLES, orgRole } from "./orgs";
import {
  approvalTimeoutSeconds,
  approverRole,
  guardrailHook,
  POLICY_EFFECTS,
  POLICY_SUBJECTS,
  POLICY_TARGETS,
  policyPattern,
  rateLimit,
  redactPatterns,
} from "./policies";
import { definitionHash, toolName } from "./tools";
import { AGENT_STATUSES } from "./agents";

/*
 * The configuration document (config as code): the org's setup named by name, never by id, with
 * secret values replaced by references. Every object is strict: an unknown key is refused, so a
 * typo never silently means "default".
 */

export const CONFIG_API_VERSION = "mcp-agents.dev/v1";
export const CONFIG_KIND = "OrgConfig";
/** Characters of YAML an apply accepts. */
export const CONFIG_MAX_CHARS = 512 * 1024;

const MAX_ENTRIES = 1000;
const MAX_TOOLS_PER_CONNECTION = 5000;

const secretName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/,
    "A secret name: letters, digits, . _ / - (at most 128 characters)",
  );

/** Stands for a secret value: the value comes with the apply request, never in the document. */
export const secretRef = z.strictObject({
  name: secretName.describe("The key of the value in the apply request's `secrets`"),
});

const list = <T extends z.ZodType>(item: T, max = MAX_ENTRIES) =>
  z.array(item).max(max, `At most ${max} entries`).default([]);

const refName = trimmedName;

export const configTool = z.strictObject({
  upstream_name: z.string().min(1).max(128).describe("The server's name for the tool"),
  name: toolName.optional().describe("The name agents see; omitted: the sync's choice"),
  enabled: z.boolean().default(true),
  title: z.string().max(200).nullable().optional().describe("The admin's title override"),
  description: description.nullable().optional().describe("The admin's description override"),
  approved_hash: definitionHash
    .optional()
    .describe(
      "The approved definition's hash: a tool under review with exactly this definition is approved",
    ),
});

const secretRefs = <K extends z.ZodType<string>>(key: K) => z.record(key, secretRef).optional();

export const configConnection = z
  .strictObject({
    name: trimmedName,
    slug: slug.optional(),
    description: description.default(""),
    environment: refName.nullable().optional().describe("An environment's name"),
    transport,
    url: httpUrl.nullable().optional(),
    stdio_server: connectionSettingsFields.stdio_server,
    headers: connectionSettingsFields.headers.default({}),
    secrets: z
      .strictObject({
        headers: secretRefs(headerName),
        env: secretRefs(envName),
      })
      .optional()
      .describe("Secret headers and variables, each a reference to a value given at apply"),
    auth: z.enum(["none", "headers", "oauth"]).optional(),
    oauth: connectionOAuthInput
      .omit({ client_secret: true })
      .extend({ client_secret: secretRef.optional() })
      .strict()
      .optional(),
    timeout_ms: connectionSettingsFields.timeout_ms.default(10_000),
    allow_sampling: z.boolean().default(true),
    allow_elicitation: z.boolean().default(true),
    allow_tasks: z.boolean().default(true),
    sync_interval_minutes: connectionSettingsFields.sync_interval_minutes,
    tools: list(configTool, MAX_TOOLS_PER_CONNECTION),
  })
  .superRefine((value, ctx) => {
    if (value.transport === "stdio" ? !value.stdio_server : !value.url)
      ctx.addIssue({
        code: "custom",
        path: [value.transport === "stdio" ? "stdio_server" : "url"],
        message: `Required for the ${value.transport} transport`,
      });
    if ((value.auth === "oauth") !== (value.oauth !== undefined) && value.auth !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["oauth"],
        message: 'Required with auth "oauth", and only then',
      });
  });

export const configAgent = z.strictObject({
  name: trimmedName,
  description: description.default(""),
  environment: refName.nullable().optional(),
  status: z.enum(AGENT_STATUSES).default("active"),
});

export const configEnvironment = z.strictObject({
  name: trimmedName,
  slug: slug.optional(),
  description: description.default(""),
});

export const configPolicy = z
  .strictObject({
    name: trimmedName,
    description: description.default(""),
    effect: z.enum(POLICY_EFFECTS),
    subject: z
      .enum(POLICY_SUBJECTS)
      .optional()
      .describe(
        "Whose calls; omitted: user when `user` is given, role with `min_role`, agent with `agent`, else everyone",
      ),
    agent: refName
      .nullable()
      .optional()
      .describe("For subject agent: an agent's name; omitted: any agent"),
    user: z
      .string()
      .max(320)
      .nullable()
      .optional()
      .describe("For subject user: a member's e-mail address"),
    min_role: orgRole.nullable().optional().describe("For subject role: the least role"),
    target: z.enum(POLICY_TARGETS).default("tool"),
    tool_pattern: policyPattern.optional(),
    tool: z
      .strictObject({ connection: refName, upstream_name: z.string().min(1).max(128) })
      .optional()
      .describe(
        "One tool, by its connection's name and its upstream name (instead of tool_pattern)",
      ),
    environment: refName.nullable().optional(),
    input_schema: jsonObject.nullable().optional(),
    rate_limit: rateLimit.strict().nullable().optional(),
    pre_call_hook: guardrailHook.strict().nullable().optional(),
    post_call_hook: guardrailHook.strict().nullable().optional(),
    redact_patterns: redactPatterns.default([]),
    approver_role: approverRole,
    approval_timeout_seconds: approvalTimeoutSeconds,
    enabled: z.boolean().default(true),
  })
  .superRefine((value, ctx) => {
    if ((value.tool_pattern === undefined) === (value.tool === undefined))
      ctx.addIssue({
        code: "custom",
        path: ["tool_pattern"],
        message: "Give either tool_pattern or tool",
      });
    if (value.tool && value.target !== "tool")
      ctx.addIssue({ code: "custom", path: ["tool"], message: "Only for target tool" });
  });

export const configDocument = z.strictObject({
  apiVersion: z.literal(CONFIG_API_VERSION, {
    error: `Must be ${CONFIG_API_VERSION} (the only version so far)`,
  }),
  kind: z.literal(CONFIG_KIND, { error: `Must be ${CONFIG_KIND}` }),
  settings: z
    .strictObject({
      quarantine_new_tools: z.boolean().default(false),
      oauth_approver_role: z.enum(OAUTH_APPROVER_ROLES).default("admin"),
      email_approvers: z.boolean().default(true),
    })
    .default({ quarantine_new_tools: false, oauth_approver_role: "admin", email_approvers: true }),
  environments: list(configEnvironment),
  connections: list(configConnection),
  agents: list(configAgent),
  policies: list(configPolicy),
});
export type ConfigDocumentDto = z.infer<typeof configDocument>;

export const configExport = z.object({
  document: z
    .string()
    .describe(
      "The organization's configuration as YAML (apiVersion mcp-agents.dev/v1, kind OrgConfig). Secret values are never in it: each secret is a reference `{ name }`",
    ),
});

export const applyConfigInput = z.object({
  document: z
    .string()
    .min(1, "Must not be empty")
    .max(CONFIG_MAX_CHARS, `At most ${CONFIG_MAX_CHARS} characters`)
    .describe("The configuration as YAML (or JSON), as `GET /orgs/{org_id}/config` returns it"),
  secrets: z
    .record(secretName, z.string().min(1).max(32_768))
    .refine((value) => Object.keys(value).length <= 500, "At most 500 secrets")
    .default({})
    .describe(
      "Values of the document's secret references, by name. A reference without a value keeps the stored secret; one that has none is refused",
    ),
  dry_run: z
    .boolean()
    .default(false)
    .describe("Only report what the apply would change (and refuse); nothing is kept"),
  prune: z
    .boolean()
    .default(false)
    .describe(
      "Delete the environments, connections, agents and policies the document does not list (each audited); without it they are kept",
    ),
});

export const configChange = z.object({
  resource: z.enum(["settings", "environment", "connection", "tool", "agent", "policy"]),
  name: z.string().describe("The resource's name; a tool's is `<connection>/<upstream name>`"),
  action: z.enum(["create", "update", "delete"]),
  fields: z.array(z.string()).describe("For an update: the fields that change"),
});

export const configApplyResult = z.object({
  dry_run: z.boolean(),
  changes: z.array(configChange).describe("Empty when the organization already matches"),
  not_applied: z
    .array(z.object({ path: z.string(), reason: z.string() }))
    .describe(
      "What could not be applied (yet) and why: tools a connection does not offer (or could not be synced to find), approvals of a definition the server no longer offers, and in a dry run what waits for a sync",
    ),
  hook_secrets: z
    .array(z.object({ policy: z.string(), hook_secret: z.string() }))
    .describe("Signing secrets made for policies that got their first hook: shown only now"),
});
export type ConfigApplyResultDto = z.infer<typeof configApplyResult>;
