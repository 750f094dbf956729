import {
  createEnvironment,
  deleteEnvironment,
  findEnvironmentOrgId,
  getEnvironment,
  listEnvironments,
  updateEnvironment,
} from "@mcp/core";
import { z } from "zod";
import { pageInput, pageOf, policyRemovalInput } from "../contracts/common";
import { createEnvironmentInput, environment, updateEnvironmentInput } from "../contracts/orgs";
import { orgProcedure, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["environments"];
const environmentProcedure = (minimum: "viewer" | "admin") =>
  resourceProcedure("Environment", minimum, findEnvironmentOrgId);

export const environmentsRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/environments",
        tags,
        summary: "List environments",
        protect: true,
      },
    })
    .input(pageInput)
    .output(pageOf(environment))
    .query(async ({ ctx, input }) =>
      toWire(await listEnvironments(ctx.db, { ...input, orgId: ctx.org.id })),
    ),

  create: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/environments",
        tags,
        summary: "Create an environment",
        protect: true,
      },
      successStatus: 201,
    })
    .input(createEnvironmentInput)
    .output(environment)
    .mutation(async ({ ctx, input }) =>
      toWire(await createEnvironment(ctx.db, ctx.action, { ...input, orgId: ctx.org.id })),
    ),

  get: environmentProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/environments/{id}",
        tags,
        summary: "Get an environment",
        protect: true,
      },
    })
    .output(environment)
    .query(async ({ ctx, input }) =>
      toWire(await getEnvironment(ctx.db, { orgId: ctx.org.id, id: input.id })),
    ),

  update: environmentProcedure("admin")
    .meta({
      openapi: {
        method: "PATCH",
        path: "/environments/{id}",
        tags,
        summary: "Update an environment",
        protect: true,
      },
    })
    .input(updateEnvironmentInput)
    .output(environment)
    .mutation(async ({ ctx, input }) =>
      toWire(await updateEnvironment(ctx.db, ctx.action, { ...input, orgId: ctx.org.id })),
    ),

  delete: environmentProcedure("admin")
    .meta({
      openapi: {
        method: "DELETE",
        path: "/environments/{id}",
        tags,
        summary: "Delete an environment",
        description:
          "Refused with 409 (listing them in `policies`) while policies are scoped to the environment, unless `confirm_policy_removal=true`: then they are deleted too, each audited.",
        protect: true,
      },
      successStatus: 204,
    })
    .input(policyRemovalInput)
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await deleteEnvironment(ctx.db, ctx.action, {
        orgId: ctx.org.id,
        id: input.id,
        confirmPolicyRemoval: input.confirm_policy_removal,
      });
    }),
});
