import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { z } from "zod";
import {
  AppError,
  findInputDefect,
  isAppError,
  roleAtLeast,
  type ActionContext,
  type Actor,
  type Agent,
  type Db,
  type OrgRole,
} from "@mcp/core";
import { callerRole, type Caller, type Context } from "./context";
import { uuid } from "./contracts/common";
import { toTRPCError, toWireError } from "./errors";

export type Meta = OpenApiMeta<{
  /** The REST status of a success when it is not 200 (201 for creates, 204 for deletes). */
  successStatus?: 201 | 204;
  /**
   * The mutation changes nothing a governed call reads (it runs a tool, evaluates a policy):
   * it need not wait for the call cache to hear of its change before answering.
   */
  leavesGovernance?: true;
}>;

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      const wire = toWireError(error);
      return {
        code: shape.code,
        message: wire.message,
        data: {
          code: wire.code,
          httpStatus: wire.status,
          issues: wire.issues,
          retry_after_seconds: wire.retry_after_seconds,
          run_id: wire.run_id,
          policies: wire.policies,
          request_id: ctx?.requestId,
        },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Input no schema or service may meet (hostile nesting, text the database cannot store) is refused
 * here, once for tRPC and REST alike, before anything walks it: a deep enough value would overflow
 * the stack of the schemas.
 */
function assertSafeInput(raw: unknown): void {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return;
  const defect = findInputDefect(raw as Record<string, unknown>);
  if (!defect) return;
  const field = defect.path.map(String).join(".");
  throw toTRPCError(AppError.badRequest(`Invalid input: ${field}: ${defect.message}`, [defect]));
}

export const publicProcedure = t.procedure.use(async ({ ctx, meta, type, next, getRawInput }) => {
  assertSafeInput(await getRawInput());
  const result = await next();
  if (!result.ok && isAppError(result.error.cause)) {
    const { retryAfterSeconds } = result.error.cause;
    // Both transports send ctx.resHeaders, errors included.
    if (retryAfterSeconds !== undefined)
      ctx.resHeaders.set("retry-after", String(retryAfterSeconds));
    throw toTRPCError(result.error.cause);
  }
  // The next request, to this process, must not be served from a cache entry this made stale.
  if (type === "mutation" && !meta?.leavesGovernance) await ctx.runtime.calls.barrier();
  return result;
});

function unauthenticated(auth: Context["auth"]): TRPCError {
  return new TRPCError({
    code: "UNAUTHORIZED",
    message:
      auth?.type === "refused"
        ? auth.reason
        : "Authentication required: send Authorization: Token <token>",
  });
}

const agentKeyRefused = () =>
  new TRPCError({
    code: "FORBIDDEN",
    message: "Agent keys can only run tools; this needs a user's token or an API token",
  });

/** What the caller's audit events and runs record it as. */
function actorOf(caller: Caller): Actor {
  return caller.type === "user"
    ? { type: "user", id: caller.user.id }
    : { type: "token", id: caller.token.id, name: caller.token.name };
}

/** A signed-in person only: their own account, sessions and organizations. */
export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  const auth = ctx.auth;
  if (!auth || auth.type === "refused") throw unauthenticated(auth);
  if (auth.type === "agent") throw agentKeyRefused();
  if (auth.type === "token") {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "API tokens act only on their organization's resources; this needs a signed-in user",
    });
  }
  const { user, session, via } = auth;
  const action: ActionContext = { ...ctx.origin, actor: { type: "user", id: user.id } };
  return next({ ctx: { ...ctx, user, session, via, action } });
});

/**
 * A signed-in platform admin (`is_platform_admin`, read from the database on every request with
 * the session): the platform-wide lists and disabling accounts. Anyone else is FORBIDDEN, as for a
 * role they lack; nothing here is a tenant's resource, so there is nothing to hide as NOT_FOUND.
 */
export const platformAdminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!ctx.user.is_platform_admin) {
    throw new TRPCError({ code: "FORBIDDEN", message: "This needs a platform admin" });
  }
  const actor = { type: "user" as const, id: ctx.user.id };
  return next({ ctx: { ...ctx, action: { ...ctx.action, actor } } });
});

