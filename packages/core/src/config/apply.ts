import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import {
  agents,
  connections,
  environments,
  memberships,
  policies,
  tools,
  users,
  type GuardrailHook,
} from "../db/schema";
import { AppError, type FieldIssue } from "../errors";
import type { ActionContext } from "../lib/context";
import { slugify } from "../lib/slug";
import { createAgent, deleteAgent, updateAgent } from "../agents/agents";
import {
  createConnection,
  deleteConnection,
  destinationOf,
  storedConnectionSecret,
  updateConnection,
  type Connection,
  type ConnectionFields,
  type ConnectionOAuthFields,
  type ConnectionSecret,
} from "../connections/connections";
import { storedOAuthClientSecret } from "../connections/oauth";
import {
  createEnvironment,
  deleteEnvironment,
  updateEnvironment,
} from "../environments/environments";
import { getOrg, updateOrg } from "../orgs/orgs";
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS, DEFAULT_APPROVER_ROLE } from "../policies/evaluate";
import { createPolicy, deletePolicy, updatePolicy, type PolicyFields } from "../policies/policies";
import { resolvePolicySubject } from "../policies/subjects";
import { definitionHash, pinnedDefinition } from "../tools/definitions";
import { approveToolDefinition, syncConnection } from "../tools/sync";
import { updateTool, type Tool } from "../tools/tools";
import type { McpRuntime } from "../runtime";
import type {
  ConfigConnection,
  ConfigDocument,
  ConfigPolicy,
  ConfigTool,
  SecretRef,
} from "./document";

/*
 * Applying a configuration document: validate it whole, then bring the org to it through the same
 * services the API uses (so every change is checked and audited exactly like the equivalent call),
 * in one transaction. A dry run does the same and rolls the transaction back, so it reports
 * precisely what an apply would do, errors included. Connections are synced (a real MCP exchange)
 * after the commit, when the document names tools the registry does not have yet; those tools'
 * settings, and policies naming them, are applied after the sync.
 */

export type ConfigResource =
  "settings" | "environment" | "connection" | "tool" | "agent" | "policy";

export interface ConfigChange {
  resource: ConfigResource;
  name: string;
  action: "create" | "update" | "delete";
  /** The fields that change (for updates); secret values are named, never shown. */
  fields: string[];
}

export interface ConfigNotApplied {
  /** Where in the document, e.g. `connections[0].tools[2].approved_hash`. */
  path: string;
  reason: string;
}

export interface ConfigApplyResult {
  dry_run: boolean;
  changes: ConfigChange[];
  /** What could not be applied (yet), and why; empty when the org now matches the document. */
  not_applied: ConfigNotApplied[];
  /** Signing secrets made for created policies' hooks: shown once, as when creating a policy. */
  hook_secrets: { policy: string; hook_secret: string }[];
}

type Path = (string | number)[];

/** `policies[3].tool_pattern` */
export function formatPath(path: Path): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : index === 0 ? part : `.${part}`,
    )
    .join("");
}

/** Service field names that the document spells otherwise. */
const DOCUMENT_FIELDS: Record<string, string> = {
  environment_id: "environment",
  agent_id: "agent",
  secret: "secrets",
  user_id: "user",
  min_role: "min_role",
};

/**
 * Runs a service call for the document entry at `path`: its refusals name the document's path
 * (`connections[1].url`) instead of the API field.
 */
async function at<T>(path: Path, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof AppError) || !["BAD_REQUEST", "CONFLICT"].includes(error.code))
      throw error;
    const issues: FieldIssue[] = (error.issues ?? [{ path: [], message: error.message }]).map(
      (issue) => {
        const [first, ...rest] = issue.path;
        const renamed = typeof first === "string" ? (DOCUMENT_FIELDS[first] ?? first) : first;
        return {
          path: [...path, ...(renamed === undefined ? [] : [renamed]), ...rest],
          message: issue.message,
        };
      },
    );
    throw new AppError(error.code, `${formatPath(issues[0]?.path ?? path)}: ${error.message}`, {
      issues,
      ...(error.policies ? { policies: error.policies } : {}),
    });
  }
}

