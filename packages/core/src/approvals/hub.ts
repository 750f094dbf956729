import type { ChangeFeed } from "../db/changes";
import type { Db } from "../db/client";
import { WakeList } from "../lib/wake-list";
import {
  cancelApproval,
  expireApprovals,
  heldApprovalState,
  type ApprovalStatus,
} from "./approvals";

/** How often a held call tells its client it still waits (a progress notification, a task's status). */
export const APPROVAL_KEEPALIVE_MS = 15_000;

/** How a held call's wait ended. */
export type HeldOutcome = "approved" | "denied" | "expired" | "cancelled";

/** What a replica runs once approved: claims approved calls nobody holds, and starts them. */
export type ApprovedCallRunner = () => Promise<(() => Promise<void>)[]>;

/*
 * What a replica hears of approvals on the change feed (APPROVAL_CHANNEL): it wakes the calls it
 * holds when their approval changes, and when an approval is approved it tries to claim the
 * approved calls nobody holds (REST, the SPA) and runs those it gets. A reconnected feed
 * (notifications may have been missed) wakes every held call, which reads its approval again, and
 * tries to claim again; so does every start of a replica.
 */
export class ApprovalHub {
  private readonly waiting = new WakeList();
  private readonly unsubscribe: () => void;
  private readonly jobs = new Set<Promise<void>>();
  private runner: ApprovedCallRunner | null = null;
  private claiming: Promise<void> | null = null;
  private claimAgain = false;
  private closed = false;

  constructor(
    private readonly db: Db,
    feed: ChangeFeed,
    private readonly onError: (error: unknown) => void,
  ) {
    this.unsubscribe = feed.subscribe({
      changed: () => undefined,
      reset: () => {
        this.waiting.wakeAll();
        this.kick();
      },
      approval: (payload) => {
        this.notified(payload);
      },
    });
  }

  /** Sets what runs approved calls nobody holds, and looks for any at once. */
  start(runner: ApprovedCallRunner): void {
    this.runner = runner;
    this.kick();
  }

  /** Claims approved calls (again, if a claim is under way) and starts them. */
  kick(): void {
    if (this.closed || this.runner === null) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    const runner = this.runner;
    this.claiming = (async () => {
      do {
        this.claimAgain = false;
        const started = await runner();
        for (const start of started) {
          const job: Promise<void> = start()
            .catch(this.onError)
            .finally(() => this.jobs.delete(job));
          this.jobs.add(job);
        }
        if (started.length > 0) this.claimAgain = true;
      } while (this.claimAgain && !this.closed);
    })()
      .catch(this.onError)
      .finally(() => {
        this.claiming = null;
      });
  }

  /**
   * Holds a call until its approval is decided, expires or `signal` aborts (then it is cancelled
   * with `cancelReason`, unless decided meanwhile). At its expiry this replica ends it as expired
   * itself; `onWaiting` is told at once and every APPROVAL_KEEPALIVE_MS.
   */
  async hold(
    approvalId: string,
    signal: AbortSignal,
    options: { onWaiting?: (() => void) | undefined; cancelReason: string },
  ): Promise<HeldOutcome> {
    const keepalive = options.onWaiting
      ? setInterval(options.onWaiting, APPROVAL_KEEPALIVE_MS)
      : null;
    keepalive?.unref();
    options.onWaiting?.();
    try {
      for (;;) {
        const { changed, stop } = this.waiting.nextChange(approvalId, signal);
        let state: Awaited<ReturnType<typeof heldApprovalState>>;
        try {
          state = await heldApprovalState(this.db, approvalId);
        } catch (error) {
          stop();
          throw error;
        }
        if (state === null) {
          stop();
          return "cancelled";
        }
        if (state.status !== "pending") {
          stop();
          return settled(state.status);
        }
        if (signal.aborted) {
          stop();
          // A client that cancelled gave its reason (MCP notifications/cancelled); keep it.
          const reason =
            typeof signal.reason === "string"
              ? `Cancelled by the caller: ${signal.reason}`
              : options.cancelReason;
          if (await cancelApproval(this.db, approvalId, reason)) return "cancelled";
          continue;
        }
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<"expired">((resolve) => {
          timer = setTimeout(() => {
            resolve("expired");
          }, state.msUntilExpiry);
        });
        const woken = await Promise.race([changed.then(() => "changed" as const), expired]);
        clearTimeout(timer);
        if (woken === "expired") {
          stop();
          await expireApprovals(this.db, { id: approvalId });
        }
      }
    } finally {
      if (keepalive) clearInterval(keepalive);
    }
  }

  /** Stops claiming and waits for the approved calls this replica runs to end. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await this.claiming;
    await Promise.allSettled([...this.jobs]);
  }

  private notified(payload: string): void {
    let message: { id?: unknown; status?: unknown };
    try {
      message = JSON.parse(payload) as typeof message;
    } catch {
      return;
    }
    if (typeof message.id !== "string") return;
    this.waiting.wake(message.id);
    if ((message.status as ApprovalStatus) === "approved") this.kick();
  }
}

function settled(status: Exclude<ApprovalStatus, "pending">): HeldOutcome {
  return status;
}
