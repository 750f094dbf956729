import {
  changePassword,
  endOtherSessions,
  endUserSession,
  getUser,
  listUserSessions,
  loginUser,
  logoutAllSessions,
  logoutSession,
  mailEmailVerification,
  platformHasUsers,
  registerUser,
  requestEmailVerification,
  requestPasswordReset,
  resetPassword,
  SSO_START_PATH,
  verifyEmail,
  type User,
} from "@mcp/core";
import { z } from "zod";
import { clearedSessionCookie, sessionCookie, type Context } from "../context";
import {
  authResult,
  changePasswordInput,
  changePasswordResult,
  endOtherSessionsResult,
  authSettings,
  emailVerificationInput,
  emailVerificationRequestResult,
  emailVerificationResult,
  loginInput,
  logoutAllResult,
  passwordResetInput,
  passwordResetRequestInput,
  registerInput,
  ssoInfo,
  session,
  RESET_PASSWORD_PATH,
  user,
  VERIFY_EMAIL_PATH,
} from "../contracts/accounts";
import { uuid } from "../contracts/common";
import { authedProcedure, publicProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["auth"];

/** Browsers (the SPA over tRPC) get the token as an httpOnly cookie too; API clients use the body. */
function issueCookie(ctx: Context, token: string, expires: Date): void {
  if (ctx.surface === "trpc")
    ctx.resHeaders.append("set-cookie", sessionCookie(token, expires, ctx.deps.secureCookies));
}

function clearCookie(ctx: Context & { via: "header" | "cookie" }): void {
  if (ctx.via === "cookie" || ctx.surface === "trpc") {
    ctx.resHeaders.append("set-cookie", clearedSessionCookie(ctx.deps.secureCookies));
  }
}

export function userToWire(account: User) {
  const { email_verified_at: verifiedAt, ...rest } = account;
  return toWire({ ...rest, email_verified: verifiedAt !== null });
}

/** The SPA page a mailed link opens; the token in the fragment (see RESET_PASSWORD_PATH). */
function linksTo(ctx: Context, path: string) {
  return {
    mailer: ctx.deps.mailer,
    linkFor: (token: string) => `${ctx.baseUrl}${path}#${token}`,
  };
}

export const authRouter = router({
  settings: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/auth/settings",
        tags,
        summary: "How accounts are made here: the sign-up mode and whether mail is configured",
        protect: false,
      },
    })
    .input(z.object({}).optional())
    .output(authSettings)
    .query(async ({ ctx }) => ({
      signup_mode: ctx.deps.signup.mode,
      signup_allowed_domains: [...ctx.deps.signup.allowedDomains],
      setup_required: !(await platformHasUsers(ctx.db)),
      email_enabled: ctx.deps.mailer !== null,
    })),

  register: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/register",
        tags,
        summary: "Register a new user (as the sign-up mode allows)",
        protect: false,
        errorResponses: [400, 403, 404, 409, 413, 415, 429, 500, 503],
      },
      successStatus: 201,
    })
    .input(registerInput)
    .output(authResult)
    .mutation(async ({ ctx, input }) => {
      const result = await registerUser(ctx.db, ctx.origin, input, {
        throttle: ctx.deps.authThrottle,
        signup: ctx.deps.signup,
      });
      await mailEmailVerification(ctx.db, result.user, linksTo(ctx, VERIFY_EMAIL_PATH));
      issueCookie(ctx, result.session.token, result.session.expires_at);
      return { token: result.session.token, user: userToWire(result.user) };
    }),

  login: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/login",
        tags,
        summary: "Log in with email and password",
        protect: false,
      },
    })
    .input(loginInput)
    .output(authResult)
    .mutation(async ({ ctx, input }) => {
      const result = await loginUser(
        ctx.db,
        ctx.origin,
        input,
        ctx.deps.authThrottle,
        ctx.deps.sso,
      );
      issueCookie(ctx, result.session.token, result.session.expires_at);
      return { token: result.session.token, user: userToWire(result.user) };
    }),

  sso: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/auth/sso",
        tags,
        summary: "Whether sign-in with the platform's OpenID Connect provider is available",
        protect: false,
      },
    })
    .input(z.object({}).optional())
    .output(ssoInfo)
    .query(({ ctx }) => {
      const sso = ctx.deps.sso;
      return {
        enabled: sso !== null,
        display_name: sso?.config.displayName ?? null,
        start_url: sso ? `${ctx.baseUrl}${SSO_START_PATH}` : null,
      };
    }),

  requestPasswordReset: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/password-reset",
        tags,
        summary:
          "Mail a password reset link to the address if it has an account (the answer is the same either way)",
        protect: false,
        errorResponses: [400, 413, 415, 429, 500, 503],
      },
      successStatus: 204,
    })
    .input(passwordResetRequestInput)
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await requestPasswordReset(ctx.db, ctx.origin, input, {
        ...linksTo(ctx, RESET_PASSWORD_PATH),
        throttle: ctx.deps.authThrottle,
      });
    }),

  resetPassword: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/password-reset/confirm",
        tags,
        summary:
          "Set a new password with a reset link's token; ends every session of the account and signs in",
        protect: false,
        errorResponses: [400, 413, 415, 500, 503],
      },
    })
    .input(passwordResetInput)
    .output(authResult)
    .mutation(async ({ ctx, input }) => {
      const result = await resetPassword(ctx.db, ctx.origin, input);
      issueCookie(ctx, result.session.token, result.session.expires_at);
      return { token: result.session.token, user: userToWire(result.user) };
    }),

  requestEmailVerification: authedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/email-verification",
        tags,
        summary: "Mail the current user a link confirming their address",
        protect: true,
        errorResponses: [401, 403, 409, 429, 500, 503],
      },
    })
    .input(z.object({}).optional())
    .output(emailVerificationRequestResult)
    .mutation(async ({ ctx }) => ({
      email_delivery: await requestEmailVerification(
        ctx.db,
        ctx.action,
        { userId: ctx.user.id },
        { ...linksTo(ctx, VERIFY_EMAIL_PATH), throttle: ctx.deps.authThrottle },
      ),
    })),

  verifyEmail: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/email-verification/confirm",
        tags,
        summary: "Confirm an address with a verification link's token",
        protect: false,
        errorResponses: [400, 413, 415, 500, 503],
      },
    })
    .input(emailVerificationInput)
    .output(emailVerificationResult)
    .mutation(async ({ ctx, input }) => verifyEmail(ctx.db, ctx.origin, input)),

  logout: authedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/logout",
        tags,
        summary: "Invalidate the presented session",
        protect: true,
      },
      successStatus: 204,
    })
    .input(z.object({}).optional())
    .output(z.void())
    .mutation(async ({ ctx }) => {
      await logoutSession(ctx.db, ctx.action, ctx.session.sessionId);
      clearCookie(ctx);
    }),

  logoutAll: authedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/logout-all",
        tags,
        summary: "Sign out everywhere: invalidate every session of the user, this one included",
        protect: true,
      },
    })
    .input(z.object({}).optional())
    .output(logoutAllResult)
    .mutation(async ({ ctx }) => {
      const sessionsEnded = await logoutAllSessions(ctx.db, ctx.action, ctx.user.id);
      clearCookie(ctx);
      return { sessions_ended: sessionsEnded };
    }),

  sessions: router({
    list: authedProcedure
      .meta({
        openapi: {
          method: "GET",
          path: "/auth/sessions",
          tags,
          summary: "Your active sessions, most recently seen first; `current` marks this one",
          protect: true,
        },
      })
      .input(z.object({}).optional())
      .output(z.object({ results: z.array(session) }))
      .query(async ({ ctx }) => {
        const sessions = await listUserSessions(ctx.db, ctx.user.id);
        return {
          results: sessions.map(({ public_id: id, ...rest }) =>
            toWire({ id, current: id === ctx.session.publicId, ...rest }),
          ),
        };
      }),

    end: authedProcedure
      .meta({
        openapi: {
          method: "DELETE",
          path: "/auth/sessions/{id}",
          tags,
          summary: "End one of your sessions (ending this one signs you out)",
          protect: true,
        },
        successStatus: 204,
      })
      .input(z.object({ id: uuid }))
      .output(z.void())
      .mutation(async ({ ctx, input }) => {
        await endUserSession(ctx.db, ctx.action, { userId: ctx.user.id, publicId: input.id });
        if (input.id === ctx.session.publicId) clearCookie(ctx);
      }),

    endOthers: authedProcedure
      .meta({
        openapi: {
          method: "POST",
          path: "/auth/sessions/end-others",
          tags,
          summary: "End every session of yours but this one",
          protect: true,
        },
      })
      .input(z.object({}).optional())
      .output(endOtherSessionsResult)
      .mutation(async ({ ctx }) => ({
        sessions_ended: await endOtherSessions(ctx.db, ctx.action, {
          userId: ctx.user.id,
          currentSessionId: ctx.session.sessionId,
        }),
      })),
  }),

  changePassword: authedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/password",
        tags,
        summary: "Change your password; every other session of yours ends",
        description:
          "Needs the current password. Wrong current passwords count towards the sign-in lockout of the account.",
        protect: true,
      },
    })
    .input(changePasswordInput)
    .output(changePasswordResult)
    .mutation(async ({ ctx, input }) => {
      const { sessionsEnded } = await changePassword(
        ctx.db,
        ctx.action,
        {
          userId: ctx.user.id,
          currentSessionId: ctx.session.sessionId,
          currentPassword: input.current_password,
          newPassword: input.new_password,
        },
        ctx.deps.authThrottle,
      );
      return { sessions_ended: sessionsEnded };
    }),

  me: authedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/auth/me",
        tags,
        summary: "The current user",
        protect: true,
      },
    })
    .input(z.object({}).optional())
    .output(user)
    .query(async ({ ctx }) => userToWire(await getUser(ctx.db, ctx.user.id))),
});
