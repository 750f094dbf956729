import {
  AppError,
  approveToolDefinition,
  createTool,
  deleteTool,
  findToolOrgId,
  getTool,
  listToolDefinitions,
  listTools,
  rejectToolDefinition,
  roleAtLeast,
  runTool,
  toolAccess,
  toolView,
  updateTool,
} from "@mcp/core";
import { z } from "zod";
import { pageInput, pageOf } from "../contracts/common";
import { run } from "../contracts/runs";
import {
  createToolInput,
  listToolsInput,
  reviewToolInput,
  runToolInput,
  tool,
  toolAccess as toolAccessOutput,
  toolDefinitionHistory,
  updateToolInput,
} from "../contracts/tools";
import { agentOrMemberResourceProcedure, orgProcedure, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";

const tags = ["tools"];
const toolProcedure = (minimum: "viewer" | "admin") =>
  resourceProcedure("Tool", minimum, findToolOrgId);

export const toolsRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/tools",
        tags,
        summary: "List tools in the registry",
        protect: true,
      },
    })
    .input(listToolsInput)
    .output(pageOf(tool))
    .query(async ({ ctx, input }) => {
      const page = await listTools(ctx.db, { ...input, orgId: ctx.org.id });
      return toWire({ ...page, results: page.results.map(toolView) });
    }),

  create: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/tools",
        tags,
        summary: "Register a tool by hand",
        protect: true,
      },
      successStatus: 201,
    })
    .input(createToolInput)
    .output(tool)
    .mutation(async ({ ctx, input }) =>
      toWire(toolView(await createTool(ctx.db, ctx.action, { ...input, orgId: ctx.org.id }))),
    ),

  get: toolProcedure("viewer")
    .meta({
      openapi: { method: "GET", path: "/tools/{id}", tags, summary: "Get a tool", protect: true },
    })
    .output(tool)
    .query(async ({ ctx, input }) =>
      toWire(toolView(await getTool(ctx.db, { orgId: ctx.org.id, id: input.id }))),
    ),

  update: toolProcedure("admin")
    .meta({
      openapi: {
        method: "PATCH",
        path: "/tools/{id}",
        tags,
        summary: "Rename, enable or disable a tool, or override its title and description",
        protect: true,
      },
    })
    .input(updateToolInput)
    .output(tool)
    .mutation(async ({ ctx, input }) =>
      toWire(toolView(await updateTool(ctx.db, ctx.action, { ...input, orgId: ctx.org.id }))),
    ),

  definitions: toolProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/tools/{id}/definitions",
        tags,
        summary: "The definitions a tool has had approved, newest first",
        description:
          "Each definition the tool's pinned definition has been, with how and by whom it was approved (`source`, `actor_type`, `actor_id`), paged newest first. `pending` is the definition under review, if any, ahead of them.",
        protect: true,
      },
    })
    .input(pageInput)
    .output(toolDefinitionHistory)
    .query(async ({ ctx, input }) =>
      toWire(await listToolDefinitions(ctx.db, { ...input, orgId: ctx.org.id, toolId: input.id })),
    ),

  access: toolProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/tools/{id}/access",
        tags,
        summary: "Who may call a tool: the policy decision for each agent, and for people by role",
        description:
          "One page of the organization's agents (in id order) with the decision the policy engine makes for each calling this tool, in the environment the call would run in, and the deciding policy. A decision that an input schema could change is flagged `input_dependent` (it is made for an input every such schema accepts). `people` gives the decision for members and API tokens by role, and the user, role and everyone policies that cover the tool. Policies only: while the tool is disabled, stale or quarantined every call is refused whatever they decide.",
        protect: true,
      },
    })
    .input(pageInput)
    .output(toolAccessOutput)
    .query(async ({ ctx, input }) =>
      toWire(await toolAccess(ctx.db, { ...input, orgId: ctx.org.id, toolId: input.id })),
    ),

  approveDefinition: toolProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/tools/{id}/approve",
        tags,
        summary: "Approve the definition under review",
        description:
          "The pending definition (or a new tool's first one) becomes the pinned definition and the tool leaves quarantine. `hash` must be the hash of the definition reviewed: 409 when the server changed it since, or when nothing is under review. The admin's title and description overrides stay. Audited as `tool.definition_approve`.",
        protect: true,
      },
    })
    .input(reviewToolInput)
    .output(tool)
    .mutation(async ({ ctx, input }) =>
      toWire(
        toolView(
          await approveToolDefinition(ctx.db, ctx.action, {
            orgId: ctx.org.id,
            id: input.id,
            hash: input.hash,
          }),
        ),
      ),
    ),

  rejectDefinition: toolProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/tools/{id}/reject",
        tags,
        summary: "Reject the definition under review",
        description:
          "A changed tool keeps its approved definition and stays quarantined (`rejected`) until its server restores that definition or the change is approved after all; a new tool is disabled and leaves quarantine. `hash` as for approve (409 on a mismatch). Audited as `tool.definition_reject`.",
        protect: true,
      },
    })
    .input(reviewToolInput)
    .output(tool)
    .mutation(async ({ ctx, input }) =>
      toWire(
        toolView(
          await rejectToolDefinition(ctx.db, ctx.action, {
            orgId: ctx.org.id,
            id: input.id,
            hash: input.hash,
          }),
        ),
      ),
    ),

  delete: toolProcedure("admin")
    .meta({
      openapi: {
        method: "DELETE",
        path: "/tools/{id}",
        tags,
        summary: "Remove a tool from the registry",
        protect: true,
      },
      successStatus: 204,
    })
    .output(z.void())
    .mutation(async ({ ctx, input }) => {
      await deleteTool(ctx.db, ctx.action, { orgId: ctx.org.id, id: input.id });
    }),

  run: agentOrMemberResourceProcedure("Tool", findToolOrgId)
    .meta({
      openapi: {
        method: "POST",
        path: "/tools/{id}/run",
        tags: ["runs"],
        summary: "Run a tool through the governed path",
        description:
          "Policy → rate limit → input validation → call. A denied, invalid or failed call is still recorded and returned with 201; its status and error say why. A call a require_approval policy holds is answered 202 at once with its run in status `awaiting_approval`: poll `GET /runs/{id}` (once approved it runs on a server and ends like any run; denied or expired, it ends as `denied` with the reason; `GET /orgs/{org_id}/approvals?run_id=` shows its approval). A call over a policy's rate limit is recorded with status `rate_limited` and answered 429 with `Retry-After` and the run's id (`run_id`). Members run tools with a user token: policies whose subject is that user, a role they hold, or everyone decide (an API token counts by its role). `agent_id` (running as that agent, with its policies and quota) needs the admin role. An agent key (Bearer mcpa_…) runs them as its agent, under agent and everyone policies.",
        protect: true,
      },
      successStatus: 201,
      leavesGovernance: true,
    })
    .input(runToolInput)
    .output(run)
    .mutation(async ({ ctx, input, signal }) => {
      if (ctx.agent && input.agent_id && input.agent_id !== ctx.agent.id) {
        throw AppError.invalidField("agent_id", "An agent key always runs as its own agent");
      }
      // Running as an agent uses its allow policies and its quota: that is an admin's decision.
      if (!ctx.agent && input.agent_id && !roleAtLeast(ctx.org.role, "admin")) {
        throw AppError.forbidden(
          `Running a tool as an agent (agent_id) needs the admin role or higher; yours is ${ctx.org.role}`,
        );
      }
      const outcome = await runTool(ctx.db, ctx.runtime, ctx.action, {
        orgId: ctx.org.id,
        tool: { id: input.id },
        agent: ctx.agent ?? input.agent_id ?? null,
        // A person's own call: user and role policies decide it (an API token counts by its role).
        person: {
          user_id: ctx.runner.type === "user" ? ctx.runner.id : null,
          role: ctx.org.role,
        },
        input: input.input,
        trigger: { ...ctx.runner, surface: ctx.surface },
        ...(signal ? { signal } : {}),
      });
      if (outcome.run.status === "awaiting_approval") ctx.response.status = 202;
      if (outcome.run.status === "rate_limited") {
        throw AppError.rateLimited(
          outcome.run.error ?? "Rate limited",
          outcome.retryAfterSeconds ?? 1,
          { runId: outcome.run.id },
        );
      }
      return toWire(outcome.run);
    }),
});
