import type { McpConnectOptions, McpSession, ServerRequestHandling } from "./client";
import { connectMcp } from "./client";
import { McpCallError, isSessionLost, isUndelivered } from "./errors";
import type { McpTarget } from "./target";

export interface McpClientPoolOptions extends Omit<McpConnectOptions, "signal"> {
  /** Close sessions unused for this long (default 5 minutes); stdio children are stopped with them. */
  idleMs?: number;
  /** Most sessions kept open (default 100); the least recently used idle one is closed beyond it. */
  maxSize?: number;
}

interface PoolEntry {
  readonly key: string;
  readonly version: string;
  readonly session: Promise<McpSession>;
  /** Calls currently using the entry; an entry is only closed when this is zero (or on shutdown). */
  users: number;
  retired: boolean;
  idleTimer: NodeJS.Timeout | null;
}

const DEFAULT_IDLE_MS = 5 * 60_000;
const DEFAULT_MAX_SIZE = 100;

/**
 * Keeps initialized MCP sessions per connection so tool calls skip the connect + `initialize`
 * round trips. Entries are keyed by connection id and carry a version (e.g. the row's
 * `updated_at`): a different version means the connection was edited, so its old session is
 * retired once its in-flight calls finish and a new one is opened.
 */
export class McpClientPool {
  private readonly entries = new Map<string, PoolEntry>();
  private readonly closing = new Set<Promise<void>>();
  /** Sessions opened for one caller (withOwnSession), closed with the pool on shutdown. */
  private readonly own = new Set<Promise<McpSession>>();
  private readonly idleMs: number;
  private readonly maxSize: number;
  private readonly connectOptions: Omit<McpConnectOptions, "signal">;
  private shutDown = false;

  constructor(options: McpClientPoolOptions) {
    const { idleMs, maxSize, ...connectOptions } = options;
    this.idleMs = idleMs ?? DEFAULT_IDLE_MS;
    this.maxSize = Math.max(1, maxSize ?? DEFAULT_MAX_SIZE);
    this.connectOptions = connectOptions;
  }

  /** Open (or opening) sessions. */
  get size(): number {
    return this.entries.size;
  }

