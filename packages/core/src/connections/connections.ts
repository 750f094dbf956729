import { and, eq, isNotNull, like, ne, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { connectionCredentials, connections, environments, type JsonObject } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { isDistinctFrom } from "../lib/sql";
import { tenantResource } from "../lib/tenant-table";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { uuidv7 } from "../lib/ids";
import { conflictMapper } from "../lib/pg-errors";
import { slugify } from "../lib/slug";
import { assertOutboundUrlAllowed } from "../mcp/outbound";
import { stdioLaunch, type StdioServer } from "../mcp/stdio-servers";
import type { McpTarget } from "../mcp/target";
import { testMcpConnection, type McpConnectionTestResult } from "../mcp/test-connection";
import { MCP_CLIENT_INFO, type McpRuntime } from "../runtime";
import { SecretStoreError } from "../secrets/secret-store";
import { authorizeTarget, manualClientCiphertext, revokeConnectionCredentials } from "./oauth";

export type Connection = typeof connections.$inferSelect;
export type Transport = Connection["transport"];

export interface ConnectionSecret {
  headers?: Record<string, string> | undefined;
  env?: Record<string, string> | undefined;
}

export interface ConnectionFields {
  name: string;
  slug?: string | undefined;
  description?: string | undefined;
  environment_id?: string | null | undefined;
  transport: Transport;
  url?: string | null | undefined;
  /** Id of an operator-declared stdio server; the only way to say what a stdio connection runs. */
  stdio_server?: string | null | undefined;
  headers?: Record<string, string> | undefined;
  /** `null` removes the secret; `undefined` keeps it. */
  secret?: ConnectionSecret | null | undefined;
  timeout_ms?: number | undefined;
  /** Whether the server may ask calling clients for LLM completions (sampling); default true. */
  allow_sampling?: boolean | undefined;
  /** Whether the server may ask calling clients' users for input (elicitation); default true. */
  allow_elicitation?: boolean | undefined;
  /** Whether the gateway runs the server's tools as MCP tasks when asked; default true. */
  allow_tasks?: boolean | undefined;
  /** Minutes between scheduled syncs; null or absent: only on request. */
  sync_interval_minutes?: number | null | undefined;
  /** Default: `headers` when a secret is given, else `none`. */
  auth?: Connection["auth"] | undefined;
  /** For `oauth`: whose accounts, and an admin-entered client (else dynamic registration). */
  oauth?: ConnectionOAuthFields | undefined;
}

/** A connection's sync interval and its first scheduled sync, one interval from now. */
function syncSchedule(minutes: number | null): {
  sync_interval_minutes: number | null;
  next_sync_at: SQL | null;
} {
  return {
    sync_interval_minutes: minutes,
    next_sync_at: minutes === null ? null : sql`now() + make_interval(mins => ${minutes})`,
  };
}

export interface ConnectionOAuthFields {
  credential_mode: "shared" | "per_user";
  client_id?: string | undefined;
  client_secret?: string | undefined;
  scope?: string | undefined;
}

/** The OAuth columns for `auth` and `oauth`; `oauth` given without `auth: oauth` is refused. */
function oauthColumns(
  runtime: McpRuntime,
  owner: { org_id: string; id: string },
  auth: Connection["auth"],
  transport: Transport,
  oauth: ConnectionOAuthFields | undefined,
) {
  if (auth !== "oauth") {
    if (oauth) throw AppError.invalidField("oauth", 'Only for connections with auth "oauth"');
    return {
      oauth_credential_mode: null,
      oauth_scope: null,
      oauth_client_registration: null,
      oauth_client_id: null,
      oauth_client_ciphertext: null,
      needs_reauthorization: false,
    };
  }
  if (transport === "stdio")
    throw AppError.invalidField("auth", "OAuth is for servers reached over HTTP, not stdio");
  if (!oauth)
    throw AppError.invalidField(
      ["oauth", "credential_mode"],
      "OAuth connections need a credential mode",
    );
  if (oauth.client_secret && !oauth.client_id)
    throw AppError.invalidField(["oauth", "client_id"], "A client secret needs its client id");
  return {
    oauth_credential_mode: oauth.credential_mode,
    oauth_scope: oauth.scope ?? null,
    oauth_client_registration: oauth.client_id ? ("manual" as const) : null,
    oauth_client_id: oauth.client_id ?? null,
    oauth_client_ciphertext: oauth.client_id
      ? manualClientCiphertext(runtime, owner, {
          client_id: oauth.client_id,
          client_secret: oauth.client_secret,
        })
      : null,
  };
}

export const DEFAULT_TIMEOUT_MS = 10_000;

const toConflict = conflictMapper({
  connections_org_name_uq: {
    field: "name",
    message: "A connection with this name already exists in the organization",
  },
  connections_org_slug_uq: {
    field: "slug",
    message: "A connection with this slug already exists in the organization",
  },
});

export async function assertEnvironmentInOrg(
  db: Db,
  orgId: string,
  environmentId: string | null | undefined,
): Promise<void> {
  if (!environmentId) return;
  const [row] = await db
    .select({ id: environments.id })
    .from(environments)
    .where(and(eq(environments.org_id, orgId), eq(environments.id, environmentId)));
  if (!row)
    throw AppError.invalidField("environment_id", "No such environment in this organization");
}

function declaredStdioServer(runtime: McpRuntime, id: string): StdioServer {
  const declared = runtime.outbound.stdioServers;
  const server = declared.find((candidate) => candidate.id === id);
  if (server) return server;
  throw AppError.invalidField(
    "stdio_server",
    declared.length === 0
      ? "No stdio servers are declared on this server; the operator declares them in MCP_STDIO_SERVERS"
      : `No stdio server "${id}" is declared; declared: ${declared.map((candidate) => candidate.id).join(", ")}`,
  );
}

/** The transport decides which fields matter; the others are cleared so a row never mixes them. */
async function normalizeTransport(
  runtime: McpRuntime,
  fields: Pick<ConnectionFields, "transport" | "url" | "stdio_server">,
): Promise<{ url: string | null; stdio_server: string | null }> {
  if (fields.transport === "stdio") {
    if (!fields.stdio_server)
      throw AppError.invalidField(
        "stdio_server",
        "A declared stdio server is required for the stdio transport",
      );
    declaredStdioServer(runtime, fields.stdio_server);
    return { url: null, stdio_server: fields.stdio_server };
  }
  if (!fields.url)
    throw AppError.invalidField("url", `A url is required for the ${fields.transport} transport`);
  await assertOutboundUrlAllowed(fields.url, {
    blockPrivateNetworks: runtime.outbound.blockPrivateNetworks,
  });
  return { url: fields.url, stdio_server: null };
}

/** A stdio connection's secret sets variables, and only those its declared server lists. */
function assertSecretFitsServer(
  runtime: McpRuntime,
  stdioServer: string | null,
  secret: ConnectionSecret | null | undefined,
): void {
  if (!secret || stdioServer === null) return;
  const server = declaredStdioServer(runtime, stdioServer);
  for (const name of Object.keys(secret.env ?? {})) {
    if (!server.env.includes(name))
      throw AppError.invalidField(
        ["secret", "env", name],
        server.env.length === 0
          ? `Stdio server "${server.id}" takes no variables`
          : `Stdio server "${server.id}" does not take "${name}"; it takes: ${server.env.join(", ")}`,
      );
  }
}

/**
 * Headers the HTTP client or the MCP transport own: framing and hop-by-hop headers would let a
 * connection smuggle requests or break the exchange, and the transport sets the MCP ones itself.
 */
const RESERVED_HEADER_NAMES = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "http2-settings",
  "content-type",
  "content-encoding",
  "accept",
  "accept-encoding",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
]);

