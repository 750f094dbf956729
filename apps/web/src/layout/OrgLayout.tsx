import {
  Activity,
  BookOpen,
  KeyRound,
  KeySquare,
  MonitorSmartphone,
  Bot,
  Layers,
  LayoutDashboard,
  Plug,
  ScrollText,
  Server,
  Settings,
  ShieldCheck,
  UserCheck,
  Users,
  Wrench,
  type LucideIcon,
} from "lucide-react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo } from "react";
import { Link, NavLink, Outlet, useNavigate, useParams } from "react-router";
import { Badge } from "../components/Badge";
import { Button } from "../components/Button";
import { useConfirm } from "../components/Confirm";
import { ErrorState, Loading } from "../components/States";
import { queryClient, trpc } from "../lib/trpc";
import { useMe } from "./AuthGate";
import { rememberOrg } from "./HomeRedirect";
import { makeOrgContext, OrgContext } from "./org-context";

const NAV: { to: string; label: string; icon: LucideIcon }[] = [
  { to: "overview", label: "Overview", icon: LayoutDashboard },
  { to: "connections", label: "Connections", icon: Plug },
  { to: "my-connections", label: "My connections", icon: KeyRound },
  { to: "tools", label: "Tools", icon: Wrench },
  { to: "agents", label: "Agents", icon: Bot },
  { to: "policies", label: "Policies", icon: ShieldCheck },
  { to: "runs", label: "Runs", icon: Activity },
  { to: "approvals", label: "Approvals", icon: UserCheck },
  { to: "audit", label: "Audit log", icon: ScrollText },
  { to: "environments", label: "Environments", icon: Layers },
  { to: "members", label: "Members", icon: Users },
  { to: "api-tokens", label: "API tokens", icon: KeySquare },
  { to: "settings", label: "Settings", icon: Settings },
];

export function OrgLayout() {
  const { orgId } = useParams();
  const navigate = useNavigate();
  const me = useMe();
  const orgs = useQuery(trpc.orgs.list.queryOptions({ limit: 200 }));
  const org = orgs.data?.results.find((candidate) => candidate.id === orgId);
  const context = useMemo(() => (org ? makeOrgContext(org) : null), [org]);

  useEffect(() => {
    if (org) rememberOrg(org.id);
  }, [org]);

  const signedOut = async () => {
    // Nothing cached for this user may outlive the session.
    queryClient.clear();
    await navigate("/signin", { replace: true });
  };
  const logout = useMutation(trpc.auth.logout.mutationOptions({ onSettled: signedOut }));
  const logoutAll = useMutation(trpc.auth.logoutAll.mutationOptions({ onSuccess: signedOut }));
  const confirm = useConfirm();

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <Link to="/" className="sidebar__brand">
          <span className="logo" aria-hidden="true">
            M
          </span>
          <span>MCP Agents</span>
        </Link>
        <div className="org-switcher">
          <label htmlFor="org-switcher" className="org-switcher__label">
            Organization
          </label>
          <select
            id="org-switcher"
            className="input"
            value={orgId ?? ""}
            onChange={(event) => {
              if (event.target.value === "__new") void navigate("/orgs/new");
              else void navigate(`/orgs/${event.target.value}/overview`);
            }}
          >
            {orgs.data?.results.map((candidate) => (
              <option key={candidate.id} value={candidate.id}>
                {candidate.name}
              </option>
            ))}
            <option value="__new">+ Create organization…</option>
          </select>
          {org ? (
            <div className="org-switcher__role">
              Your role:{" "}
              <Badge tone={org.role === "viewer" ? "neutral" : "violet"}>{org.role}</Badge>
            </div>
          ) : null}
        </div>
        <nav aria-label="Main">
          <ul className="nav">
            {NAV.map((item) => (
              <li key={item.to}>
                <NavLink
                  to={item.to}
                  className={({ isActive }) =>
                    isActive ? "nav__link nav__link--active" : "nav__link"
                  }
                >
                  <item.icon className="nav__icon" size={16} aria-hidden="true" />
                  {item.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="sidebar__footer">
          <div className="sidebar__user" title={me.data?.email}>
            {me.data
              ? [me.data.first_name, me.data.last_name].filter(Boolean).join(" ") || me.data.email
              : ""}
            {me.data && (me.data.first_name || me.data.last_name) ? (
              <span className="muted small">{me.data.email}</span>
            ) : null}
          </div>
          <Link className="sidebar__link" to={`/orgs/${orgId ?? ""}/sessions`}>
            <MonitorSmartphone size={14} aria-hidden="true" /> Your sessions
          </Link>
          {me.data?.is_platform_admin ? (
            <Link className="sidebar__link" to={`/orgs/${orgId ?? ""}/platform`}>
              <Server size={14} aria-hidden="true" /> Platform admin
            </Link>
          ) : null}
          <a className="sidebar__link" href="/api/docs" target="_blank" rel="noreferrer">
            <BookOpen size={14} aria-hidden="true" /> API reference
          </a>
          <Button
            size="sm"
            variant="ghost"
            busy={logout.isPending}
            onClick={() => {
              logout.mutate();
            }}
          >
            Sign out
          </Button>
          <Button
            size="sm"
            variant="ghost"
            onClick={() => {
              confirm({
                title: "Sign out everywhere?",
                body: "Every session of your account ends, on every device and browser, this one included.",
                confirmLabel: "Sign out everywhere",
                danger: true,
                action: () => logoutAll.mutateAsync(),
              });
            }}
          >
            Sign out everywhere
          </Button>
        </div>
      </aside>
      <main id="main" className="main" tabIndex={-1}>
        {orgs.isPending ? (
          <Loading />
        ) : orgs.isError ? (
          <div className="page">
            <ErrorState error={orgs.error} onRetry={() => void orgs.refetch()} />
          </div>
        ) : !context ? (
          <div className="page">
            <div className="state state--empty">
              <h1>Organization not found</h1>
              <p>It does not exist, or you are not a member of it.</p>
              <Link className="btn btn--primary" to="/">
                Go to your organizations
              </Link>
            </div>
          </div>
        ) : (
          <OrgContext.Provider value={context}>
            <Outlet />
          </OrgContext.Provider>
        )}
      </main>
    </div>
  );
}
