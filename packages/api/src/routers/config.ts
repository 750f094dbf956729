import {
  AppError,
  applyOrgConfig,
  exportOrgConfig,
  formatPath,
  parseConfigYaml,
  renderConfigYaml,
} from "@mcp/core";
import {
  applyConfigInput,
  configApplyResult,
  configDocument,
  configExport,
} from "../contracts/config";
import { orgProcedure, router } from "../trpc";

const tags = ["config"];

/** The YAML text as a checked document; refusals name the document's path (`policies[3].effect`). */
async function readDocument(text: string) {
  const parsed = configDocument.safeParse(await parseConfigYaml(text));
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.map((part) => (typeof part === "symbol" ? String(part) : part)),
    message: issue.message,
  }));
  const summary = issues
    .slice(0, 3)
    .map((issue) => `${formatPath(issue.path)}: ${issue.message}`)
    .join("; ");
  throw AppError.badRequest(`Invalid configuration: ${summary}`, issues);
}

export const configRouter = router({
  exportDocument: orgProcedure("admin")
    .meta({
      openapi: {
        method: "GET",
        path: "/orgs/{org_id}/config",
        tags,
        summary: "Export the organization's configuration as YAML",
        description:
          "Settings, environments, connections (with their tools' names, overrides and approved definition hashes), agents and policies, everything named by name. Secret values are never exported: each secret is a reference `{ name }`, and agent keys, API tokens, OAuth tokens and hook signing secrets are left out. Sorted, so an unchanged configuration exports the same text.",
        protect: true,
      },
    })
    .output(configExport)
    .query(async ({ ctx }) => ({
      document: await renderConfigYaml(
        await exportOrgConfig(ctx.db, ctx.runtime, { orgId: ctx.org.id }),
      ),
    })),

  applyDocument: orgProcedure("admin")
    .meta({
      openapi: {
        method: "POST",
        path: "/orgs/{org_id}/config/apply",
        tags,
        summary: "Apply a configuration document (or preview it with dry_run)",
        description:
          "Validates the whole document first (errors name its path, e.g. `policies[3].tool_pattern`), then creates and updates what differs through the same checks and audit events as the API, in one transaction; `dry_run` reports the same and keeps nothing. Applying the same document again changes nothing. Connections whose tools the document names but the registry lacks are synced after the commit, and those tools' overrides and approvals applied then; what could not be is listed in `not_applied`. Resources the document does not list are deleted only with `prune`.",
        protect: true,
      },
    })
    .input(applyConfigInput)
    .output(configApplyResult)
    .mutation(async ({ ctx, input }) =>
      applyOrgConfig(ctx.db, ctx.runtime, ctx.action, {
        orgId: ctx.org.id,
        document: await readDocument(input.document),
        secrets: input.secrets,
        dryRun: input.dry_run,
        prune: input.prune,
      }),
    ),
});
