import { QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
import { ConfirmProvider } from "./components/Confirm";
import { Loading } from "./components/States";
import { ToastProvider } from "./components/Toast";
import { AuthShell, GuestOnly, RequireAuth } from "./layout/AuthGate";
import { HomeRedirect } from "./layout/HomeRedirect";
import { NotFound } from "./layout/NotFound";
import { OrgLayout } from "./layout/OrgLayout";
import { RouteError } from "./layout/RouteError";
import { queryClient } from "./lib/trpc";

// Each screen is its own chunk: the first paint only needs the shell and the current page.
const SignIn = lazy(() => import("./pages/auth/SignIn"));
const SignUp = lazy(() => import("./pages/auth/SignUp"));
const ForgotPassword = lazy(() => import("./pages/auth/ForgotPassword"));
const ResetPassword = lazy(() => import("./pages/auth/ResetPassword"));
const VerifyEmail = lazy(() => import("./pages/auth/VerifyEmail"));
const Invitation = lazy(() => import("./pages/auth/Invitation"));
const CreateOrg = lazy(() => import("./pages/orgs/CreateOrg"));
const Overview = lazy(() => import("./pages/overview/Overview"));
const Environments = lazy(() => import("./pages/environments/Environments"));
const Connections = lazy(() => import("./pages/connections/Connections"));
const ConnectionDetail = lazy(() => import("./pages/connections/ConnectionDetail"));
const Tools = lazy(() => import("./pages/tools/Tools"));
const ToolDetail = lazy(() => import("./pages/tools/ToolDetail"));
const Agents = lazy(() => import("./pages/agents/Agents"));
const AgentDetail = lazy(() => import("./pages/agents/AgentDetail"));
const Policies = lazy(() => import("./pages/policies/Policies"));
const Runs = lazy(() => import("./pages/runs/Runs"));
const RunDetail = lazy(() => import("./pages/runs/RunDetail"));
const Approvals = lazy(() => import("./pages/approvals/Approvals"));
const Audit = lazy(() => import("./pages/audit/Audit"));
const Members = lazy(() => import("./pages/members/Members"));
const Settings = lazy(() => import("./pages/settings/Settings"));
const ApiTokens = lazy(() => import("./pages/api-tokens/ApiTokens"));
const Sessions = lazy(() => import("./pages/sessions/Sessions"));
const Platform = lazy(() => import("./pages/platform/Platform"));
const MyConnections = lazy(() => import("./pages/my-connections/MyConnections"));
const Consent = lazy(() => import("./pages/oauth/Consent"));
const OAuthError = lazy(() => import("./pages/oauth/OAuthError"));

function page(element: ReactNode) {
  return <Suspense fallback={<Loading />}>{element}</Suspense>;
}

/*
 * Every route renders <RouteError> instead of the router's developer page when its page cannot load
 * (a chunk a deploy removed) or throws; inside an organization the sidebar stays.
 */
const router = createBrowserRouter([
  {
    element: <GuestOnly />,
    errorElement: <RouteError />,
    children: [
      { path: "/signin", element: page(<SignIn />) },
      { path: "/signup", element: page(<SignUp />) },
      { path: "/forgot-password", element: page(<ForgotPassword />) },
    ],
  },
  {
    // E-mailed links, the token in the fragment: the paths of INVITATION_PATH, RESET_PASSWORD_PATH
    // and VERIFY_EMAIL_PATH in @mcp/api/contracts, written out because the shell stays free of zod
    // (the e2e tests follow the mailed links, so a drift fails them).
    element: <AuthShell />,
    errorElement: <RouteError />,
    children: [
      { path: "/invitation", element: page(<Invitation />) },
      { path: "/reset-password", element: page(<ResetPassword />) },
      { path: "/verify-email", element: page(<VerifyEmail />) },
    ],
  },
  {
    element: <RequireAuth />,
    errorElement: <RouteError />,
    children: [
      { path: "/", element: <HomeRedirect /> },
      // Where the platform's OAuth callback for connections lands (apps/server connection-oauth.ts).
      { path: "/my-connections", element: <HomeRedirect page="my-connections" /> },
      { path: "/oauth/consent/:requestId", element: page(<Consent />) },
      { path: "/orgs/new", element: page(<CreateOrg />) },
      // Also outside any org: a platform admin need not be a member of one.
      { path: "/platform", element: page(<Platform />) },
      {
        path: "/orgs/:orgId",
        element: <OrgLayout />,
        children: [
          {
            errorElement: <RouteError />,
            children: [
              { index: true, element: <Navigate to="overview" replace /> },
              { path: "overview", element: page(<Overview />) },
              { path: "environments", element: page(<Environments />) },
              { path: "connections", element: page(<Connections />) },
              { path: "connections/:connectionId", element: page(<ConnectionDetail />) },
              { path: "my-connections", element: page(<MyConnections />) },
              { path: "tools", element: page(<Tools />) },
              { path: "tools/:toolId", element: page(<ToolDetail />) },
              { path: "agents", element: page(<Agents />) },
              { path: "agents/:agentId", element: page(<AgentDetail />) },
              { path: "policies", element: page(<Policies />) },
              { path: "runs", element: page(<Runs />) },
              { path: "runs/:runId", element: page(<RunDetail />) },
              { path: "approvals", element: page(<Approvals />) },
              { path: "audit", element: page(<Audit />) },
              { path: "members", element: page(<Members />) },
              { path: "settings", element: page(<Settings />) },
              { path: "api-tokens", element: page(<ApiTokens />) },
              { path: "sessions", element: page(<Sessions />) },
              { path: "platform", element: page(<Platform />) },
              { path: "*", element: <NotFound /> },
            ],
          },
        ],
      },
    ],
  },
  { path: "/oauth/error", element: page(<OAuthError />) },
  { path: "*", element: <NotFound /> },
]);

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <ConfirmProvider>
          <RouterProvider router={router} />
        </ConfirmProvider>
      </ToastProvider>
    </QueryClientProvider>
  );
}
