import { createOrgInput } from "@mcp/api/contracts";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Link, useNavigate } from "react-router";
import { Button } from "../../components/Button";
import { NameAndSlugFields } from "../../components/Field";
import { FormError } from "../../components/States";
import { useMe } from "../../layout/AuthGate";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { queryClient, trpc } from "../../lib/trpc";

export default function CreateOrg() {
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const navigate = useNavigate();
  const orgs = useQuery(trpc.orgs.list.queryOptions({ limit: 200 }));
  const me = useMe();

  const create = useMutation(
    trpc.orgs.create.mutationOptions({
      onSuccess: async (org) => {
        await queryClient.invalidateQueries(trpc.orgs.list.pathFilter());
        await navigate(`/orgs/${org.id}/overview`);
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(createOrgInput, { name, slug: slug.trim() === "" ? undefined : slug });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    create.mutate(parsed.data);
  };

  const hasOrgs = (orgs.data?.results.length ?? 0) > 0;
  return (
    <main className="auth">
      <div className="auth__brand">
        <span className="logo" aria-hidden="true">
          M
        </span>
        MCP Agents Platform
      </div>
      <form
        className="card auth__card"
        onSubmit={submit}
        noValidate
        aria-labelledby="create-org-title"
      >
        <h1 id="create-org-title">Create an organization</h1>
        <p className="muted">
          Organizations hold your connections, tools, agents and policies. You will be its owner.
        </p>
        <FormError error={create.error} shownAtFields={errors} />
        <NameAndSlugFields
          name={name}
          slug={slug}
          onNameChange={setName}
          onSlugChange={setSlug}
          errors={errors}
          slugHint="Optional; derived from the name when left empty."
          slugPlaceholder="acme"
        />
        <Button type="submit" variant="primary" busy={create.isPending} className="btn--block">
          Create organization
        </Button>
        {hasOrgs ? (
          <p className="auth__switch">
            <Link to="/">Back to my organizations</Link>
          </p>
        ) : null}
        {me.data?.is_platform_admin ? (
          <p className="auth__switch">
            {/* An operator need not belong to any organization to run the platform. */}
            <Link to="/platform">Platform admin</Link>
          </p>
        ) : null}
      </form>
    </main>
  );
}
