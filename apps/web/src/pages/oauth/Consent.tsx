import { useMutation, useQuery } from "@tanstack/react-query";
import { useParams } from "react-router";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { ErrorState, FormError, Loading } from "../../components/States";
import { errorInfo } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { trpc } from "../../lib/trpc";
import { OAuthFrame } from "./OAuthError";

/** Where the code goes, as a person should read it: the host of a web client, the app otherwise. */
function destination(redirectUri: string): string {
  try {
    const url = new URL(redirectUri);
    return url.protocol === "http:" || url.protocol === "https:" ? url.host : url.protocol;
  } catch {
    return redirectUri;
  }
}

/**
 * The consent step of the platform's OAuth authorization server: a signed-in person sees which
 * client wants to act as which agent in which org, and approves or denies. The decision answers
 * where the browser goes next (the client's redirect URI, checked when the request was made).
 */
export default function Consent() {
  const { requestId = "" } = useParams();
  const request = useQuery({
    ...trpc.oauth.authorizations.get.queryOptions({ id: requestId }),
    retry: false,
  });
  const decide = useMutation(
    trpc.oauth.authorizations.decide.mutationOptions({
      onSuccess: ({ redirect_to }) => {
        window.location.assign(redirect_to);
      },
    }),
  );

  if (request.isPending) return <Loading label="Loading the authorization request…" />;
  if (request.isError) {
    const missing = errorInfo(request.error).code === "NOT_FOUND";
    return (
      <OAuthFrame title="Authorization request not found">
        {missing ? (
          <p>
            This request has expired, was already answered, or belongs to an organization you are
            not a member of. Start again from your MCP client.
          </p>
        ) : (
          <ErrorState error={request.error} onRetry={() => void request.refetch()} />
        )}
      </OAuthFrame>
    );
  }
  const r = request.data;
  const clientName = r.client.name ?? "An unnamed client";
  const redirected = decide.isSuccess;
  return (
    <OAuthFrame title={`Allow ${clientName} to act as ${r.agent.name}?`}>
      <dl className="dl" aria-label="Authorization request">
        <dt>Client</dt>
        <dd>
          <strong>{clientName}</strong>{" "}
          {r.client.kind === "metadata_document" ? (
            <Badge tone="blue" title="Identified by the metadata document at its client id">
              verified URL
            </Badge>
          ) : (
            <Badge tone="amber" title="Self-registered: the name is the client's own claim">
              self-registered
            </Badge>
          )}
          <div className="mono small">{r.client.client_id}</div>
          {r.client.uri ? <div className="small">{r.client.uri}</div> : null}
        </dd>
        <dt>Agent</dt>
        <dd>
          <strong>{r.agent.name}</strong>
          {r.agent.description ? <div className="small muted">{r.agent.description}</div> : null}
        </dd>
        <dt>Organization</dt>
        <dd>{r.org.name}</dd>
        <dt>Returns to</dt>
        <dd className="mono small">{destination(r.redirect_uri)}</dd>
        <dt>Expires</dt>
        <dd>{formatDateTime(r.expires_at)}</dd>
      </dl>
      <p>
        If you approve, <strong>{clientName}</strong> can call the tools, prompts and resources this
        agent&apos;s policies allow, and each call is recorded as made for you. An admin can revoke
        it on the agent&apos;s page at any time.
      </p>
      {r.can_approve ? null : (
        <div className="alert alert--warning" role="status">
          Approving needs the {r.approver_role} role or higher in {r.org.name}; yours is{" "}
          {r.your_role}. You can deny the request, or ask an {r.approver_role} to connect the
          client.
        </div>
      )}
      <FormError error={decide.error} />
      <div className="oauth-actions">
        <Button
          busy={decide.isPending && !decide.variables.approve}
          disabled={decide.isPending || redirected}
          onClick={() => {
            decide.mutate({ id: r.id, approve: false });
          }}
        >
          Deny
        </Button>
        <Button
          variant="primary"
          busy={decide.isPending && decide.variables.approve}
          disabled={!r.can_approve || decide.isPending || redirected}
          onClick={() => {
            decide.mutate({ id: r.id, approve: true });
          }}
        >
          Approve
        </Button>
      </div>
      {redirected ? <p className="muted small">Returning to {clientName}…</p> : null}
    </OAuthFrame>
  );
}
