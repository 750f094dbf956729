import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { Badge, StatusBadge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { EmptyState, ErrorState, FormError, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { RouterOutputs } from "../../lib/api";
import { formatDateTime, formatRelative } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

type Approval = RouterOutputs["approvals"]["list"]["results"][number];

/**
 * The queue is read again this often: the SPA has no push channel, and a waiting call (a held
 * gateway request) should not wait for a page reload to be seen.
 */
const POLL_MS = 2000;

export default function Approvals() {
  const { org } = useOrg();
  const pending = useQuery({
    ...trpc.approvals.list.queryOptions({ org_id: org.id, status: "pending", limit: 100 }),
    refetchInterval: POLL_MS,
  });
  const recent = useQuery({
    ...trpc.approvals.list.queryOptions({ org_id: org.id, limit: 20 }),
    refetchInterval: POLL_MS,
  });
  return (
    <div className="page">
      <PageHeader
        title="Approvals"
        description="Tool calls a require_approval policy holds until a person with its approver role approves or denies them. The queue updates by itself."
      />
      {pending.isPending ? (
        <Loading />
      ) : pending.isError ? (
        <ErrorState error={pending.error} onRetry={() => void pending.refetch()} />
      ) : pending.data.results.length === 0 ? (
        <EmptyState title="Nothing waits for approval">
          Calls that a require_approval policy holds appear here as they arrive.
        </EmptyState>
      ) : (
        <div className="stack" aria-label="Pending approvals" role="list">
          {pending.data.results.map((approval) => (
            <PendingApproval key={approval.id} approval={approval} />
          ))}
        </div>
      )}
      {recent.data?.results.some((approval) => approval.status !== "pending") ? (
        <section className="card card--flush" aria-label="Recent decisions">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Tool</th>
                <th scope="col">Policy</th>
                <th scope="col">Decision</th>
                <th scope="col">Comment</th>
                <th scope="col">Run</th>
              </tr>
            </thead>
            <tbody>
              {recent.data.results
                .filter((approval) => approval.status !== "pending")
                .map((approval) => (
                  <tr key={approval.id}>
                    <td>{approval.tool_name}</td>
                    <td>{approval.policy_name}</td>
                    <td>
                      <StatusBadge status={approval.status} />
                    </td>
                    <td>{approval.comment ?? "—"}</td>
                    <td>
                      <Link to={`../runs/${approval.run_id}`}>
                        {approval.run_status.replaceAll("_", " ")}
                      </Link>
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}

function PendingApproval({ approval }: { approval: Approval }) {
  const { org, can } = useOrg();
  const toast = useToast();
  const [comment, setComment] = useState("");
  const mayDecide = can("member") && can(approval.approver_role);
  const decide = useMutation({
    mutationFn: (decision: "approve" | "deny") =>
      trpcClient.approvals.decide.mutate({
        id: approval.id,
        decision,
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      }),
    onSuccess: async (decided) => {
      toast(decided.status === "approved" ? "Call approved" : "Call denied");
      await queryClient.invalidateQueries(trpc.approvals.pathFilter());
    },
  });
  const caller = approval.agent_name
    ? `agent ${approval.agent_name}`
    : approval.user_id
      ? "a person"
      : "an API token";
  return (
    <article className="card" role="listitem" aria-label={`Approval of ${approval.tool_name}`}>
      <header className="row row--between">
        <h2 className="card__title">
          {approval.tool_name} <Badge tone="violet">awaiting approval</Badge>
        </h2>
        <span title={formatDateTime(approval.expires_at)}>
          expires {formatRelative(approval.expires_at)}
        </span>
      </header>
      <dl className="details">
        <dt>Called by</dt>
        <dd>{caller}</dd>
        <dt>Policy</dt>
        <dd>
          {approval.policy_name} (approver: {approval.approver_role} or higher)
        </dd>
        <dt>Requested</dt>
        <dd>{formatDateTime(approval.created_at)}</dd>
        <dt>Input</dt>
        <dd>
          <pre className="code">{JSON.stringify(approval.input, null, 2)}</pre>
        </dd>
      </dl>
      {mayDecide ? (
        <div className="stack">
          <TextField label="Comment" value={comment} onChange={setComment} />
          <FormError error={decide.error} />
          <div className="row">
            <Button
              variant="primary"
              disabled={decide.isPending}
              onClick={() => {
                decide.mutate("approve");
              }}
            >
              Approve
            </Button>
            <Button
              variant="danger"
              disabled={decide.isPending}
              onClick={() => {
                decide.mutate("deny");
              }}
            >
              Deny
            </Button>
          </div>
        </div>
      ) : (
        <p className="muted">
          Deciding needs the {approval.approver_role} role or higher; yours is {org.role}.
        </p>
      )}
    </article>
  );
}
