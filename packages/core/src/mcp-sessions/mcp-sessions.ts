import { hash, randomBytes } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import type { Agent } from "../agents/agents";
import type { Db } from "../db/client";
import { SESSION_CHANNEL } from "../db/changes";
import { AppError } from "../errors";
import {
  agentKeys,
  agents,
  mcpResourceSubscriptions,
  mcpSessions,
  oauthGrants,
  type JsonObject,
} from "../db/schema";

/*
 * Stateful MCP sessions of the gateway. The row is the session: any replica validates a session's
 * request against it, so no request needs to reach the replica that initialized the session.
 * Changes a replica must act on (the session ended, its stream moved, its subscriptions changed)
 * are announced on the change feed's session channel, in the transaction that made them.
 */

export type McpSessionRow = typeof mcpSessions.$inferSelect;

export interface McpSessionLimits {
  /** A session not used for this long is gone (the database's clock). */
  idleTimeoutSeconds: number;
  /** Sessions one agent may hold; opening one more ends its least recently used. */
  maxPerAgent: number;
  /** `resources/subscribe` URIs one session may hold at once. */
  maxSubscriptionsPerSession: number;
}

/** How often a session's `last_seen_at` is refreshed at most: a write per request would cost more. */
export const MCP_SESSION_TOUCH_SECONDS = 30;

export function hashSessionToken(token: string): string {
  return hash("sha256", token, "hex");
}

function announce(sessionId: unknown) {
  return sql`select pg_notify(${SESSION_CHANNEL}, ${sessionId}::text)`;
}

/**
 * Opens a session for the agent and credential, and ends the agent's sessions that are idle past
 * the timeout or beyond the bound (least recently used first). The agent's row is locked while
 * counting, so concurrent initializes cannot overshoot the bound together.
 */
export async function openMcpSession(
  db: Db,
  input: {
    agent: Agent;
    credentialId: string;
    protocolVersion: string;
    clientInfo: JsonObject;
    clientCapabilities: JsonObject;
    limits: McpSessionLimits;
  },
): Promise<{ token: string; session: McpSessionRow }> {
  const token = randomBytes(32).toString("base64url");
  const { agent, limits } = input;
  const session = await db.transaction(async (tx) => {
    await tx.select({ id: agents.id }).from(agents).where(eq(agents.id, agent.id)).for("update");
    const [row] = await tx
      .insert(mcpSessions)
      .values({
        token_hash: hashSessionToken(token),
        org_id: agent.org_id,
        agent_id: agent.id,
        credential_id: input.credentialId,
        protocol_version: input.protocolVersion,
        client_info: input.clientInfo,
        client_capabilities: input.clientCapabilities,
      })
      .returning();
    if (!row) throw new Error("insert returned no session");
    await tx.execute(sql`
      with ended as (
        delete from mcp_sessions
        where agent_id = ${agent.id}
          and (
            last_seen_at < now() - make_interval(secs => ${limits.idleTimeoutSeconds})
            or id not in (
              select id from mcp_sessions where agent_id = ${agent.id}
              order by last_seen_at desc, id desc limit ${limits.maxPerAgent}
            )
          )
        returning id
      )
      select pg_notify(${SESSION_CHANNEL}, id::text) from ended
    `);
    return row;
  });
  return { token, session };
}

/**
 * The live session `token` names, if it belongs to this agent and credential: anyone else's, or
 * an ended or idle one, is simply not found (the gateway answers 404, as MCP says). Refreshes
 * `last_seen_at` at most every MCP_SESSION_TOUCH_SECONDS.
 */
export async function findMcpSession(
  db: Db,
  input: { token: string; agentId: string; credentialId: string; limits: McpSessionLimits },
): Promise<McpSessionRow | null> {
  const [found] = await db
    .select({
      session: mcpSessions,
      stale: sql<boolean>`${mcpSessions.last_seen_at} < now() - make_interval(secs => ${MCP_SESSION_TOUCH_SECONDS})`,
    })
    .from(mcpSessions)
    .where(
      and(
        eq(mcpSessions.token_hash, hashSessionToken(input.token)),
        eq(mcpSessions.agent_id, input.agentId),
        eq(mcpSessions.credential_id, input.credentialId),
        sql`${mcpSessions.last_seen_at} >= now() - make_interval(secs => ${input.limits.idleTimeoutSeconds})`,
      ),
    )
    .limit(1);
  if (!found) return null;
  if (found.stale) await touchMcpSessions(db, [found.session.id]);
  return found.session;
}

