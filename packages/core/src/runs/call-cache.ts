import type { ChangeFeed } from "../db/changes";

interface Entry {
  orgId: string;
  /** The change sequence number when the load that produced the value began. */
  loadedAt: number;
  value: unknown;
}

/** Entries kept at most; past it the cache starts over (cheaper than tracking recency per hit). */
const DEFAULT_MAX_ENTRIES = 50_000;

/**
 * What governed calls read on every call (an agent key's agent, a tool with its connection and
 * the policies that can apply), kept in this process and dropped per organization when the
 * database reports a change there (triggers in drizzle/0002 NOTIFY on every write to agents,
 * agent keys, tools, connections and policies).
 *
 * Correctness rests on ordering, not timing: an entry is valid only if no change of its
 * organization was reported after the load that produced it began, so a load racing a change is
 * never served. While the change feed is not live (its connection dropped), nothing is served or
 * stored. What remains is notification latency: another process serves a revoked key until the
 * notification reaches it (well under a millisecond on one host); the process that made the
 * change waits for it before answering (`barrier`).
 */
export class CallCache {
  private readonly entries = new Map<string, Entry>();
  private readonly changedAt = new Map<string, number>();
  private sequence = 0;
  private resetAt = 0;
  /** Reads served from the cache, and reads that had to load (for the metrics). */
  hits = 0;
  misses = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly changes: ChangeFeed,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {
    this.unsubscribe = changes.subscribe({
      changed: (orgId) => {
        this.sequence += 1;
        this.changedAt.set(orgId, this.sequence);
      },
      reset: () => {
        this.sequence += 1;
        this.resetAt = this.sequence;
        this.entries.clear();
        this.changedAt.clear();
      },
    });
  }

  /**
   * The value under `key`, or `load`'s. A load may return null (not found), which is not kept:
   * unknown keys and names must not fill the cache.
   */
  async get<T>(
    key: string,
    load: () => Promise<{ orgId: string; value: T } | null>,
  ): Promise<T | null> {
    const entry = this.entries.get(key);
    if (entry && this.valid(entry)) {
      this.hits += 1;
      return entry.value as T;
    }
    this.misses += 1;
    const live = this.changes.live;
    const loadedAt = this.sequence;
    const loaded = await load();
    if (!loaded) return null;
    // A feed that dropped during the load reset the cache, which makes this entry invalid.
    if (live) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(key, { orgId: loaded.orgId, loadedAt, value: loaded.value });
    }
    return loaded.value;
  }

  /** Resolves once changes committed so far have reached this cache (see ChangeFeed.barrier). */
  barrier(): Promise<void> {
    return this.changes.barrier();
  }

  close(): void {
    this.unsubscribe();
    this.entries.clear();
  }

  private valid(entry: Entry): boolean {
    if (!this.changes.live || entry.loadedAt < this.resetAt) return false;
    return entry.loadedAt >= (this.changedAt.get(entry.orgId) ?? 0);
  }
}

/** `load`'s value through `cache` when there is one (the runtime's), straight from it otherwise. */
export async function readThrough<T>(
  cache: CallCache | null,
  key: string,
  load: () => Promise<{ orgId: string; value: T } | null>,
): Promise<T | null> {
  return cache ? cache.get(key, load) : ((await load())?.value ?? null);
}