function invalid(path: Path, message: string): AppError {
  return new AppError("BAD_REQUEST", `${formatPath(path)}: ${message}`, {
    issues: [{ path, message }],
  });
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const sorted = (record: Record<string, string>) =>
    JSON.stringify(Object.entries(record).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return sorted(a) === sorted(b);
}

function hookKey(hook: GuardrailHook | null | undefined): string | null {
  if (!hook) return null;
  let url = hook.url;
  try {
    url = new URL(hook.url).href;
  } catch {
    // The service refuses it with the field named.
  }
  return JSON.stringify([url, hook.timeout_ms, hook.fail_mode]);
}

/** Every secret reference in the document, with its path. */
function secretRefs(document: ConfigDocument): { ref: SecretRef; path: Path }[] {
  const refs: { ref: SecretRef; path: Path }[] = [];
  document.connections.forEach((connection, index) => {
    for (const kind of ["headers", "env"] as const)
      for (const [key, ref] of Object.entries(connection.secrets?.[kind] ?? {}))
        refs.push({ ref, path: ["connections", index, "secrets", kind, key] });
    if (connection.oauth?.client_secret)
      refs.push({
        ref: connection.oauth.client_secret,
        path: ["connections", index, "oauth", "client_secret"],
      });
  });
  return refs;
}

function assertUnique<T>(items: T[], list: string | Path, key: (item: T) => string, field: string) {
  const prefix = typeof list === "string" ? [list] : list;
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const value = key(item);
    const first = seen.get(value);
    if (first !== undefined)
      throw invalid(
        [...prefix, index, field],
        `"${value}" is already used by ${formatPath([...prefix, first])}`,
      );
    seen.set(value, index);
  });
}

/** What the schema cannot see: duplicates, and secrets given that nothing references. */
function validateDocument(document: ConfigDocument, secrets: Record<string, string>): void {
  assertUnique(document.environments, "environments", (item) => item.name, "name");
  assertUnique(
    document.environments,
    "environments",
    (item) => item.slug ?? slugify(item.name),
    "slug",
  );
  assertUnique(document.connections, "connections", (item) => item.name, "name");
  assertUnique(
    document.connections,
    "connections",
    (item) => item.slug ?? slugify(item.name),
    "slug",
  );
  document.connections.forEach((connection, index) => {
    assertUnique(
      connection.tools,
      ["connections", index, "tools"],
      (tool) => tool.upstream_name,
      "upstream_name",
    );
  });
  assertUnique(document.agents, "agents", (item) => item.name, "name");
  assertUnique(document.policies, "policies", (item) => item.name, "name");
  const referenced = new Set(secretRefs(document).map(({ ref }) => ref.name));
  for (const name of Object.keys(secrets))
    if (!referenced.has(name))
      throw invalid(["secrets", name], "No secret reference in the document has this name");
}

/** Thrown to roll back a dry run's transaction with what it would have done. */
class DryRun extends Error {
  constructor(readonly result: ConfigApplyResult) {
    super("dry run");
  }
}

interface PolicyReferences {
  agent_id: string | null;
  user_id: string | null;
  environment_id: string | null;
}

interface PendingTool {
  connectionName: string;
  tool: ConfigTool;
  path: Path;
}

interface ApplyState {
  orgId: string;
  runtime: McpRuntime;
  context: ActionContext;
  document: ConfigDocument;
  secrets: Record<string, string>;
  prune: boolean;
  result: ConfigApplyResult;
  environmentIds: Map<string, string>;
  agentIds: Map<string, string>;
  connectionIds: Map<string, string>;
  /** Tools of connections the registry does not have yet, applied after their sync. */
  pendingTools: Map<string, PendingTool[]>;
  /** Policies naming a tool the registry does not have yet, applied after the syncs. */
  pendingPolicies: { policy: ConfigPolicy; index: number; references: PolicyReferences }[];
}

/** A name the document uses for another entry: one of the document's, or (without prune) the org's. */
function resolve(
  ids: Map<string, string>,
  inDocument: Set<string>,
  prune: boolean,
  name: string | null | undefined,
  path: Path,
  what: string,
): string | null {
  if (name === null || name === undefined) return null;
  const id = ids.get(name);
  if (id === undefined || (prune && !inDocument.has(name)))
    throw invalid(
      path,
      prune
        ? `No ${what} named "${name}" in the document (with prune, every ${what} it names must be in it)`
        : `No ${what} named "${name}" in the document or the organization`,
    );
  return id;
}

