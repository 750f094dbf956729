import type { PolicyWhatIfDto } from "@mcp/api/contracts";
import { formatDateTime, formatNumber } from "../../lib/format";

/** What a policy change would flip, replayed against the org's newest runs. */
export function WhatIfResult({ result }: { result: PolicyWhatIfDto }) {
  if (result.runs_considered === 0)
    return (
      <p className="muted small" role="status">
        No runs yet: nothing to replay this change against.
      </p>
    );
  const flips = result.to_allowed + result.to_denied;
  return (
    <div
      className={`result ${result.to_denied > 0 ? "result--error" : "result--ok"}`}
      role="status"
      aria-label="Impact of this change"
    >
      <p>
        Replayed the {formatNumber(result.runs_considered)} newest runs (since{" "}
        {formatDateTime(result.oldest_run_at)}):{" "}
        {flips === 0 ? (
          <strong>no decision would change.</strong>
        ) : (
          <>
            <strong>{formatNumber(result.to_denied)} would be denied</strong> and{" "}
            <strong>{formatNumber(result.to_allowed)} allowed</strong> that are not today.
          </>
        )}
        {result.undetermined > 0
          ? ` ${formatNumber(result.undetermined)} could not be replayed (their input was not kept).`
          : null}
      </p>
      {result.groups.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Tool</th>
              <th scope="col">Agent</th>
              <th scope="col" className="num">
                Runs
              </th>
              <th scope="col" className="num">
                Newly denied
              </th>
              <th scope="col" className="num">
                Newly allowed
              </th>
            </tr>
          </thead>
          <tbody>
            {result.groups.map((group) => (
              <tr key={`${group.kind}:${group.tool_id ?? group.tool_name}:${group.agent_id ?? ""}`}>
                <td className="mono">{group.tool_name}</td>
                <td>{group.agent_id ? (group.agent_name ?? "deleted agent") : "no agent"}</td>
                <td className="num">{formatNumber(group.runs)}</td>
                <td className="num">{formatNumber(group.to_denied)}</td>
                <td className="num">{formatNumber(group.to_allowed)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
