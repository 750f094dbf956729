import type { RunStats } from "../../lib/api";

export const RANGES = {
  "1h": { label: "Last hour", ms: 3600_000, bucket: "minute" },
  "24h": { label: "Last 24 hours", ms: 24 * 3600_000, bucket: "hour" },
  "7d": { label: "Last 7 days", ms: 7 * 24 * 3600_000, bucket: "hour" },
  "30d": { label: "Last 30 days", ms: 30 * 24 * 3600_000, bucket: "day" },
} as const;
export type RangeKey = keyof typeof RANGES;

export function isRangeKey(value: string | null): value is RangeKey {
  return value !== null && value in RANGES;
}

/** The stats window ending at `now`; `now` is fixed per refresh so the query key stays stable. */
export function statsWindow(
  range: RangeKey,
  now: number,
): { since: string; until: string; bucket: "minute" | "hour" | "day" } {
  const { ms, bucket } = RANGES[range];
  return { since: new Date(now - ms).toISOString(), until: new Date(now).toISOString(), bucket };
}

export type ToolStats = RunStats["tools"][number];
export type AgentStats = RunStats["agents"][number];

/** Tools by p95 latency, slowest first; tools without a finished run have no latency to rank. */
export function slowestTools(tools: readonly ToolStats[], count = 5): ToolStats[] {
  return tools
    .filter((tool) => tool.p95_ms !== null)
    .toSorted((a, b) => (b.p95_ms ?? 0) - (a.p95_ms ?? 0) || a.tool_name.localeCompare(b.tool_name))
    .slice(0, count);
}

export function mostDeniedTools(tools: readonly ToolStats[], count = 5): ToolStats[] {
  return tools
    .filter((tool) => tool.denied > 0)
    .toSorted((a, b) => b.denied - a.denied || a.tool_name.localeCompare(b.tool_name))
    .slice(0, count);
}

/** Success rate over finished, not-denied runs (the complement of the server's error_rate). */
export function successRate(totals: RunStats["totals"]): number | null {
  const finished = totals.succeeded + totals.failed;
  return finished === 0 ? null : totals.succeeded / finished;
}

export function agentLabel(agent: AgentStats): string {
  if (agent.agent_id === null) return "No agent (direct runs)";
  return agent.agent_name ?? `Deleted agent ${agent.agent_id.slice(0, 8)}`;
}

export type RateTone = "good" | "warn" | "bad";

/** Success rates read green from 95%, amber from 80%, red below: a few failures are not an alarm. */
export function successTone(rate: number | null): RateTone | undefined {
  if (rate === null) return undefined;
  if (rate >= 0.95) return "good";
  return rate >= 0.8 ? "warn" : "bad";
}

/** The same thresholds seen from the error side. */
export function errorTone(rate: number): RateTone | undefined {
  return rate <= 0.05 ? undefined : successTone(1 - rate);
}
