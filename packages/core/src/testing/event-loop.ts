import { readFileSync } from "node:fs";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { JSON_SCHEMA_LIMITS } from "../lib/json-schema";

/**
 * CPU time the calling thread has used, in milliseconds. Not process.cpuUsage, which also counts
 * the process's other threads (the JSON Schema thread, the garbage collector's helpers): they run
 * beside the event loop, not in it, and on a busy machine they made a CPU-time bound flaky.
 */
export function threadCpuMs(): number {
  try {
    // Linux: the first field is the thread's time on a CPU in nanoseconds. A synchronous read
    // runs on the calling thread, so /proc/thread-self is this one.
    const [ns] = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
    return Number(ns) / 1e6;
  } catch {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  }
}

/**
 * Starts measuring how long the event loop is held: the most CPU time this thread spent between
 * two consecutive turns of a 1 ms timer, i.e. the longest synchronous stretch (plus at most the
 * timer's millisecond). CPU time, not wall time: on a shared machine the wall clock also counts
 * other processes' turns. Garbage collection pauses inside a stretch are taken out of it: they
 * are V8's, sized by the whole test process's heap rather than by the code under test, and a
 * major collection of a busy worker's heap alone went over the bound in CI.
 * Returns a function that stops and gives the longest stretch in ms.
 */
export function watchEventLoop(): () => number {
  // Only stretches long enough to matter are kept, so a long watch stays small.
  const worthKeepingMs = 5;
  const stretches: { start: number; end: number; cpuMs: number }[] = [];
  const collections: { start: number; end: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      collections.push({ start: entry.startTime, end: entry.startTime + entry.duration });
  });
  observer.observe({ entryTypes: ["gc"] });
  let lastCpu = threadCpuMs();
  let lastWall = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const turn = () => {
    const cpu = threadCpuMs();
    const wall = performance.now();
    if (cpu - lastCpu >= worthKeepingMs)
      stretches.push({ start: lastWall, end: wall, cpuMs: cpu - lastCpu });
    lastCpu = cpu;
    lastWall = wall;
    timer = setTimeout(turn, 1);
  };
  timer = setTimeout(turn, 1);
  return () => {
    if (timer) clearTimeout(timer);
    turn();
    if (timer) clearTimeout(timer);
    for (const entry of observer.takeRecords())
      collections.push({ start: entry.startTime, end: entry.startTime + entry.duration });
    observer.disconnect();
    let longest = 0;
    for (const stretch of stretches) {
      const collecting = collections.reduce(
        (sum, gc) =>
          sum + Math.max(0, Math.min(gc.end, stretch.end) - Math.max(gc.start, stretch.start)),
        0,
      );
      longest = Math.max(longest, stretch.cpuMs - collecting);
    }
    return longest;
  };
}

/**
 * A schema at the limits, built to be as costly as they allow: JSON_SCHEMA_LIMITS.maxSubschemas
 * subschemas, each with a distinct pattern whose RE2 program is as large as RE2 allows and one
 * that backtracks catastrophically, plus formats. `tag` makes the patterns distinct per call, so
 * no cache holds them yet. Valid values: `{ p<i>: <1,000 lowercase letters + tag + i> }`.
 */
export function hostileJsonSchema(tag: string): Record<string, unknown> {
  const properties: Record<string, object> = {};
  for (let i = 0; i < JSON_SCHEMA_LIMITS.maxSubschemas - 1; i++) {
    properties[`p${i}`] =
      i % 2 === 0
        ? { type: "string", pattern: `^[a-z]{1000}${tag}${i}$` }
        : { type: "string", pattern: `^(a+)+${tag}${i}$`, format: "email" };
  }
  return { type: "object", properties };
}
