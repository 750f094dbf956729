import { API_TOKEN_ROLES, createApiTokenInput } from "@mcp/api/contracts";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { CopyButton } from "../../components/CopyButton";
import { Dialog } from "../../components/Dialog";
import { SelectField, TextField } from "../../components/Field";
import { EmptyState, ErrorState, FormError, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import type { ApiToken, CreatedApiToken } from "../../lib/api";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { formatDateTime, formatRelative } from "../../lib/format";
import { personName, useMembers } from "../../lib/queries";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

const ROLE_OPTIONS = API_TOKEN_ROLES.map((role) => [role, role] as const);
const EXPIRY_OPTIONS = [
  ["30", "30 days"],
  ["90", "90 days"],
  ["365", "1 year"],
  ["", "Never"],
] as const;

function status(token: ApiToken): { label: string; tone: "red" | "green" | "neutral" } {
  if (token.revoked_at) return { label: "revoked", tone: "red" };
  if (token.expires_at && Date.parse(token.expires_at) <= Date.now())
    return { label: "expired", tone: "neutral" };
  return { label: "active", tone: "green" };
}

export default function ApiTokens() {
  const { org, can } = useOrg();
  const isAdmin = can("admin");
  const [creating, setCreating] = useState(false);
  return (
    <div className="page">
      <PageHeader
        title="API tokens"
        description="Tokens for automation on the REST API and the SDK: each acts with its role in this organization only. Agents connect with agent keys instead."
        actions={
          isAdmin ? (
            <Button
              variant="primary"
              onClick={() => {
                setCreating(true);
              }}
            >
              Create token
            </Button>
          ) : null
        }
      />
      {isAdmin ? (
        <TokenList orgId={org.id} />
      ) : (
        <EmptyState title="Admins manage API tokens">
          Ask an admin of {org.name} for a token.
        </EmptyState>
      )}
      {creating ? (
        <CreateTokenDialog
          orgId={org.id}
          onClose={() => {
            setCreating(false);
          }}
        />
      ) : null}
    </div>
  );
}

function TokenList({ orgId }: { orgId: string }) {
  const confirm = useConfirm();
  const toast = useToast();
  const tokens = useQuery(trpc.apiTokens.list.queryOptions({ org_id: orgId, limit: 200 }));
  const members = useMembers(orgId);
  const creator = (userId: string | null) => {
    const member = members.data?.results.find((candidate) => candidate.user_id === userId);
    return member ? personName(member) : "—";
  };

  const revoke = (token: ApiToken) => {
    confirm({
      title: `Revoke token “${token.name}”?`,
      body: "Requests made with it are refused from now on. This cannot be undone.",
      confirmLabel: "Revoke token",
      danger: true,
      action: async () => {
        await trpcClient.apiTokens.revoke.mutate({ org_id: orgId, token_id: token.id });
        await queryClient.invalidateQueries(trpc.apiTokens.pathFilter());
        toast("Token revoked");
      },
    });
  };

  if (tokens.isPending) return <Loading />;
  if (tokens.isError)
    return <ErrorState error={tokens.error} onRetry={() => void tokens.refetch()} />;
  if (tokens.data.results.length === 0) {
    return (
      <EmptyState title="No API tokens yet">
        Create a token for a script, a CI job or infrastructure as code.
      </EmptyState>
    );
  }
  return (
    <section className="card card--flush" aria-label="API tokens">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Token</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">Created by</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.data.results.map((token) => {
            const { label, tone } = status(token);
            return (
              <tr key={token.id} className={label === "active" ? undefined : "row--muted"}>
                <td className="strong">{token.name}</td>
                <td className="mono">{token.prefix}…</td>
                <td>{token.role}</td>
                <td>{formatDateTime(token.created_at)}</td>
                <td>{creator(token.created_by)}</td>
                <td>{token.expires_at ? formatDateTime(token.expires_at) : "Never"}</td>
                <td>{formatRelative(token.last_used_at)}</td>
                <td>
                  <Badge tone={tone}>{label}</Badge>
                </td>
                <td className="table__actions">
                  {token.revoked_at ? null : (
                    <Button
                      size="sm"
                      variant="ghost"
                      className="text-danger"
                      aria-label={`Revoke token ${token.name}`}
                      onClick={() => {
                        revoke(token);
                      }}
                    >
                      Revoke
                    </Button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function CreateTokenDialog({ orgId, onClose }: { orgId: string; onClose: () => void }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<string>("viewer");
  const [expiry, setExpiry] = useState<string>("90");
  const [errors, setErrors] = useState<FieldErrors>({});
  // The one moment the token exists in the browser: shown, never stored.
  const [shown, setShown] = useState<CreatedApiToken | null>(null);
  const create = useMutation(
    trpc.apiTokens.create.mutationOptions({
      onSuccess: async (token) => {
        setShown(token);
        await queryClient.invalidateQueries(trpc.apiTokens.pathFilter());
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(createApiTokenInput, {
      name,
      role,
      expires_in_days: expiry === "" ? undefined : Number(expiry),
    });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    create.mutate({ org_id: orgId, ...parsed.data });
  };

  return (
    <Dialog
      open
      onClose={onClose}
      title={shown ? "Copy your new token" : "New API token"}
      footer={
        shown ? (
          <Button variant="primary" onClick={onClose}>
            I have stored it
          </Button>
        ) : (
          <>
            <Button onClick={onClose}>Cancel</Button>
            <Button
              type="submit"
              form="create-token-form"
              variant="primary"
              busy={create.isPending}
            >
              Create token
            </Button>
          </>
        )
      }
    >
      {shown ? (
        <div className="stack">
          <div className="alert alert--warning">
            This is the only time the token is shown. Store it in your secret manager now.
          </div>
          <div className="copy-row">
            <code className="code code--inline code--key" data-testid="new-token">
              {shown.token}
            </code>
            <CopyButton text={shown.token} label="Copy token" />
          </div>
          <p className="muted small">
            Send it as an <span className="mono">Authorization: Bearer</span> header to the REST
            API, or pass it as the SDK&apos;s <span className="mono">token</span>.
          </p>
        </div>
      ) : (
        <form id="create-token-form" onSubmit={submit} noValidate>
          <FormError error={create.error} shownAtFields={errors} />
          <TextField
            label="Token name"
            error={errors.name}
            hint="Where it will be used, e.g. “CI deploys” or “Terraform”."
            value={name}
            autoFocus
            onChange={setName}
          />
          <SelectField
            label="Role"
            error={errors.role}
            hint="Viewers read, members also run tools, admins manage the organization's resources."
            value={role}
            onChange={setRole}
            options={ROLE_OPTIONS}
          />
          <SelectField
            label="Expires"
            error={errors.expires_in_days}
            value={expiry}
            onChange={setExpiry}
            options={EXPIRY_OPTIONS}
          />
        </form>
      )}
    </Dialog>
  );
}
