import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import {
  appendMcpSessionEvents,
  claimMcpSessionStream,
  heldMcpSessions,
  MCP_SESSION_GET_STREAM,
  mcpSessionEventId,
  mcpSessionEventsAfter,
  parseMcpSessionEventId,
  recordMcpSessionTools,
  releaseMcpSessionStream,
  touchMcpSessions,
  visibleAgentTools,
  type JsonObject,
  type Agent,
  type ChangeFeed,
  type Db,
  type McpRuntime,
  type McpSessionLimits,
  type McpSessionRow,
  type CallPrincipal,
} from "@mcp/core";
import type { JSONRPCNotification } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../logger";
import { HeldResourceSubscriptions } from "./resource-subscriptions";

/*
 * The GET streams of gateway sessions held by this replica, and what is sent on them.
 *
 * Nothing is routed between replicas: every replica hears the change feed (PostgreSQL
 * LISTEN/NOTIFY), so the one holding a session's stream learns by itself that the agent's tools
 * may have changed (a commit touched the org's tools, connections or policies) and compares what
 * the agent sees now with what it saw before. A session's row names the replica holding its
 * stream; a GET on another replica takes the stream over (the old holder hears of it and closes
 * its own), so each notification goes out once. DELETE, eviction or expiry on any replica closes
 * the stream the same way. The stream's holder also holds the session's resource subscriptions
 * upstream and forwards their updates (see resource-subscriptions.ts).
 *
 * What goes out on a stream is stored first, as the session's events (core's
 * mcp-sessions/events.ts), whoever produced it: this replica (list_changed, resources/updated) or
 * any other (a task's status, a request of the upstream during a task). The holder hears of new
 * events on the change feed and writes them in order, each with its SSE `id`. So a stream that
 * dropped resumes on any replica: a GET with `Last-Event-ID` replays what followed that event,
 * including what was stored while no stream was open, then goes on live. A GET without it starts
 * at the session's latest event (a new stream; MCP asks for nothing older), announced to clients
 * of 2025-11-25 and later by a priming event (an `id` and no data) so that even a stream that
 * drops before its first message can be resumed.
 */

/** The fingerprint of what `tools/list` would return the agent now, every page. */
async function toolsFingerprint(db: Db, agent: Agent): Promise<string> {
  const digest = createHash("sha256");
  for (const tool of await visibleAgentTools(db, agent))
    digest.update(JSON.stringify(tool)).update("\n");
  return digest.digest("hex");
}

interface Stream {
  session: McpSessionRow;
  outgoing: ServerResponse;
  /** What the agent's tool list looked like when last compared. */
  tools: string;
  resources: HeldResourceSubscriptions;
  /** The number of the last event written on the stream, or of the position it started at. */
  cursor: number;
  /** Events being read and written; `again` when more were announced meanwhile. */
  writing: Promise<void> | null;
  again: boolean;
  /** Reading events failed: the keep-alive tries again. */
  behind: boolean;
}

/** Events read per query while a stream catches up. */
const EVENTS_PAGE = 100;
/** The first protocol version whose clients take an SSE event without data (a priming event). */
const PRIMING_PROTOCOL_VERSION = "2025-11-25";

/** Why a session is looked at again: its agent's tools, its subscriptions, or just its being alive. */
interface Recheck {
  tools: boolean;
  resources: boolean;
}

export interface SessionStreamsOptions {
  db: Db;
  runtime: McpRuntime;
  changes: ChangeFeed;
  replicaId: string;
  limits: McpSessionLimits;
  logger: Logger;
  /** How often streams get an SSE comment (so proxies keep them) and their sessions stay alive. */
  keepAliveMs: number;
}

const EVERYTHING: Recheck = { tools: true, resources: true };
const NOTHING: Recheck = { tools: false, resources: false };

