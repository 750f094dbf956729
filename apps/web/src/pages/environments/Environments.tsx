import { createEnvironmentInput, updateEnvironmentInput } from "@mcp/api/contracts";
import type { Environment } from "../../lib/api";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { Dialog } from "../../components/Dialog";
import { Field, NameAndSlugFields } from "../../components/Field";
import { EmptyState, ErrorState, FormError, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

type Editing = { mode: "create" } | { mode: "edit"; environment: Environment } | null;

export default function Environments() {
  const { org, can } = useOrg();
  const confirm = useConfirm();
  const toast = useToast();
  const [editing, setEditing] = useState<Editing>(null);
  const list = useQuery(trpc.environments.list.queryOptions({ org_id: org.id, limit: 200 }));
  const isAdmin = can("admin");

  const remove = (environment: Environment) => {
    confirm({
      title: `Delete environment “${environment.name}”?`,
      body: "Connections, agents and policies scoped to it lose that scope. This cannot be undone.",
      confirmLabel: "Delete environment",
      action: async () => {
        await trpcClient.environments.delete.mutate({ id: environment.id });
        await queryClient.invalidateQueries(trpc.environments.pathFilter());
        toast(`Deleted ${environment.name}`);
      },
    });
  };

  return (
    <div className="page">
      <PageHeader
        title="Environments"
        description="Separate production, staging and development resources inside this organization."
        actions={
          isAdmin ? (
            <Button
              variant="primary"
              onClick={() => {
                setEditing({ mode: "create" });
              }}
            >
              New environment
            </Button>
          ) : null
        }
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.results.length === 0 ? (
        <EmptyState title="No environments yet">
          {isAdmin
            ? "Create one to scope connections, agents and policies."
            : "An admin can create environments."}
        </EmptyState>
      ) : (
        <div className="card card--flush">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Slug</th>
                <th scope="col">Description</th>
                <th scope="col">Created</th>
                {isAdmin ? (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.results.map((environment) => (
                <tr key={environment.id}>
                  <td className="strong">{environment.name}</td>
                  <td className="mono">{environment.slug}</td>
                  <td className="muted">{environment.description || "—"}</td>
                  <td>{formatDateTime(environment.created_at)}</td>
                  {isAdmin ? (
                    <td className="table__actions">
                      <Button
                        size="sm"
                        onClick={() => {
                          setEditing({ mode: "edit", environment });
                        }}
                      >
                        Rename
                      </Button>
                      <Button
                        size="sm"
                        variant="ghost"
                        className="text-danger"
                        onClick={() => {
                          remove(environment);
                        }}
                      >
                        Delete
                      </Button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing ? (
        <EnvironmentDialog
          editing={editing}
          onClose={() => {
            setEditing(null);
          }}
        />
      ) : null}
    </div>
  );
}

function EnvironmentDialog({
  editing,
  onClose,
}: {
  editing: NonNullable<Editing>;
  onClose: () => void;
}) {
  const { org } = useOrg();
  const toast = useToast();
  const initial = editing.mode === "edit" ? editing.environment : null;
  const [name, setName] = useState(initial?.name ?? "");
  const [slug, setSlug] = useState(initial?.slug ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [errors, setErrors] = useState<FieldErrors>({});

  const done = async (message: string) => {
    await queryClient.invalidateQueries(trpc.environments.pathFilter());
    toast(message);
    onClose();
  };
  const onError = (error: unknown) => {
    setErrors(fieldErrorsOf(error));
  };
  const create = useMutation(
    trpc.environments.create.mutationOptions({
      onSuccess: (env) => done(`Created ${env.name}`),
      onError,
    }),
  );
  const update = useMutation(
    trpc.environments.update.mutationOptions({
      onSuccess: (env) => done(`Saved ${env.name}`),
      onError,
    }),
  );
  const mutation = editing.mode === "create" ? create : update;

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const payload = { name, slug: slug.trim() === "" ? undefined : slug, description };
    if (editing.mode === "create") {
      const parsed = validate(createEnvironmentInput, payload);
      if (!parsed.ok) {
        setErrors(parsed.errors);
        return;
      }
      create.mutate({ org_id: org.id, ...parsed.data });
    } else {
      const parsed = validate(updateEnvironmentInput, payload);
      if (!parsed.ok) {
        setErrors(parsed.errors);
        return;
      }
      update.mutate({ id: editing.environment.id, ...parsed.data });
    }
    setErrors({});
  };

  return (
    <Dialog
      open
      onClose={onClose}
      title={editing.mode === "create" ? "New environment" : `Edit ${editing.environment.name}`}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" form="environment-form" variant="primary" busy={mutation.isPending}>
            {editing.mode === "create" ? "Create" : "Save"}
          </Button>
        </>
      }
    >
      <form id="environment-form" onSubmit={submit} noValidate>
        <FormError error={mutation.error} shownAtFields={errors} />
        <NameAndSlugFields
          name={name}
          slug={slug}
          onNameChange={setName}
          onSlugChange={setSlug}
          errors={errors}
          slugHint="Optional; derived from the name when empty."
        />
        <Field label="Description" error={errors.description}>
          {(props) => (
            <textarea
              {...props}
              className="input"
              rows={3}
              value={description}
              onChange={(event) => {
                setDescription(event.target.value);
              }}
            />
          )}
        </Field>
      </form>
    </Dialog>
  );
}
