import { sql } from "drizzle-orm";
import { CANCEL_CHANNEL, type ChangeFeed } from "../db/changes";
import type { Db } from "../db/client";

/*
 * `notifications/cancelled` across replicas. Every gateway POST is its own server, so a client's
 * cancellation (a POST of its own) may reach another replica than the one running the request it
 * names. Within a session the pair (session, request id) names one request: the replica that
 * receives the cancellation announces it on CANCEL_CHANNEL, and the replica running that request
 * (every replica hears the channel) aborts it as a hang-up would: the upstream call is cancelled,
 * a call held for approval has its approval cancelled. A session-less request cannot be named
 * from another POST (its id is unique only within its own request); its client hangs up instead.
 */

export type CancellableRequestId = string | number;

export interface Cancellation {
  sessionId: string;
  requestId: CancellableRequestId;
  reason: string | null;
}

/** What fits a NOTIFY payload with room to spare; a longer id or reason is cut or not routed. */
const MAX_REQUEST_ID_CHARS = 512;
const MAX_REASON_CHARS = 1024;
/**
 * Cancellations one POST may announce. Every announcement is a statement here and a message to
 * every replica, and a batch of notifications (up to 100 messages) costs its client one request:
 * bounded, a client cannot make one request fan out into a hundred broadcasts. No client has a
 * reason to cancel more requests at once.
 */
export const MAX_CANCELLATIONS_PER_POST = 16;

function key(sessionId: string, requestId: CancellableRequestId): string {
  return `${sessionId}\n${JSON.stringify(requestId)}`;
}

function parse(payload: string): Cancellation | null {
  try {
    const message = JSON.parse(payload) as { s?: unknown; r?: unknown; reason?: unknown };
    if (typeof message.s !== "string") return null;
    if (typeof message.r !== "string" && typeof message.r !== "number") return null;
    return {
      sessionId: message.s,
      requestId: message.r,
      reason: typeof message.reason === "string" ? message.reason : null,
    };
  } catch {
    return null;
  }
}

/** The requests of gateway sessions this replica is running, and their cancellation. */
export class SessionRequests {
  private readonly running = new Map<string, (reason: string | null) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly db: Db,
    feed: ChangeFeed,
  ) {
    this.unsubscribe = feed.subscribe({
      changed: () => undefined,
      // A cancellation missed while the feed was down cannot be recovered: the request runs to
      // its end, as it would had the client never cancelled.
      reset: () => undefined,
      cancelled: (payload) => {
        const cancellation = parse(payload);
        if (cancellation)
          this.running.get(key(cancellation.sessionId, cancellation.requestId))?.(
            cancellation.reason,
          );
      },
    });
  }

  /**
   * Runs `onCancel` when the session's client cancels the request, from any replica; the
   * returned function stops listening (call it once the request is answered).
   */
  track(
    sessionId: string,
    requestId: CancellableRequestId,
    onCancel: (reason: string | null) => void,
  ): () => void {
    const name = key(sessionId, requestId);
    // A client reusing the id of a request still running breaks the protocol; the newer one wins.
    this.running.set(name, onCancel);
    return () => {
      if (this.running.get(name) === onCancel) this.running.delete(name);
    };
  }

  /**
   * The cancellations of one POST: each named request once, the first MAX_CANCELLATIONS_PER_POST
   * of them; a request this replica runs is cancelled here, any other is announced to every
   * replica (the one running it acts). Returns how many were announced.
   */
  async cancel(cancellations: readonly Cancellation[]): Promise<number> {
    const named = new Map<string, Cancellation>();
    for (const cancellation of cancellations) {
      if (named.size === MAX_CANCELLATIONS_PER_POST) break;
      if (JSON.stringify(cancellation.requestId).length > MAX_REQUEST_ID_CHARS) continue;
      const name = key(cancellation.sessionId, cancellation.requestId);
      if (!named.has(name)) named.set(name, cancellation);
    }
    let announced = 0;
    for (const [name, cancellation] of named) {
      const reason = cancellation.reason?.slice(0, MAX_REASON_CHARS) ?? null;
      const local = this.running.get(name);
      if (local) {
        local(reason);
        continue;
      }
      const payload = JSON.stringify({
        s: cancellation.sessionId,
        r: cancellation.requestId,
        reason,
      });
      await this.db.execute(sql`select pg_notify(${CANCEL_CHANNEL}, ${payload})`);
      announced += 1;
    }
    return announced;
  }

  close(): void {
    this.unsubscribe();
    this.running.clear();
  }
}
