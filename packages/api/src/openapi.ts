import { generateOpenApiDocument, type OpenAPIObject } from "trpc-to-openapi";
import type { z } from "zod";
import {
  agent,
  agentKey,
  auditEvent,
  authResult,
  connection,
  connectionTestResult,
  createdAgentKey,
  environment,
  errorBody,
  jsonObject,
  member,
  org,
  platformOrg,
  platformUser,
  policy,
  policyDecision,
  run,
  runStats,
  syncResult,
  tool,
  user,
} from "./contracts";
import type {
  createAgentInput,
  createAgentKeyInput,
  createConnectionInput,
  createOrgInput,
  createPolicyInput,
  ErrorCode,
  evaluatePolicyInput,
  loginInput,
  registerInput,
  runToolInput,
} from "./contracts";
import { restProcedures, type RestProcedure } from "./procedures";
import { appRouter } from "./root";

const DESCRIPTION = `Register MCP servers, sync their tools into a registry, govern which agent may call which tool, and run governed tool calls.

**Authentication.** \`POST /auth/register\` or \`POST /auth/login\` return a \`token\`; send it on every other call as \`Authorization: Token <token>\` (\`Bearer <token>\` is accepted too). An agent's API key (\`mcpa_…\`, from \`POST /agents/{id}/keys\`) is sent as \`Authorization: Bearer <key>\` and may only run tools. An organization's API token (\`mcpt_…\`, from \`POST /orgs/{org_id}/api-tokens\`) is sent the same way and acts with its role in that organization only.

**Paths.** Every path also answers with a trailing slash (\`/api/v1/orgs/\` is \`/api/v1/orgs\`), as the original API wrote them.

**Errors.** Every failure has the same JSON body: \`{code, message, issues?, request_id}\`. \`code\` is one of the values of the \`Error\` schema; \`issues\` lists the input fields at fault for \`BAD_REQUEST\`; quote \`request_id\` (also in the \`x-request-id\` header) when reporting a problem. A resource of an organization you are not a member of answers \`404\`, exactly like a missing one.

**Pagination.** List endpoints return \`{results, next_cursor}\`; pass \`next_cursor\` as \`?cursor=\` for the next page (\`?limit=\` sets the page size, 1 to 200). \`next_cursor\` is \`null\` on the last page.

**Reference.** This document is browsable at \`/api/docs\`.

**TypeScript.** The \`@mcp-agents/sdk\` package is a typed client for the same operations; each operation's \`x-trpc-procedure\` names its SDK method (\`orgs.members.list\` is \`client.orgs.members.list.query(…)\`).`;

const TAGS: { name: string; description: string }[] = [
  { name: "auth", description: "Accounts and session tokens" },
  { name: "orgs", description: "Organizations: every resource belongs to one" },
  {
    name: "members",
    description: "Who is in an organization, with which role (owner, admin, member, viewer)",
  },
  {
    name: "api-tokens",
    description:
      "An organization's tokens for automation (`mcpt_…`): each acts with its role in that organization only",
  },
  {
    name: "environments",
    description: "Optional grouping of connections and agents (dev, staging, prod)",
  },
  {
    name: "connections",
    description: "MCP servers the platform connects to, their health and tool sync",
  },
  { name: "tools", description: "The tool registry, filled by syncing connections or by hand" },
  {
    name: "agents",
    description: "Agents: identities that call tools through their governed MCP endpoint",
  },
  { name: "agent keys", description: "API keys an agent authenticates with" },
  {
    name: "agent OAuth clients",
    description: "MCP clients people authorized by OAuth to act as an agent, and who approved each",
  },
  {
    name: "policies",
    description:
      "Allow, deny and require-approval rules, input constraints and rate limits for tool calls",
  },
  {
    name: "approvals",
    description:
      "Tool calls a require_approval policy holds until a person with the policy's approver role approves or denies them",
  },
  { name: "runs", description: "Governed tool calls and their records" },
  { name: "audit", description: "The organization's audit trail" },
  {
    name: "config",
    description:
      "Config as code: export the organization's configuration as YAML, apply a document (dry run, prune) with secrets given by name",
  },
  {
    name: "oauth",
    description:
      "The consent step of the gateway's OAuth authorization server (the protocol endpoints are under /oauth and /.well-known)",
  },
  {
    name: "platform",
    description:
      "Platform admins only (users.is_platform_admin; everyone else gets 403): every organization and account, disabling and re-enabling accounts, the platform's own audit events. No secret and no org resource is readable here",
  },
];

