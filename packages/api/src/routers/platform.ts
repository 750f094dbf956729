import {
  listPlatformAuditEvents,
  listPlatformOrgs,
  listPlatformUsers,
  setUserDisabled,
  type PlatformUser,
} from "@mcp/core";
import { pageOf } from "../contracts/common";
import {
  platformAuditEventsInput,
  platformListInput,
  platformOrg,
  platformUser,
  platformUserInput,
} from "../contracts/platform";
import { auditEvent } from "../contracts/runs";
import { platformAdminProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["platform"];

function userView(user: PlatformUser) {
  return toWire({ ...user, disabled: user.disabled_at !== null });
}

export const platformRouter = router({
  orgs: platformAdminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/platform/orgs",
        tags,
        summary: "Every organization on the platform, oldest first, with its member count",
        protect: true,
      },
    })
    .input(platformListInput)
    .output(pageOf(platformOrg))
    .query(async ({ ctx, input }) => toWire(await listPlatformOrgs(ctx.db, input))),

  users: router({
    list: platformAdminProcedure
      .meta({
        openapi: {
          method: "GET",
          path: "/platform/users",
          tags,
          summary: "Every account on the platform, oldest first",
          protect: true,
        },
      })
      .input(platformListInput)
      .output(pageOf(platformUser))
      .query(async ({ ctx, input }) => {
        const page = await listPlatformUsers(ctx.db, input);
        return { results: page.results.map(userView), next_cursor: page.next_cursor };
      }),

    disable: platformAdminProcedure
      .meta({
        openapi: {
          method: "POST",
          path: "/platform/users/{user_id}/disable",
          tags,
          summary:
            "Lock an account out at once: its sessions end, sign-in is refused, its API tokens, OAuth grants and per-user connection credentials stop working",
          protect: true,
        },
      })
      .input(platformUserInput)
      .output(platformUser)
      .mutation(async ({ ctx, input }) =>
        userView(
          await setUserDisabled(ctx.db, ctx.action, { userId: input.user_id, disabled: true }),
        ),
      ),

    enable: platformAdminProcedure
      .meta({
        openapi: {
          method: "POST",
          path: "/platform/users/{user_id}/enable",
          tags,
          summary:
            "Let a disabled account sign in again (its ended sessions stay ended; its unrevoked API tokens and OAuth grants work again)",
          protect: true,
        },
      })
      .input(platformUserInput)
      .output(platformUser)
      .mutation(async ({ ctx, input }) =>
        userView(
          await setUserDisabled(ctx.db, ctx.action, { userId: input.user_id, disabled: false }),
        ),
      ),
  }),

  auditEvents: platformAdminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/platform/audit-events",
        tags,
        summary:
          "The platform's own audit events (of no organization: sign-ins, sign-ups, platform admin actions), newest first",
        protect: true,
      },
    })
    .input(platformAuditEventsInput)
    .output(pageOf(auditEvent))
    .query(async ({ ctx, input }) =>
      toWire(
        await listPlatformAuditEvents(ctx.db, {
          ...input,
          since: input.since === undefined ? undefined : new Date(input.since),
        }),
      ),
    ),
});