export async function touchMcpSessions(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.execute(sql`
    update mcp_sessions set last_seen_at = now()
    where id in (${sql.join(
      ids.map((id) => sql`${id}::uuid`),
      sql`, `,
    )})
  `);
}

/** Sessions the maintenance job deletes per pass at most (the rest wait for the next pass). */
const IDLE_SESSIONS_PER_PRUNE = 1_000;

/**
 * Deletes sessions idle past the timeout, with their events and subscriptions: an idle session
 * is already refused, but only the agent's next initialize would otherwise delete it. Announced
 * like any end, so every replica drops it from the sessions it validated.
 */
export async function pruneIdleMcpSessions(
  db: Db,
  limits: Pick<McpSessionLimits, "idleTimeoutSeconds">,
): Promise<number> {
  const result = await db.execute(sql`
    with ended as (
      delete from mcp_sessions where id in (
        select id from mcp_sessions
        where last_seen_at < now() - make_interval(secs => ${limits.idleTimeoutSeconds})
        limit ${IDLE_SESSIONS_PER_PRUNE}
      )
      returning id
    )
    select pg_notify(${SESSION_CHANNEL}, id::text) from ended
  `);
  // Both drivers answer with `{ rows }`.
  return (result as { rows: unknown[] }).rows.length;
}

/** Ends the session (DELETE from its client); whoever holds its stream closes it. */
export async function endMcpSession(db: Db, sessionId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(mcpSessions).where(eq(mcpSessions.id, sessionId));
    await tx.execute(announce(sessionId));
  });
}

/**
 * Records that this replica now holds the session's GET stream; a replica that held it before
 * hears of it and closes its own, so each notification goes out on one stream only. Returns the
 * session's latest event number (where a new stream starts) and whether the agent's tools changed
 * since the session last compared them (`toolsFingerprint` is what they look like now); null when
 * the session is gone.
 */
export async function claimMcpSessionStream(
  db: Db,
  input: { sessionId: string; replicaId: string; toolsFingerprint: string },
): Promise<{ eventSeq: number; toolsChanged: boolean } | null> {
  return db.transaction(async (tx) => {
    const [before] = await tx
      .select({ eventSeq: mcpSessions.event_seq, tools: mcpSessions.tools_fingerprint })
      .from(mcpSessions)
      .where(eq(mcpSessions.id, input.sessionId))
      .for("update");
    if (!before) return null;
    await tx
      .update(mcpSessions)
      .set({
        stream_replica_id: input.replicaId,
        last_seen_at: sql`now()`,
        tools_fingerprint: input.toolsFingerprint,
      })
      .where(eq(mcpSessions.id, input.sessionId));
    await tx.execute(announce(input.sessionId));
    return {
      eventSeq: before.eventSeq,
      toolsChanged: before.tools !== null && before.tools !== input.toolsFingerprint,
    };
  });
}

/** Remembers what the agent's tool list looks like as announced to the session. */
export async function recordMcpSessionTools(
  db: Db,
  sessionId: string,
  toolsFingerprint: string,
): Promise<void> {
  await db
    .update(mcpSessions)
    .set({ tools_fingerprint: toolsFingerprint })
    .where(eq(mcpSessions.id, sessionId));
}

export async function releaseMcpSessionStream(
  db: Db,
  sessionId: string,
  replicaId: string,
): Promise<void> {
  await db
    .update(mcpSessions)
    .set({ stream_replica_id: null })
    .where(and(eq(mcpSessions.id, sessionId), eq(mcpSessions.stream_replica_id, replicaId)));
}

/** A held stream's session as it stands now, with the agent it serves; null when it must close. */
export interface HeldSession {
  session: McpSessionRow;
  agent: Agent;
}

