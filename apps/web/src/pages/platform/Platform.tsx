import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { NEXT_PAGE, PAGE_SIZE, PagedTable, type Column } from "../../components/DataTable";
import { EmptyState, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { useMe } from "../../layout/AuthGate";
import type { PlatformOrg, PlatformUser } from "../../lib/api";
import { formatDateTime, formatNumber, formatRelative } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";

function fullName(user: { first_name: string; last_name: string }): string {
  return [user.first_name, user.last_name].filter(Boolean).join(" ");
}

/**
 * The platform admin's view of the whole platform: every account (disable, enable) and every
 * organization. Other users never see the link; the server refuses them regardless.
 */
export default function Platform() {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (!me.data?.is_platform_admin) {
    return (
      <div className="page">
        <PageHeader title="Platform admin" description="Operating the platform." />
        <EmptyState title="Platform admins only">
          This page is for the platform&apos;s operators.
        </EmptyState>
      </div>
    );
  }
  return (
    <div className="page">
      <PageHeader
        title="Platform admin"
        description="Every account and organization on this platform. Disabling an account signs it out everywhere at once and stops its API tokens and OAuth grants; no secret and no organization's resources are shown here."
        actions={
          <Link className="btn" to="/">
            Your organizations
          </Link>
        }
      />
      <section className="stack" aria-labelledby="platform-users">
        <h2 id="platform-users">Accounts</h2>
        <UserTable myId={me.data.id} />
      </section>
      <section className="stack" aria-labelledby="platform-orgs">
        <h2 id="platform-orgs">Organizations</h2>
        <OrgTable />
      </section>
    </div>
  );
}

function UserTable({ myId }: { myId: string }) {
  const confirm = useConfirm();
  const toast = useToast();
  const list = useInfiniteQuery(
    trpc.platform.users.list.infiniteQueryOptions({ limit: PAGE_SIZE }, NEXT_PAGE),
  );

  const setDisabled = (user: PlatformUser, disabled: boolean) => {
    confirm({
      title: disabled ? `Disable ${user.email}?` : `Enable ${user.email}?`,
      body: disabled
        ? "They are signed out everywhere at once and cannot sign in; the API tokens they created, the OAuth clients they approved and their own connection credentials stop working until the account is enabled again."
        : "They can sign in again. Their old sessions stay ended; their API tokens and OAuth grants that were not revoked work again.",
      confirmLabel: disabled ? "Disable account" : "Enable account",
      danger: disabled,
      action: async () => {
        if (disabled) await trpcClient.platform.users.disable.mutate({ user_id: user.id });
        else await trpcClient.platform.users.enable.mutate({ user_id: user.id });
        await queryClient.invalidateQueries(trpc.platform.pathFilter());
        toast(disabled ? `Disabled ${user.email}` : `Enabled ${user.email}`);
      },
    });
  };

  const columns: Column<PlatformUser>[] = [
    {
      id: "account",
      header: "Account",
      cell: (user) => (
        <>
          <span className="strong">{user.email}</span>
          {fullName(user) ? <span className="muted small"> {fullName(user)}</span> : null}
        </>
      ),
    },
    { id: "joined", header: "Joined", cell: (user) => formatDateTime(user.date_joined) },
    {
      id: "last-sign-in",
      header: "Last sign-in",
      cell: (user) => (
        <span title={formatDateTime(user.last_sign_in_at)}>
          {user.last_sign_in_at ? formatRelative(user.last_sign_in_at) : "Never"}
        </span>
      ),
    },
    {
      id: "status",
      header: "Status",
      cell: (user) => (
        <>
          {user.disabled ? (
            <Badge tone="red" title={`Since ${formatDateTime(user.disabled_at)}`}>
              disabled
            </Badge>
          ) : (
            <Badge tone="green">active</Badge>
          )}{" "}
          {user.is_platform_admin ? <Badge tone="violet">platform admin</Badge> : null}
        </>
      ),
    },
    {
      id: "actions",
      header: "Actions",
      hideHeader: true,
      className: "table__actions",
      cell: (user) =>
        user.id === myId ? null : (
          <Button
            size="sm"
            variant="ghost"
            className={user.disabled ? undefined : "text-danger"}
            aria-label={`${user.disabled ? "Enable" : "Disable"} ${user.email}`}
            onClick={() => {
              setDisabled(user, !user.disabled);
            }}
          >
            {user.disabled ? "Enable" : "Disable"}
          </Button>
        ),
    },
  ];

  return (
    <PagedTable
      list={list}
      label="Accounts"
      noun="accounts"
      columns={columns}
      rowKey={(user) => user.id}
      rowClassName={(user) => (user.disabled ? "row--muted" : undefined)}
      empty={<EmptyState title="No accounts">Nobody has signed up yet.</EmptyState>}
    />
  );
}

function OrgTable() {
  const list = useInfiniteQuery(
    trpc.platform.orgs.infiniteQueryOptions({ limit: PAGE_SIZE }, NEXT_PAGE),
  );
  const columns: Column<PlatformOrg>[] = [
    { id: "name", header: "Name", cell: (org) => <span className="strong">{org.name}</span> },
    { id: "slug", header: "Slug", cell: (org) => <span className="mono">{org.slug}</span> },
    {
      id: "members",
      header: "Members",
      numeric: true,
      cell: (org) => formatNumber(org.member_count),
    },
    { id: "created", header: "Created", cell: (org) => formatDateTime(org.created_at) },
  ];
  return (
    <PagedTable
      list={list}
      label="Organizations"
      noun="organizations"
      columns={columns}
      rowKey={(org) => org.id}
      empty={<EmptyState title="No organizations">Nobody has created one yet.</EmptyState>}
    />
  );
}
