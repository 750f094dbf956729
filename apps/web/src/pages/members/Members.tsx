import { addMemberInput, ORG_ROLES, type OrgRole } from "@mcp/api/contracts";
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { CopyButton } from "../../components/CopyButton";
import { Field, TextField } from "../../components/Field";
import { NEXT_PAGE, PAGE_SIZE, PagedTable, type Column } from "../../components/DataTable";
import { ListPage } from "../../components/ListPage";
import { EmptyState, FormError } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useMe } from "../../layout/AuthGate";
import { useOrg } from "../../layout/org-context";
import type { CreatedInvitation, Invitation, Member } from "../../lib/api";
import { errorInfo, fieldErrorsOf, validate, type FieldErrors } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

const ROLE_HELP: Record<OrgRole, string> = {
  owner: "Everything, including members and deleting the organization",
  admin: "Manages connections, tools, agents, policies and environments",
  member: "Reads everything and runs tools",
  viewer: "Read-only",
};

function isRole(value: string): value is OrgRole {
  return ORG_ROLES.some((role) => role === value);
}

export default function Members() {
  const { org, can } = useOrg();
  const me = useMe();
  const confirm = useConfirm();
  const toast = useToast();
  const list = useInfiniteQuery(
    trpc.orgs.members.list.infiniteQueryOptions({ org_id: org.id, limit: PAGE_SIZE }, NEXT_PAGE),
  );
  const isOwner = can("owner");
  const isAdmin = can("admin");

  const changeRole = useMutation(
    trpc.orgs.members.update.mutationOptions({
      onSuccess: async (member) => {
        toast(`${member.email} is now ${member.role}`);
        await queryClient.invalidateQueries(trpc.orgs.members.pathFilter());
        // Changing one's own role changes what this session may do.
        if (member.user_id === me.data?.id)
          await queryClient.invalidateQueries(trpc.orgs.pathFilter());
      },
      onError: (error) => {
        toast(errorInfo(error).message, "error");
      },
    }),
  );

  const remove = (member: Member) => {
    const self = member.user_id === me.data?.id;
    confirm({
      title: self ? "Leave this organization?" : `Remove ${member.email}?`,
      body: self
        ? "You lose access to this organization at once."
        : "They lose access to this organization at once. Their past actions stay in the audit log.",
      confirmLabel: self ? "Leave" : "Remove member",
      action: async () => {
        await trpcClient.orgs.members.remove.mutate({ org_id: org.id, user_id: member.user_id });
        await queryClient.invalidateQueries(trpc.orgs.members.pathFilter());
        toast(`Removed ${member.email}`);
        if (self) await queryClient.invalidateQueries(trpc.orgs.pathFilter());
      },
    });
  };

  const columns: Column<Member>[] = [
    {
      id: "member",
      header: "Member",
      cell: (member) => {
        const name = [member.first_name, member.last_name].filter(Boolean).join(" ");
        return (
          <>
            <div className="strong">
              {name || member.email}{" "}
              {member.user_id === me.data?.id ? <Badge tone="blue">you</Badge> : null}
            </div>
            {name ? <div className="muted small">{member.email}</div> : null}
          </>
        );
      },
    },
    {
      id: "role",
      header: "Role",
      cell: (member) =>
        isOwner ? (
          <>
            <label className="sr-only" htmlFor={`role-${member.user_id}`}>
              Role of {member.email}
            </label>
            <select
              id={`role-${member.user_id}`}
              className="input input--compact"
              value={member.role}
              disabled={changeRole.isPending && changeRole.variables.user_id === member.user_id}
              onChange={(event) => {
                const role = event.target.value;
                if (isRole(role))
                  changeRole.mutate({ org_id: org.id, user_id: member.user_id, role });
              }}
            >
              {ORG_ROLES.map((role) => (
                <option key={role} value={role}>
                  {role}
                </option>
              ))}
            </select>
          </>
        ) : (
          <Badge
            tone={member.role === "owner" ? "violet" : "neutral"}
            title={ROLE_HELP[member.role]}
          >
            {member.role}
          </Badge>
        ),
    },
    { id: "since", header: "Since", cell: (member) => formatDateTime(member.created_at) },
  ];
  if (isOwner)
    columns.push({
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (member) => (
        <Button
          size="sm"
          variant="ghost"
          className="text-danger"
          aria-label={`Remove ${member.email}`}
          onClick={() => {
            remove(member);
          }}
        >
          Remove
        </Button>
      ),
    });

  return (
    <ListPage
      title="Members"
      description="People with access to this organization, and what they may do."
    >
      {isAdmin ? <InviteForm /> : null}
      <PagedTable
        list={list}
        label="Members"
        noun="members"
        columns={columns}
        rowKey={(member) => member.user_id}
        empty={<EmptyState title="No members" />}
      />
      {isAdmin ? <Invitations /> : null}
      <section className="card" aria-labelledby="roles-title">
        <h2 id="roles-title">Roles</h2>
        <dl className="dl">
          {ORG_ROLES.map((role) => (
            <div key={role} className="dl__row">
              <dt>
                <Badge tone={role === "owner" ? "violet" : "neutral"}>{role}</Badge>
              </dt>
              <dd>{ROLE_HELP[role]}</dd>
            </div>
          ))}
        </dl>
      </section>
    </ListPage>
  );
}