// A CR or LF would split the header into two; NUL is cut off by C-based servers.
const CONTROL_CHARACTER = /[\r\n\0]/;

function assertHeadersAllowed(headers: Record<string, string> | undefined, field: string[]): void {
  for (const [name, value] of Object.entries(headers ?? {})) {
    const path = [...field, name];
    if (CONTROL_CHARACTER.test(name))
      throw AppError.invalidField(path, "Header names cannot contain CR, LF or NUL");
    if (RESERVED_HEADER_NAMES.has(name.toLowerCase()))
      throw AppError.invalidField(
        path,
        `Header "${name}" is managed by the HTTP client and the MCP transport and cannot be set`,
      );
    // The value is left out of the message: it may be a secret.
    if (CONTROL_CHARACTER.test(value))
      throw AppError.invalidField(path, `Header "${name}" cannot contain CR, LF or NUL`);
  }
}

function assertSecretAllowed(secret: ConnectionSecret | null | undefined): void {
  if (!secret) return;
  assertHeadersAllowed(secret.headers, ["secret", "headers"]);
  for (const [name, value] of Object.entries(secret.env ?? {})) {
    if (name.includes("\0") || value.includes("\0"))
      throw AppError.invalidField(["secret", "env", name], "Variables cannot contain NUL");
  }
}

