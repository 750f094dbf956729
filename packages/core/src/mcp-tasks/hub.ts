import type { ChangeFeed } from "../db/changes";
import { WakeList } from "../lib/wake-list";
import type { McpTaskStatus } from "./mcp-tasks";

/*
 * What a replica hears of tasks on the change feed (TASK_CHANNEL): it aborts the calls it runs
 * for tasks cancelled anywhere, and wakes its `tasks/result` requests when their task changes.
 * A reconnected feed (notifications may have been missed) wakes every waiter, which reads its
 * task again; the calls it runs are checked by whoever cancels: a cancellation missed here
 * leaves the call running to its end, and its outcome is not recorded over the cancellation.
 */
export class TaskHub {
  /** Calls this replica runs, by task id. */
  private readonly running = new Map<string, { controller: AbortController; job: Promise<void> }>();
  /** `tasks/result` requests waiting on this replica, by task id. */
  private readonly waiting = new WakeList();
  private readonly unsubscribe: () => void;

  constructor(feed: ChangeFeed) {
    this.unsubscribe = feed.subscribe({
      changed: () => undefined,
      reset: () => {
        this.waiting.wakeAll();
      },
      task: (payload) => {
        this.notified(payload);
      },
    });
  }

  /**
   * Runs the task's job in the background (it records its own outcome and must not throw); the
   * signal aborts when the task is cancelled on any replica, or this process stops.
   */
  start(taskId: string, job: (signal: AbortSignal) => Promise<void>): void {
    const controller = new AbortController();
    const running = {
      controller,
      job: job(controller.signal).finally(() => {
        if (this.running.get(taskId) === running) this.running.delete(taskId);
      }),
    };
    this.running.set(taskId, running);
  }

  /**
   * Resolves at the task's next change (or when changes may have been missed), or when `signal`
   * aborts. Register before reading the task, so that no change falls between the two.
   */
  nextChange(taskId: string, signal: AbortSignal): { changed: Promise<void>; stop: () => void } {
    return this.waiting.nextChange(taskId, signal);
  }

  /** Aborts the calls still running (the process stops) and waits until their jobs ended. */
  async close(): Promise<void> {
    this.unsubscribe();
    const jobs = [...this.running.values()];
    for (const { controller } of jobs)
      controller.abort(new Error("The server running this task is stopping"));
    await Promise.allSettled(jobs.map(({ job }) => job));
  }

  private notified(payload: string): void {
    let message: { id?: unknown; status?: unknown };
    try {
      message = JSON.parse(payload) as typeof message;
    } catch {
      return;
    }
    if (typeof message.id !== "string") return;
    if ((message.status as McpTaskStatus) === "cancelled")
      this.running.get(message.id)?.controller.abort(new Error("The task was cancelled"));
    this.waiting.wake(message.id);
  }
}
