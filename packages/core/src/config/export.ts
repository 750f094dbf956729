import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import {
  agents,
  connections,
  environments,
  memberships,
  orgs,
  policies,
  tools,
  users,
} from "../db/schema";
import { AppError } from "../errors";
import { isUuid } from "../lib/ids";
import { storedOAuthClientSecret } from "../connections/oauth";
import { definitionHash, pinnedDefinition } from "../tools/definitions";
import type { McpRuntime } from "../runtime";
import {
  CONFIG_API_VERSION,
  CONFIG_KIND,
  type ConfigConnection,
  type ConfigDocument,
  type ConfigPolicy,
  type ConfigTool,
  type SecretRef,
} from "./document";

/*
 * Export reads the org's rows directly (reads only, all filtered by org) and names everything by
 * name. Lists are sorted by name and every object's keys are written in one fixed order, so the
 * same configuration always exports byte for byte the same document.
 */

/** Secret names the export invents: `<connection slug>.<kind>.<key>`, in the characters refs allow. */
export function secretName(...parts: string[]): SecretRef {
  return { name: parts.map((part) => part.replace(/[^A-Za-z0-9._-]/g, "-")).join(".") };
}

const byName = <T extends { name: string }>(a: T, b: T) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

export async function exportOrgConfig(
  db: Db,
  runtime: Pick<McpRuntime, "secrets">,
  input: { orgId: string },
): Promise<ConfigDocument> {
  const [org] = await db.select().from(orgs).where(eq(orgs.id, input.orgId));
  if (!org) throw AppError.notFound("Organization");
  const [environmentRows, connectionRows, toolRows, agentRows, policyRows, memberRows] =
    await Promise.all([
      db.select().from(environments).where(eq(environments.org_id, input.orgId)),
      db.select().from(connections).where(eq(connections.org_id, input.orgId)),
      db
        .select()
        .from(tools)
        .where(eq(tools.org_id, input.orgId))
        .orderBy(asc(tools.upstream_name)),
      db.select().from(agents).where(eq(agents.org_id, input.orgId)),
      db.select().from(policies).where(eq(policies.org_id, input.orgId)),
      // Only members: a policy's user is one (removing them removes the policy).
      db
        .select({ id: users.id, email: users.email })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.user_id))
        .where(eq(memberships.org_id, input.orgId)),
    ]);
  const memberEmail = new Map(memberRows.map((row) => [row.id, row.email]));
  const environmentName = new Map(environmentRows.map((row) => [row.id, row.name]));
  const agentName = new Map(agentRows.map((row) => [row.id, row.name]));
  const connectionName = new Map(connectionRows.map((row) => [row.id, row.name]));
  const toolById = new Map(toolRows.map((row) => [row.id, row]));

  const exportedConnections = connectionRows.sort(byName).map((row): ConfigConnection => {
    const keys = row.secret_keys ?? { headers: [], env: [] };
    const secrets: ConfigConnection["secrets"] = {};
    if (keys.headers.length > 0)
      secrets.headers = Object.fromEntries(
        [...keys.headers].sort().map((key) => [key, secretName(row.slug, "header", key)]),
      );
    if (keys.env.length > 0)
      secrets.env = Object.fromEntries(
        [...keys.env].sort().map((key) => [key, secretName(row.slug, "env", key)]),
      );
    const manualClient = row.oauth_client_registration === "manual" ? row.oauth_client_id : null;
    const clientSecret = manualClient ? storedOAuthClientSecret(runtime, row) : null;
    const connectionTools = toolRows
      .filter((tool) => tool.connection_id === row.id && !tool.stale && tool.source === "synced")
      .map((tool): ConfigTool => {
        const entry: ConfigTool = {
          upstream_name: tool.upstream_name,
          name: tool.name,
          enabled: tool.enabled,
        };
        if (tool.title_override !== null) entry.title = tool.title_override;
        if (tool.description_override !== null) entry.description = tool.description_override;
        // A tool quarantined as new has never been approved.
        if (tool.quarantine !== "new")
          entry.approved_hash = tool.definition_hash ?? definitionHash(pinnedDefinition(tool));
        return entry;
      });
    return {
      name: row.name,
      slug: row.slug,
      description: row.description,
      ...(row.environment_id ? { environment: environmentName.get(row.environment_id) } : {}),
      transport: row.transport,
      ...(row.url !== null ? { url: row.url } : {}),
      ...(row.stdio_server !== null ? { stdio_server: row.stdio_server } : {}),
      headers: sortedRecord(row.headers),
      ...(secrets.headers || secrets.env ? { secrets } : {}),
      auth: row.auth,
      ...(row.auth === "oauth" && row.oauth_credential_mode
        ? {
            oauth: {
              credential_mode: row.oauth_credential_mode,
              ...(manualClient ? { client_id: manualClient } : {}),
              ...(clientSecret !== null
                ? { client_secret: secretName(row.slug, "oauth", "client_secret") }
                : {}),
              ...(row.oauth_scope !== null ? { scope: row.oauth_scope } : {}),
            },
          }
        : {}),
      timeout_ms: row.timeout_ms,
      allow_sampling: row.allow_sampling,
      allow_elicitation: row.allow_elicitation,
      allow_tasks: row.allow_tasks,
      ...(row.sync_interval_minutes !== null
        ? { sync_interval_minutes: row.sync_interval_minutes }
        : {}),
      tools: connectionTools,
    };
  });

  const exportedPolicies = policyRows.sort(byName).map((row): ConfigPolicy => {
    // A pattern that is the id of one of the org's tools names that tool instead.
    const tool = isUuid(row.tool_pattern) ? toolById.get(row.tool_pattern) : undefined;
    const toolConnection = tool ? connectionName.get(tool.connection_id) : undefined;
    return {
      name: row.name,
      description: row.description,
      effect: row.effect,
      subject: row.subject,
      ...(row.agent_id ? { agent: agentName.get(row.agent_id) } : {}),
      ...(row.user_id ? { user: memberEmail.get(row.user_id) } : {}),
      ...(row.min_role ? { min_role: row.min_role } : {}),
      target: row.target,
      ...(tool && toolConnection
        ? { tool: { connection: toolConnection, upstream_name: tool.upstream_name } }
        : { tool_pattern: row.tool_pattern }),
      ...(row.environment_id ? { environment: environmentName.get(row.environment_id) } : {}),
      ...(row.input_schema !== null ? { input_schema: row.input_schema } : {}),
      ...(row.rate_limit !== null
        ? {
            rate_limit: {
              max_calls: row.rate_limit.max_calls,
              per_seconds: row.rate_limit.per_seconds,
            },
          }
        : {}),
      ...(row.pre_call_hook !== null ? { pre_call_hook: hookOf(row.pre_call_hook) } : {}),
      ...(row.post_call_hook !== null ? { post_call_hook: hookOf(row.post_call_hook) } : {}),
      redact_patterns: [...row.redact_patterns],
      ...(row.approver_role !== null ? { approver_role: row.approver_role } : {}),
      ...(row.approval_timeout_seconds !== null
        ? { approval_timeout_seconds: row.approval_timeout_seconds }
        : {}),
      enabled: row.enabled,
    };
  });

  return {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    settings: {
      quarantine_new_tools: org.quarantine_new_tools,
      // Viewers cannot approve; the API refuses setting it, so the column never holds it.
      oauth_approver_role:
        org.oauth_approver_role === "viewer" ? "member" : org.oauth_approver_role,
      email_approvers: org.email_approvers,
    },
    environments: environmentRows.sort(byName).map((row) => ({
      name: row.name,
      slug: row.slug,
      description: row.description,
    })),
    connections: exportedConnections,
    agents: agentRows.sort(byName).map((row) => ({
      name: row.name,
      description: row.description,
      ...(row.environment_id ? { environment: environmentName.get(row.environment_id) } : {}),
      status: row.status,
    })),
    policies: exportedPolicies,
  };
}

function hookOf(hook: NonNullable<ConfigPolicy["pre_call_hook"]>) {
  return { url: hook.url, timeout_ms: hook.timeout_ms, fail_mode: hook.fail_mode };
}