/** A signed-in person or an API token: the base of every procedure on an org's resources. */
const callerProcedure = publicProcedure.use(({ ctx, next }) => {
  const auth = ctx.auth;
  if (!auth || auth.type === "refused") throw unauthenticated(auth);
  if (auth.type === "agent") throw agentKeyRefused();
  const action: ActionContext = { ...ctx.origin, actor: actorOf(auth) };
  return next({ ctx: { ...ctx, caller: auth, action } });
});

/**
 * For org procedures that act for a person (their own OAuth credentials, managing API tokens):
 * an API token is refused. Chained after orgProcedure or resourceProcedure.
 */
export const personOnly = t.middleware(({ ctx, next }) => {
  if (ctx.auth?.type !== "user") {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "This needs a signed-in user; API tokens cannot do it",
    });
  }
  return next({ ctx: { user: ctx.auth.user } });
});

function notFound(what: string): TRPCError {
  return new TRPCError({ code: "NOT_FOUND", message: `${what} not found` });
}

function assertRole(role: OrgRole, minimum: OrgRole): void {
  if (!roleAtLeast(role, minimum)) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `This action needs the ${minimum} role or higher; yours is ${role}`,
    });
  }
}

/**
 * Procedures under `/orgs/{org_id}/…`: the caller's role there decides, before any input is used
 * (a person's membership, a token's own role in its own org).
 */
export function orgProcedure(minimum: OrgRole) {
  return callerProcedure.input(z.object({ org_id: uuid })).use(async ({ ctx, input, next }) => {
    const role = await callerRole(ctx.db, ctx.caller, input.org_id);
    // Not being a member looks exactly like the organization not existing.
    if (role === null) throw notFound("Organization");
    assertRole(role, minimum);
    return next({ ctx: { ...ctx, org: { id: input.org_id, role } } });
  });
}

/**
 * Procedures on `/…/{id}/` of an org-owned resource: find the owning org, then authorise as for
 * orgProcedure. A resource of an org the caller is not in is NOT_FOUND, like a missing one.
 */
export function resourceProcedure(
  what: string,
  minimum: OrgRole,
  findOrgId: (db: Db, id: string) => Promise<string | null>,
) {
  return callerProcedure.input(z.object({ id: uuid })).use(async ({ ctx, input, next }) => {
    const orgId = await findOrgId(ctx.db, input.id);
    const role = orgId === null ? null : await callerRole(ctx.db, ctx.caller, orgId);
    if (orgId === null || role === null) throw notFound(what);
    assertRole(role, minimum);
    return next({ ctx: { ...ctx, org: { id: orgId, role } } });
  });
}

/**
 * Like resourceProcedure for actions an agent key may also take (running a tool): an agent acts
 * within its own org with the rights of a member, and anything outside that org is NOT_FOUND.
 */
export function agentOrMemberResourceProcedure(
  what: string,
  findOrgId: (db: Db, id: string) => Promise<string | null>,
) {
  return publicProcedure.input(z.object({ id: uuid })).use(async ({ ctx, input, next }) => {
    const auth = ctx.auth;
    if (!auth || auth.type === "refused") throw unauthenticated(auth);
    const orgId = await findOrgId(ctx.db, input.id);
    // One explicit shape for every principal, so `agent` is typed as nullable downstream.
    let caller: {
      action: ActionContext;
      runner: { type: "agent" | "user" | "token"; id: string };
      agent: Agent | null;
      org: { id: string; role: OrgRole };
    };
    if (auth.type === "agent") {
      if (orgId !== auth.agent.org_id) throw notFound(what);
      caller = {
        action: { ...ctx.origin, actor: { type: "agent", id: auth.agent.id } },
        runner: { type: "agent", id: auth.agent.id },
        agent: auth.agent,
        org: { id: orgId, role: "member" },
      };
    } else {
      const role = orgId === null ? null : await callerRole(ctx.db, auth, orgId);
      if (orgId === null || role === null) throw notFound(what);
      assertRole(role, "member");
      const actor = actorOf(auth);
      caller = {
        action: { ...ctx.origin, actor },
        runner: { type: auth.type, id: auth.type === "user" ? auth.user.id : auth.token.id },
        agent: null,
        org: { id: orgId, role },
      };
    }
    return next({ ctx: { ...ctx, ...caller } });
  });
}
