import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "../../components/Button";
import { Checkbox } from "../../components/Field";
import { FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { queryClient, trpc } from "../../lib/trpc";

/** How new tools arrive, and whether approvers hear of calls waiting for them. */
export function GovernanceSettings() {
  const { org, can } = useOrg();
  const toast = useToast();
  const [quarantine, setQuarantine] = useState(org.quarantine_new_tools);
  const [emailApprovers, setEmailApprovers] = useState(org.email_approvers);
  const update = useMutation(
    trpc.orgs.update.mutationOptions({
      onSuccess: async () => {
        toast("Saved the governance settings");
        await queryClient.invalidateQueries(trpc.orgs.pathFilter());
      },
    }),
  );
  return (
    <form
      className="card"
      aria-labelledby="governance-title"
      onSubmit={(event) => {
        event.preventDefault();
        update.mutate({
          org_id: org.id,
          quarantine_new_tools: quarantine,
          email_approvers: emailApprovers,
        });
      }}
    >
      <h2 id="governance-title">Governance</h2>
      <FormError error={update.error} />
      <p className="muted">
        A tool whose server changes its definition is always quarantined until an admin reviews the
        change. New tools arrive enabled (agents still need a policy allowing them), unless they
        should wait for an admin too.
      </p>
      <Checkbox
        label="Quarantine new tools until an admin approves them"
        checked={quarantine}
        disabled={!can("admin")}
        onChange={setQuarantine}
      />
      <p className="muted">
        When a policy holds a call for approval, the members who may decide it can be e-mailed a
        link to the Approvals page (never the call&apos;s input), if the platform has an SMTP
        server.
      </p>
      <Checkbox
        label="E-mail approvers when a call waits for them"
        checked={emailApprovers}
        disabled={!can("admin")}
        onChange={setEmailApprovers}
      />
      {can("admin") ? (
        <Button type="submit" variant="primary" busy={update.isPending}>
          Save
        </Button>
      ) : null}
    </form>
  );
}