const DELIVERY_NOTE: Record<CreatedInvitation["email_delivery"], string> = {
  sent: "We mailed them this link.",
  failed: "Mailing it failed (the server log says why): send them this link yourself.",
  not_configured: "This platform sends no mail: send them this link yourself.",
};

/**
 * Adding by e-mail always invites, whether or not the address has an account, so the form says
 * nothing about who is registered. The link is shown once, here.
 */
function InviteForm() {
  const { org, can } = useOrg();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<OrgRole>("member");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [created, setCreated] = useState<CreatedInvitation | null>(null);
  const roles = ORG_ROLES.filter((option) => option !== "owner" || can("owner"));
  const add = useMutation(
    trpc.orgs.members.add.mutationOptions({
      onSuccess: async (invited) => {
        setCreated(invited);
        setEmail("");
        await queryClient.invalidateQueries(trpc.orgs.invitations.pathFilter());
      },
      onError: (error) => {
        setErrors(fieldErrorsOf(error));
      },
    }),
  );
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const parsed = validate(addMemberInput, { email, role });
    if (!parsed.ok) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    setCreated(null);
    add.mutate({ org_id: org.id, ...parsed.data });
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="invite-title">
      <h2 id="invite-title">Invite someone</h2>
      <p className="muted small">
        They get a link to join with this role: they sign up with this address, or sign in if they
        have an account. Only that address can use it.
      </p>
      <FormError error={add.error} shownAtFields={errors} />
      <div className="form-row form-row--end">
        <TextField
          label="Email"
          error={errors.email}
          required
          type="email"
          autoComplete="off"
          value={email}
          onChange={setEmail}
        />
        <Field label="Role" error={errors.role}>
          {(props) => (
            <select
              {...props}
              className="input"
              value={role}
              onChange={(event) => {
                if (isRole(event.target.value)) setRole(event.target.value);
              }}
            >
              {roles.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Button type="submit" variant="primary" busy={add.isPending}>
          Invite
        </Button>
      </div>
      {created ? (
        <div role="status" className="stack">
          <p>
            Invited <strong>{created.invitation.email}</strong> as {created.invitation.role} until{" "}
            {formatDateTime(created.invitation.expires_at)}. {DELIVERY_NOTE[created.email_delivery]}
          </p>
          <div className="form-row form-row--end">
            <TextField
              label="Invitation link"
              readOnly
              value={created.url}
              onChange={() => undefined}
            />
            <CopyButton text={created.url} label="Copy link" />
          </div>
        </div>
      ) : null}
    </form>
  );
}

const STATUS_TONE: Record<Invitation["status"], "blue" | "neutral" | "violet"> = {
  pending: "blue",
  accepted: "violet",
  revoked: "neutral",
  expired: "neutral",
};

function Invitations() {
  const { org } = useOrg();
  const confirm = useConfirm();
  const toast = useToast();
  const list = useInfiniteQuery(
    trpc.orgs.invitations.list.infiniteQueryOptions(
      { org_id: org.id, limit: PAGE_SIZE },
      NEXT_PAGE,
    ),
  );
  const revoke = (invitation: Invitation) => {
    confirm({
      title: `Revoke the invitation of ${invitation.email}?`,
      body: "Its link stops working at once. You can invite the address again later.",
      confirmLabel: "Revoke",
      action: async () => {
        await trpcClient.orgs.invitations.revoke.mutate({
          org_id: org.id,
          invitation_id: invitation.id,
        });
        await queryClient.invalidateQueries(trpc.orgs.invitations.pathFilter());
        toast(`Revoked the invitation of ${invitation.email}`);
      },
    });
  };
  const columns: Column<Invitation>[] = [
    { id: "email", header: "Invited", cell: (invitation) => invitation.email },
    { id: "role", header: "Role", cell: (invitation) => invitation.role },
    {
      id: "status",
      header: "Status",
      cell: (invitation) => (
        <Badge tone={STATUS_TONE[invitation.status]}>{invitation.status}</Badge>
      ),
    },
    {
      id: "expires",
      header: "Expires",
      cell: (invitation) => formatDateTime(invitation.expires_at),
    },
    {
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (invitation) =>
        invitation.status === "pending" ? (
          <Button
            size="sm"
            variant="ghost"
            className="text-danger"
            aria-label={`Revoke the invitation of ${invitation.email}`}
            onClick={() => {
              revoke(invitation);
            }}
          >
            Revoke
          </Button>
        ) : null,
    },
  ];
  return (
    <section aria-labelledby="invitations-title" className="stack">
      <h2 id="invitations-title">Invitations</h2>
      <PagedTable
        list={list}
        label="Invitations"
        noun="invitations"
        columns={columns}
        rowKey={(invitation) => invitation.id}
        empty={<EmptyState title="No invitations" />}
      />
    </section>
  );
}