export class SessionStreams {
  private readonly streams = new Map<string, Stream>();
  private readonly unsubscribe: () => void;
  private readonly keepAlive: NodeJS.Timeout;
  /** Sessions to look at again; `tools` also compares their agents' tool lists. */
  private readonly pending = new Map<string, Recheck>();
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly options: SessionStreamsOptions) {
    this.unsubscribe = options.changes.subscribe({
      changed: (orgId) => {
        for (const stream of this.streams.values())
          // Policies decide both what tools the agent sees and which URIs it may still read.
          if (stream.session.org_id === orgId) this.recheck(stream.session.id, EVERYTHING);
      },
      sessionChanged: (sessionId) => {
        if (this.streams.has(sessionId)) this.recheck(sessionId, { tools: false, resources: true });
      },
      sessionEvent: (sessionId) => {
        const stream = this.streams.get(sessionId);
        if (stream) this.write(stream);
      },
      reset: () => {
        for (const [sessionId, stream] of this.streams) {
          this.recheck(sessionId, EVERYTHING);
          this.write(stream);
        }
      },
    });
    this.keepAlive = setInterval(() => {
      this.beat();
    }, options.keepAliveMs);
    this.keepAlive.unref();
  }

  /** Streams open on this replica (for tests and logs). */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Serves a session's GET stream from this replica until the client hangs up or the session
   * ends; with `lastEventId`, resumes the stream after that event. Resolves once the stream is
   * open (or refused).
   */
  async open(
    session: McpSessionRow,
    agent: Agent,
    outgoing: ServerResponse,
    /** Whose credentials the held subscriptions use on per-user OAuth connections. */
    principal: CallPrincipal,
    lastEventId: string | null,
  ): Promise<void> {
    const { db, replicaId } = this.options;
    let resumeAfter: number | null = null;
    if (lastEventId !== null) {
      const position = parseMcpSessionEventId(session, lastEventId);
      // Only this session's GET stream can be resumed here: the gateway puts no ids on the
      // response streams of POSTs, so no other id of this session exists.
      if (position?.stream !== MCP_SESSION_GET_STREAM) {
        outgoing.writeHead(400, { "content-type": "application/json" }).end(
          JSON.stringify({
            jsonrpc: "2.0",
            error: {
              code: -32000,
              message:
                "Bad Request: Last-Event-ID is not an event of this session's stream; reconnect without it",
            },
            id: null,
          }),
        );
        return;
      }
      resumeAfter = position.seq;
    }
    const tools = await toolsFingerprint(db, agent);
    const claimed = await claimMcpSessionStream(db, {
      sessionId: session.id,
      replicaId,
      toolsFingerprint: tools,
    });
    if (!claimed) {
      outgoing.writeHead(404, { "content-type": "application/json" }).end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        }),
      );
      return;
    }
    // The client hung up while the stream was being claimed: nothing would ever close it.
    if (outgoing.destroyed) {
      await releaseMcpSessionStream(db, session.id, replicaId);
      return;
    }
    // A second GET of the same session replaces the first.
    this.streams.get(session.id)?.outgoing.end();
    const stream: Stream = {
      session,
      outgoing,
      tools,
      resources: new HeldResourceSubscriptions({
        db,
        runtime: this.options.runtime,
        logger: this.options.logger,
        sessionId: session.id,
        principal,
        onUpdated: (uri) => {
          void this.send(session.id, {
            jsonrpc: "2.0",
            method: "notifications/resources/updated",
            params: { uri },
          });
        },
      }),
      cursor: resumeAfter ?? claimed.eventSeq,
      writing: null,
      again: false,
      behind: false,
    };
    this.streams.set(session.id, stream);
    stream.resources.sync(agent);
    outgoing.once("close", () => {
      void stream.resources.close();
      if (this.streams.get(session.id) !== stream) return;
      this.streams.delete(session.id);
      if (!this.closed)
        releaseMcpSessionStream(db, session.id, replicaId).catch((error: unknown) => {
          this.options.logger.warn({ err: error }, "gateway: releasing a session stream failed");
        });
    });
    outgoing.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-transform",
      // Tells nginx not to buffer the stream.
      "x-accel-buffering": "no",
    });
    if (resumeAfter === null && session.protocol_version >= PRIMING_PROTOCOL_VERSION)
      outgoing.write(
        `id: ${mcpSessionEventId(session, MCP_SESSION_GET_STREAM, stream.cursor)}\ndata: \n\n`,
      );
    outgoing.flushHeaders();
    // The tools changed while no stream of the session was open to say so.
    if (claimed.toolsChanged)
      void this.send(session.id, { jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    this.write(stream);
  }

  /**
   * Stores a message for the session's GET stream; the replica holding the stream (this one or
   * another) writes it, and a client resuming the stream later gets it then.
   */
  async send(sessionId: string, message: JSONRPCNotification): Promise<void> {
    try {
      await appendMcpSessionEvents(this.options.db, {
        sessionId,
        stream: MCP_SESSION_GET_STREAM,
        messages: [message as JsonObject],
      });
    } catch (error) {
      this.options.logger.warn(
        { err: error, mcp_session_id: sessionId },
        "gateway: storing a session's notification failed",
      );
      return;
    }
    const stream = this.streams.get(sessionId);
    // Not waiting for the change feed to bring it back here.
    if (stream) this.write(stream);
  }

  /** Ends every stream (the process is stopping); clients reconnect to another replica. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.keepAlive);
    this.unsubscribe();
    const open = [...this.streams.values()];
    this.streams.clear();
    for (const stream of open) stream.outgoing.end();
    await Promise.all(open.map((stream) => stream.resources.close()));
    await Promise.all(
      open.map((stream) =>
        releaseMcpSessionStream(this.options.db, stream.session.id, this.options.replicaId).catch(
          () => undefined,
        ),
      ),
    );
    await this.running;
  }

  /** Writes the stream's events it has not written yet, one batch of writes at a time. */
  private write(stream: Stream): void {
    if (stream.writing) {
      stream.again = true;
      return;
    }
    stream.writing = this.catchUp(stream).finally(() => {
      stream.writing = null;
    });
  }

  private async catchUp(stream: Stream): Promise<void> {
    const { db, logger } = this.options;
    const { session, outgoing } = stream;
    // Read through a call: `again` is set by other callbacks while this one awaits.
    const announcedMeanwhile = (): boolean => stream.again;
    do {
      stream.again = false;
      for (;;) {
        if (this.streams.get(session.id) !== stream) return;
        let events;
        try {
          events = await mcpSessionEventsAfter(db, {
            sessionId: session.id,
            stream: MCP_SESSION_GET_STREAM,
            afterSeq: stream.cursor,
            limit: EVENTS_PAGE,
          });
          stream.behind = false;
        } catch (error) {
          stream.behind = true;
          logger.warn(
            { err: error, mcp_session_id: session.id },
            "gateway: reading a session's events failed",
          );
          return;
        }
        if (outgoing.destroyed || this.streams.get(session.id) !== stream) return;
        for (const event of events) {
          const id = mcpSessionEventId(session, MCP_SESSION_GET_STREAM, event.seq);
          outgoing.write(`id: ${id}\nevent: message\ndata: ${JSON.stringify(event.message)}\n\n`);
          stream.cursor = event.seq;
        }
        if (events.length < EVENTS_PAGE) break;
      }
    } while (announcedMeanwhile());
  }

  private beat(): void {
    for (const stream of this.streams.values()) {
      stream.outgoing.write(": keep-alive\n\n");
      if (stream.behind) this.write(stream);
    }
    const ids = [...this.streams.keys()];
    touchMcpSessions(this.options.db, ids)
      .then(() => {
        for (const id of ids) this.recheck(id, NOTHING);
      })
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error }, "gateway: keeping session streams alive failed");
      });
  }

  private recheck(sessionId: string, reasons: Recheck): void {
    const previous = this.pending.get(sessionId);
    this.pending.set(sessionId, {
      tools: reasons.tools || (previous?.tools ?? false),
      resources: reasons.resources || (previous?.resources ?? false),
    });
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Looks at pending sessions in rounds, one at a time, until none is left. */
  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.closed) {
      const round = new Map(this.pending);
      this.pending.clear();
      try {
        await this.refresh(round);
      } catch (error) {
        this.options.logger.warn({ err: error }, "gateway: checking session streams failed");
      }
    }
  }

  private async refresh(round: Map<string, Recheck>): Promise<void> {
    const { db, replicaId, limits } = this.options;
    const held = await heldMcpSessions(db, { ids: [...round.keys()], replicaId, limits });
    const alive = new Map(held.map((entry) => [entry.session.id, entry]));
    const fingerprints = new Map<string, Promise<string>>();
    for (const [sessionId, { tools, resources }] of round) {
      const stream = this.streams.get(sessionId);
      if (!stream) continue;
      const entry = alive.get(sessionId);
      if (!entry) {
        // Ended, expired, taken over by another replica, or its agent or key was disabled.
        this.streams.delete(sessionId);
        stream.outgoing.end();
        continue;
      }
      // The keep-alive retries what failed upstream; a change of the rows or policies re-reads them.
      if (resources || stream.resources.unsettled) stream.resources.sync(entry.agent);
      if (!tools) continue;
      let fingerprint = fingerprints.get(entry.agent.id);
      if (!fingerprint) {
        fingerprint = toolsFingerprint(db, entry.agent);
        fingerprints.set(entry.agent.id, fingerprint);
      }
      const now = await fingerprint;
      if (now === stream.tools) continue;
      stream.tools = now;
      await recordMcpSessionTools(db, sessionId, now);
      await this.send(sessionId, { jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    }
  }
}
