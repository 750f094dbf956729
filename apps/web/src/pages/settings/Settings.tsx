import { updateOrgInput } from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { useNavigate } from "react-router";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { TextField } from "../../components/Field";
import { FormError, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { GovernanceSettings } from "./GovernanceSettings";
import { OAuthApprovers } from "./OAuthApprovers";
import { SsoSettings } from "./SsoSettings";

export default function Settings() {
  const { org, can } = useOrg();
  const toast = useToast();
  const confirm = useConfirm();
  const navigate = useNavigate();
  const [name, setName] = useState(org.name);
  const [slug, setSlug] = useState(org.slug);
  const [errors, setErrors] = useState<FieldErrors>({});
  const isAdmin = can("admin");

  const update = useMutation(
    trpc.orgs.update.mutationOptions({
      onSuccess: async (updated) => {
        toast(`Saved ${updated.name}`);
        await queryClient.invalidateQueries(trpc.orgs.pathFilter());
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(updateOrgInput, { name, slug });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    update.mutate({ org_id: org.id, ...parsed.data });
  };

  const remove = () => {
    confirm({
      title: `Delete ${org.name}?`,
      body: (
        <>
          Every connection, tool, agent, key, policy and run of <strong>{org.name}</strong> is
          deleted for good. Members lose access at once.
        </>
      ),
      confirmLabel: "Delete organization",
      typeToConfirm: org.name,
      action: async () => {
        await trpcClient.orgs.delete.mutate({ org_id: org.id });
        await queryClient.invalidateQueries(trpc.orgs.pathFilter());
        toast(`Deleted ${org.name}`);
        await navigate("/", { replace: true });
      },
    });
  };

  return (
    <div className="page page--narrow">
      <PageHeader title="Settings" description="This organization's name and lifecycle." />
      <form className="card" onSubmit={submit} noValidate aria-labelledby="org-general">
        <h2 id="org-general">General</h2>
        <FormError error={update.error} shownAtFields={errors} />
        <TextField
          label="Name"
          error={errors.name}
          required
          value={name}
          readOnly={!isAdmin}
          onChange={setName}
        />
        <TextField
          label="Slug"
          error={errors.slug}
          variant="mono"
          value={slug}
          readOnly={!isAdmin}
          onChange={setSlug}
        />
        <dl className="dl">
          <dt>Id</dt>
          <dd className="mono small">{org.id}</dd>
          <dt>Your role</dt>
          <dd>
            <Badge tone="violet">{org.role}</Badge>
          </dd>
          <dt>Created</dt>
          <dd>{formatDateTime(org.created_at)}</dd>
        </dl>
        {isAdmin ? (
          <Button type="submit" variant="primary" busy={update.isPending}>
            Save
          </Button>
        ) : null}
      </form>
      <OAuthApprovers />
      <GovernanceSettings />
      {isAdmin ? <SsoSettings /> : null}
      {can("owner") ? (
        <section className="card card--danger" aria-labelledby="danger-title">
          <h2 id="danger-title">Danger zone</h2>
          <p>Deleting the organization removes everything in it. This cannot be undone.</p>
          <Button variant="danger" onClick={remove}>
            Delete organization
          </Button>
        </section>
      ) : null}
    </div>
  );
}
