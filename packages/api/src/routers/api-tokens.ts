import { createApiToken, listApiTokens, revokeApiToken } from "@mcp/core";
import { z } from "zod";
import { apiToken, createApiTokenInput, createdApiToken } from "../contracts/api-tokens";
import { pageInput, pageOf, uuid } from "../contracts/common";
import { orgProcedure, personOnly, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["api-tokens"];

/**
 * An org's API tokens for automation. Admins (people) manage them; a token cannot list, create or
 * revoke tokens, so a leaked token cannot mint itself a successor that outlives its revocation.
 */
const tokenAdminProcedure = () => orgProcedure("admin").use(personOnly);

export const apiTokensRouter = router({
  list: tokenAdminProcedure()
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/api-tokens",
        tags,
        summary: "List the organization's API tokens (prefixes only, never the tokens)",
        protect: true,
      },
    })
    .input(pageInput)
    .output(pageOf(apiToken))
    .query(async ({ ctx, input }) =>
      toWire(await listApiTokens(ctx.db, { ...input, orgId: ctx.org.id })),
    ),

  create: tokenAdminProcedure()
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/api-tokens",
        tags,
        summary: "Create an API token (shown once)",
        description:
          "The token acts with `role` (admin, member or viewer) in this organization only, on the REST API and the SDK, as `Authorization: Bearer mcpt_…`. It is not an agent key: it cannot open an agent's MCP endpoint.",
        protect: true,
      },
      successStatus: 201,
    })
    .input(createApiTokenInput)
    .output(createdApiToken)
    .mutation(async ({ ctx, input }) =>
      toWire(
        await createApiToken(
          ctx.db,
          { ...ctx.action, actor: { type: "user", id: ctx.user.id } },
          {
            orgId: ctx.org.id,
            name: input.name,
            role: input.role,
            expiresInDays: input.expires_in_days,
          },
        ),
      ),
    ),

  revoke: tokenAdminProcedure()
    .meta({
      openapi: {
        method: "DELETE",
        path: "/orgs/{org_id}/api-tokens/{token_id}",
        tags,
        summary: "Revoke an API token at once (it stays listed, revoked)",
        protect: true,
      },
      successStatus: 204,
    })
    .input(z.object({ token_id: uuid }))
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await revokeApiToken(ctx.db, ctx.action, { orgId: ctx.org.id, id: input.token_id });
    }),
});