export async function applyOrgConfig(
  db: Db,
  runtime: McpRuntime,
  context: ActionContext,
  input: {
    orgId: string;
    document: ConfigDocument;
    secrets?: Record<string, string> | undefined;
    dryRun?: boolean | undefined;
    prune?: boolean | undefined;
  },
): Promise<ConfigApplyResult> {
  const secrets = input.secrets ?? {};
  validateDocument(input.document, secrets);
  const dryRun = input.dryRun === true;
  let state: ApplyState;
  try {
    state = await db.transaction(async (tx) => {
      const applied = await applyInTransaction(tx, {
        orgId: input.orgId,
        runtime,
        context,
        document: input.document,
        secrets,
        prune: input.prune === true,
        result: { dry_run: dryRun, changes: [], not_applied: [], hook_secrets: [] },
        environmentIds: new Map(),
        agentIds: new Map(),
        connectionIds: new Map(),
        pendingTools: new Map(),
        pendingPolicies: [],
      });
      if (dryRun) {
        // Nothing was kept, so no secret was made either.
        applied.result.hook_secrets = [];
        for (const pending of [...applied.pendingTools.values()].flat())
          applied.result.not_applied.push({
            path: formatPath(pending.path),
            reason: `Applied after connection "${pending.connectionName}" is synced (the registry does not have this tool yet)`,
          });
        for (const { index } of applied.pendingPolicies)
          applied.result.not_applied.push({
            path: formatPath(["policies", index, "tool"]),
            reason: "Applied after the tool's connection is synced",
          });
        throw new DryRun(applied.result);
      }
      return applied;
    });
  } catch (error) {
    if (error instanceof DryRun) return error.result;
    throw error;
  }
  await applyAfterSync(db, state);
  return state.result;
}

