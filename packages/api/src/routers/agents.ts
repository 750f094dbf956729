import {
  createAgent,
  createAgentKey,
  deleteAgent,
  findAgentOrgId,
  getAgent,
  listAgentKeys,
  listAgentOAuthGrants,
  listAgents,
  revokeAgentKey,
  revokeAgentOAuthGrant,
  updateAgent,
  type Agent,
} from "@mcp/core";
import { z } from "zod";
import {
  agent,
  agentKey,
  createAgentInput,
  createAgentKeyInput,
  createdAgentKey,
  listAgentsInput,
  mcpClientConfig,
  updateAgentInput,
} from "../contracts/agents";
import { pageInput, pageOf, policyRemovalInput, uuid } from "../contracts/common";
import { oauthGrant } from "../contracts/oauth";
import { orgProcedure, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["agents"];
const keyTags = ["agent keys"];
const oauthTags = ["agent OAuth clients"];
const agentProcedure = (minimum: "viewer" | "admin") =>
  resourceProcedure("Agent", minimum, findAgentOrgId);

function present(row: Agent, baseUrl: string) {
  const url = `${baseUrl}/mcp/${row.id}`;
  return toWire({ ...row, mcp_url: url, mcp_client_config: mcpClientConfig(row.name, url) });
}

export const agentsRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/agents",
        tags,
        summary: "List agents",
        protect: true,
      },
    })
    .input(listAgentsInput)
    .output(pageOf(agent))
    .query(async ({ ctx, input }) => {
      const page = await listAgents(ctx.db, { ...input, orgId: ctx.org.id });
      return {
        results: page.results.map((row) => present(row, ctx.baseUrl)),
        next_cursor: page.next_cursor,
      };
    }),

  create: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/agents",
        tags,
        summary: "Create an agent",
        protect: true,
      },
      successStatus: 201,
    })
    .input(createAgentInput)
    .output(agent)
    .mutation(async ({ ctx, input }) =>
      present(await createAgent(ctx.db, ctx.action, { ...input, orgId: ctx.org.id }), ctx.baseUrl),
    ),

  get: agentProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/agents/{id}",
        tags,
        summary: "Get an agent and its MCP endpoint",
        protect: true,
      },
    })
    .output(agent)
    .query(async ({ ctx, input }) =>
      present(await getAgent(ctx.db, { orgId: ctx.org.id, id: input.id }), ctx.baseUrl),
    ),

  update: agentProcedure("admin")
    .meta({
      openapi: {
        method: "PATCH",
        path: "/agents/{id}",
        tags,
        summary: "Update, disable or enable an agent",
        protect: true,
      },
    })
    .input(updateAgentInput)
    .output(agent)
    .mutation(async ({ ctx, input }) =>
      present(await updateAgent(ctx.db, ctx.action, { ...input, orgId: ctx.org.id }), ctx.baseUrl),
    ),

  delete: agentProcedure("admin")
    .meta({
      openapi: {
        method: "DELETE",
        path: "/agents/{id}",
        tags,
        summary: "Delete an agent and its keys",
        description:
          "Refused with 409 (listing them in `policies`) while policies name the agent, unless `confirm_policy_removal=true`: then they are deleted too, each audited.",
        protect: true,
      },
      successStatus: 204,
    })
    .input(policyRemovalInput)
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await deleteAgent(ctx.db, ctx.action, {
        orgId: ctx.org.id,
        id: input.id,
        confirmPolicyRemoval: input.confirm_policy_removal,
      });
    }),

  keys: router({
    list: agentProcedure("viewer")
      .meta({
        openapi: {
          method: "GET",
          path: "/agents/{id}/keys",
          tags: keyTags,
          summary: "List an agent's API keys (prefixes only)",
          protect: true,
        },
      })
      .input(pageInput)
      .output(pageOf(agentKey))
      .query(async ({ ctx, input }) =>
        toWire(await listAgentKeys(ctx.db, { ...input, orgId: ctx.org.id, agentId: input.id })),
      ),

    create: agentProcedure("admin")
      .meta({
        openapi: {
          method: "POST",
          path: "/agents/{id}/keys",
          tags: keyTags,
          summary: "Create an API key (shown once)",
          protect: true,
        },
        successStatus: 201,
      })
      .input(createAgentKeyInput)
      .output(createdAgentKey)
      .mutation(async ({ ctx, input }) =>
        toWire(
          await createAgentKey(ctx.db, ctx.action, {
            orgId: ctx.org.id,
            agentId: input.id,
            name: input.name,
          }),
        ),
      ),

    revoke: agentProcedure("admin")
      .meta({
        openapi: {
          method: "DELETE",
          path: "/agents/{id}/keys/{key_id}",
          tags: keyTags,
          summary: "Revoke an API key at once",
          protect: true,
        },
        successStatus: 204,
      })
      .input(z.object({ key_id: uuid }))
      .output(z.void())
      .mutation(async ({ ctx, input }) => {
        await revokeAgentKey(ctx.db, ctx.action, {
          orgId: ctx.org.id,
          agentId: input.id,
          keyId: input.key_id,
        });
      }),
  }),

  oauthClients: router({
    list: agentProcedure("viewer")
      .meta({
        openapi: {
          method: "GET",
          path: "/agents/{id}/oauth-clients",
          tags: oauthTags,
          summary: "List the OAuth clients authorized to act as this agent, and who approved each",
          protect: true,
        },
      })
      .input(pageInput)
      .output(pageOf(oauthGrant))
      .query(async ({ ctx, input }) =>
        toWire(
          await listAgentOAuthGrants(ctx.db, { ...input, orgId: ctx.org.id, agentId: input.id }),
        ),
      ),

    revoke: agentProcedure("admin")
      .meta({
        openapi: {
          method: "DELETE",
          path: "/agents/{id}/oauth-clients/{grant_id}",
          tags: oauthTags,
          summary: "Revoke an OAuth client's access to this agent (its tokens stop at once)",
          protect: true,
        },
        successStatus: 204,
        leavesGovernance: true,
      })
      .input(z.object({ grant_id: uuid }))
      .output(z.void())
      .mutation(async ({ ctx, input }) => {
        await revokeAgentOAuthGrant(ctx.db, ctx.action, {
          orgId: ctx.org.id,
          agentId: input.id,
          grantId: input.grant_id,
        });
      }),
  }),
});
