import type { PGlite } from "@electric-sql/pglite";
import { randomBytes } from "node:crypto";
import { Socket } from "node:net";
import pg from "pg";

/** The channel drizzle/0002's triggers notify on; the payload is the organization id. */
export const GOVERNANCE_CHANNEL = "mcp_governance";

/**
 * The channel gateway sessions notify on (see mcp-sessions/): the payload is a session id, sent
 * when the session ended, its stream moved to another replica or its subscriptions changed.
 */
export const SESSION_CHANNEL = "mcp_session";

/**
 * The channel a replica notifies when it stored a client's answer to a request another replica
 * relayed (see runs/relay.ts); the payload is JSON with the request id and, when small, the answer.
 */
export const RELAY_CHANNEL = "mcp_relay";

/**
 * The channel a task's status changes are announced on (see mcp-tasks/): the payload is JSON with
 * the task's id and new status, sent in the transaction that changed it.
 */
export const TASK_CHANNEL = "mcp_task";

/**
 * The channel a gateway session's new SSE events are announced on (see mcp-sessions/events.ts):
 * the payload is the session id, sent in the transaction that stored the event.
 */
export const SESSION_EVENT_CHANNEL = "mcp_session_event";

/**
 * The channel an approval's status changes are announced on (see approvals/): the payload is JSON
 * with the approval's id and new status, sent in the transaction that changed it.
 */
export const APPROVAL_CHANNEL = "mcp_approval";

/**
 * The channel a client's cancellation of a request in its gateway session goes out on, for the
 * replica running that request (see the gateway's session-requests.ts): the payload is JSON with
 * the session id, the request id and the reason.
 */
export const CANCEL_CHANNEL = "mcp_cancel";

/** How the listening connection shows in `pg_stat_activity`. */
export const CHANGE_FEED_APPLICATION = "mcp-agents-platform change feed";

export interface ChangeListener {
  /** A commit changed agents, keys, tools, connections or policies of this organization. */
  changed(orgId: string): void;
  /** Something about this gateway session changed: whoever holds its stream reads it again. */
  sessionChanged?(sessionId: string): void;
  /** Notifications may have been missed (the listening connection dropped): assume anything changed. */
  reset(): void;
  /** A client's answer to a relayed request was stored (RELAY_CHANNEL's payload). */
  relayed?(payload: string): void;
  /** A task's status changed (TASK_CHANNEL's payload). */
  task?(payload: string): void;
  /** The session has a new event to send on one of its streams (SESSION_EVENT_CHANNEL). */
  sessionEvent?(sessionId: string): void;
  /** An approval's status changed (APPROVAL_CHANNEL's payload). */
  approval?(payload: string): void;
  /** A client cancelled a request of its session (CANCEL_CHANNEL's payload). */
  cancelled?(payload: string): void;
}

/**
 * Commits that changed what a governed call reads, as PostgreSQL's LISTEN/NOTIFY delivers them.
 * Caches serve only while `live`: between a lost (or silently frozen) listening connection and
 * its replacement no notification can arrive, so everything must be read from the database.
 */
export interface ChangeFeed {
  subscribe(listener: ChangeListener): () => void;
  readonly live: boolean;
  /**
   * Resolves once every change committed before the call has reached the listeners of this
   * process. The API awaits it after a mutation so that the next request, on this process, can
   * no longer be served from an entry the mutation made stale. Bounded: a feed that cannot
   * confirm in time stops being live (and resets its listeners) instead of keeping the caller.
   */
  barrier(): Promise<void>;
  close(): Promise<void>;
}

class Listeners {
  private readonly set = new Set<ChangeListener>();

  add(listener: ChangeListener): () => void {
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }

  changed(orgId: string): void {
    for (const listener of this.set) listener.changed(orgId);
  }

  sessionChanged(sessionId: string): void {
    for (const listener of this.set) listener.sessionChanged?.(sessionId);
  }

  reset(): void {
    for (const listener of this.set) listener.reset();
  }

  relayed(payload: string): void {
    for (const listener of this.set) listener.relayed?.(payload);
  }

  task(payload: string): void {
    for (const listener of this.set) listener.task?.(payload);
  }

  sessionEvent(sessionId: string): void {
    for (const listener of this.set) listener.sessionEvent?.(sessionId);
  }

  approval(payload: string): void {
    for (const listener of this.set) listener.approval?.(payload);
  }

