import { hash, randomBytes } from "node:crypto";
import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { readThrough, type CallCache } from "../runs/call-cache";
import { agentKeys, agents } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { assertEnvironmentInOrg } from "../connections/connections";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { tenantResource } from "../lib/tenant-table";
import { removeReferencingPolicies } from "../policies/references";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";
import { conflictMapper } from "../lib/pg-errors";

export type Agent = typeof agents.$inferSelect;
export type AgentKey = Omit<typeof agentKeys.$inferSelect, "key_hash">;

export const AGENT_KEY_PREFIX = "mcpa_";
const KEY_PREFIX_SHOWN = 12;
/** last_used_at is a hint, not a log: writing it on every call would double the writes per call. */
const LAST_USED_RESOLUTION_MS = 60_000;

const toConflict = conflictMapper({
  agents_org_name_uq: {
    field: "name",
    message: "An agent with this name already exists in the organization",
  },
});

export interface AgentFields {
  name: string;
  description?: string | undefined;
  environment_id?: string | null | undefined;
  status?: Agent["status"] | undefined;
  /** The member whose own OAuth credentials the agent's keys use; `null` for no one. */
  runs_as_user_id?: string | null | undefined;
}

/**
 * An agent runs as a member only by that member's own choice: an admin must not be able to make
 * an agent spend someone else's connected accounts.
 */
function assertRunsAsAllowed(context: ActionContext, runsAs: string | null | undefined): void {
  if (runsAs === undefined || runsAs === null) return;
  if (context.actor.type !== "user" || context.actor.id !== runsAs)
    throw AppError.invalidField(
      "runs_as_user_id",
      "An agent can only be set to run as yourself: the member whose accounts it uses must choose it",
    );
}

export async function createAgent(
  db: Db,
  context: ActionContext,
  input: AgentFields & { orgId: string },
): Promise<Agent> {
  await assertEnvironmentInOrg(db, input.orgId, input.environment_id);
  assertRunsAsAllowed(context, input.runs_as_user_id);
  try {
    return await db.transaction(async (tx) => {
      const [agent] = await tx
        .insert(agents)
        .values({
          org_id: input.orgId,
          name: input.name,
          description: input.description ?? "",
          environment_id: input.environment_id ?? null,
          status: input.status ?? "active",
          runs_as_user_id: input.runs_as_user_id ?? null,
        })
        .returning();
      if (!agent) throw new Error("insert returned no agent");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action: "agent.create",
        target_type: "agent",
        target_id: agent.id,
        metadata: { name: agent.name },
      });
      return agent;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

export async function listAgents(
  db: Db,
  input: PageRequest & { orgId: string; environment_id?: string | undefined },
): Promise<Page<Agent>> {
  const query = keyset(
    agents.id,
    input,
    and(
      eq(agents.org_id, input.orgId),
      input.environment_id ? eq(agents.environment_id, input.environment_id) : undefined,
    ),
  );
  const rows = await db
    .select()
    .from(agents)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

const agentResource = tenantResource(agents, "Agent", "agent");
export const getAgent = agentResource.get;
export const findAgentOrgId = agentResource.findOrgId;

/**
 * Refused (CONFLICT, listing them) while policies name the agent, unless `confirmPolicyRemoval`:
 * then those policies are deleted with it, each audited.
 */
export function deleteAgent(
  db: Db,
  context: ActionContext,
  input: { orgId: string; id: string; confirmPolicyRemoval?: boolean | undefined },
): Promise<void> {
  return agentResource.remove(db, context, input, (tx) =>
    removeReferencingPolicies(tx, context, {
      orgId: input.orgId,
      id: input.id,
      subject: "agent",
      confirmed: input.confirmPolicyRemoval === true,
    }),
  );
}

export async function updateAgent(
  db: Db,
  context: ActionContext,
  input: Partial<AgentFields> & { orgId: string; id: string },
): Promise<Agent> {
  if (input.environment_id !== undefined)
    await assertEnvironmentInOrg(db, input.orgId, input.environment_id);
  assertRunsAsAllowed(context, input.runs_as_user_id);
  try {
    return await db.transaction(async (tx) => {
      const before = await getAgent(tx, input);
      const [agent] = await tx
        .update(agents)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.environment_id !== undefined ? { environment_id: input.environment_id } : {}),
          ...(input.status !== undefined ? { status: input.status } : {}),
          ...(input.runs_as_user_id !== undefined
            ? { runs_as_user_id: input.runs_as_user_id }
            : {}),
          updated_at: new Date(),
        })
        .where(and(eq(agents.org_id, input.orgId), eq(agents.id, input.id)))
        .returning();
      if (!agent) throw AppError.notFound("Agent");
      await recordAudit(tx, context, {
        org_id: input.orgId,
        action:
          before.status !== agent.status
            ? `agent.${agent.status === "disabled" ? "disable" : "enable"}`
            : "agent.update",
        target_type: "agent",
        target_id: agent.id,
        metadata: { name: agent.name, status: agent.status },
      });
      return agent;
    });
  } catch (error) {
    throw toConflict(error);
  }
}

