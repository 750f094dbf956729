import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { Switch, TextField } from "../../components/Field";
import { NewSecret } from "../../components/NewSecret";
import { ErrorState, FormError, Loading } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { errorInfo } from "../../lib/errors";
import { formatDateTime, formatRelative } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

/**
 * Admins stream the org's new audit events to a SIEM: the destination, a pause switch, the
 * delivery status (last delivered event, last error, failures in a row), the secret shown once.
 */
export function AuditWebhook() {
  const { org } = useOrg();
  const toast = useToast();
  const confirm = useConfirm();
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const webhook = useQuery(trpc.audit.webhook.queryOptions({ org_id: org.id }));
  const refresh = () => queryClient.invalidateQueries(trpc.audit.pathFilter());
  const onCreatedOrRotated = async (result: { secret: string }) => {
    setSecret(result.secret);
    await refresh();
  };
  const create = useMutation(
    trpc.audit.createWebhook.mutationOptions({ onSuccess: onCreatedOrRotated }),
  );
  const rotate = useMutation(
    trpc.audit.rotateWebhookSecret.mutationOptions({ onSuccess: onCreatedOrRotated }),
  );
  const update = useMutation(
    trpc.audit.updateWebhook.mutationOptions({
      onSuccess: async () => {
        toast("Audit webhook saved");
        setUrl("");
        await refresh();
      },
    }),
  );
  const mutationError = create.error ?? update.error ?? rotate.error;
  const urlError = errorInfo(mutationError).issues.find((issue) => issue.path === "url")?.message;

  if (webhook.isPending) return <Loading />;
  if (webhook.isError)
    return <ErrorState error={webhook.error} onRetry={() => void webhook.refetch()} />;
  const current = webhook.data;

  return (
    <section className="card" aria-labelledby="audit-webhook-title">
      <h2 id="audit-webhook-title">Stream to a SIEM</h2>
      <p className="muted">
        New audit events are POSTed to a webhook in order, in batches, signed with HMAC-SHA256 and
        retried with backoff until the receiver answers 2xx. Each event carries its hash-chain
        links.
      </p>
      {secret ? (
        <NewSecret
          secret={secret}
          header="X-Audit-Webhook-Signature"
          testId="audit-webhook-secret"
          onDone={() => {
            setSecret(null);
          }}
        />
      ) : null}
      <FormError error={mutationError} shownAtFields={urlError ? { url: urlError } : {}} />
      {current ? (
        <>
          <dl className="dl">
            <dt>Destination</dt>
            <dd className="mono">{current.url}</dd>
            <dt>State</dt>
            <dd>
              <Switch
                label="Audit webhook enabled"
                checked={current.enabled}
                disabled={update.isPending}
                onChange={(enabled) => {
                  update.mutate({ org_id: org.id, enabled });
                }}
              />{" "}
              {current.consecutive_failures > 0 ? (
                <Badge tone="red">{current.consecutive_failures} failures in a row</Badge>
              ) : current.enabled ? (
                <Badge tone="green">delivering</Badge>
              ) : (
                <Badge tone="neutral">paused</Badge>
              )}
            </dd>
            <dt>Last delivered</dt>
            <dd>
              {current.last_delivered_at ? (
                <>
                  <span className="mono small">{current.last_delivered_event_id}</span>{" "}
                  <time
                    dateTime={current.last_delivered_at}
                    title={formatDateTime(current.last_delivered_at)}
                  >
                    {formatRelative(current.last_delivered_at)}
                  </time>
                </>
              ) : (
                "Nothing yet"
              )}
            </dd>
            {current.last_error ? (
              <>
                <dt>Last error</dt>
                <dd>
                  {current.last_error}
                  {current.last_error_at ? (
                    <span className="muted"> ({formatRelative(current.last_error_at)})</span>
                  ) : null}
                </dd>
              </>
            ) : null}
            {current.consecutive_failures > 0 ? (
              <>
                <dt>Next attempt</dt>
                <dd>{formatDateTime(current.next_attempt_at)}</dd>
              </>
            ) : null}
          </dl>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              update.mutate({ org_id: org.id, url });
            }}
          >
            <TextField
              label="New destination URL"
              variant="mono"
              value={url}
              onChange={setUrl}
              placeholder="https://siem.example.com/ingest"
              error={update.error ? urlError : undefined}
            />
            <Button type="submit" busy={update.isPending} disabled={url.trim() === ""}>
              Change destination
            </Button>
          </form>
          <div className="toolbar">
            <Button
              busy={rotate.isPending}
              onClick={() => {
                rotate.mutate({ org_id: org.id });
              }}
            >
              Rotate signing secret
            </Button>
            <Button
              variant="danger"
              onClick={() => {
                confirm({
                  title: "Stop streaming audit events?",
                  body: "The webhook and its delivery position are removed; events are no longer sent.",
                  confirmLabel: "Remove webhook",
                  action: async () => {
                    await trpcClient.audit.deleteWebhook.mutate({ org_id: org.id });
                    setSecret(null);
                    await refresh();
                  },
                });
              }}
            >
              Remove webhook
            </Button>
          </div>
        </>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate({ org_id: org.id, url });
          }}
        >
          <TextField
            label="Webhook URL"
            variant="mono"
            required
            value={url}
            onChange={setUrl}
            placeholder="https://siem.example.com/ingest"
            error={create.error ? urlError : undefined}
          />
          <Button type="submit" variant="primary" busy={create.isPending}>
            Start streaming
          </Button>
        </form>
      )}
    </section>
  );
}