/** What a connection's secret is bound to, so its ciphertext opens for this row only. */
function secretBinding(connection: { org_id: string; id: string }): string {
  return `connection:${connection.org_id}:${connection.id}`;
}

function encryptSecret(
  runtime: McpRuntime,
  secret: ConnectionSecret | null,
  owner: { org_id: string; id: string },
) {
  if (secret === null) return { secret_ciphertext: null, secret_keys: null };
  const headers = secret.headers ?? {};
  const env = secret.env ?? {};
  if (Object.keys(headers).length === 0 && Object.keys(env).length === 0) {
    return { secret_ciphertext: null, secret_keys: null };
  }
  return {
    secret_ciphertext: runtime.secrets.encrypt(
      JSON.stringify({ headers, env }),
      secretBinding(owner),
    ),
    secret_keys: { headers: Object.keys(headers).sort(), env: Object.keys(env).sort() },
  };
}

export async function createConnection(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: ConnectionFields & { orgId: string },
): Promise<Connection> {
  await assertEnvironmentInOrg(db, input.orgId, input.environment_id);
  assertHeadersAllowed(input.headers, ["headers"]);
  assertSecretAllowed(input.secret);
  const endpoint = await normalizeTransport(runtime, input);
  assertSecretFitsServer(runtime, endpoint.stdio_server, input.secret);
  // The id is chosen here because the secret is encrypted bound to it.
  const id = uuidv7();
  const secret = encryptSecret(runtime, input.secret ?? null, { org_id: input.orgId, id });
  const auth = input.auth ?? (secret.secret_keys ? "headers" : "none");
  const oauth = oauthColumns(
    runtime,
    { org_id: input.orgId, id },
    auth,
    input.transport,
    input.oauth,
  );
  try {
    return await db.transaction(async (tx) => {
      const [connection] = await tx
        .insert(connections)
        .values({
          id,
          org_id: input.orgId,
          environment_id: input.environment_id ?? null,
          name: input.name,
          slug: input.slug ?? slugify(input.name),
          description: input.description ?? "",
          transport: input.transport,
          ...endpoint,
          headers: input.headers ?? {},
          ...secret,
          auth,
          ...oauth,
          timeout_ms: input.timeout_ms ?? DEFAULT_TIMEOUT_MS,
          allow_sampling: input.allow_sampling ?? true,
          allow_elicitation: input.allow_elicitation ?? true,
          allow_tasks: input.allow_tasks ?? true,
          ...syncSchedule(input.sync_interval_minutes ?? null),
        })
        .returning();
      if (!connection) throw new Error("insert returned no connection");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "connection.create",
        target_type: "connection",
        target_id: connection.id,
        metadata: { name: connection.name, transport: connection.transport, auth },
      });
      if (secret.secret_keys) await auditSecretSet(tx, context, connection);
      return connection;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

async function auditSecretSet(
  db: Db,
  context: ActionContext,
  connection: Connection,
  reason?: "destination_changed",
): Promise<void> {
  await recordAudit(db, context, {
    org_id: connection.org_id,
    action: connection.secret_keys ? "connection.secret_set" : "connection.secret_clear",
    target_type: "connection",
    target_id: connection.id,
    // Names only: which headers and variables are secret, never their values.
    metadata: connection.secret_keys
      ? { headers: connection.secret_keys.headers, env: connection.secret_keys.env }
      : reason
        ? { reason }
        : {},
  });
}

export async function listConnections(
  db: Db,
  input: PageRequest & { orgId: string; environment_id?: string | undefined },
): Promise<Page<Connection>> {
  const query = keyset(
    connections.id,
    input,
    and(
      eq(connections.org_id, input.orgId),
      input.environment_id ? eq(connections.environment_id, input.environment_id) : undefined,
    ),
  );
  const rows = await db
    .select()
    .from(connections)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

const connectionResource = tenantResource(connections, "Connection", "connection");
export const getConnection = connectionResource.get;
export const findConnectionOrgId = connectionResource.findOrgId;

/** Where a connection's secret is delivered: a change means the secret must be given again. */
export function destinationOf(connection: {
  transport: Transport;
  url: string | null;
  stdio_server: string | null;
}): string {
  if (connection.transport === "stdio") return JSON.stringify(["stdio", connection.stdio_server]);
  // Streamable HTTP and SSE at one origin reach the same host: the secret may stay.
  let origin = connection.url ?? "";
  try {
    origin = new URL(origin).origin;
  } catch {
    // Not a URL: compared as it is.
  }
  return JSON.stringify(["http", origin]);
}

export interface UpdatedConnection extends Connection {
  /** The destination changed and no new secret was given, so the stored one was removed. */
  secret_cleared: boolean;
}

export async function updateConnection(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: Partial<ConnectionFields> & { orgId: string; id: string },
): Promise<UpdatedConnection> {
  const current = await getConnection(db, input);
  if (input.environment_id !== undefined)
    await assertEnvironmentInOrg(db, input.orgId, input.environment_id);
  if (input.headers !== undefined) assertHeadersAllowed(input.headers, ["headers"]);
  assertSecretAllowed(input.secret);
  const transportChanged =
    input.transport !== undefined || input.url !== undefined || input.stdio_server !== undefined;
  const endpoint: Partial<Awaited<ReturnType<typeof normalizeTransport>>> = transportChanged
    ? await normalizeTransport(runtime, {
        transport: input.transport ?? current.transport,
        url: input.url !== undefined ? input.url : current.url,
        stdio_server: input.stdio_server !== undefined ? input.stdio_server : current.stdio_server,
      })
    : {};
  assertSecretFitsServer(
    runtime,
    (input.transport ?? current.transport) === "stdio"
      ? endpoint.stdio_server !== undefined
        ? endpoint.stdio_server
        : current.stdio_server
      : null,
    input.secret,
  );
  // A secret follows its connection only while the destination stays: a new host or program
  // would otherwise receive it on the next test.
  const secretCleared =
    input.secret === undefined &&
    current.secret_ciphertext !== null &&
    transportChanged &&
    destinationOf({ ...current, ...endpoint, transport: input.transport ?? current.transport }) !==
      destinationOf(current);
  const secret =
    input.secret !== undefined
      ? encryptSecret(runtime, input.secret, current)
      : secretCleared
        ? encryptSecret(runtime, null, current)
        : {};
  const auth = input.auth ?? current.auth;
  const oauthChanged = input.auth !== undefined || input.oauth !== undefined;
  const oauth = oauthChanged
    ? oauthColumns(
        runtime,
        current,
        auth,
        input.transport ?? current.transport,
        input.oauth ??
          (current.oauth_credential_mode && auth === "oauth"
            ? { credential_mode: current.oauth_credential_mode }
            : undefined),
      )
    : {};
  // Tokens belong to one server, one client and one credential mode: any change drops them, so
  // a token is never sent to a new host.
  const dropCredentials =
    current.auth === "oauth" &&
    (oauthChanged || destinationOf({ ...current, ...endpoint }) !== destinationOf(current));
  try {
    const updated = await db.transaction(async (tx) => {
      const [connection] = await tx
        .update(connections)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.slug !== undefined ? { slug: input.slug } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.environment_id !== undefined ? { environment_id: input.environment_id } : {}),
          ...(input.transport !== undefined ? { transport: input.transport } : {}),
          ...endpoint,
          ...(input.headers !== undefined ? { headers: input.headers } : {}),
          ...secret,
          ...(oauthChanged ? { auth, ...oauth } : {}),
          ...(dropCredentials
            ? {
                needs_reauthorization: false,
                ...(current.oauth_client_registration === "dynamic"
                  ? {
                      oauth_client_registration: null,
                      oauth_client_id: null,
                      oauth_client_ciphertext: null,
                    }
                  : {}),
              }
            : {}),
          ...(input.timeout_ms !== undefined ? { timeout_ms: input.timeout_ms } : {}),
          ...(input.allow_sampling !== undefined ? { allow_sampling: input.allow_sampling } : {}),
          ...(input.allow_elicitation !== undefined
            ? { allow_elicitation: input.allow_elicitation }
            : {}),
          ...(input.allow_tasks !== undefined ? { allow_tasks: input.allow_tasks } : {}),
          ...(input.sync_interval_minutes !== undefined
            ? syncSchedule(input.sync_interval_minutes)
            : {}),
          // A changed endpoint has not been tested yet.
          ...(transportChanged ? { status: "unknown" as const, last_error: null } : {}),
          updated_at: new Date(),
        })
        .where(and(eq(connections.org_id, input.orgId), eq(connections.id, input.id)))
        .returning();
      if (!connection) throw AppError.notFound("Connection");
      if (dropCredentials)
        await tx
          .delete(connectionCredentials)
          .where(eq(connectionCredentials.connection_id, connection.id));
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "connection.update",
        target_type: "connection",
        target_id: connection.id,
        metadata: {
          name: connection.name,
          fields: Object.keys(input).filter(
            (key) => key !== "orgId" && key !== "id" && key !== "secret" && key !== "oauth",
          ),
        },
      });
      if (input.secret !== undefined) await auditSecretSet(tx, context, connection);
      else if (secretCleared) await auditSecretSet(tx, context, connection, "destination_changed");
      return connection;
    });
    // Pooled sessions of the old configuration must not serve new calls.
    await runtime.pool.evict(updated.id);
    return { ...updated, secret_cleared: secretCleared };
  } catch (error) {
    throw toConflict(error);
  }
}

