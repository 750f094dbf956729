import type { Run } from "../lib/api";
import { formatDuration } from "../lib/format";
import { StatusBadge } from "./Badge";
import { ToolResult } from "./ToolResult";

/** The decision record a governed run stores: why it was allowed or denied. */
export function DecisionSummary({ decision }: { decision: Record<string, unknown> | null }) {
  if (!decision) return <span className="muted">No policy decision recorded.</span>;
  const allowed = decision.allowed;
  const reason = typeof decision.reason === "string" ? decision.reason : null;
  return (
    <span>
      <StatusBadge status={allowed === false ? "deny" : "allow"} /> {reason}
    </span>
  );
}

const REFUSALS: Partial<Record<Run["status"], string>> = {
  denied: "Denied",
  rate_limited: "Rate limited",
};

export function RunOutcome({ run }: { run: Run }) {
  const refusal = REFUSALS[run.status];
  return (
    <div className="run-outcome">
      <div className="run-outcome__meta">
        <StatusBadge status={run.status} />
        <span>{formatDuration(run.duration_ms)}</span>
        {run.decision ? <DecisionSummary decision={run.decision} /> : null}
      </div>
      {run.error ? (
        <div className="result result--error" role="alert">
          <strong>{refusal ?? "Error"}</strong>
          <p className="mono wrap">{run.error}</p>
        </div>
      ) : null}
      {refusal === undefined && run.output !== null && run.output !== undefined ? (
        <ToolResult output={run.output} truncated={run.output_truncated} />
      ) : null}
    </div>
  );
}