/** Named schemas: every use of these zod schemas becomes a $ref to components.schemas. */
const NAMED_SCHEMAS = {
  User: user,
  AuthResult: authResult,
  Org: org,
  Member: member,
  Environment: environment,
  Connection: connection,
  ConnectionTestResult: connectionTestResult,
  SyncResult: syncResult,
  Tool: tool,
  Agent: agent,
  AgentKey: agentKey,
  CreatedAgentKey: createdAgentKey,
  Policy: policy,
  PolicyDecision: policyDecision,
  Run: run,
  RunStats: runStats,
  AuditEvent: auditEvent,
  PlatformOrg: platformOrg,
  PlatformUser: platformUser,
  JsonValue: jsonObject.valueType,
  Error: errorBody,
};

const ERROR_DESCRIPTIONS: Record<
  string,
  { code: ErrorCode; description: string; message: string }
> = {
  "400": {
    code: "BAD_REQUEST",
    description: "Invalid input; `issues` names each field at fault",
    message: "Invalid input: name: Must not be empty",
  },
  "401": {
    code: "UNAUTHORIZED",
    description: "Missing, invalid or expired token",
    message: "Authentication required: send Authorization: Token <token>",
  },
  "403": {
    code: "FORBIDDEN",
    description:
      "Your role in the organization does not allow this (or an agent key was used where a user's token is needed)",
    message: "This action needs the admin role or higher; yours is viewer",
  },
  "404": {
    code: "NOT_FOUND",
    description: "Not found, or it belongs to an organization you are not in",
    message: "Organization not found",
  },
  "409": {
    code: "CONFLICT",
    description: "Conflicts with an existing resource (a taken email, slug or name)",
    message: "That slug is already taken in this organization",
  },
  "413": {
    code: "PAYLOAD_TOO_LARGE",
    description: "Request body too large",
    message: "Request body exceeds 1048576 bytes",
  },
  "415": {
    code: "UNSUPPORTED_MEDIA_TYPE",
    description: "The body is not sent as application/json",
    message: "Send the body as JSON with Content-Type: application/json",
  },
  "429": { code: "RATE_LIMITED", description: "Too many requests", message: "Too many requests" },
  "500": {
    code: "INTERNAL_SERVER_ERROR",
    description: "Unexpected error; quote the request_id",
    message: "Internal server error",
  },
  "502": {
    code: "UPSTREAM_ERROR",
    description: "The MCP server failed or could not be reached",
    message: "Sync failed: The server could not be reached",
  },
  "503": {
    code: "SERVICE_UNAVAILABLE",
    description: "The database cannot be reached right now; retry after `Retry-After` seconds",
    message: "The database cannot be reached right now; retry shortly",
  },
};

/** Operations whose failure can come from the MCP server itself. */
const UPSTREAM_OPERATIONS = new Set(["connections.sync"]);
/** Operations that answer 202 with a run awaiting approval (a require_approval policy matched). */
const APPROVAL_HELD_OPERATIONS = new Set(["tools.run"]);
/** Operations a policy's rate limit can refuse with 429. */
const RATE_LIMITED_OPERATIONS = new Set(["tools.run"]);
/** Deletes refused with 409 while policies name what they delete (unless confirmed). */
const POLICY_GUARDED_DELETES = new Set(["agents.delete", "environments.delete"]);

