/** The most often one process writes one connection's health from governed calls. */
export const HEALTH_WRITE_INTERVAL_MS = 10_000;

/** A connection, with its organization (every write is filtered by it). */
export interface ConnectionRef {
  orgId: string;
  id: string;
}

interface Throttle {
  connection: ConnectionRef;
  writtenAt: number;
  /** The latest report since that write, written when the interval is over (undefined: none). */
  pending: string | null | undefined;
  timer: NodeJS.Timeout | null;
}

/**
 * Health that governed calls observe (healthy after a success, the error after an unreachable
 * upstream), written at most once per interval per connection: an upstream that flaps on every
 * call would otherwise write its row on every call. A report inside the interval is not lost:
 * the latest one is written when the interval is over.
 */
export class ConnectionHealthWriter {
  private readonly throttles = new Map<string, Throttle>();
  private readonly writes = new Set<Promise<void>>();

  /** `store` writes one report (recordConnectionHealth). */
  constructor(
    private readonly store: (connection: ConnectionRef, error: string | null) => Promise<void>,
    private readonly intervalMs = HEALTH_WRITE_INTERVAL_MS,
  ) {}

  /** Records `error` (null: healthy) now, or when this connection's interval is over. */
  async report(connection: ConnectionRef, error: string | null): Promise<void> {
    const now = performance.now();
    const throttle = this.throttles.get(connection.id);
    if (throttle && now - throttle.writtenAt < this.intervalMs) {
      throttle.pending = error;
      throttle.timer ??= setTimeout(
        () => {
          throttle.timer = null;
          const pending = throttle.pending;
          if (pending === undefined) return;
          throttle.pending = undefined;
          throttle.writtenAt = performance.now();
          // Health is advisory: a write that fails is corrected by the next report.
          void this.write(connection, pending).catch(() => undefined);
        },
        throttle.writtenAt + this.intervalMs - now,
      );
      throttle.timer.unref();
      return;
    }
    this.forgetQuietConnections(now);
    this.throttles.set(connection.id, {
      connection,
      writtenAt: now,
      pending: undefined,
      timer: null,
    });
    await this.write(connection, error);
  }

  /** Writes what is still pending; later reports are written at once. */
  async close(): Promise<void> {
    const pending: Promise<void>[] = [...this.writes];
    for (const throttle of this.throttles.values()) {
      if (throttle.timer) clearTimeout(throttle.timer);
      if (throttle.pending !== undefined)
        pending.push(this.write(throttle.connection, throttle.pending).catch(() => undefined));
    }
    this.throttles.clear();
    await Promise.all(pending);
  }

  private write(connection: ConnectionRef, error: string | null): Promise<void> {
    const writing = this.store(connection, error);
    const tracked = writing.catch(() => undefined);
    this.writes.add(tracked);
    void tracked.finally(() => this.writes.delete(tracked));
    return writing;
  }

  /** Connections whose interval is over need no entry: their next report is written at once. */
  private forgetQuietConnections(now: number): void {
    if (this.throttles.size < 1_000) return;
    for (const [connectionId, throttle] of this.throttles) {
      if (!throttle.timer && now - throttle.writtenAt >= this.intervalMs)
        this.throttles.delete(connectionId);
    }
  }
}