async function applyInTransaction(tx: Db, state: ApplyState): Promise<ApplyState> {
  const { orgId, document, context, result } = state;
  const [environmentRows, connectionRows, agentRows, policyRows, toolRows] = await Promise.all([
    tx.select().from(environments).where(eq(environments.org_id, orgId)),
    tx.select().from(connections).where(eq(connections.org_id, orgId)),
    tx.select().from(agents).where(eq(agents.org_id, orgId)),
    tx.select().from(policies).where(eq(policies.org_id, orgId)),
    tx.select().from(tools).where(eq(tools.org_id, orgId)),
  ]);
  for (const row of environmentRows) state.environmentIds.set(row.name, row.id);
  for (const row of agentRows) state.agentIds.set(row.name, row.id);
  // Policies name members by e-mail; only this org's members are found.
  const members = new Map(
    (
      await tx
        .select({ id: users.id, email: users.email })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.user_id))
        .where(eq(memberships.org_id, orgId))
    ).map((row) => [row.email.toLowerCase(), row.id]),
  );
  for (const row of connectionRows) state.connectionIds.set(row.name, row.id);

  // Settings first: a sync after the apply follows the document's quarantine setting.
  const org = await getOrg(tx, orgId);
  const settingsFields = (
    ["quarantine_new_tools", "oauth_approver_role", "email_approvers"] as const
  ).filter((field) => org[field] !== document.settings[field]);
  if (settingsFields.length > 0) {
    await at(["settings"], () =>
      updateOrg(tx, context, {
        orgId,
        ...Object.fromEntries(settingsFields.map((field) => [field, document.settings[field]])),
      }),
    );
    result.changes.push({
      resource: "settings",
      name: "settings",
      action: "update",
      fields: settingsFields,
    });
  }

  // Policies the document drops go first: nothing else may still need them.
  const policyNames = new Set(document.policies.map((policy) => policy.name));
  if (state.prune)
    for (const row of policyRows.filter((policy) => !policyNames.has(policy.name))) {
      await deletePolicy(tx, context, { orgId, id: row.id });
      result.changes.push({ resource: "policy", name: row.name, action: "delete", fields: [] });
    }

  const environmentNames = new Set(document.environments.map((item) => item.name));
  for (const [index, environment] of document.environments.entries()) {
    const path = ["environments", index];
    const row = environmentRows.find((candidate) => candidate.name === environment.name);
    const slug = environment.slug ?? slugify(environment.name);
    if (!row) {
      const created = await at(path, () =>
        createEnvironment(tx, context, {
          orgId,
          name: environment.name,
          slug,
          description: environment.description,
        }),
      );
      state.environmentIds.set(created.name, created.id);
      result.changes.push(created_(`environment`, environment.name));
      continue;
    }
    const fields: string[] = [];
    if (row.slug !== slug) fields.push("slug");
    if (row.description !== environment.description) fields.push("description");
    if (fields.length === 0) continue;
    await at(path, () =>
      updateEnvironment(tx, context, {
        orgId,
        id: row.id,
        ...(fields.includes("slug") ? { slug } : {}),
        ...(fields.includes("description") ? { description: environment.description } : {}),
      }),
    );
    result.changes.push({ resource: "environment", name: row.name, action: "update", fields });
  }
  const environmentId = (name: string | null | undefined, path: Path) =>
    resolve(state.environmentIds, environmentNames, state.prune, name, path, "environment");

  const connectionNames = new Set(document.connections.map((item) => item.name));
  for (const [index, connection] of document.connections.entries()) {
    const row = connectionRows.find((candidate) => candidate.name === connection.name);
    await applyConnection(tx, state, connection, row, ["connections", index], environmentId);
    const id = state.connectionIds.get(connection.name);
    const connectionTools = toolRows.filter((tool) => tool.connection_id === row?.id);
    for (const [toolIndex, tool] of connection.tools.entries()) {
      const toolPath = ["connections", index, "tools", toolIndex];
      const toolRow = connectionTools.find(
        (candidate) => candidate.upstream_name === tool.upstream_name,
      );
      if (toolRow && id) {
        await applyTool(tx, state, connection.name, tool, toolRow, toolPath);
        continue;
      }
      const pending = state.pendingTools.get(connection.name) ?? [];
      pending.push({ connectionName: connection.name, tool, path: toolPath });
      state.pendingTools.set(connection.name, pending);
    }
  }

  const agentNames = new Set(document.agents.map((item) => item.name));
  for (const [index, agent] of document.agents.entries()) {
    const path = ["agents", index];
    const row = agentRows.find((candidate) => candidate.name === agent.name);
    const environment_id = environmentId(agent.environment, [...path, "environment"]);
    if (!row) {
      const created = await at(path, () =>
        createAgent(tx, context, {
          orgId,
          name: agent.name,
          description: agent.description,
          environment_id,
          status: agent.status,
        }),
      );
      state.agentIds.set(created.name, created.id);
      result.changes.push(created_("agent", agent.name));
      continue;
    }
    const fields: string[] = [];
    if (row.description !== agent.description) fields.push("description");
    if (row.environment_id !== environment_id) fields.push("environment");
    if (row.status !== agent.status) fields.push("status");
    if (fields.length === 0) continue;
    await at(path, () =>
      updateAgent(tx, context, {
        orgId,
        id: row.id,
        ...(fields.includes("description") ? { description: agent.description } : {}),
        ...(fields.includes("environment") ? { environment_id } : {}),
        ...(fields.includes("status") ? { status: agent.status } : {}),
      }),
    );
    result.changes.push({ resource: "agent", name: row.name, action: "update", fields });
  }
  const agentId = (name: string | null | undefined, path: Path) =>
    resolve(state.agentIds, agentNames, state.prune, name, path, "agent");

  const currentTools = await tx.select().from(tools).where(eq(tools.org_id, orgId));
  for (const [index, policy] of document.policies.entries()) {
    const path = ["policies", index];
    const userId = policy.user ? members.get(policy.user.toLowerCase()) : null;
    if (userId === undefined)
      throw invalid([...path, "user"], "No member of the organization has this e-mail address");
    const references = {
      agent_id: agentId(policy.agent, [...path, "agent"]),
      user_id: userId,
      environment_id: environmentId(policy.environment, [...path, "environment"]),
    };
    const pattern = toolPattern(state, policy, currentTools, path, connectionNames);
    if (pattern === null) {
      state.pendingPolicies.push({ policy, index, references });
      continue;
    }
    const row = policyRows.find((candidate) => candidate.name === policy.name);
    await applyPolicy(tx, state, policy, path, pattern, row, references);
  }

  if (state.prune) {
    for (const row of agentRows.filter((agent) => !agentNames.has(agent.name))) {
      await at(["agents"], () => deleteAgent(tx, context, { orgId, id: row.id }));
      result.changes.push({ resource: "agent", name: row.name, action: "delete", fields: [] });
    }
    for (const row of connectionRows.filter(
      (connection) => !connectionNames.has(connection.name),
    )) {
      await deleteConnection(tx, state.runtime, context, { orgId, id: row.id });
      result.changes.push({ resource: "connection", name: row.name, action: "delete", fields: [] });
    }
    for (const row of environmentRows.filter((item) => !environmentNames.has(item.name))) {
      await at(["environments"], () => deleteEnvironment(tx, context, { orgId, id: row.id }));
      result.changes.push({
        resource: "environment",
        name: row.name,
        action: "delete",
        fields: [],
      });
    }
  }
  return state;
}