  cancelled(payload: string): void {
    for (const listener of this.set) listener.cancelled?.(payload);
  }

  get size(): number {
    return this.set.size;
  }
}

/**
 * `run`, one at a time (node-postgres deprecates queueing queries on a client): a call made while
 * one is in flight shares the next, which starts once that one is answered.
 */
function oneAtATime(run: () => Promise<unknown>): () => Promise<void> {
  let inFlight: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const trip: Promise<void> = run()
      .then(() => undefined)
      .finally(() => {
        if (inFlight === trip) inFlight = null;
      });
    inFlight = trip;
    return trip;
  };
  return () => {
    if (!inFlight) return start();
    queued ??= inFlight
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return start();
      });
    return queued;
  };
}

/** The longest wait between attempts to re-establish the listening connection. */
const MAX_RECONNECT_DELAY_MS = 5_000;

export interface PostgresChangeFeedOptions {
  /**
   * How often the listening connection NOTIFYs itself. A connection can freeze without closing
   * (NAT and firewall idle timeouts drop packets, no FIN or RST), and then simply hears nothing:
   * once no heartbeat has arrived for twice this long, the feed is not live, the cache stops
   * serving and the connection is replaced. The same deadline bounds `barrier`.
   */
  heartbeatMs: number;
  /** Longest wait for the listening connection to be established. */
  connectTimeoutMs: number;
  /** Idle time before TCP keepalive probes start on the listening connection. */
  keepAliveMs: number;
}

/**
 * One dedicated connection per process LISTENs (a pooled connection cannot: the pool hands it
 * to other queries and may close it). It is opened on the first subscription, and reopened with
 * backoff when it drops or its heartbeat is overdue; each (re)connection resets the listeners,
 * since notifications sent while nobody listened are lost.
 */
