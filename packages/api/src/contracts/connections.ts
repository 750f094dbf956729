import { z } from "zod";
import { description, httpUrl, pageInput, slug, timestamp, trimmedName, uuid } from "./common";
import { CONNECTION_TIMEOUT_MAX_MS, CONNECTION_TIMEOUT_MIN_MS } from "./limits";

export const TRANSPORTS = ["streamable_http", "sse", "stdio"] as const;
export const transport = z.enum(TRANSPORTS);
export const CONNECTION_STATUSES = ["unknown", "healthy", "unhealthy"] as const;

const headerName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "Not a valid HTTP header name");
const headerValue = z.string().max(8192, "At most 8192 characters");
const headers = z
  .record(headerName, headerValue)
  .refine((value) => Object.keys(value).length <= 50, "At most 50 headers");
const envName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "Not a valid environment variable name");
const env = z
  .record(envName, z.string().max(32768))
  .refine((value) => Object.keys(value).length <= 100, "At most 100 variables");

/** Write-only: stored encrypted, never returned. `null` removes it. */
export const connectionSecret = z.object({
  headers: headers
    .optional()
    .describe("Secret request headers, e.g. Authorization (HTTP transports)"),
  env: env
    .optional()
    .describe("Variables for a stdio server: only those its declaration lists (see stdio-servers)"),
});
export type ConnectionSecretInput = z.infer<typeof connectionSecret>;

const stdioServerId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "Not a stdio server id: a-z, 0-9, _ and -");

const connectionFields = {
  name: trimmedName,
  slug: slug
    .optional()
    .describe("Used to namespace clashing tool names; derived from the name if omitted"),
  description: description.optional(),
  environment_id: uuid.nullable().optional(),
  transport,
  url: httpUrl.nullable().optional().describe("Required for streamable_http and sse"),
  stdio_server: stdioServerId
    .nullable()
    .optional()
    .describe("Required for stdio: the id of a server the operator declared (see stdio-servers)"),
  headers: headers.optional().describe("Non-secret request headers"),
  secret: connectionSecret.nullable().optional(),
  timeout_ms: z
    .number()
    .int()
    .min(CONNECTION_TIMEOUT_MIN_MS, `At least ${CONNECTION_TIMEOUT_MIN_MS} ms`)
    .max(CONNECTION_TIMEOUT_MAX_MS, `At most ${CONNECTION_TIMEOUT_MAX_MS} ms`)
    .optional(),
  allow_sampling: z
    .boolean()
    .optional()
    .describe(
      "Whether the server may ask the calling MCP client for an LLM completion (sampling/createMessage) during a tool call; default true",
    ),
  allow_elicitation: z
    .boolean()
    .optional()
    .describe(
      "Whether the server may ask the calling MCP client's user for input (elicitation/create) during a tool call; default true",
    ),
  allow_tasks: z
    .boolean()
    .optional()
    .describe(
      "Whether the MCP gateway runs the server's tools as tasks (task-augmented tools/call, in the background) when a client asks; default true",
    ),
};

function requireTransportFields(
  value: {
    transport?: string | undefined;
    url?: string | null | undefined;
    stdio_server?: string | null | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if ((value.transport === "streamable_http" || value.transport === "sse") && !value.url) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: `A url is required for the ${value.transport} transport`,
    });
  }
  if (value.transport === "stdio" && !value.stdio_server) {
    ctx.addIssue({
      code: "custom",
      path: ["stdio_server"],
      message: "A declared stdio server is required for the stdio transport",
    });
  }
}

export const createConnectionInput = z.object(connectionFields).superRefine(requireTransportFields);
export type CreateConnectionInput = z.infer<typeof createConnectionInput>;

/** A partial update; the transport fields are re-checked against the stored row by the service. */
export const updateConnectionInput = z.object(connectionFields).partial();
export type UpdateConnectionInput = z.infer<typeof updateConnectionInput>;

export const listConnectionsInput = pageInput.extend({ environment_id: uuid.optional() });

export const connection = z.object({
  id: uuid,
  org_id: uuid,
  environment_id: uuid.nullable(),
  name: z.string(),
  slug: z.string(),
  description: z.string(),
  transport,
  url: z.string().nullable(),
  stdio_server: z.string().nullable(),
  headers: z.record(z.string(), z.string()),
  has_secret: z.boolean(),
  secret_keys: z
    .object({ headers: z.array(z.string()), env: z.array(z.string()) })
    .describe("Names of the secret headers and variables that are set; never their values"),
  timeout_ms: z.number().int(),
  allow_sampling: z.boolean(),
  allow_elicitation: z.boolean(),
  allow_tasks: z.boolean(),
  status: z.enum(CONNECTION_STATUSES),
  last_error: z.string().nullable(),
  last_tested_at: timestamp.nullable(),
  last_synced_at: timestamp.nullable(),
  server_info: z.record(z.string(), z.unknown()).nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type ConnectionDto = z.infer<typeof connection>;

export const updatedConnection = connection.extend({
  secret_cleared: z
    .boolean()
    .describe(
      "True when the update changed where the secret goes (URL origin, transport or stdio server) without giving a new secret, so the stored secret was removed",
    ),
});
export type UpdatedConnectionDto = z.infer<typeof updatedConnection>;

/** A stdio server the operator declared; the host's command and paths are not shown. */
export const stdioServer = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  env: z.array(z.string()).describe("Variables a connection may set through its secret"),
  sandboxed: z.boolean().describe("Runs inside bubblewrap, without access to the platform's data"),
});
export type StdioServerDto = z.infer<typeof stdioServer>;
export const stdioServerList = z.object({ results: z.array(stdioServer) });

export const connectionTestResult = z.object({
  ok: z.boolean(),
  latency_ms: z.number(),
  server: z.object({ name: z.string(), version: z.string() }).nullable(),
  protocol_version: z.string().nullable(),
  capabilities: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
});
export type ConnectionTestResult = z.infer<typeof connectionTestResult>;

export const syncResult = z.object({
  created: z.number().int(),
  updated: z.number().int(),
  stale: z.number().int(),
  total: z.number().int().describe("Tools the server offers now"),
});
export type SyncResult = z.infer<typeof syncResult>;