function created_(resource: ConfigResource, name: string): ConfigChange {
  return { resource, name, action: "create", fields: [] };
}

/**
 * A policy's pattern: its glob, or the id of the tool it names; null when that tool is not in the
 * registry yet (its connection is synced after the transaction).
 */
function toolPattern(
  state: ApplyState,
  policy: ConfigPolicy,
  registry: Tool[],
  path: Path,
  connectionNames: Set<string>,
): string | null {
  if (policy.tool === undefined) return policy.tool_pattern ?? "";
  const { connection, upstream_name } = policy.tool;
  const connectionId = resolve(
    state.connectionIds,
    connectionNames,
    state.prune,
    connection,
    [...path, "tool", "connection"],
    "connection",
  );
  const tool = registry.find(
    (candidate) =>
      candidate.connection_id === connectionId && candidate.upstream_name === upstream_name,
  );
  return tool?.id ?? null;
}

async function applyPolicy(
  db: Db,
  state: ApplyState,
  policy: ConfigPolicy,
  path: Path,
  pattern: string,
  row: typeof policies.$inferSelect | undefined,
  references: PolicyReferences,
): Promise<void> {
  const { orgId, context, runtime, result } = state;
  const subject = await at(path, () =>
    Promise.resolve().then(() =>
      resolvePolicySubject(null, {
        ...(policy.subject ? { subject: policy.subject } : {}),
        agent_id: references.agent_id,
        user_id: references.user_id,
        min_role: policy.min_role ?? null,
      }),
    ),
  );
  const desired: PolicyFields = {
    name: policy.name,
    description: policy.description,
    effect: policy.effect,
    ...subject,
    target: policy.target,
    tool_pattern: pattern,
    environment_id: references.environment_id,
    input_schema: policy.input_schema ?? null,
    rate_limit: policy.rate_limit ?? null,
    pre_call_hook: policy.pre_call_hook ?? null,
    post_call_hook: policy.post_call_hook ?? null,
    redact_patterns: policy.redact_patterns,
    // As the service fills them in, so an unchanged policy compares equal.
    ...(policy.effect === "require_approval"
      ? {
          approver_role: policy.approver_role ?? DEFAULT_APPROVER_ROLE,
          approval_timeout_seconds:
            policy.approval_timeout_seconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
        }
      : {
          approver_role: policy.approver_role,
          approval_timeout_seconds: policy.approval_timeout_seconds,
        }),
    enabled: policy.enabled,
  };
  if (!row) {
    const created = await at(path, () => createPolicy(db, runtime, context, { ...desired, orgId }));
    result.changes.push(created_("policy", policy.name));
    if (created.hook_secret)
      result.hook_secrets.push({ policy: policy.name, hook_secret: created.hook_secret });
    return;
  }
  const changed: Partial<PolicyFields> = {};
  const fields: string[] = [];
  const note = (key: keyof PolicyFields, same: boolean, label: string = key) => {
    if (same) return;
    Object.assign(changed, { [key]: desired[key] });
    fields.push(label);
  };
  note("description", row.description === desired.description);
  note("effect", row.effect === desired.effect);
  note("subject", row.subject === desired.subject);
  note("agent_id", row.agent_id === desired.agent_id, "agent");
  note("user_id", row.user_id === desired.user_id, "user");
  note("min_role", row.min_role === desired.min_role);
  note("target", row.target === desired.target);
  note(
    "tool_pattern",
    row.tool_pattern === desired.tool_pattern,
    policy.tool ? "tool" : "tool_pattern",
  );
  note("environment_id", row.environment_id === desired.environment_id, "environment");
  note("input_schema", sameJson(row.input_schema, desired.input_schema));
  note(
    "rate_limit",
    sameJson(
      row.rate_limit && [row.rate_limit.max_calls, row.rate_limit.per_seconds],
      desired.rate_limit && [desired.rate_limit.max_calls, desired.rate_limit.per_seconds],
    ),
  );
  note("pre_call_hook", hookKey(row.pre_call_hook) === hookKey(desired.pre_call_hook));
  note("post_call_hook", hookKey(row.post_call_hook) === hookKey(desired.post_call_hook));
  note("redact_patterns", sameJson(row.redact_patterns, desired.redact_patterns));
  note("approver_role", row.approver_role === (desired.approver_role ?? null));
  note(
    "approval_timeout_seconds",
    row.approval_timeout_seconds === (desired.approval_timeout_seconds ?? null),
  );
  note("enabled", row.enabled === desired.enabled);
  if (fields.length === 0) return;
  // The subject and its fields go together: a service check sees them as one.
  const subjectFields = ["subject", "agent", "user", "min_role"];
  const whole = fields.some((field) => subjectFields.includes(field)) ? subject : {};
  const updated = await at(path, () =>
    updatePolicy(db, runtime, context, { ...changed, ...whole, orgId, id: row.id }),
  );
  result.changes.push({ resource: "policy", name: policy.name, action: "update", fields });
  if (updated.hook_secret)
    result.hook_secrets.push({ policy: policy.name, hook_secret: updated.hook_secret });
}

