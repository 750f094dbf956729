import { acceptInvitation, previewInvitation } from "@mcp/core";
import { acceptedInvitation, invitationPreview, invitationTokenInput } from "../contracts/orgs";
import { authedProcedure, publicProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["members"];

/*
 * The invitee's side. The token travels in the body (POST) even for the preview, so it never
 * appears in a URL, an access log or a Referer header.
 */
export const invitationsRouter = router({
  preview: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/invitations/preview",
        tags,
        summary: "What an invitation link offers: the org, the role and the invited address",
        protect: false,
        errorResponses: [400, 404, 413, 415, 500, 503],
      },
    })
    .input(invitationTokenInput)
    .output(invitationPreview)
    .mutation(async ({ ctx, input }) => toWire(await previewInvitation(ctx.db, input.token))),

  accept: authedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/invitations/accept",
        tags,
        summary: "Join the org of an invitation; only the account with the invited address may",
        protect: true,
        errorResponses: [400, 401, 403, 404, 409, 413, 415, 500, 503],
      },
    })
    .input(invitationTokenInput)
    .output(acceptedInvitation)
    .mutation(async ({ ctx, input }) =>
      acceptInvitation(ctx.db, ctx.action, { token: input.token, user: ctx.user }),
    ),
});
