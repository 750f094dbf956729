import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "../../components/Button";
import { Checkbox } from "../../components/Field";
import { FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { queryClient, trpc } from "../../lib/trpc";

/** Whether tools a sync finds for the first time wait for an admin's approval. */
export function NewToolReview() {
  const { org, can } = useOrg();
  const toast = useToast();
  const [quarantine, setQuarantine] = useState(org.quarantine_new_tools);
  const update = useMutation(
    trpc.orgs.update.mutationOptions({
      onSuccess: async () => {
        toast("Saved how new tools arrive");
        await queryClient.invalidateQueries(trpc.orgs.pathFilter());
      },
    }),
  );
  return (
    <form
      className="card"
      aria-labelledby="new-tools-title"
      onSubmit={(event) => {
        event.preventDefault();
        update.mutate({ org_id: org.id, quarantine_new_tools: quarantine });
      }}
    >
      <h2 id="new-tools-title">New tools</h2>
      <p className="muted">
        A tool whose server changes its definition is always quarantined until an admin reviews the
        change. New tools arrive enabled (agents still need a policy allowing them), unless they
        should wait for an admin too.
      </p>
      <FormError error={update.error} />
      <Checkbox
        label="Quarantine new tools until an admin approves them"
        checked={quarantine}
        disabled={!can("admin")}
        onChange={setQuarantine}
      />
      {can("admin") ? (
        <Button type="submit" variant="primary" busy={update.isPending}>
          Save
        </Button>
      ) : null}
    </form>
  );
}