/** The secret the document asks for: each referenced value from the request, else as stored. */
function desiredSecret(
  state: ApplyState,
  connection: ConfigConnection,
  row: Connection | undefined,
  path: Path,
  keepable: boolean,
): ConnectionSecret | null {
  const refs = connection.secrets ?? {};
  if (Object.keys(refs.headers ?? {}).length + Object.keys(refs.env ?? {}).length === 0)
    return null;
  let stored: { headers: Record<string, string>; env: Record<string, string> } | null = null;
  const storedValues = () => {
    stored ??=
      row && keepable && row.secret_ciphertext
        ? storedConnectionSecret(state.runtime, row)
        : { headers: {}, env: {} };
    return stored;
  };
  const secret: { headers: Record<string, string>; env: Record<string, string> } = {
    headers: {},
    env: {},
  };
  for (const kind of ["headers", "env"] as const)
    for (const [key, ref] of Object.entries(refs[kind] ?? {})) {
      const value = state.secrets[ref.name] ?? storedValues()[kind][key];
      if (value === undefined)
        throw invalid(
          [...path, "secrets", kind, key],
          `Secret "${ref.name}" is required: give its value in the request's secrets${row ? (keepable ? " (the connection has no stored value for it)" : " (the connection's destination changes, so the stored value is not kept)") : ""}`,
        );
      secret[kind][key] = value;
    }
  return secret;
}

