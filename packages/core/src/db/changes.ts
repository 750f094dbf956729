import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";

/** The channel drizzle/0002's triggers notify on; the payload is the organization id. */
export const GOVERNANCE_CHANNEL = "mcp_governance";

/** How the listening connection shows in `pg_stat_activity`. */
export const CHANGE_FEED_APPLICATION = "mcp-agents-platform change feed";

export interface ChangeListener {
  /** A commit changed agents, keys, tools, connections or policies of this organization. */
  changed(orgId: string): void;
  /** Notifications may have been missed (the listening connection dropped): assume anything changed. */
  reset(): void;
}

/**
 * Commits that changed what a governed call reads, as PostgreSQL's LISTEN/NOTIFY delivers them.
 * Caches serve only while `live`: between a lost listening connection and its replacement no
 * notification can arrive, so everything must be read from the database.
 */
export interface ChangeFeed {
  subscribe(listener: ChangeListener): () => void;
  readonly live: boolean;
  /**
   * Resolves once every change committed before the call has reached the listeners of this
   * process. The API awaits it after a mutation so that the next request, on this process, can
   * no longer be served from an entry the mutation made stale.
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

  reset(): void {
    for (const listener of this.set) listener.reset();
  }

  get size(): number {
    return this.set.size;
  }
}

/** The longest wait between attempts to re-establish the listening connection. */
const MAX_RECONNECT_DELAY_MS = 5_000;

/**
 * One dedicated connection per process LISTENs (a pooled connection cannot: the pool hands it
 * to other queries and may close it). It is opened on the first subscription, and reopened with
 * backoff when it drops; each (re)connection resets the listeners, since notifications sent
 * while nobody listened are lost.
 */
export function createPostgresChangeFeed(connectionString: string): ChangeFeed {
  const listeners = new Listeners();
  let client: pg.Client | null = null;
  let live = false;
  let closed = false;
  let connecting: Promise<void> | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let failures = 0;

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

  const lost = (lostClient: pg.Client): void => {
    if (client !== lostClient) return;
    client = null;
    live = false;
    listeners.reset();
    lostClient.end().catch(() => undefined);
    scheduleReconnect();
  };

  const connect = (): Promise<void> => {
    connecting ??= (async () => {
      const next = new pg.Client({ connectionString, application_name: CHANGE_FEED_APPLICATION });
      next.on("error", () => {
        lost(next);
      });
      next.on("end", () => {
        lost(next);
      });
      next.on("notification", (message) => {
        if (message.channel === GOVERNANCE_CHANNEL && message.payload)
          listeners.changed(message.payload);
      });
      try {
        await next.connect();
        await next.query(`LISTEN ${GOVERNANCE_CHANNEL}`);
        if (closed) {
          await next.end();
          return;
        }
        client = next;
        failures = 0;
        // Whatever was cached before this connection listened may have changed unseen.
        listeners.reset();
        live = true;
      } catch {
        next.removeAllListeners("end");
        await next.end().catch(() => undefined);
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
      if (!client && !connecting && !retryTimer) void connect();
      return unsubscribe;
    },
    get live() {
      return live;
    },
    async barrier() {
      // The listening backend sends notifications queued by earlier commits before it answers a
      // later query, and the driver emits them before resolving that query.
      if (client && live) await client.query("select 1").catch(() => undefined);
    },
    async close() {
      closed = true;
      live = false;
      if (retryTimer) clearTimeout(retryTimer);
      await connecting;
      const current = client;
      client = null;
      if (current) {
        current.removeAllListeners("end");
        await current.end().catch(() => undefined);
      }
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
      listening ??= client
        .listen(GOVERNANCE_CHANNEL, (payload) => {
          if (payload) listeners.changed(payload);
        })
        .then((unlisten) => {
          live = true;
          return unlisten;
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