export async function deleteConnection(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: { orgId: string; id: string },
): Promise<void> {
  // Its OAuth tokens would outlive it at the authorization server: revoked there first.
  await revokeConnectionCredentials(db, runtime, context, await getConnection(db, input));
  await connectionResource.remove(db, context, input);
  await runtime.pool.evict(input.id);
}

function stdioTarget(
  runtime: McpRuntime,
  connection: Connection,
): { server: StdioServer; launch: NonNullable<McpTarget["stdio"]> } {
  const label = `Connection "${connection.name}" (${connection.id})`;
  if (connection.stdio_server === null)
    throw AppError.conflict(
      `${label} was made before stdio servers were declared by the operator and can no longer start its own command; edit it and pick one of the declared stdio servers`,
    );
  const server = runtime.outbound.stdioServers.find(
    (candidate) => candidate.id === connection.stdio_server,
  );
  if (!server)
    throw AppError.conflict(
      `${label} uses stdio server "${connection.stdio_server}", which is no longer declared on this server (MCP_STDIO_SERVERS)`,
    );
  return { server, launch: stdioLaunch(server, runtime.outbound.sandbox) };
}

function unreadableSecret(connection: Connection, reason: string): AppError {
  return new AppError(
    "SECRET_UNREADABLE",
    `The secret of connection "${connection.name}" (${connection.id}) cannot be decrypted: ${reason}. Set the secret again, or restore the key it was encrypted with.`,
  );
}