  /** Sessions serving at least one call right now. */
  get inUse(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.users > 0) count += 1;
    return count;
  }

  /**
   * Runs `fn` with the pooled session for `key`, connecting first if needed; concurrent callers
   * share one connect. If `fn` fails because the session was lost (transport closed, upstream
   * session expired, stdio process exited) the session is replaced, and `fn` is retried once on
   * the new one when that is safe: always for `idempotent` work (listing, reading), and for work
   * with effects (a tool call) only when the request certainly never ran upstream. A tool call
   * whose stdio process died mid-call fails instead of running a second time.
   */
  async withSession<T>(
    key: string,
    version: string,
    target: McpTarget,
    fn: (session: McpSession) => Promise<T>,
    options: { idempotent: boolean } = { idempotent: true },
  ): Promise<T> {
    const first = this.acquire(key, version, target);
    try {
      const session = await first.session;
      return await fn(session);
    } catch (error) {
      if (!isSessionLost(error)) throw error;
      this.retire(first);
      if (!options.idempotent && !isUndelivered(error)) throw error;
    } finally {
      this.release(first);
    }
    const second = this.acquire(key, version, target);
    try {
      return await fn(await second.session);
    } finally {
      this.release(second);
    }
  }

  /**
   * Runs `fn` on a session of its own, opened for this caller and closed after it: a server's
   * requests during it (sampling, elicitation, roots, ping) can only be the caller's, whatever
   * the transport, and the session declares exactly the capabilities the caller relays. Uses the
   * SDK's HTTP transport, which opens the standalone GET stream a server may send requests on.
   */
  async withOwnSession<T>(
    target: McpTarget,
    serverRequests: ServerRequestHandling,
    fn: (session: McpSession) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.shutDown) throw new McpCallError("closed", "The MCP client pool has been shut down");
    const opening = connectMcp(target, {
      ...this.connectOptions,
      fastPath: false,
      serverRequests,
      ...(signal ? { signal } : {}),
    });
    this.own.add(opening);
    try {
      return await fn(await opening);
    } finally {
      this.own.delete(opening);
      await opening.then(
        (session) => session.close(),
        () => undefined,
      );
    }
  }

  /**
   * Opens a session for a long-lived holder of its own (a gateway session's resource
   * subscriptions, whose notifications must reach that session only). The holder closes it; the
   * pool closes it on shutdown.
   */
  async openOwnSession(target: McpTarget): Promise<McpSession> {
    if (this.shutDown) throw new McpCallError("closed", "The MCP client pool has been shut down");
    const opening = connectMcp(target, this.connectOptions);
    this.own.add(opening);
    try {
      const session = await opening;
      session.onClose(() => {
        this.own.delete(opening);
      });
      return session;
    } catch (error) {
      this.own.delete(opening);
      throw error;
    }
  }

  /**
   * Closes the session for `key` and those keyed under it (`key:…`, e.g. a connection's per-user
   * OAuth sessions), e.g. when its connection is deleted.
   */
  async evict(key: string): Promise<void> {
    for (const entry of [...this.entries.values()])
      if (entry.key === key || entry.key.startsWith(`${key}:`)) this.retire(entry, { force: true });
    await this.settled();
  }

  /** Closes every session (killing stdio children) and refuses further use. For shutdown. */
  async closeAll(): Promise<void> {
    this.shutDown = true;
    for (const entry of [...this.entries.values()]) this.retire(entry, { force: true });
    await Promise.all(
      [...this.own].map((opening) =>
        opening.then(
          (session) => session.close(),
          () => undefined,
        ),
      ),
    );
    await this.settled();
  }

  private async settled(): Promise<void> {
    while (this.closing.size > 0) await Promise.all([...this.closing]);
  }

  private acquire(key: string, version: string, target: McpTarget): PoolEntry {
    if (this.shutDown) throw new McpCallError("closed", "The MCP client pool has been shut down");
    let entry = this.entries.get(key);
    if (entry && (entry.version !== version || entry.retired)) {
      this.retire(entry);
      entry = undefined;
    }
    if (entry) {
      // Map iteration order doubles as recency order for LRU eviction.
      this.entries.delete(key);
      this.entries.set(key, entry);
      entry.users++;
    } else {
      entry = this.open(key, version, target);
      this.entries.set(key, entry);
      entry.users++;
      this.evictOverflow();
    }
    if (entry.idleTimer) {
      clearTimeout(entry.idleTimer);
      entry.idleTimer = null;
    }
    return entry;
  }

  private open(key: string, version: string, target: McpTarget): PoolEntry {
    const session = connectMcp(target, this.connectOptions);
    const entry: PoolEntry = { key, version, session, users: 0, retired: false, idleTimer: null };
    session.then(
      (opened) => {
        // A session that dies on its own (process exit, dropped stream) leaves the pool at once,
        // so the next caller connects afresh instead of failing first.
        opened.onClose(() => {
          this.retire(entry);
        });
      },
      () => {
        // Failed connects are not cached: the next call tries again.
        this.retire(entry);
      },
    );
    return entry;
  }

  private release(entry: PoolEntry): void {
    entry.users--;
    if (entry.users > 0) return;
    if (entry.retired) {
      this.closeEntry(entry);
      return;
    }
    entry.idleTimer = setTimeout(() => {
      entry.idleTimer = null;
      if (entry.users === 0) this.retire(entry);
    }, this.idleMs);
    entry.idleTimer.unref();
  }

  /** Takes the entry out of the pool; its session closes now if unused (or forced), else on release. */
  private retire(entry: PoolEntry, options: { force?: boolean } = {}): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (entry.idleTimer) {
      clearTimeout(entry.idleTimer);
      entry.idleTimer = null;
    }
    const wasRetired = entry.retired;
    entry.retired = true;
    if ((!wasRetired && entry.users === 0) || options.force === true) this.closeEntry(entry);
  }

  private closeEntry(entry: PoolEntry): void {
    const closing = entry.session.then(
      (session) => session.close(),
      () => undefined,
    );
    this.closing.add(closing);
    void closing.finally(() => this.closing.delete(closing));
  }

  private evictOverflow(): void {
    if (this.entries.size <= this.maxSize) return;
    for (const entry of this.entries.values()) {
      if (this.entries.size <= this.maxSize) return;
      // Sessions in use are never closed under a caller; the pool may briefly exceed maxSize.
      if (entry.users === 0) this.retire(entry);
    }
  }
}
