import { authRouter } from "./routers/auth";
import { environmentsRouter } from "./routers/environments";
import { orgsRouter } from "./routers/orgs";
import { router } from "./trpc";

export const appRouter = router({
  auth: authRouter,
  orgs: orgsRouter,
  environments: environmentsRouter,
});

export type AppRouter = typeof appRouter;
