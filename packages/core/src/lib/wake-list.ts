/**
 * Waiters keyed by an id (a task's, an approval's), woken when the change feed announces a change
 * of that id, or all at once when changes may have been missed.
 */
export class WakeList {
  private readonly waiting = new Map<string, Set<() => void>>();

  /**
   * Resolves at the id's next change (or when changes may have been missed), or when `signal`
   * aborts. Register before reading the row, so that no change falls between the two.
   */
  nextChange(id: string, signal: AbortSignal): { changed: Promise<void>; stop: () => void } {
    let stop = (): void => undefined;
    const changed = new Promise<void>((resolve) => {
      const wake = (): void => {
        stop();
        resolve();
      };
      let set = this.waiting.get(id);
      if (!set) {
        set = new Set();
        this.waiting.set(id, set);
      }
      const waiters = set;
      waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
      stop = () => {
        signal.removeEventListener("abort", wake);
        waiters.delete(wake);
        if (waiters.size === 0 && this.waiting.get(id) === waiters) this.waiting.delete(id);
      };
    });
    return { changed, stop };
  }

  wake(id: string): void {
    for (const wake of [...(this.waiting.get(id) ?? [])]) wake();
  }

  wakeAll(): void {
    for (const id of [...this.waiting.keys()]) this.wake(id);
  }
}