const ids = {
  user: "8a6e0f7c-4b1d-4c8e-9f3a-2d5b7c9e1a04",
  org: "0b9f3c2e-7a14-4d6b-8e21-5c3f9a7d2b10",
  connection: "5d2a8e41-93c7-4f0b-a6e5-1b7c3d9f4e22",
  tool: "c41e7b93-2f58-4a0d-b6c1-9e3a5d7f8b31",
  agent: "7f3b9d15-6e2a-4c8f-91d4-3a5e7c0b2f46",
  policy: "e9a2c5d7-1b3f-4e6a-8c0d-2f4b6a8e1c57",
  run: "3c8e1a6f-5d2b-4f9e-a7c3-6b0d2e4f8a68",
};
const at = "2026-01-15T09:30:00.000Z";
const exampleUser: z.output<typeof user> = {
  id: ids.user,
  email: "ada@example.com",
  first_name: "Ada",
  last_name: "Lovelace",
  is_platform_admin: false,
  email_verified: true,
  date_joined: at,
};
const exampleAuth: z.output<typeof authResult> = {
  token: "k3v9w2x7q4m8p1r6t5y0u3i8o2e7a4s9",
  user: exampleUser,
};
const exampleOrg: z.output<typeof org> = {
  id: ids.org,
  name: "Acme",
  slug: "acme",
  role: "owner",
  oauth_approver_role: "admin",
  quarantine_new_tools: false,
  email_approvers: true,
  created_at: at,
  updated_at: at,
};
const exampleConnection: z.output<typeof connection> = {
  id: ids.connection,
  org_id: ids.org,
  environment_id: null,
  name: "Demo MCP",
  slug: "demo-mcp",
  description: "",
  transport: "streamable_http",
  url: "http://localhost:3000/demo/mcp",
  stdio_server: null,
  headers: {},
  has_secret: true,
  secret_keys: { headers: ["Authorization"], env: [] },
  auth: "headers",
  oauth: null,
  needs_reauthorization: false,
  timeout_ms: 30000,
  allow_sampling: true,
  allow_elicitation: true,
  allow_tasks: true,
  status: "unknown",
  last_error: null,
  last_tested_at: null,
  last_synced_at: null,
  sync_interval_minutes: 60,
  next_sync_at: at,
  server_info: null,
  created_at: at,
  updated_at: at,
};
const exampleRun: z.output<typeof run> = {
  id: ids.run,
  org_id: ids.org,
  kind: "tool",
  tool_id: ids.tool,
  tool_name: "echo",
  agent_id: ids.agent,
  user_id: ids.user,
  environment_id: null,
  status: "succeeded",
  input: { text: "hello" },
  output: { content: [{ type: "text", text: "hello" }], isError: false },
  output_truncated: false,
  error: null,
  decision: { allowed: true, reason: "Allowed by policy Support bot may echo" },
  triggered_by: { type: "user", id: ids.user, surface: "rest" },
  started_at: at,
  finished_at: "2026-01-15T09:30:00.042Z",
  duration_ms: 42,
  request_id: "5f0c6f0e-2a4b-4f7e-9a43-0d8f1c2b7e11",
  relayed: null,
  trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
  guardrails: {
    hooks: [
      {
        policy_id: ids.policy,
        policy_name: "Support bot may echo",
        stage: "pre_call",
        outcome: "allowed",
        duration_ms: 12,
      },
    ],
    redacted: { secrets: 0, patterns: 1 },
  },
};

/** Examples by procedure path: what an integrator copies first. */
const EXAMPLES: Record<string, { request?: Record<string, unknown>; response?: unknown }> = {
  "auth.register": {
    request: {
      email: "ada@example.com",
      password: "correct-horse-battery",
      password_confirm: "correct-horse-battery",
      first_name: "Ada",
      last_name: "Lovelace",
    } satisfies z.input<typeof registerInput>,
    response: exampleAuth,
  },
  "auth.login": {
    request: { email: "ada@example.com", password: "correct-horse-battery" } satisfies z.input<
      typeof loginInput
    >,
    response: exampleAuth,
  },
  "auth.me": { response: exampleUser },
  "orgs.list": { response: { results: [exampleOrg], next_cursor: null } },
  "orgs.create": {
    request: { name: "Acme", slug: "acme" } satisfies z.input<typeof createOrgInput>,
    response: exampleOrg,
  },
  "orgs.get": { response: exampleOrg },
  "connections.create": {
    request: {
      name: "Demo MCP",
      transport: "streamable_http",
      url: "http://localhost:3000/demo/mcp",
      secret: { headers: { Authorization: "Bearer upstream-token" } },
    } satisfies z.input<typeof createConnectionInput>,
    response: exampleConnection,
  },
  "connections.get": { response: exampleConnection },
  "connections.list": { response: { results: [exampleConnection], next_cursor: null } },
  "connections.test": {
    response: {
      ok: true,
      latency_ms: 12,
      server: { name: "demo-mcp-server", version: "1.0.0" },
      protocol_version: "2025-06-18",
      capabilities: { tools: { listChanged: true } },
      error: null,
    } satisfies z.output<typeof connectionTestResult>,
  },
  "connections.sync": {
    response: { created: 1, changed: 1, unchanged: 1, stale: 0, total: 3 } satisfies z.output<
      typeof syncResult
    >,
  },
  "agents.create": {
    request: { name: "Support bot", description: "Answers tickets" } satisfies z.input<
      typeof createAgentInput
    >,
  },
  "agents.keys.create": {
    request: { name: "production" } satisfies z.input<typeof createAgentKeyInput>,
  },
  "policies.create": {
    request: {
      name: "Support bot may echo",
      effect: "allow",
      agent_id: ids.agent,
      target: "tool",
      tool_pattern: "echo",
      rate_limit: { max_calls: 60, per_seconds: 60 },
      pre_call_hook: {
        url: "https://guard.example.com/pre",
        timeout_ms: 2000,
        fail_mode: "closed",
      },
      redact_patterns: ["sk-[A-Za-z0-9]{20,}"],
    } satisfies z.input<typeof createPolicyInput>,
  },
  "policies.evaluate": {
    request: { agent_id: ids.agent, tool_id: ids.tool, input: { text: "hello" } } satisfies z.input<
      typeof evaluatePolicyInput
    >,
  },
  "tools.run": {
    request: { agent_id: ids.agent, input: { text: "hello" } } satisfies z.input<
      typeof runToolInput
    >,
    response: exampleRun,
  },
  "runs.get": { response: exampleRun },
  "runs.list": {
    response: { results: [exampleRun], next_cursor: "eyJ0IjoiMjAyNi0wMS0xNVQwOTozMDowMC4wMDBaIn0" },
  },
};

