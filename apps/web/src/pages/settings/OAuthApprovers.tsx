import { OAUTH_APPROVER_ROLES } from "@mcp/api/contracts";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "../../components/Button";
import { SelectField } from "../../components/Field";
import { FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useOrg } from "../../layout/org-context";
import { queryClient, trpc } from "../../lib/trpc";

const LABELS: Record<(typeof OAUTH_APPROVER_ROLES)[number], string> = {
  owner: "Owners only",
  admin: "Admins and owners",
  member: "Members, admins and owners",
};

function isApproverRole(value: string): value is (typeof OAUTH_APPROVER_ROLES)[number] {
  return (OAUTH_APPROVER_ROLES as readonly string[]).includes(value);
}

/** Who may let an MCP client act as one of the org's agents (the OAuth consent page). */
export function OAuthApprovers() {
  const { org, can } = useOrg();
  const toast = useToast();
  const [role, setRole] = useState<string>(org.oauth_approver_role);
  const update = useMutation(
    trpc.orgs.update.mutationOptions({
      onSuccess: async () => {
        toast("Saved who may approve OAuth clients");
        await queryClient.invalidateQueries(trpc.orgs.pathFilter());
      },
    }),
  );
  const isAdmin = can("admin");
  return (
    <form
      className="card"
      aria-labelledby="oauth-approvers-title"
      onSubmit={(event) => {
        event.preventDefault();
        if (isApproverRole(role)) update.mutate({ org_id: org.id, oauth_approver_role: role });
      }}
    >
      <h2 id="oauth-approvers-title">OAuth clients</h2>
      <p className="muted">
        MCP clients can connect to an agent by OAuth: a person signs in and approves the client,
        which then acts as the agent for them. Approvals are audited; tokens stop when the approver
        leaves or loses this role.
      </p>
      <FormError error={update.error} />
      {isAdmin ? (
        <>
          <SelectField
            label="Who may approve a client"
            value={role}
            onChange={setRole}
            emptyLabel="Choose…"
            options={OAUTH_APPROVER_ROLES.map((value) => [value, LABELS[value]] as const)}
          />
          <Button type="submit" variant="primary" busy={update.isPending}>
            Save
          </Button>
        </>
      ) : (
        <dl className="dl">
          <dt>Who may approve a client</dt>
          <dd>
            {isApproverRole(org.oauth_approver_role)
              ? LABELS[org.oauth_approver_role]
              : org.oauth_approver_role}
          </dd>
        </dl>
      )}
    </form>
  );
}