async function applyConnection(
  tx: Db,
  state: ApplyState,
  connection: ConfigConnection,
  row: Connection | undefined,
  path: Path,
  environmentId: (name: string | null | undefined, path: Path) => string | null,
): Promise<void> {
  const { orgId, context, runtime, result } = state;
  const environment_id = environmentId(connection.environment, [...path, "environment"]);
  const endpoint = {
    transport: connection.transport,
    url: connection.transport === "stdio" ? null : (connection.url ?? null),
    stdio_server: connection.transport === "stdio" ? (connection.stdio_server ?? null) : null,
  };
  const sameDestination = row !== undefined && destinationOf(row) === destinationOf(endpoint);
  const secret = desiredSecret(state, connection, row, path, sameDestination);
  const auth = connection.auth ?? (connection.oauth ? "oauth" : secret ? "headers" : "none");
  let oauth: ConnectionOAuthFields | undefined;
  if (connection.oauth) {
    const { client_secret: ref, ...rest } = connection.oauth;
    let clientSecret: string | undefined;
    if (ref) {
      const given = state.secrets[ref.name];
      const keep =
        row && sameDestination && row.oauth_client_id === (rest.client_id ?? null)
          ? storedOAuthClientSecret(runtime, row)
          : null;
      clientSecret = given ?? keep ?? undefined;
      if (clientSecret === undefined)
        throw invalid(
          [...path, "oauth", "client_secret"],
          `Secret "${ref.name}" is required: give its value in the request's secrets`,
        );
    }
    oauth = { ...rest, ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}) };
  }
  const fields: Partial<ConnectionFields> = {
    slug: connection.slug ?? slugify(connection.name),
    description: connection.description,
    environment_id,
    ...endpoint,
    headers: connection.headers,
    auth,
    timeout_ms: connection.timeout_ms,
    allow_sampling: connection.allow_sampling,
    allow_elicitation: connection.allow_elicitation,
    allow_tasks: connection.allow_tasks,
    sync_interval_minutes: connection.sync_interval_minutes ?? null,
  };
  if (!row) {
    const created = await at(path, () =>
      createConnection(tx, runtime, context, {
        ...fields,
        name: connection.name,
        transport: connection.transport,
        orgId,
        ...(secret ? { secret } : {}),
        ...(oauth ? { oauth } : {}),
      }),
    );
    state.connectionIds.set(created.name, created.id);
    result.changes.push(created_("connection", connection.name));
    return;
  }

  const changed: Partial<ConnectionFields> = {};
  const names: string[] = [];
  const compare = (key: keyof ConnectionFields, same: boolean, label: string = key) => {
    if (same) return;
    Object.assign(changed, { [key]: fields[key] });
    names.push(label);
  };
  compare("slug", row.slug === fields.slug);
  compare("description", row.description === fields.description);
  compare("environment_id", row.environment_id === environment_id, "environment");
  const endpointChanged =
    row.transport !== endpoint.transport ||
    row.url !== endpoint.url ||
    row.stdio_server !== endpoint.stdio_server;
  if (endpointChanged) {
    Object.assign(changed, endpoint);
    for (const key of ["transport", "url", "stdio_server"] as const)
      if (row[key] !== endpoint[key]) names.push(key);
  }
  compare("headers", sameRecord(row.headers, connection.headers));
  compare("timeout_ms", row.timeout_ms === fields.timeout_ms);
  compare("allow_sampling", row.allow_sampling === fields.allow_sampling);
  compare("allow_elicitation", row.allow_elicitation === fields.allow_elicitation);
  compare("allow_tasks", row.allow_tasks === fields.allow_tasks);
  compare("sync_interval_minutes", row.sync_interval_minutes === fields.sync_interval_minutes);

  const stored = row.secret_ciphertext ? storedConnectionSecret(runtime, row) : null;
  const secretChanged =
    secret === null
      ? stored !== null
      : stored === null ||
        !sameRecord(stored.headers, secret.headers ?? {}) ||
        !sameRecord(stored.env, secret.env ?? {});
  // A changed destination drops the stored secret unless it is given again.
  if (secretChanged || (endpointChanged && secret !== null)) {
    changed.secret = secret;
    names.push("secrets");
  }
  const storedClientSecret =
    row.oauth_client_registration === "manual" ? storedOAuthClientSecret(runtime, row) : null;
  const oauthChanged =
    row.auth !== auth ||
    (oauth
      ? row.oauth_credential_mode !== oauth.credential_mode ||
        row.oauth_scope !== (oauth.scope ?? null) ||
        (row.oauth_client_registration === "manual" ? row.oauth_client_id : null) !==
          (oauth.client_id ?? null) ||
        storedClientSecret !== (oauth.client_secret ?? null)
      : row.oauth_credential_mode !== null);
  if (oauthChanged) {
    changed.auth = auth;
    if (oauth) changed.oauth = oauth;
    names.push(row.auth !== auth ? "auth" : "oauth");
  }
  if (names.length === 0) return;
  await at(path, () => updateConnection(tx, runtime, context, { ...changed, orgId, id: row.id }));
  result.changes.push({ resource: "connection", name: row.name, action: "update", fields: names });
}

/** The hash of a tool's approved definition. */
function approvedHash(tool: Tool): string {
  return tool.definition_hash ?? definitionHash(pinnedDefinition(tool));
}

