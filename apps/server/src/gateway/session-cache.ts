import {
  findMcpSession,
  hashSessionToken,
  MCP_SESSION_TOUCH_SECONDS,
  type ChangeFeed,
  type Db,
  type McpSessionLimits,
  type McpSessionRow,
} from "@mcp/core";

/*
 * Validated gateway sessions, so a request in a session does not pay a read of its row each time.
 *
 * An entry is served only while the change feed is live, and for at most
 * MCP_SESSION_TOUCH_SECONDS after the read that validated it, so the read that keeps the
 * session's `last_seen_at` fresh still happens as often as before and an idle session cannot
 * outlive its timeout here (the timeout is at least twice that). Whatever ends a session or
 * takes its credential away is announced on the feed in the transaction that did it: a session's
 * DELETE, eviction or takeover (session channel), a revoked key or disabled agent (its org's
 * governance notification). Each drops the entries it concerns on every replica; a lost feed
 * connection drops them all.
 */

interface Entry {
  session: McpSessionRow;
  agentId: string;
  credentialId: string;
  validatedAt: number;
}

export interface ValidatedSessionsOptions {
  db: Db;
  changes: ChangeFeed;
  limits: McpSessionLimits;
  /** Most entries kept; the least recently validated goes first beyond it. */
  maxEntries: number;
}

const FRESH_MS = MCP_SESSION_TOUCH_SECONDS * 1000;

export class ValidatedSessions {
  /** By the sha256 of the session token: the cache holds no token. */
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation, so a read that raced one is not cached. */
  private generation = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: ValidatedSessionsOptions) {
    this.unsubscribe = options.changes.subscribe({
      changed: (orgId) => {
        this.drop((entry) => entry.session.org_id === orgId);
      },
      sessionChanged: (sessionId) => {
        this.forget(sessionId);
      },
      reset: () => {
        this.drop(() => true);
      },
    });
  }

  /** As findMcpSession: the live session the token names for this agent and credential, or null. */
  async find(input: {
    token: string;
    agentId: string;
    credentialId: string;
  }): Promise<McpSessionRow | null> {
    const key = hashSessionToken(input.token);
    const entry = this.entries.get(key);
    if (
      entry &&
      this.options.changes.live &&
      entry.agentId === input.agentId &&
      entry.credentialId === input.credentialId &&
      performance.now() - entry.validatedAt < FRESH_MS
    )
      return entry.session;
    const generation = this.generation;
    const validatedAt = performance.now();
    const session = await findMcpSession(this.options.db, {
      ...input,
      limits: this.options.limits,
    });
    if (!session) {
      this.entries.delete(key);
      return null;
    }
    if (generation === this.generation && this.options.changes.live) {
      this.entries.delete(key);
      const { agentId, credentialId } = input;
      this.entries.set(key, { session, agentId, credentialId, validatedAt });
      if (this.entries.size > this.options.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
    }
    return session;
  }

  /** Drops the session's entry (this process ended it, or heard that it changed). */
  forget(sessionId: string): void {
    this.drop((entry) => entry.session.id === sessionId);
  }

  close(): void {
    this.unsubscribe();
    this.entries.clear();
  }

  private drop(matches: (entry: Entry) => boolean): void {
    this.generation += 1;
    for (const [key, entry] of this.entries) if (matches(entry)) this.entries.delete(key);
  }
}