export function createPostgresChangeFeed(
  connectionString: string,
  options: PostgresChangeFeedOptions,
): ChangeFeed {
  const listeners = new Listeners();
  const deadlineMs = 2 * options.heartbeatMs;
  // Only this process listens on its own heartbeat channel: replicas do not hear each other's.
  const heartbeatChannel = `mcp_feed_heartbeat_${randomBytes(8).toString("hex")}`;
  let current: {
    client: pg.Client;
    socket: Socket;
    /** A heartbeat: answered after every notification committed before it was sent. */
    roundTrip: () => Promise<void>;
  } | null = null;
  let lastHeartbeatAt = 0;
  let closed = false;
  let connecting: Promise<void> | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let failures = 0;

  const heartbeatOverdue = (): boolean => performance.now() - lastHeartbeatAt > deadlineMs;

  const scheduleReconnect = (): void => {
    if (closed || retryTimer || listeners.size === 0) return;
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** failures);
    failures += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, delay);
    retryTimer.unref();
  };

  /**
   * Forgets the connection and everything cached while it listened. The socket is destroyed,
   * not ended: a frozen peer never acknowledges a polite goodbye.
   */
  const lost = (lostClient: pg.Client): void => {
    if (current?.client !== lostClient) return;
    const { socket } = current;
    current = null;
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    heartbeatTimer = null;
    listeners.reset();
    socket.destroy();
    scheduleReconnect();
  };

  const beat = (): void => {
    if (!current) return;
    const { client: listening, roundTrip } = current;
    if (heartbeatOverdue()) {
      lost(listening);
      return;
    }
    roundTrip().catch(() => {
      lost(listening);
    });
  };

  const connect = (): Promise<void> => {
    connecting ??= (async () => {
      const socket = new Socket();
      const next = new pg.Client({
        connectionString,
        application_name: CHANGE_FEED_APPLICATION,
        stream: () => socket,
        connectionTimeoutMillis: options.connectTimeoutMs,
        // A query (LISTEN, a heartbeat, a barrier) unanswered past the deadline fails, and
        // with it the connection.
        query_timeout: deadlineMs,
        keepAlive: true,
        keepAliveInitialDelayMillis: options.keepAliveMs,
      });
      next.on("error", () => {
        lost(next);
      });
      next.on("end", () => {
        lost(next);
      });
      next.on("notification", (message) => {
        if (message.channel === heartbeatChannel) lastHeartbeatAt = performance.now();
        else if (message.channel === GOVERNANCE_CHANNEL && message.payload)
          listeners.changed(message.payload);
        else if (message.channel === SESSION_CHANNEL && message.payload)
          listeners.sessionChanged(message.payload);
        else if (message.channel === RELAY_CHANNEL && message.payload)
          listeners.relayed(message.payload);
        else if (message.channel === TASK_CHANNEL && message.payload)
          listeners.task(message.payload);
        else if (message.channel === SESSION_EVENT_CHANNEL && message.payload)
          listeners.sessionEvent(message.payload);
        else if (message.channel === APPROVAL_CHANNEL && message.payload)
          listeners.approval(message.payload);
        else if (message.channel === CANCEL_CHANNEL && message.payload)
          listeners.cancelled(message.payload);
      });
      try {
        await next.connect();
        await next.query(
          `LISTEN ${GOVERNANCE_CHANNEL}; LISTEN ${SESSION_CHANNEL}; LISTEN ${RELAY_CHANNEL}; LISTEN ${TASK_CHANNEL}; LISTEN ${SESSION_EVENT_CHANNEL}; LISTEN ${APPROVAL_CHANNEL}; LISTEN ${CANCEL_CHANNEL}; LISTEN ${heartbeatChannel}`,
        );
        if (closed) {
          await next.end();
          return;
        }
        current = {
          client: next,
          socket,
          roundTrip: oneAtATime(() => next.query("select pg_notify($1, '')", [heartbeatChannel])),
        };
        failures = 0;
        lastHeartbeatAt = performance.now();
        // Whatever was cached before this connection listened may have changed unseen.
        listeners.reset();
        heartbeatTimer = setInterval(beat, options.heartbeatMs);
        heartbeatTimer.unref();
      } catch {
        next.removeAllListeners("end");
        socket.destroy();
        scheduleReconnect();
      }
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  return {
    subscribe(listener) {
      const unsubscribe = listeners.add(listener);
      if (!current && !connecting && !retryTimer) void connect();
      return unsubscribe;
    },
    get live() {
      // Checked on every read, not only by the timer: a late timer must not extend serving.
      return current !== null && !heartbeatOverdue();
    },
    async barrier() {
      // The listening backend sends notifications queued by earlier commits before it answers a
      // later query, and the driver emits them before resolving that query. A connection that
      // does not answer within the deadline is given up (the cache forgets everything) rather
      // than waited for.
      if (!current || heartbeatOverdue()) return;
      const { client: listening, roundTrip } = current;
      await roundTrip().catch(() => {
        lost(listening);
      });
    },
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      await connecting;
      const closing = current;
      current = null;
      if (!closing) return;
      closing.client.removeAllListeners("end");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        closing.client.end().catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, options.connectTimeoutMs))),
      ]);
      clearTimeout(timer);
      closing.socket.destroy();
    },
  };
}

/**
 * PGlite is one connection in this process: NOTIFY reaches `listen` callbacks before the
 * statement that committed resolves, so once listening the feed stays live and needs no barrier.
 */
export function createPgliteChangeFeed(client: PGlite): ChangeFeed {
  const listeners = new Listeners();
  let listening: Promise<() => Promise<void>> | null = null;
  let live = false;
  return {
    subscribe(listener) {
      listening ??= Promise.all([
        client.listen(GOVERNANCE_CHANNEL, (payload) => {
          if (payload) listeners.changed(payload);
        }),
        client.listen(SESSION_CHANNEL, (payload) => {
          if (payload) listeners.sessionChanged(payload);
        }),
        client.listen(RELAY_CHANNEL, (payload) => {
          if (payload) listeners.relayed(payload);
        }),
        client.listen(SESSION_EVENT_CHANNEL, (payload) => {
          if (payload) listeners.sessionEvent(payload);
        }),
        client.listen(TASK_CHANNEL, (payload) => {
          if (payload) listeners.task(payload);
        }),
        client.listen(APPROVAL_CHANNEL, (payload) => {
          if (payload) listeners.approval(payload);
        }),
        client.listen(CANCEL_CHANNEL, (payload) => {
          if (payload) listeners.cancelled(payload);
        }),
      ]).then((unlisteners) => {
        live = true;
        return async () => {
          for (const unlisten of unlisteners) await unlisten();
        };
      });
      return listeners.add(listener);
    },
    get live() {
      return live;
    },
    async barrier() {
      await listening;
    },
    async close() {
      const unlisten = await listening;
      if (unlisten && !client.closed) await unlisten();
    },
  };
}