function decryptSecret(runtime: McpRuntime, connection: Connection): McpTarget["secret"] {
  if (!connection.secret_ciphertext) return null;
  let plaintext: string;
  try {
    plaintext = runtime.secrets.decrypt(connection.secret_ciphertext, secretBinding(connection));
  } catch (error) {
    if (error instanceof SecretStoreError) throw unreadableSecret(connection, error.message);
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    throw unreadableSecret(connection, "its content is not valid JSON");
  }
  const { headers, env } = (parsed ?? {}) as { headers?: unknown; env?: unknown };
  if (!isStringRecord(headers ?? {}) || !isStringRecord(env ?? {}))
    throw unreadableSecret(connection, "its content is not a set of headers and variables");
  return {
    headers: (headers ?? {}) as Record<string, string>,
    env: (env ?? {}) as Record<string, string>,
  };
}

/** The stored secret headers and variables (decrypted), for comparing a new secret with it. */
export function storedConnectionSecret(
  runtime: McpRuntime,
  connection: Connection,
): { headers: Record<string, string>; env: Record<string, string> } {
  return decryptSecret(runtime, connection) ?? { headers: {}, env: {} };
}

function isStringRecord(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === "string")
  );
}

/**
 * The decrypted view of a connection, for the MCP client only; never logged or returned. Throws
 * SECRET_UNREADABLE when the stored secret does not open.
 */
export function connectionTarget(runtime: McpRuntime, connection: Connection): McpTarget {
  const launch = connection.transport === "stdio" ? stdioTarget(runtime, connection) : null;
  const secret = decryptSecret(runtime, connection);
  if (secret && launch) {
    // Variables the operator no longer declares are not passed on.
    const allowed = new Set(launch.server.env);
    secret.env = Object.fromEntries(
      Object.entries(secret.env).filter(([name]) => allowed.has(name)),
    );
  }
  return {
    transport: connection.transport,
    url: connection.url,
    stdio: launch?.launch ?? null,
    headers: connection.headers,
    secret,
    timeout_ms: connection.timeout_ms,
  };
}

/** The pool key version: an edited connection gets fresh sessions. */
export function connectionVersion(connection: Connection): string {
  return connection.updated_at.toISOString();
}