type Schema = Record<string, unknown>;
interface MediaType {
  schema?: Schema;
  example?: unknown;
}
interface Response {
  description?: string;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, Response>;
  [extension: `x-${string}`]: unknown;
}

function camelCase(dotted: string): string {
  return dotted
    .split(/[.\-_\s]+/)
    .map((part, index) => (index === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join("");
}

/** The error statuses an operation can answer, unless its meta lists them (`openapi.errorResponses`). */
function errorStatuses(
  procedure: RestProcedure,
  operation: Operation,
  isProtected: boolean,
): string[] {
  const declared = procedure.openapi.errorResponses;
  if (declared !== undefined) {
    return Array.isArray(declared) ? declared.map(String) : Object.keys(declared);
  }
  const { method, path } = procedure.openapi;
  const hasBody = operation.requestBody !== undefined;
  const statuses: string[] = [];
  if (hasBody || (operation.parameters?.length ?? 0) > 0) statuses.push("400");
  if (isProtected) statuses.push("401", "403");
  else if (procedure.path === "auth.login") statuses.push("401");
  if (path.includes("{")) statuses.push("404");
  const createsOrRenames =
    (procedure.successStatus === 201 &&
      procedure.path !== "tools.run" &&
      procedure.path !== "agents.keys.create") ||
    method === "PATCH";
  if (createsOrRenames || POLICY_GUARDED_DELETES.has(procedure.path)) statuses.push("409");
  if (hasBody) statuses.push("413", "415");
  if (RATE_LIMITED_OPERATIONS.has(procedure.path)) statuses.push("429");
  if (UPSTREAM_OPERATIONS.has(procedure.path)) statuses.push("502");
  statuses.push("500", "503");
  return statuses;
}

/** A plausible field error for this operation's 400 example: its first required body field, else its id. */
function exampleIssue(operation: Operation): { path: string; message: string } {
  const schema = operation.requestBody?.content?.["application/json"]?.schema;
  const required = schema?.required;
  const field =
    Array.isArray(required) && typeof required[0] === "string" ? required[0] : undefined;
  if (field) return { path: field, message: "Required" };
  const parameter = operation.parameters?.[0] as { name?: unknown; in?: unknown } | undefined;
  if (parameter?.in === "path" && typeof parameter.name === "string")
    return { path: parameter.name, message: "Must be a UUID" };
  if (typeof parameter?.name === "string")
    return { path: parameter.name, message: "Invalid value" };
  return { path: "", message: "Request body is not valid JSON" };
}

function errorResponse(
  status: string,
  description: string | undefined,
  operation: Operation,
): Response {
  const known = ERROR_DESCRIPTIONS[status];
  const issue = exampleIssue(operation);
  const example = known && {
    code: known.code,
    message:
      status === "400"
        ? `Invalid input: ${issue.path ? `${issue.path}: ` : ""}${issue.message}`
        : known.message,
    ...(status === "400" && issue.path ? { issues: [issue] } : {}),
    request_id: "0d6f1c8e-2b4a-4e7d-9c3f-5a1b8e2d4f60",
  };
  return {
    description: description ?? known?.description ?? "Error",
    content: {
      "application/json": {
        schema: { $ref: "#/components/schemas/Error" },
        ...(example ? { example } : {}),
      },
    },
  };
}

/**
 * zod-openapi names a schema's output rendering `<Name>Output` when it differs from the input one;
 * the API never takes these schemas as input, so the plain name is the right one.
 */
function dropOutputSuffixes(document: OpenAPIObject): void {
  const schemas = document.components?.schemas;
  if (!schemas) return;
  const renames = new Map<string, string>();
  for (const name of Object.keys(schemas)) {
    const base = name.replace(/Output$/, "");
    if (base !== name && base in NAMED_SCHEMAS && !(base in schemas)) renames.set(name, base);
  }
  if (renames.size === 0) return;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => {
        if (key === "$ref" && typeof entry === "string") {
          const name = entry.slice("#/components/schemas/".length);
          const renamed = renames.get(name);
          return [key, renamed ? `#/components/schemas/${renamed}` : entry];
        }
        return [key, rewrite(entry)];
      }),
    );
  };
  document.paths = rewrite(document.paths) as OpenAPIObject["paths"];
  const renamedSchemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(schemas))
    renamedSchemas[renames.get(name) ?? name] = rewrite(schema);
  document.components = { ...document.components, schemas: renamedSchemas as typeof schemas };
}

