import {
  findRunOrgId,
  getRun,
  listAuditEvents,
  listRuns,
  runStats,
  verifyAuditChain,
} from "@mcp/core";
import { pageOf } from "../contracts/common";
import {
  auditChainReport,
  auditEvent,
  listAuditEventsInput,
  listRunsInput,
  run,
  runStats as runStatsOutput,
  runStatsInput,
} from "../contracts/runs";
import { orgProcedure, resourceProcedure, router } from "../trpc";
import { toWire } from "../wire";

const optionalDate = (value: string | undefined) =>
  value === undefined ? undefined : new Date(value);

export const runsRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/runs",
        tags: ["runs"],
        summary: "List runs, newest first",
        protect: true,
      },
    })
    .input(listRunsInput)
    .output(pageOf(run))
    .query(async ({ ctx, input }) =>
      toWire(
        await listRuns(ctx.db, {
          ...input,
          orgId: ctx.org.id,
          since: optionalDate(input.since),
          until: optionalDate(input.until),
        }),
      ),
    ),

  stats: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/runs/stats",
        tags: ["runs"],
        summary:
          "Aggregates for the dashboard: runs over time, latency and error rate per tool and agent",
        protect: true,
      },
    })
    .input(runStatsInput)
    .output(runStatsOutput)
    .query(async ({ ctx, input }) =>
      toWire(
        await runStats(ctx.db, {
          orgId: ctx.org.id,
          since: optionalDate(input.since),
          until: optionalDate(input.until),
          bucket: input.bucket,
        }),
      ),
    ),

  get: resourceProcedure("Run", "viewer", findRunOrgId)
    .meta({
      openapi: {
        method: "GET",
        path: "/runs/{id}",
        tags: ["runs"],
        summary: "Get a run",
        protect: true,
      },
    })
    .output(run)
    .query(async ({ ctx, input }) =>
      toWire(await getRun(ctx.db, { orgId: ctx.org.id, id: input.id })),
    ),
});

export const auditRouter = router({
  list: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/audit-events",
        tags: ["audit"],
        summary: "The organization's audit trail, newest first (read-only)",
        protect: true,
      },
    })
    .input(listAuditEventsInput)
    .output(pageOf(auditEvent))
    .query(async ({ ctx, input }) =>
      toWire(
        await listAuditEvents(ctx.db, {
          ...input,
          orgId: ctx.org.id,
          since: optionalDate(input.since),
        }),
      ),
    ),
  verify: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/audit-events/verify",
        tags: ["audit"],
        summary:
          "Checks the organization's audit hash chain and names the first broken link (a changed, removed or reordered event)",
        protect: true,
      },
    })
    .output(auditChainReport)
    .query(({ ctx }) => verifyAuditChain(ctx.db, ctx.org.id)),
});
