import { z } from "zod";
import { description, httpUrl, pageInput, slug, timestamp, trimmedName, uuid } from "./common";
import {
  CONNECTION_TIMEOUT_MAX_MS,
  CONNECTION_TIMEOUT_MIN_MS,
  SYNC_INTERVAL_MAX_MINUTES,
  SYNC_INTERVAL_MIN_MINUTES,
} from "./limits";

export const TRANSPORTS = ["streamable_http", "sse", "stdio"] as const;
export const transport = z.enum(TRANSPORTS);
export const CONNECTION_STATUSES = ["unknown", "healthy", "unhealthy"] as const;

export const headerName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "Not a valid HTTP header name");
const headerValue = z.string().max(8192, "At most 8192 characters");
const headers = z
  .record(headerName, headerValue)
  .refine((value) => Object.keys(value).length <= 50, "At most 50 headers");
export const envName = z
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

export const CONNECTION_AUTHS = ["none", "headers", "oauth"] as const;
export const OAUTH_CREDENTIAL_MODES = ["shared", "per_user"] as const;

/** How an `oauth` connection identifies itself and whose accounts it uses. */
export const connectionOAuthInput = z.object({
  credential_mode: z
    .enum(OAUTH_CREDENTIAL_MODES)
    .describe("shared: one account for the org; per_user: each member connects their own"),
  client_id: z
    .string()
    .min(1)
    .max(500)
    .optional()
    .describe("A client id the server issued for the platform; omitted: dynamic registration"),
  client_secret: z.string().min(1).max(2000).optional().describe("Write-only, stored encrypted"),
  scope: z.string().max(1000).optional().describe("Scopes to request; omitted: the server's"),
});

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
  auth: z
    .enum(CONNECTION_AUTHS)
    .optional()
    .describe(
      "none; headers (the secret's headers); oauth (tokens from the server's authorization server, see oauth). Default: headers when a secret is given, else none",
    ),
  oauth: connectionOAuthInput.optional().describe("Required when auth is oauth"),
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
  sync_interval_minutes: z
    .number()
    .int()
    .min(SYNC_INTERVAL_MIN_MINUTES, `At least ${SYNC_INTERVAL_MIN_MINUTES} minute`)
    .max(SYNC_INTERVAL_MAX_MINUTES, `At most ${SYNC_INTERVAL_MAX_MINUTES} minutes (a week)`)
    .nullable()
    .optional()
    .describe(
      "Sync the tools this often (minutes), so a changed tool definition is quarantined without anyone pressing Sync; null (default) syncs only on request",
    ),
};

function requireTransportFields(
  value: {
    transport?: string | undefined;
    url?: string | null | undefined;
    stdio_server?: string | null | undefined;
    auth?: string | undefined;
    oauth?: unknown;
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
  if (value.auth === "oauth" && !value.oauth) {
    ctx.addIssue({
      code: "custom",
      path: ["oauth"],
      message: "OAuth connections need oauth.credential_mode",
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

/** The fields as the API takes them, for documents that describe connections (config as code). */
export const connectionSettingsFields = connectionFields;

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
  auth: z.enum(CONNECTION_AUTHS),
  oauth: z
    .object({
      credential_mode: z.enum(OAUTH_CREDENTIAL_MODES),
      client_registration: z
        .enum(["dynamic", "manual", "metadata_document"])
        .nullable()
        .describe(
          "manual: an admin entered the client; metadata_document: the platform's client ID metadata document URL is its client id; dynamic: registered at first Connect",
        ),
      client_id: z.string().nullable(),
      scope: z.string().nullable(),
    })
    .nullable(),
  needs_reauthorization: z
    .boolean()
    .describe("The org's OAuth credential could not be refreshed: an admin must connect again"),
  timeout_ms: z.number().int(),
  allow_sampling: z.boolean(),
  allow_elicitation: z.boolean(),
  allow_tasks: z.boolean(),
  status: z.enum(CONNECTION_STATUSES),
  last_error: z.string().nullable(),
  last_tested_at: timestamp.nullable(),
  last_synced_at: timestamp.nullable(),
  sync_interval_minutes: z.number().int().nullable(),
  next_sync_at: timestamp.nullable().describe("When the scheduled sync runs next"),
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
  created: z.number().int().describe("Tools seen for the first time"),
  changed: z
    .number()
    .int()
    .describe(
      "Tools whose definition differs from the one last seen: quarantined until an admin approves it",
    ),
  unchanged: z.number().int().describe("Tools whose definition is the one last seen"),
  stale: z.number().int().describe("Tools the server no longer offers (disabled)"),
  total: z.number().int().describe("Tools the server offers now"),
});
export type SyncResult = z.infer<typeof syncResult>;

export const connectionAuthorizationStart = z.object({
  authorization_url: z
    .string()
    .describe("Send the person here; the server redirects back to the platform's callback"),
  expires_at: timestamp,
});

export const CREDENTIAL_STATUSES = ["connected", "needs_reauthorization", "not_connected"] as const;

export const credentialTarget = z.object({
  credential: z
    .enum(OAUTH_CREDENTIAL_MODES)
    .describe("shared: the org's credential (admins); per_user: your own"),
});

/** An OAuth connection as one member sees it: their own credential's state. */
export const myConnection = z.object({
  connection_id: uuid,
  name: z.string(),
  url: z.string().nullable(),
  credential_mode: z.enum(OAUTH_CREDENTIAL_MODES),
  status: z.enum(CREDENTIAL_STATUSES),
});
export type MyConnectionDto = z.infer<typeof myConnection>;
export const myConnectionList = z.object({ results: z.array(myConnection) });