/** Runs on every agent request: the one-shot `hash` skips building a Hash object per call. */
export function hashAgentKey(key: string): string {
  return hash("sha256", key, "hex");
}

const keyColumns = {
  id: agentKeys.id,
  org_id: agentKeys.org_id,
  agent_id: agentKeys.agent_id,
  name: agentKeys.name,
  prefix: agentKeys.prefix,
  created_at: agentKeys.created_at,
  last_used_at: agentKeys.last_used_at,
  revoked_at: agentKeys.revoked_at,
};

/** The key is returned here once; only its sha256 is stored. */
export async function createAgentKey(
  db: Db,
  context: ActionContext,
  input: { orgId: string; agentId: string; name?: string | undefined },
): Promise<AgentKey & { key: string }> {
  const agent = await getAgent(db, { orgId: input.orgId, id: input.agentId });
  const key = `${AGENT_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return db.transaction(async (tx) => {
    const [created] = await tx
      .insert(agentKeys)
      .values({
        org_id: input.orgId,
        agent_id: agent.id,
        name: input.name ?? "",
        prefix: key.slice(0, KEY_PREFIX_SHOWN),
        key_hash: hashAgentKey(key),
      })
      .returning(keyColumns);
    if (!created) throw new Error("insert returned no key");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "agent_key.create",
      target_type: "agent_key",
      target_id: created.id,
      metadata: { agent_id: agent.id, prefix: created.prefix, name: created.name },
    });
    return { ...created, key };
  });
}

export async function listAgentKeys(
  db: Db,
  input: PageRequest & { orgId: string; agentId: string },
): Promise<Page<AgentKey>> {
  const query = keyset(
    agentKeys.id,
    input,
    and(eq(agentKeys.org_id, input.orgId), eq(agentKeys.agent_id, input.agentId)),
  );
  const rows = await db
    .select(keyColumns)
    .from(agentKeys)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

export async function revokeAgentKey(
  db: Db,
  context: ActionContext,
  input: { orgId: string; agentId: string; keyId: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    const [revoked] = await tx
      .update(agentKeys)
      .set({ revoked_at: new Date() })
      .where(
        and(
          eq(agentKeys.org_id, input.orgId),
          eq(agentKeys.agent_id, input.agentId),
          eq(agentKeys.id, input.keyId),
          isNull(agentKeys.revoked_at),
        ),
      )
      .returning({ id: agentKeys.id, prefix: agentKeys.prefix });
    if (!revoked) throw AppError.notFound("Key");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "agent_key.revoke",
      target_type: "agent_key",
      target_id: revoked.id,
      metadata: { agent_id: input.agentId, prefix: revoked.prefix },
    });
  });
}

export interface AuthenticatedAgent {
  agent: Agent;
  keyId: string;
}

/**
 * Resolves an agent key to its agent. Revoked keys, unknown keys and disabled agents all yield
 * null, so a revocation or a disable takes effect on the very next request: with a cache, as soon
 * as the change has been reported to it (see CallCache).
 */
export async function authenticateAgentKey(
  db: Db,
  key: string,
  cache: CallCache | null = null,
): Promise<AuthenticatedAgent | null> {
  if (!key.startsWith(AGENT_KEY_PREFIX)) return null;
  const keyHash = hashAgentKey(key);
  const load = async () => {
    const [row] = await db
      .select({ agent: agents, keyId: agentKeys.id, lastUsed: agentKeys.last_used_at })
      .from(agentKeys)
      .innerJoin(agents, eq(agents.id, agentKeys.agent_id))
      .where(and(eq(agentKeys.key_hash, keyHash), isNull(agentKeys.revoked_at)))
      .limit(1);
    if (row?.agent.status !== "active") return null;
    return { orgId: row.agent.org_id, value: { ...row, lastUsedMs: row.lastUsed?.getTime() ?? 0 } };
  };
  const found = await readThrough(cache, `key:${keyHash}`, load);
  if (!found) return null;
  const now = Date.now();
  if (now - found.lastUsedMs > LAST_USED_RESOLUTION_MS) {
    // Recorded at most once per resolution and key in this process (the entry is shared).
    found.lastUsedMs = now;
    await db
      .update(agentKeys)
      .set({ last_used_at: new Date(now) })
      .where(
        and(
          eq(agentKeys.id, found.keyId),
          or(
            isNull(agentKeys.last_used_at),
            lt(agentKeys.last_used_at, new Date(now - LAST_USED_RESOLUTION_MS)),
          ),
        ),
      );
  }
  return { agent: found.agent, keyId: found.keyId };
}
