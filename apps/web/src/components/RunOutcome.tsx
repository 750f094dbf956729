import type { Run } from "../lib/api";
import { formatDuration } from "../lib/format";
import { StatusBadge } from "./Badge";
import { ToolResult } from "./ToolResult";

function decisionReason(run: Run): string | null {
  const reason = run.decision?.reason;
  return typeof reason === "string" ? reason : null;
}

/*
 * A run the platform refused never reached the server: its status says why (a policy denied it, a
 * rate limit was reached) and its error says it in a sentence, which is then the whole story.
 */
const REFUSALS: Partial<Record<Run["status"], string>> = {
  denied: "Denied",
  rate_limited: "Rate limited",
};

/**
 * Why a run was allowed or refused, read from its status first: a rate-limited run passed the
 * policies and was then stopped, and must not read as "allowed".
 */
export function DecisionSummary({ run }: { run: Run }) {
  const refusal = REFUSALS[run.status];
  const reason = decisionReason(run);
  if (refusal !== undefined) {
    return (
      <span className="decision-summary">
        <StatusBadge status={run.status} /> {run.error ?? reason}
      </span>
    );
  }
  if (!run.decision) return <span className="muted">No policy decision recorded.</span>;
  return (
    <span className="decision-summary">
      <StatusBadge status="allowed" /> {reason}
    </span>
  );
}

export function RunOutcome({ run }: { run: Run }) {
  const refused = REFUSALS[run.status] !== undefined;
  return (
    <div className="run-outcome">
      <div className="run-outcome__meta">
        {refused ? null : <StatusBadge status={run.status} />}
        <span>{formatDuration(run.duration_ms)}</span>
        <DecisionSummary run={run} />
      </div>
      {!refused && run.error ? (
        <div className="result result--error" role="alert">
          <strong>Error</strong>
          <p className="mono wrap">{run.error}</p>
        </div>
      ) : null}
      {!refused && run.output !== null && run.output !== undefined ? (
        <ToolResult output={run.output} truncated={run.output_truncated} />
      ) : null}
    </div>
  );
}