async function applyTool(
  db: Db,
  state: ApplyState,
  connectionName: string,
  tool: ConfigTool,
  row: Tool,
  path: Path,
): Promise<void> {
  const { orgId, context, result } = state;
  const update: {
    name?: string;
    title?: string | null;
    description?: string | null;
    enabled?: boolean;
  } = {};
  const fields: string[] = [];
  if (tool.name !== undefined && tool.name !== row.name) {
    update.name = tool.name;
    fields.push("name");
  }
  if (tool.enabled !== row.enabled) {
    update.enabled = tool.enabled;
    fields.push("enabled");
  }
  if ((tool.title ?? null) !== row.title_override) {
    update.title = tool.title ?? null;
    fields.push("title");
  }
  if ((tool.description ?? null) !== row.description_override) {
    update.description = tool.description ?? null;
    fields.push("description");
  }
  if (fields.length > 0)
    await at(path, () => updateTool(db, context, { orgId, id: row.id, ...update }));
  const wanted = tool.approved_hash;
  if (wanted !== undefined && (row.quarantine === "new" || approvedHash(row) !== wanted)) {
    const underReview =
      row.quarantine === "new" ? approvedHash(row) : row.quarantine ? row.pending_hash : null;
    if (underReview === wanted) {
      await at(path, () =>
        approveToolDefinition(db, context, {
          orgId,
          id: row.id,
          hash: wanted,
          source: "config",
        }),
      );
      fields.push("approved_hash");
    } else {
      state.result.not_applied.push({
        path: formatPath([...path, "approved_hash"]),
        reason: `The server offers a definition of this tool (${underReview ?? approvedHash(row)}) other than the one the document approves: review the tool`,
      });
    }
  }
  if (fields.length > 0)
    result.changes.push({
      resource: "tool",
      name: `${connectionName}/${tool.upstream_name}`,
      action: "update",
      fields,
    });
}

/**
 * After the commit: sync each connection whose tools the document names but the registry lacks,
 * then apply those tools' settings and the policies naming them. Each failure is reported in
 * `not_applied` (the committed changes stay); an apply again finishes the work.
 */
async function applyAfterSync(db: Db, state: ApplyState): Promise<void> {
  const { orgId, context, runtime, result } = state;
  const toSync = new Set(state.pendingTools.keys());
  const connectionNames = new Set(state.document.connections.map((item) => item.name));
  for (const { policy } of state.pendingPolicies)
    if (policy.tool) toSync.add(policy.tool.connection);
  const failed = new Map<string, string>();
  for (const name of toSync) {
    const id = state.connectionIds.get(name);
    if (!id) continue;
    try {
      await syncConnection(db, runtime, context, { orgId, id });
    } catch (error) {
      failed.set(name, error instanceof Error ? error.message : String(error));
    }
  }
  const registry = await db.select().from(tools).where(eq(tools.org_id, orgId));
  for (const pending of [...state.pendingTools.values()].flat()) {
    const connectionId = state.connectionIds.get(pending.connectionName);
    const row = registry.find(
      (tool) =>
        tool.connection_id === connectionId && tool.upstream_name === pending.tool.upstream_name,
    );
    const syncFailure = failed.get(pending.connectionName);
    if (!row) {
      result.not_applied.push({
        path: formatPath(pending.path),
        reason: syncFailure
          ? `Connection "${pending.connectionName}" could not be synced: ${syncFailure}`
          : `Connection "${pending.connectionName}" does not offer this tool`,
      });
      continue;
    }
    await reportFailure(result, pending.path, () =>
      applyTool(db, state, pending.connectionName, pending.tool, row, pending.path),
    );
  }
  for (const { policy, index, references } of state.pendingPolicies) {
    const path = ["policies", index];
    await reportFailure(result, path, async () => {
      const pattern = toolPattern(state, policy, registry, path, connectionNames);
      if (pattern === null) {
        const connection = policy.tool?.connection ?? "";
        const syncFailure = failed.get(connection);
        result.not_applied.push({
          path: formatPath([...path, "tool"]),
          reason: syncFailure
            ? `Connection "${connection}" could not be synced: ${syncFailure}`
            : `Connection "${connection}" does not offer tool "${policy.tool?.upstream_name ?? ""}"`,
        });
        return;
      }
      const [row] = await db
        .select()
        .from(policies)
        .where(and(eq(policies.org_id, orgId), eq(policies.name, policy.name)));
      await applyPolicy(db, state, policy, path, pattern, row, references);
    });
  }
}

/** Runs a step after the commit; its refusal is reported instead of failing the whole apply. */
async function reportFailure(
  result: ConfigApplyResult,
  path: Path,
  step: () => Promise<void>,
): Promise<void> {
  try {
    await step();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    result.not_applied.push({ path: formatPath(path), reason: error.message });
  }
}