/**
 * The sessions among `ids` whose stream this replica still holds, that have not gone idle, and
 * whose agent is active and whose key or OAuth grant is not revoked: the streams that may stay open.
 */
export async function heldMcpSessions(
  db: Db,
  input: { ids: string[]; replicaId: string; limits: McpSessionLimits },
): Promise<HeldSession[]> {
  if (input.ids.length === 0) return [];
  const rows = await db
    .select({ session: mcpSessions, agent: agents })
    .from(mcpSessions)
    .innerJoin(agents, eq(agents.id, mcpSessions.agent_id))
    .leftJoin(agentKeys, sql`${agentKeys.id}::text = ${mcpSessions.credential_id}`)
    .leftJoin(oauthGrants, sql`${oauthGrants.id}::text = ${mcpSessions.credential_id}`)
    .where(
      and(
        sql`${mcpSessions.id} in (${sql.join(
          input.ids.map((id) => sql`${id}::uuid`),
          sql`, `,
        )})`,
        eq(mcpSessions.stream_replica_id, input.replicaId),
        eq(agents.status, "active"),
        // Opened with a key that is not revoked, or by an OAuth grant that is not.
        sql`((${agentKeys.id} is not null and ${agentKeys.revoked_at} is null) or (${oauthGrants.id} is not null and ${oauthGrants.revoked_at} is null))`,
        sql`${mcpSessions.last_seen_at} >= now() - make_interval(secs => ${input.limits.idleTimeoutSeconds})`,
      ),
    );
  return rows;
}

/**
 * Records a resource subscription of the session (idempotent) and tells its stream's holder. A
 * session holds at most `maxPerSession` (the session's row is locked while counting, so
 * concurrent subscribes cannot overshoot together); one more is CONFLICT.
 */
export async function addMcpResourceSubscription(
  db: Db,
  input: { session: McpSessionRow; uri: string; connectionId: string; maxPerSession: number },
): Promise<void> {
  await db.transaction(async (tx) => {
    const [locked] = await tx
      .select({ id: mcpSessions.id })
      .from(mcpSessions)
      .where(eq(mcpSessions.id, input.session.id))
      .for("update");
    if (!locked) throw AppError.notFound("Session");
    const [held] = await tx
      .select({
        count: sql<number>`count(*)::int`,
        again: sql<boolean>`coalesce(bool_or(${mcpResourceSubscriptions.uri} = ${input.uri}), false)`,
      })
      .from(mcpResourceSubscriptions)
      .where(eq(mcpResourceSubscriptions.session_id, input.session.id));
    if (held && !held.again && held.count >= input.maxPerSession)
      throw AppError.conflict(
        `This session already holds ${held.count} resource subscriptions, the most allowed (MCP_MAX_SUBSCRIPTIONS_PER_SESSION = ${input.maxPerSession}); unsubscribe from one first`,
      );
    await tx
      .insert(mcpResourceSubscriptions)
      .values({
        session_id: input.session.id,
        org_id: input.session.org_id,
        uri: input.uri,
        connection_id: input.connectionId,
      })
      .onConflictDoUpdate({
        target: [mcpResourceSubscriptions.session_id, mcpResourceSubscriptions.uri],
        set: { connection_id: input.connectionId },
      });
    await tx.execute(announce(input.session.id));
  });
}

export async function removeMcpResourceSubscription(
  db: Db,
  input: { sessionId: string; uri: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .delete(mcpResourceSubscriptions)
      .where(
        and(
          eq(mcpResourceSubscriptions.session_id, input.sessionId),
          eq(mcpResourceSubscriptions.uri, input.uri),
        ),
      );
    await tx.execute(announce(input.sessionId));
  });
}

export async function listMcpResourceSubscriptions(
  db: Db,
  sessionId: string,
): Promise<{ uri: string; connection_id: string }[]> {
  return db
    .select({
      uri: mcpResourceSubscriptions.uri,
      connection_id: mcpResourceSubscriptions.connection_id,
    })
    .from(mcpResourceSubscriptions)
    .where(eq(mcpResourceSubscriptions.session_id, sessionId));
}