export async function testConnection(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: { orgId: string; id: string },
): Promise<McpConnectionTestResult> {
  const connection = await getConnection(db, input);
  const base = connectionTarget(runtime, connection);
  // An OAuth connection is tested with the tester's own credential when it is per-user.
  const target =
    connection.auth === "oauth"
      ? (
          await authorizeTarget(db, runtime, connection, base, {
            userId: context.actor.type === "user" ? context.actor.id : null,
          })
        ).target
      : base;
  const result = await testMcpConnection(target, {
    ...MCP_CLIENT_INFO,
    policy: runtime.outbound,
  });
  const serverInfo: JsonObject | null = result.server
    ? {
        name: result.server.name,
        version: result.server.version,
        protocol_version: result.protocol_version,
      }
    : null;
  await db.transaction(async (tx) => {
    await tx
      .update(connections)
      .set({
        status: result.ok ? "healthy" : "unhealthy",
        last_error: result.error,
        last_tested_at: new Date(),
        ...(serverInfo ? { server_info: serverInfo } : {}),
      })
      .where(and(eq(connections.org_id, input.orgId), eq(connections.id, connection.id)));
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "connection.test",
      target_type: "connection",
      target_id: connection.id,
      metadata: { ok: result.ok, latency_ms: result.latency_ms, error: result.error },
    });
  });
  return result;
}

/** Marks a connection healthy or unhealthy after a real exchange (sync, calls). */
export async function recordConnectionHealth(
  db: Db,
  connection: { orgId: string; id: string },
  error: string | null,
): Promise<void> {
  const status = error ? "unhealthy" : "healthy";
  await db
    .update(connections)
    .set({ status, last_error: error })
    .where(
      and(
        eq(connections.org_id, connection.orgId),
        eq(connections.id, connection.id),
        // Only a change is written (health-only writes notify no cache: drizzle/0009).
        or(ne(connections.status, status), isDistinctFrom(connections.last_error, error)),
      ),
    );
}

export interface SecretRotationFailure {
  connection_id: string;
  org_id: string;
  name: string;
  reason: string;
}

/**
 * Re-encrypts every connection secret not yet under the active key (after a new key is put first
 * in SECRET_KEYS) or not yet bound to its connection (written before bindings). Each row is
 * rewritten with its audit event in one transaction, so a crash midway leaves every secret
 * readable and the command can simply be run again. A secret that does not decrypt is reported in
 * `failed` and left as it is; the others go on.
 */
export async function rotateConnectionSecrets(
  db: Db,
  secrets: McpRuntime["secrets"],
  context: ActionContext,
  scope: {
    orgId?: string | undefined;
    /** Only envelopes written before secrets were bound to their connection (`v1.`). */
    unboundOnly?: boolean | undefined;
  } = {},
): Promise<{ rotated: number; total: number; failed: SecretRotationFailure[] }> {
  const rows = await db
    .select({
      id: connections.id,
      org_id: connections.org_id,
      name: connections.name,
      secret_ciphertext: connections.secret_ciphertext,
    })
    .from(connections)
    .where(
      and(
        isNotNull(connections.secret_ciphertext),
        scope.orgId ? eq(connections.org_id, scope.orgId) : undefined,
        scope.unboundOnly ? like(connections.secret_ciphertext, "v1.%") : undefined,
      ),
    );
  let rotated = 0;
  const failed: SecretRotationFailure[] = [];
  for (const row of rows) {
    const stored = row.secret_ciphertext;
    if (!stored) continue;
    let ciphertext: string;
    try {
      if (!secrets.needsRotation(stored)) continue;
      ciphertext = secrets.rotate(stored, secretBinding(row));
    } catch (error) {
      if (!(error instanceof SecretStoreError)) throw error;
      failed.push({
        connection_id: row.id,
        org_id: row.org_id,
        name: row.name,
        reason: error.message,
      });
      continue;
    }
    const written = await db.transaction(async (tx) => {
      const updated = await tx
        .update(connections)
        .set({ secret_ciphertext: ciphertext })
        // Only if unchanged since it was read: a secret set meanwhile (or rotated by another
        // process) must not be overwritten.
        .where(and(eq(connections.id, row.id), eq(connections.secret_ciphertext, stored)))
        .returning({ id: connections.id });
      if (updated.length === 0) return false;
      await recordAudit(tx, context, {
        org_id: row.org_id,
        action: "connection.secret_rotate",
        target_type: "connection",
        target_id: row.id,
        metadata: { key_id: secrets.activeKeyId },
      });
      return true;
    });
    if (written) rotated++;
  }
  return { rotated, total: rows.length, failed };
}
