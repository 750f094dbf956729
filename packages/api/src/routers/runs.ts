import {
  createAuditWebhook,
  deleteAuditWebhook,
  findRunOrgId,
  getAuditWebhook,
  rotateAuditWebhookSecret,
  updateAuditWebhook,
  getRun,
  listAuditActions,
  listAuditEvents,
  listRuns,
  runStats,
  verifyAuditChain,
} from "@mcp/core";
import { z } from "zod";
import { pageOf } from "../contracts/common";
import {
  auditActions,
  auditChainReport,
  auditEvent,
  auditWebhook,
  auditWebhookWithSecret,
  createAuditWebhookInput,
  listAuditEventsInput,
  listRunsInput,
  run,
  runStats as runStatsOutput,
  runStatsInput,
  updateAuditWebhookInput,
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
          toolId: input.tool_id,
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

const webhookTags = ["audit"];
const WEBHOOK_DESCRIPTION = [
  "Events written from now on are POSTed as JSON `{ org_id, events: [...] }` (each event with its",
  "chain_seq, prev_hash and hash), in chain order, in batches, at least once: a batch is retried",
  "with exponential backoff until the receiver answers 2xx; after a server crash a batch may",
  "arrive twice (deduplicate by event id). Each request is signed: `X-Audit-Webhook-Signature:",
  "v1=<hex HMAC-SHA256 of '<X-Audit-Webhook-Timestamp>.<raw body>' keyed with the secret>`. The",
  "URL is checked against the server's outbound rules (private networks blocked in production).",
].join(" ");

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
  actions: orgProcedure("viewer")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/audit-events/actions",
        tags: ["audit"],
        summary: "The actions the organization's audit trail holds, for filtering by action",
        protect: true,
      },
    })
    .output(auditActions)
    .query(async ({ ctx }) => ({ actions: await listAuditActions(ctx.db, { orgId: ctx.org.id }) })),
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

  webhook: orgProcedure("admin")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/audit-webhook",
        tags: webhookTags,
        summary: "The organization's audit webhook and its delivery status (null when none)",
        protect: true,
      },
    })
    .output(auditWebhook.nullable())
    .query(async ({ ctx }) => toWire(await getAuditWebhook(ctx.db, { orgId: ctx.org.id }))),

  createWebhook: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/audit-webhook",
        tags: webhookTags,
        summary: "Stream the organization's new audit events to a webhook",
        description: WEBHOOK_DESCRIPTION,
        protect: true,
      },
      successStatus: 201,
    })
    .input(createAuditWebhookInput)
    .output(auditWebhookWithSecret)
    .mutation(async ({ ctx, input }) =>
      toWire(
        await createAuditWebhook(ctx.db, ctx.runtime, ctx.action, { ...input, orgId: ctx.org.id }),
      ),
    ),

  updateWebhook: orgProcedure("admin")
    .meta({
      openapi: {
        method: "PATCH",
        path: "/orgs/{org_id}/audit-webhook",
        tags: webhookTags,
        summary: "Change the audit webhook's URL or pause and resume it",
        description: "A changed or re-enabled webhook is tried at once, from where it stopped.",
        protect: true,
      },
    })
    .input(updateAuditWebhookInput)
    .output(auditWebhook)
    .mutation(async ({ ctx, input }) =>
      toWire(
        await updateAuditWebhook(ctx.db, ctx.runtime, ctx.action, { ...input, orgId: ctx.org.id }),
      ),
    ),

  rotateWebhookSecret: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/audit-webhook/rotate-secret",
        tags: webhookTags,
        summary: "Replace the audit webhook's signing secret (the new one is shown once)",
        protect: true,
      },
    })
    .output(auditWebhookWithSecret)
    .mutation(async ({ ctx }) =>
      toWire(
        await rotateAuditWebhookSecret(ctx.db, ctx.runtime, ctx.action, { orgId: ctx.org.id }),
      ),
    ),

  deleteWebhook: orgProcedure("admin")
    .meta({
      openapi: {
        method: "DELETE",
        path: "/orgs/{org_id}/audit-webhook",
        tags: webhookTags,
        summary: "Stop streaming audit events and forget the webhook",
        protect: true,
      },
      successStatus: 204,
    })
    .output(z.void())
    .mutation(async ({ ctx }) => {
      await deleteAuditWebhook(ctx.db, ctx.action, { orgId: ctx.org.id });
    }),
});
