import { and, eq, isNotNull, ne, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { connections, environments, type JsonObject } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { isDistinctFrom } from "../lib/sql";
import { tenantResource } from "../lib/tenant-table";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { conflictMapper } from "../lib/pg-errors";
import { slugify } from "../lib/slug";
import { assertOutboundUrlAllowed, assertStdioCommandAllowed } from "../mcp/outbound";
import type { McpTarget } from "../mcp/target";
import { testMcpConnection, type McpConnectionTestResult } from "../mcp/test-connection";
import { MCP_CLIENT_INFO, type McpRuntime } from "../runtime";

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
  command?: string | null | undefined;
  args?: string[] | undefined;
  headers?: Record<string, string> | undefined;
  /** `null` removes the secret; `undefined` keeps it. */
  secret?: ConnectionSecret | null | undefined;
  timeout_ms?: number | undefined;
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

/** The transport decides which fields matter; the others are cleared so a row never mixes them. */
async function normalizeTransport(
  runtime: McpRuntime,
  fields: Pick<ConnectionFields, "transport" | "url" | "command" | "args">,
): Promise<{ url: string | null; command: string | null; args: string[] }> {
  if (fields.transport === "stdio") {
    if (!fields.command)
      throw AppError.invalidField("command", "A command is required for the stdio transport");
    assertStdioCommandAllowed(fields.command, runtime.outbound.stdioAllowedCommands);
    return { url: null, command: fields.command, args: fields.args ?? [] };
  }
  if (!fields.url)
    throw AppError.invalidField("url", `A url is required for the ${fields.transport} transport`);
  await assertOutboundUrlAllowed(fields.url, {
    blockPrivateNetworks: runtime.outbound.blockPrivateNetworks,
  });
  return { url: fields.url, command: null, args: [] };
}

function encryptSecret(runtime: McpRuntime, secret: ConnectionSecret | null) {
  if (secret === null) return { secret_ciphertext: null, secret_keys: null };
  const headers = secret.headers ?? {};
  const env = secret.env ?? {};
  if (Object.keys(headers).length === 0 && Object.keys(env).length === 0) {
    return { secret_ciphertext: null, secret_keys: null };
  }
  return {
    secret_ciphertext: runtime.secrets.encrypt(JSON.stringify({ headers, env })),
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
  const endpoint = await normalizeTransport(runtime, input);
  const secret = encryptSecret(runtime, input.secret ?? null);
  try {
    return await db.transaction(async (tx) => {
      const [connection] = await tx
        .insert(connections)
        .values({
          org_id: input.orgId,
          environment_id: input.environment_id ?? null,
          name: input.name,
          slug: input.slug ?? slugify(input.name),
          description: input.description ?? "",
          transport: input.transport,
          ...endpoint,
          headers: input.headers ?? {},
          ...secret,
          timeout_ms: input.timeout_ms ?? DEFAULT_TIMEOUT_MS,
        })
        .returning();
      if (!connection) throw new Error("insert returned no connection");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "connection.create",
        target_type: "connection",
        target_id: connection.id,
        metadata: { name: connection.name, transport: connection.transport },
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
): Promise<void> {
  await recordAudit(db, context, {
    org_id: connection.org_id,
    action: connection.secret_keys ? "connection.secret_set" : "connection.secret_clear",
    target_type: "connection",
    target_id: connection.id,
    // Names only: which headers and variables are secret, never their values.
    metadata: connection.secret_keys
      ? { headers: connection.secret_keys.headers, env: connection.secret_keys.env }
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

export async function updateConnection(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: Partial<ConnectionFields> & { orgId: string; id: string },
): Promise<Connection> {
  const current = await getConnection(db, input);
  if (input.environment_id !== undefined)
    await assertEnvironmentInOrg(db, input.orgId, input.environment_id);
  const transportChanged =
    input.transport !== undefined ||
    input.url !== undefined ||
    input.command !== undefined ||
    input.args !== undefined;
  const endpoint = transportChanged
    ? await normalizeTransport(runtime, {
        transport: input.transport ?? current.transport,
        url: input.url !== undefined ? input.url : current.url,
        command: input.command !== undefined ? input.command : current.command,
        args: input.args ?? current.args,
      })
    : {};
  const secret = input.secret !== undefined ? encryptSecret(runtime, input.secret) : {};
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
          ...(input.timeout_ms !== undefined ? { timeout_ms: input.timeout_ms } : {}),
          // A changed endpoint has not been tested yet.
          ...(transportChanged ? { status: "unknown" as const, last_error: null } : {}),
          updated_at: new Date(),
        })
        .where(and(eq(connections.org_id, input.orgId), eq(connections.id, input.id)))
        .returning();
      if (!connection) throw AppError.notFound("Connection");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "connection.update",
        target_type: "connection",
        target_id: connection.id,
        metadata: {
          name: connection.name,
          fields: Object.keys(input).filter(
            (key) => key !== "orgId" && key !== "id" && key !== "secret",
          ),
        },
      });
      if (input.secret !== undefined) await auditSecretSet(tx, context, connection);
      return connection;
    });
    // Pooled sessions of the old configuration must not serve new calls.
    await runtime.pool.evict(updated.id);
    return updated;
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
  await connectionResource.remove(db, context, input);
  await runtime.pool.evict(input.id);
}

/** The decrypted view of a connection, for the MCP client only; never logged or returned. */
export function connectionTarget(runtime: McpRuntime, connection: Connection): McpTarget {
  let secret: McpTarget["secret"] = null;
  if (connection.secret_ciphertext) {
    const parsed = JSON.parse(runtime.secrets.decrypt(connection.secret_ciphertext)) as {
      headers?: Record<string, string>;
      env?: Record<string, string>;
    };
    secret = { headers: parsed.headers ?? {}, env: parsed.env ?? {} };
  }
  return {
    transport: connection.transport,
    url: connection.url,
    command: connection.command,
    args: connection.args,
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
  const result = await testMcpConnection(connectionTarget(runtime, connection), {
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
        // Only a change is written: every write invalidates the call caches of every replica.
        or(ne(connections.status, status), isDistinctFrom(connections.last_error, error)),
      ),
    );
}

/**
 * Re-encrypts every connection secret not yet under the active key (after a new key is put first
 * in SECRET_KEYS). Each row is rewritten with its audit event in one transaction, so a crash midway
 * leaves every secret readable and the command can simply be run again.
 */
export async function rotateConnectionSecrets(
  db: Db,
  secrets: McpRuntime["secrets"],
  context: ActionContext,
  scope: { orgId?: string | undefined } = {},
): Promise<{ rotated: number; total: number }> {
  const rows = await db
    .select({
      id: connections.id,
      org_id: connections.org_id,
      secret_ciphertext: connections.secret_ciphertext,
    })
    .from(connections)
    .where(
      and(
        isNotNull(connections.secret_ciphertext),
        scope.orgId ? eq(connections.org_id, scope.orgId) : undefined,
      ),
    );
  let rotated = 0;
  for (const row of rows) {
    if (!row.secret_ciphertext || !secrets.needsRotation(row.secret_ciphertext)) continue;
    const ciphertext = secrets.rotate(row.secret_ciphertext);
    await db.transaction(async (tx) => {
      await tx
        .update(connections)
        .set({ secret_ciphertext: ciphertext })
        .where(eq(connections.id, row.id));
      await recordAudit(tx, context, {
        org_id: row.org_id,
        action: "connection.secret_rotate",
        target_type: "connection",
        target_id: row.id,
        metadata: { key_id: secrets.activeKeyId },
      });
    });
    rotated++;
  }
  return { rotated, total: rows.length };
}
