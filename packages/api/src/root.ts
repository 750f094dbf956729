import { agentsRouter } from "./routers/agents";
import { approvalsRouter } from "./routers/approvals";
import { apiTokensRouter } from "./routers/api-tokens";
import { authRouter } from "./routers/auth";
import { configRouter } from "./routers/config";
import { connectionsRouter } from "./routers/connections";
import { environmentsRouter } from "./routers/environments";
import { invitationsRouter } from "./routers/invitations";
import { oauthRouter } from "./routers/oauth";
import { orgsRouter } from "./routers/orgs";
import { platformRouter } from "./routers/platform";
import { policiesRouter } from "./routers/policies";
import { auditRouter, runsRouter } from "./routers/runs";
import { toolsRouter } from "./routers/tools";
import { router } from "./trpc";

export const appRouter = router({
  auth: authRouter,
  orgs: orgsRouter,
  apiTokens: apiTokensRouter,
  invitations: invitationsRouter,
  environments: environmentsRouter,
  connections: connectionsRouter,
  tools: toolsRouter,
  agents: agentsRouter,
  policies: policiesRouter,
  approvals: approvalsRouter,
  runs: runsRouter,
  audit: auditRouter,
  oauth: oauthRouter,
  platform: platformRouter,
  config: configRouter,
});

export type AppRouter = typeof appRouter;
