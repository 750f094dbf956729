import type { ReactNode } from "react";

export type Tone = "neutral" | "green" | "red" | "amber" | "blue" | "violet";

export function Badge({
  tone = "neutral",
  children,
  title,
}: {
  tone?: Tone;
  children: ReactNode;
  title?: string;
}) {
  return (
    <span className={`badge badge--${tone}`} title={title}>
      {children}
    </span>
  );
}

const STATUS_TONES: Record<string, Tone> = {
  healthy: "green",
  succeeded: "green",
  active: "green",
  allow: "green",
  allowed: "green",
  enabled: "green",
  unhealthy: "red",
  failed: "red",
  deny: "red",
  denied: "amber",
  timeout: "amber",
  rate_limited: "violet",
  awaiting_approval: "violet",
  pending: "violet",
  approved: "green",
  expired: "amber",
  cancelled: "neutral",
  disabled: "neutral",
  running: "blue",
  unknown: "neutral",
  stale: "amber",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge tone={STATUS_TONES[status] ?? "neutral"}>
      {status === "running" ? <span className="pulse" aria-hidden="true" /> : null}
      {status.replaceAll("_", " ")}
    </Badge>
  );
}
