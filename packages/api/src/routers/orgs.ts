import {
  createInvitation,
  createOrg,
  deleteOrg,
  getOrg,
  getOrgSsoSettings,
  listInvitations,
  listMembers,
  listOrgsForUser,
  removeMember,
  revokeInvitation,
  updateMemberRole,
  updateOrg,
  updateOrgSsoSettings,
} from "@mcp/core";
import { z } from "zod";
import { INVITATION_PATH } from "../contracts/accounts";
import { pageInput, pageOf, uuid } from "../contracts/common";
import {
  addMemberInput,
  createdInvitation,
  createOrgInput,
  invitation,
  member,
  org,
  orgSsoSettings,
  updateMemberInput,
  updateOrgInput,
  updateOrgSsoSettingsInput,
} from "../contracts/orgs";
import { authedProcedure, orgProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["orgs"];
const memberTags = ["members"];

export const orgsRouter = router({
  list: authedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs",
        tags,
        summary: "List the organizations you belong to",
        protect: true,
      },
    })
    .input(pageInput)
    .output(pageOf(org))
    .query(async ({ ctx, input }) =>
      toWire(await listOrgsForUser(ctx.db, { ...input, userId: ctx.user.id })),
    ),

  create: authedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs",
        tags,
        summary: "Create an organization (you become its owner)",
        protect: true,
      },
      successStatus: 201,
    })
    .input(createOrgInput)
    .output(org)
    .mutation(async ({ ctx, input }) =>
      toWire(
        await createOrg(ctx.db, { ...ctx.action, actor: { type: "user", id: ctx.user.id } }, input),
      ),
    ),

  get: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}",
        tags,
        summary: "Get an organization",
        protect: true,
      },
    })
    .output(org)
    .query(async ({ ctx }) =>
      toWire({ ...(await getOrg(ctx.db, ctx.org.id)), role: ctx.org.role }),
    ),

  update: orgProcedure("admin")
    .meta({
      openapi: {
        method: "PATCH",
        path: "/orgs/{org_id}",
        tags,
        summary: "Rename an organization or change its settings",
        protect: true,
      },
    })
    .input(updateOrgInput)
    .output(org)
    .mutation(async ({ ctx, input }) =>
      toWire({
        ...(await updateOrg(ctx.db, ctx.action, { ...input, orgId: ctx.org.id })),
        role: ctx.org.role,
      }),
    ),

  delete: orgProcedure("owner")
    .meta({
      openapi: {
        method: "DELETE",
        path: "/orgs/{org_id}",
        tags,
        summary: "Delete an organization and everything in it",
        protect: true,
      },
      successStatus: 204,
    })
    .output(z.void())
    .mutation(async ({ ctx }) => {
      await deleteOrg(ctx.db, ctx.action, ctx.org.id);
    }),

  sso: router({
    get: orgProcedure("admin")
      .meta({
        openapi: {
          method: "GET",
          path: "/orgs/{org_id}/sso",
          tags,
          summary: "The organization's SSO settings (SSO only, domain rules)",
          protect: true,
        },
      })
      .output(orgSsoSettings)
      .query(({ ctx }) => getOrgSsoSettings(ctx.db, { orgId: ctx.org.id })),

    // Owners only: SSO-only decides how every member may sign in, and rules add members.
    update: orgProcedure("owner")
      .meta({
        openapi: {
          method: "PATCH",
          path: "/orgs/{org_id}/sso",
          tags,
          summary: "Change the organization's SSO settings; domain_roles is replaced whole",
          protect: true,
        },
      })
      .input(updateOrgSsoSettingsInput)
      .output(orgSsoSettings)
      .mutation(({ ctx, input }) =>
        updateOrgSsoSettings(ctx.db, ctx.action, ctx.deps.sso, { ...input, orgId: ctx.org.id }),
      ),
  }),

  invitations: router({
    list: orgProcedure("admin")
      .meta({
        openapi: {
          method: "GET",
          path: "/orgs/{org_id}/invitations",
          tags: memberTags,
          summary: "List invitations, newest first, with their status",
          protect: true,
        },
      })
      .input(pageInput)
      .output(pageOf(invitation))
      .query(async ({ ctx, input }) =>
        toWire(await listInvitations(ctx.db, { ...input, orgId: ctx.org.id })),
      ),

    revoke: orgProcedure("admin")
      .meta({
        openapi: {
          method: "DELETE",
          path: "/orgs/{org_id}/invitations/{invitation_id}",
          tags: memberTags,
          summary: "Revoke an invitation: its link stops working at once",
          protect: true,
        },
        successStatus: 204,
      })
      .input(z.object({ invitation_id: uuid }))
      .output(z.void())
      .mutation(async ({ ctx, input }) => {
        await revokeInvitation(ctx.db, ctx.action, {
          orgId: ctx.org.id,
          invitationId: input.invitation_id,
        });
      }),
  }),

  members: router({
    list: orgProcedure("viewer")
      .meta({
        openapi: {
          method: "GET",
          path: "/orgs/{org_id}/members",
          tags: memberTags,
          summary: "List members",
          protect: true,
        },
      })
      .input(pageInput)
      .output(pageOf(member))
      .query(async ({ ctx, input }) =>
        toWire(await listMembers(ctx.db, { ...input, orgId: ctx.org.id })),
      ),

    add: orgProcedure("admin")
      .meta({
        openapi: {
          method: "POST",
          path: "/orgs/{org_id}/members",
          tags: memberTags,
          summary:
            "Invite someone by email with a role: always an invitation, whether or not the address has an account (only owners invite owners)",
          protect: true,
        },
        successStatus: 201,
      })
      .input(addMemberInput)
      .output(createdInvitation)
      .mutation(async ({ ctx, input }) =>
        toWire(
          await createInvitation(
            ctx.db,
            ctx.action,
            { ...input, orgId: ctx.org.id, inviterRole: ctx.org.role },
            {
              signup: ctx.deps.signup,
              ttlSeconds: ctx.deps.invitationTtlSeconds,
              mailer: ctx.deps.mailer,
              linkFor: (token) => `${ctx.baseUrl}${INVITATION_PATH}#${token}`,
            },
          ),
        ),
      ),

    update: orgProcedure("owner")
      .meta({
        openapi: {
          method: "PATCH",
          path: "/orgs/{org_id}/members/{user_id}",
          tags: memberTags,
          summary: "Change a member's role",
          protect: true,
        },
      })
      .input(updateMemberInput.extend({ user_id: uuid }))
      .output(member)
      .mutation(async ({ ctx, input }) =>
        toWire(
          await updateMemberRole(ctx.db, ctx.action, {
            orgId: ctx.org.id,
            userId: input.user_id,
            role: input.role,
          }),
        ),
      ),

    remove: orgProcedure("owner")
      .meta({
        openapi: {
          method: "DELETE",
          path: "/orgs/{org_id}/members/{user_id}",
          tags: memberTags,
          summary: "Remove a member",
          protect: true,
        },
        successStatus: 204,
      })
      .input(z.object({ user_id: uuid }))
      .output(z.void())
      .mutation(async ({ ctx, input }) => {
        await removeMember(ctx.db, ctx.action, { orgId: ctx.org.id, userId: input.user_id });
      }),
  }),
});
