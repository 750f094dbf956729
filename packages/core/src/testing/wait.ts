import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Resolves once `condition` holds, checking after each turn of the event loop (and at least every
 * few milliseconds). It has no deadline of its own: the test's timeout bounds it, so a slow
 * machine waits longer instead of failing.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let round = 0; !(await condition()); round++) {
    if (round < 100) await nextTurn();
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether no process with this id exists any more (`null`: there never was one, so no). */
export function processGone(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
