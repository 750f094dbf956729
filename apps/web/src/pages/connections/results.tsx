import type { ConnectionTest, SyncOutcome } from "../../lib/api";
import { formatDuration } from "../../lib/format";

export function TestResultView({ result }: { result: ConnectionTest }) {
  if (!result.ok) {
    return (
      <div className="result result--error" role="status">
        <strong>Connection failed</strong> after {formatDuration(result.latency_ms)}
        <p className="mono wrap">{result.error ?? "Unknown error"}</p>
      </div>
    );
  }
  return (
    <div className="result result--ok" role="status">
      <strong>Connected</strong>
      <dl className="dl dl--inline">
        <dt>Server</dt>
        <dd>{result.server ? `${result.server.name} ${result.server.version}` : "—"}</dd>
        <dt>Protocol</dt>
        <dd className="mono">{result.protocol_version ?? "—"}</dd>
        <dt>Latency</dt>
        <dd>{formatDuration(result.latency_ms)}</dd>
        {result.capabilities ? (
          <>
            <dt>Capabilities</dt>
            <dd>{Object.keys(result.capabilities).join(", ") || "none"}</dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}

export function SyncResultView({ result }: { result: SyncOutcome }) {
  return (
    <div className={`result ${result.changed > 0 ? "result--error" : "result--ok"}`} role="status">
      <strong>Synced {result.total} tools</strong>
      {result.changed > 0 ? (
        <p>
          {result.changed === 1 ? "One tool" : `${result.changed} tools`} changed upstream and{" "}
          {result.changed === 1 ? "is" : "are"} quarantined until an admin reviews the change
          (Tools, filter Quarantined).
        </p>
      ) : null}
      <dl className="dl dl--inline">
        <dt>Created</dt>
        <dd>{result.created}</dd>
        <dt>Changed</dt>
        <dd>{result.changed}</dd>
        <dt>Unchanged</dt>
        <dd>{result.unchanged}</dd>
        <dt>Stale</dt>
        <dd>{result.stale}</dd>
      </dl>
    </div>
  );
}