/** Drops component schemas nothing points to (the generator's own error schemas, which ours replace). */
function pruneUnusedSchemas(document: OpenAPIObject): void {
  const schemas = document.components?.schemas;
  if (!schemas) return;
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
    } else if (value !== null && typeof value === "object") {
      for (const [key, entry] of Object.entries(value)) {
        if (
          key === "$ref" &&
          typeof entry === "string" &&
          entry.startsWith("#/components/schemas/")
        ) {
          const name = decodeURIComponent(entry.slice("#/components/schemas/".length));
          if (!used.has(name)) {
            used.add(name);
            visit(schemas[name]);
          }
        } else {
          visit(entry);
        }
      }
    }
  };
  visit(document.paths);
  for (const name of Object.keys(schemas)) {
    if (!used.has(name)) Reflect.deleteProperty(schemas, name);
  }
}

/**
 * The document trpc-to-openapi derives from the procedures, completed where the generator cannot
 * express our conventions: 201/204 success statuses, the shared error body and which errors each
 * operation can answer, public auth operations, stable operationIds, tags and examples.
 */
export function createOpenApiDocument(baseUrl: string): OpenAPIObject {
  const document = generateOpenApiDocument(appRouter, {
    title: "MCP Agents Platform API",
    version: "1.0.0",
    baseUrl,
    description: DESCRIPTION,
    securitySchemes: {
      Token: {
        type: "apiKey",
        in: "header",
        name: "Authorization",
        description:
          "`Token <token>` with a token from /auth/login or /auth/register; `Bearer <agent key>` to run tools as an agent",
      },
    },
    defs: NAMED_SCHEMAS,
  });
  document.tags = TAGS;

  const byRoute = new Map(
    restProcedures(appRouter).map((p) => [
      `${p.openapi.method} ${p.openapi.path.replace(/\/+$/, "")}`,
      p,
    ]),
  );
  for (const [path, pathItem] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(pathItem as Record<string, Operation>)) {
      const procedure = byRoute.get(`${method.toUpperCase()} ${path}`);
      if (!procedure) throw new Error(`No procedure serves ${method.toUpperCase()} ${path}`);
      const isProtected = procedure.openapi.protect !== false;
      operation.operationId = procedure.openapi.operationId ?? camelCase(procedure.path);
      operation["x-trpc-procedure"] = procedure.path;

      const examples = EXAMPLES[procedure.path];
      const requestMedia = operation.requestBody?.content?.["application/json"];
      if (requestMedia && examples?.request) requestMedia.example = examples.request;

      const status = procedure.successStatus;
      const generated = operation.responses?.["200"];
      const success: Response =
        status === 204
          ? { description: procedure.openapi.successDescription ?? "No content" }
          : {
              ...generated,
              description:
                procedure.openapi.successDescription ?? (status === 201 ? "Created" : "OK"),
            };
      const successMedia = success.content?.["application/json"];
      if (successMedia && examples?.response !== undefined)
        successMedia.example = examples.response;

      const declared = procedure.openapi.errorResponses;
      const descriptions: Record<string, string> =
        declared !== undefined && !Array.isArray(declared)
          ? Object.fromEntries(Object.entries(declared).map(([code, text]) => [code, text]))
          : {};
      operation.responses = {
        [String(status)]: success,
        ...(APPROVAL_HELD_OPERATIONS.has(procedure.path)
          ? {
              "202": {
                ...success,
                description:
                  "Accepted: a require_approval policy holds the call; the run is in status awaiting_approval (poll GET /runs/{id})",
              },
            }
          : {}),
        ...Object.fromEntries(
          errorStatuses(procedure, operation, isProtected).map((code) => [
            code,
            errorResponse(code, descriptions[code], operation),
          ]),
        ),
      };
    }
  }
  pruneUnusedSchemas(document);
  dropOutputSuffixes(document);
  return document;
}
