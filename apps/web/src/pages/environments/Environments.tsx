import { createEnvironmentInput, updateEnvironmentInput } from "@mcp/api/contracts";
import type { Environment } from "../../lib/api";
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { Field, NameAndSlugFields } from "../../components/Field";
import { NEXT_PAGE, PAGE_SIZE, PagedTable, type Column } from "../../components/DataTable";
import { ListPage } from "../../components/ListPage";
import { EmptyState, FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { useDeleteWithPolicies } from "../../lib/governed-delete";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

type Editing = { mode: "create" } | { mode: "edit"; environment: Environment } | null;

export default function Environments() {
  const { org, can } = useOrg();
  const deleteWithPolicies = useDeleteWithPolicies();
  const toast = useToast();
  const [editing, setEditing] = useState<Editing>(null);
  const list = useInfiniteQuery(
    trpc.environments.list.infiniteQueryOptions({ org_id: org.id, limit: PAGE_SIZE }, NEXT_PAGE),
  );
  const isAdmin = can("admin");

  const remove = (environment: Environment) => {
    deleteWithPolicies({
      kind: "environment",
      name: environment.name,
      body: "Connections and agents scoped to it lose that scope. This cannot be undone.",
      remove: (confirmPolicyRemoval) =>
        trpcClient.environments.delete.mutate({
          id: environment.id,
          confirm_policy_removal: confirmPolicyRemoval,
        }),
      done: async () => {
        await Promise.all([
          queryClient.invalidateQueries(trpc.environments.pathFilter()),
          queryClient.invalidateQueries(trpc.policies.pathFilter()),
        ]);
        toast(`Deleted ${environment.name}`);
      },
    });
  };

  const columns: Column<Environment>[] = [
    { id: "name", header: "Name", cell: (environment) => environment.name, className: "strong" },
    { id: "slug", header: "Slug", cell: (environment) => environment.slug, className: "mono" },
    {
      id: "description",
      header: "Description",
      cell: (environment) => environment.description || "—",
      className: "muted",
    },
    {
      id: "created",
      header: "Created",
      cell: (environment) => formatDateTime(environment.created_at),
    },
  ];
  if (isAdmin)
    columns.push({
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (environment) => (
        <>
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
        </>
      ),
    });
  const create = () => {
    setEditing({ mode: "create" });
  };

  return (
    <ListPage
      title="Environments"
      description="Separate production, staging and development resources inside this organization."
      actions={
        isAdmin ? (
          <Button variant="primary" onClick={create}>
            New environment
          </Button>
        ) : null
      }
    >
      <PagedTable
        list={list}
        label="Environments"
        noun="environments"
        columns={columns}
        rowKey={(environment) => environment.id}
        empty={
          <EmptyState
            title="No environments yet"
            action={
              isAdmin ? (
                <Button variant="primary" onClick={create}>
                  New environment
                </Button>
              ) : null
            }
          >
            {isAdmin
              ? "Environments keep production apart from staging: create one, then scope connections, agents and policies to it."
              : "An admin can create environments."}
          </EmptyState>
        }
      />
      {editing ? (
        <EnvironmentDialog
          editing={editing}
          onClose={() => {
            setEditing(null);
          }}
        />
      ) : null}
    </ListPage>
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
