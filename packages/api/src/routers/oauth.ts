import { decideAuthorization, getAuthorizationRequest, oauthEndpoints } from "@mcp/core";
import { z } from "zod";
import {
  authorizationDecision,
  authorizationDecisionInput,
  authorizationRequest,
  authorizationRequestId,
} from "../contracts/oauth";
import { authedProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["oauth"];

/**
 * The consent step of the platform's authorization server (see core's oauth/): the SPA's consent
 * page reads the pending request and posts the person's decision. A request of an agent in an org
 * the caller is not in is NOT_FOUND.
 */
export const oauthRouter = router({
  authorizations: router({
    get: authedProcedure
      .meta({
        openapi: {
          method: "GET",
          path: "/oauth/authorizations/{id}",
          tags,
          summary: "A pending OAuth authorization request, for the consent page",
          protect: true,
        },
      })
      .input(z.object({ id: authorizationRequestId }))
      .output(authorizationRequest)
      .query(async ({ ctx, input }) =>
        toWire(await getAuthorizationRequest(ctx.db, { id: input.id, userId: ctx.user.id })),
      ),

    decide: authedProcedure
      .meta({
        openapi: {
          method: "POST",
          path: "/oauth/authorizations/{id}/decision",
          tags,
          summary: "Approve or deny an OAuth client acting as an agent",
          description:
            "Approving needs the org's `oauth_approver_role` or higher. Answers where to send the browser: the client's redirect URI with a one-time code, or with `error=access_denied`.",
          protect: true,
        },
        leavesGovernance: true,
      })
      .input(authorizationDecisionInput)
      .output(authorizationDecision)
      .mutation(async ({ ctx, input }) =>
        decideAuthorization(ctx.db, ctx.action, oauthEndpoints(ctx.baseUrl), {
          id: input.id,
          userId: ctx.user.id,
          approve: input.approve,
        }),
      ),
  }),
});
