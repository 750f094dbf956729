/*
 * The closed-loop load of the bench's call scenarios (run.ts, relay.ts): clients that each call
 * one after another, and the latency percentiles of what they measured.
 */

export interface Worker {
  call: (index: number) => Promise<void>;
  close: () => Promise<void>;
}

/** Measurement rounds per concurrency; the paths take turns so background load hits them alike. */
export const ROUNDS = 5;

export function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export async function drive(
  workers: Worker[],
  requests: number,
  /** Stop starting calls after this many ms as well. */
  maxMs = Number.POSITIVE_INFINITY,
): Promise<{ latencies: number[]; wallMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const until = started + maxMs;
  await Promise.all(
    workers.map(async (worker) => {
      while (next < requests && performance.now() < until) {
        const index = next++;
        const t0 = performance.now();
        await worker.call(index);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, wallMs: performance.now() - started };
}
