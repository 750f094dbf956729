import {
  connectionVersion,
  listMcpResourceSubscriptions,
  openConnectionSession,
  readableSubscriptions,
  type Agent,
  type Connection,
  type Db,
  type McpRuntime,
  type McpSession,
  type CallPrincipal,
} from "@mcp/core";
import type { Logger } from "../logger";

/*
 * A gateway session's resource subscriptions, held upstream by the replica holding the session's
 * GET stream (the only place their updates can go).
 *
 * `resources/subscribe` on any replica records the URI in `mcp_resource_subscriptions` and
 * announces the session on the change feed; the stream's holder hears it and brings the upstream
 * side in line: one MCP session of its own per connection serving a subscribed URI (so an
 * update reaches this gateway session only), subscribed to exactly the URIs the agent may still
 * read. When the stream closes or the session ends, those upstream sessions close; a stream
 * reopened on any replica holds the subscriptions again from the rows.
 */

interface Upstream {
  version: string;
  session: McpSession;
  /** URIs subscribed upstream on this session. */
  uris: Set<string>;
  detach: () => void;
}

export interface HeldResourceSubscriptionsOptions {
  db: Db;
  runtime: McpRuntime;
  logger: Logger;
  sessionId: string;
  /** Whose credentials per-user OAuth connections use (see callPrincipal). */
  principal: CallPrincipal;
  /** Writes `notifications/resources/updated` for `uri` on the session's stream. */
  onUpdated: (uri: string) => void;
}

export class HeldResourceSubscriptions {
  private readonly upstreams = new Map<string, Upstream>();
  /** The agent to sync for once the running sync is done (the latest asked for). */
  private next: Agent | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  /**
   * Set when the upstream side may differ from the rows for no change of theirs (an upstream
   * failed or its session was lost): the stream's keep-alive then tries again.
   */
  unsettled = false;

  constructor(private readonly options: HeldResourceSubscriptionsOptions) {}

  /** Brings the upstream side in line with the session's rows, after the syncs already running. */
  sync(agent: Agent): void {
    this.next = agent;
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Closes every upstream session (the stream closed or the session ended). */
  async close(): Promise<void> {
    this.closed = true;
    this.next = null;
    for (const [connectionId, upstream] of [...this.upstreams]) this.drop(connectionId, upstream);
    await this.running;
  }

  private async drain(): Promise<void> {
    while (this.next && !this.closed) {
      const agent = this.next;
      this.next = null;
      this.unsettled = false;
      try {
        await this.reconcile(agent);
      } catch (error) {
        this.unsettled = true;
        this.options.logger.warn(
          { err: error, mcp_session_id: this.options.sessionId },
          "gateway: holding resource subscriptions failed",
        );
      }
    }
  }

  private async reconcile(agent: Agent): Promise<void> {
    const { db, runtime, sessionId } = this.options;
    const rows = await listMcpResourceSubscriptions(db, sessionId);
    const catalog = { db, runtime, agent, principal: this.options.principal };
    const readable = await readableSubscriptions(catalog, rows);
    const wanted = new Map<string, { connection: Connection; uris: Set<string> }>();
    for (const { uri, connection } of readable) {
      const entry = wanted.get(connection.id) ?? { connection, uris: new Set<string>() };
      entry.uris.add(uri);
      wanted.set(connection.id, entry);
    }
    for (const [connectionId, upstream] of [...this.upstreams]) {
      const want = wanted.get(connectionId);
      // An edited connection (new URL, new secret) gets a new session.
      if (
        !want ||
        upstream.version !== connectionVersion(want.connection) ||
        upstream.session.closed
      )
        this.drop(connectionId, upstream);
    }
    for (const [connectionId, { connection, uris }] of wanted) {
      if (this.closed) return;
      try {
        await this.hold(connection, uris);
      } catch (error) {
        this.unsettled = true;
        this.options.logger.warn(
          { err: error, mcp_session_id: sessionId, connection_id: connectionId },
          "gateway: holding resource subscriptions upstream failed",
        );
      }
    }
  }

  private async hold(connection: Connection, uris: Set<string>): Promise<void> {
    let upstream = this.upstreams.get(connection.id);
    if (!upstream) {
      const session = await openConnectionSession(
        { db: this.options.db, runtime: this.options.runtime, principal: this.options.principal },
        connection,
      );
      if (this.closed) {
        await session.close();
        return;
      }
      upstream = this.attach(connection, session);
    }
    for (const uri of uris) {
      if (upstream.uris.has(uri)) continue;
      await upstream.session.subscribeResource(uri);
      upstream.uris.add(uri);
    }
    for (const uri of [...upstream.uris]) {
      if (uris.has(uri)) continue;
      // Forwarding stops at once; the upstream hears of it as soon as it answers.
      upstream.uris.delete(uri);
      await upstream.session.unsubscribeResource(uri);
    }
  }

  private attach(connection: Connection, session: McpSession): Upstream {
    const upstream: Upstream = {
      version: connectionVersion(connection),
      session,
      uris: new Set(),
      detach: () => undefined,
    };
    const current = () => this.upstreams.get(connection.id) === upstream;
    const stopUpdates = session.onResourceUpdated((uri) => {
      // Only what this session subscribed to: an upstream's other notifications are not its.
      if (current() && upstream.uris.has(uri)) this.options.onUpdated(uri);
    });
    const stopClose = session.onClose(() => {
      if (!current()) return;
      this.upstreams.delete(connection.id);
      this.unsettled = true;
    });
    upstream.detach = () => {
      stopUpdates();
      stopClose();
    };
    this.upstreams.set(connection.id, upstream);
    return upstream;
  }

  private drop(connectionId: string, upstream: Upstream): void {
    this.upstreams.delete(connectionId);
    upstream.detach();
    upstream.session.close().catch(() => undefined);
  }
}
