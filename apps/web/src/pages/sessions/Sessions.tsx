import { useQuery } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { Badge } from "../../components/Badge";
import { Button } from "../../components/Button";
import { useConfirm } from "../../components/Confirm";
import { EmptyState, ErrorState, Loading, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import type { UserSession } from "../../lib/api";
import { formatDateTime, formatRelative } from "../../lib/format";
import { queryClient, trpc, trpcClient } from "../../lib/trpc";
import { ChangePassword } from "./ChangePassword";

/** Your own sessions, whichever organization you are in: sessions belong to the account. */
export default function Sessions() {
  const confirm = useConfirm();
  const toast = useToast();
  const navigate = useNavigate();
  const sessions = useQuery(trpc.auth.sessions.list.queryOptions());

  const end = (session: UserSession) => {
    confirm({
      title: session.current ? "Sign out of this browser?" : "End this session?",
      body: session.current
        ? "You are signed out of this browser."
        : "Whoever uses it is signed out at their next request.",
      confirmLabel: "End session",
      danger: true,
      action: async () => {
        await trpcClient.auth.sessions.end.mutate({ id: session.id });
        if (session.current) {
          queryClient.clear();
          await navigate("/signin", { replace: true });
          return;
        }
        await queryClient.invalidateQueries(trpc.auth.sessions.pathFilter());
        toast("Session ended");
      },
    });
  };

  const endOthers = () => {
    confirm({
      title: "End every other session?",
      body: "Every other browser and client signed in to your account is signed out; this one stays.",
      confirmLabel: "End other sessions",
      danger: true,
      action: async () => {
        const { sessions_ended: ended } = await trpcClient.auth.sessions.endOthers.mutate();
        await queryClient.invalidateQueries(trpc.auth.sessions.pathFilter());
        toast(ended === 1 ? "1 session ended" : `${ended} sessions ended`);
      },
    });
  };

  const others = sessions.data?.results.filter((session) => !session.current).length ?? 0;
  return (
    <div className="page">
      <PageHeader
        title="Your sessions"
        description="Where your account is signed in. End any session you do not recognise, and change your password if you suspect someone else has it."
        actions={
          others > 0 ? (
            <Button variant="danger" onClick={endOthers}>
              End other sessions
            </Button>
          ) : null
        }
      />
      {sessions.isPending ? (
        <Loading />
      ) : sessions.isError ? (
        <ErrorState error={sessions.error} onRetry={() => void sessions.refetch()} />
      ) : sessions.data.results.length === 0 ? (
        <EmptyState title="No sessions">You are signed in with a token only.</EmptyState>
      ) : (
        <section className="card card--flush" aria-label="Sessions">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Browser or client</th>
                <th scope="col">Address</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last seen</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.data.results.map((session) => (
                <tr key={session.id} data-testid="session-row">
                  <td>
                    <span className="strong">{session.user_agent ?? "Unknown client"}</span>{" "}
                    {session.current ? <Badge tone="green">this session</Badge> : null}
                  </td>
                  <td className="mono">{session.ip ?? "—"}</td>
                  <td>{formatDateTime(session.created_at)}</td>
                  <td title={formatDateTime(session.last_seen_at)}>
                    {formatRelative(session.last_seen_at)}
                  </td>
                  <td className="table__actions">
                    <Button
                      size="sm"
                      variant="ghost"
                      className="text-danger"
                      aria-label={
                        session.current
                          ? "End this session (sign out)"
                          : `End session of ${session.user_agent ?? "unknown client"}`
                      }
                      onClick={() => {
                        end(session);
                      }}
                    >
                      {session.current ? "Sign out" : "End"}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <ChangePassword />
    </div>
  );
}
