import { createHmac, timingSafeEqual } from "node:crypto";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { SESSION_EVENT_CHANNEL } from "../db/changes";
import { mcpSessionEvents, type JsonObject } from "../db/schema";

/*
 * The messages the gateway sends a session's client on SSE streams, stored in PostgreSQL so that
 * a client whose stream dropped gets them again (MCP "Resumability and Redelivery"): it
 * reconnects with `Last-Event-ID` on any replica, which replays what followed that event on the
 * same stream and then goes on with new ones.
 *
 * Every event of a session takes the session's next sequence number (mcp_sessions.event_seq,
 * incremented under the row's lock, so numbers are in commit order: a reader that has seen event
 * n has seen every event before it). The event is announced on SESSION_EVENT_CHANNEL at commit;
 * the replica holding the stream reads what follows the last event it wrote. Events are written
 * whether or not a stream is open: a client resuming later gets them then.
 *
 * An event id names the stream, the sequence number and a tag: an HMAC of both keyed with the
 * session's token hash. A client can only present ids of its own session (an id of another
 * session, or a garbled one, is refused), and ids say nothing about other sessions.
 */

/** Events kept per session: older ones are dropped as new ones are stored. */
export const MCP_SESSION_EVENTS_KEPT = 1000;

/** The session's standalone stream (its GET): notifications and requests outside any call. */
export const MCP_SESSION_GET_STREAM = "get";

export interface McpSessionEvent {
  seq: number;
  message: JsonObject;
}

function eventTag(tokenHash: string, stream: string, seq: number): string {
  return createHmac("sha256", tokenHash)
    .update(`${stream}.${seq}`)
    .digest()
    .subarray(0, 12)
    .toString("base64url");
}

/** The SSE `id` of the session's event `seq` on `stream` (or of that position, for priming). */
export function mcpSessionEventId(
  session: { token_hash: string },
  stream: string,
  seq: number,
): string {
  return `${seq}.${stream}.${eventTag(session.token_hash, stream, seq)}`;
}

/**
 * The stream and position a `Last-Event-ID` names, if the session issued it; null for anything
 * else (another session's id, a garbled one).
 */
export function parseMcpSessionEventId(
  session: { token_hash: string },
  eventId: string,
): { stream: string; seq: number } | null {
  const match = /^(\d{1,15})\.([a-z0-9-]{1,64})\.([A-Za-z0-9_-]{16})$/.exec(eventId.trim());
  if (!match) return null;
  const [, digits = "", stream = "", tag = ""] = match;
  const seq = Number(digits);
  const expected = Buffer.from(eventTag(session.token_hash, stream, seq));
  const given = Buffer.from(tag);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  return { stream, seq };
}

/**
 * Stores `messages` as the session's next events on `stream`, drops what falls beyond
 * MCP_SESSION_EVENTS_KEPT and announces them; false when the session no longer exists. Takes the
 * session row's lock until the caller's transaction ends.
 */
export async function appendMcpSessionEvents(
  db: Db,
  input: { sessionId: string; stream: string; messages: JsonObject[] },
): Promise<boolean> {
  const { sessionId, stream, messages } = input;
  if (messages.length === 0) return true;
  const count = messages.length;
  // The statement's delete cannot see the rows it inserts: what would be dropped at once is
  // not stored at all.
  const stored = messages.slice(-MCP_SESSION_EVENTS_KEPT);
  const result = await db.execute(sql`
    with bumped as (
      update mcp_sessions set event_seq = event_seq + ${count}
      where id = ${sessionId}::uuid
      returning org_id, event_seq
    ),
    stored as (
      insert into ${mcpSessionEvents} (session_id, seq, org_id, stream, message)
      select ${sessionId}::uuid, bumped.event_seq - ${stored.length} + item.ordinality,
        bumped.org_id, ${stream}, item.message
      from bumped, jsonb_array_elements(${JSON.stringify(stored)}::jsonb)
        with ordinality as item(message, ordinality)
    ),
    dropped as (
      delete from ${mcpSessionEvents}
      where session_id = ${sessionId}::uuid
        and seq <= (select event_seq from bumped) - ${MCP_SESSION_EVENTS_KEPT}
    )
    select pg_notify(${SESSION_EVENT_CHANNEL}, ${sessionId}) from bumped
  `);
  // Both drivers answer with `{ rows }`.
  return (result as { rows: unknown[] }).rows.length > 0;
}

/** The session's events on `stream` after position `afterSeq`, oldest first, at most `limit`. */
export async function mcpSessionEventsAfter(
  db: Db,
  input: { sessionId: string; stream: string; afterSeq: number; limit: number },
): Promise<McpSessionEvent[]> {
  return db
    .select({ seq: mcpSessionEvents.seq, message: mcpSessionEvents.message })
    .from(mcpSessionEvents)
    .where(
      and(
        eq(mcpSessionEvents.session_id, input.sessionId),
        eq(mcpSessionEvents.stream, input.stream),
        gt(mcpSessionEvents.seq, input.afterSeq),
      ),
    )
    .orderBy(asc(mcpSessionEvents.seq))
    .limit(input.limit);
}
