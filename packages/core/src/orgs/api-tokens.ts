import { hash, randomBytes } from "node:crypto";
import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { apiTokens, users } from "../db/schema";
import { recordAudit } from "../audit/audit";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import { keyset, toPage, type Page, type PageRequest } from "../lib/pagination";

/**
 * Distinct from agent keys (`mcpa_`): the prefix alone decides which kind a bearer credential is,
 * so an agent key is never looked up as an API token nor an API token as an agent key.
 */
export const API_TOKEN_PREFIX = "mcpt_";
const TOKEN_PREFIX_SHOWN = 12;
/** last_used_at is a hint, not a log: a conditional write at most this often per token. */
const LAST_USED_RESOLUTION_MS = 60_000;

export type ApiTokenRole = (typeof apiTokens.$inferSelect)["role"];
export type ApiToken = Omit<typeof apiTokens.$inferSelect, "token_hash">;

/** Who a request made with an API token acts as. */
export interface ApiTokenPrincipal {
  id: string;
  org_id: string;
  name: string;
  role: ApiTokenRole;
}

const tokenColumns = {
  id: apiTokens.id,
  org_id: apiTokens.org_id,
  name: apiTokens.name,
  role: apiTokens.role,
  prefix: apiTokens.prefix,
  created_by: apiTokens.created_by,
  created_at: apiTokens.created_at,
  expires_at: apiTokens.expires_at,
  last_used_at: apiTokens.last_used_at,
  revoked_at: apiTokens.revoked_at,
};

function hashApiToken(token: string): string {
  return hash("sha256", token, "hex");
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The token is returned here once; only its sha256 is stored. */
export async function createApiToken(
  db: Db,
  context: ActionContext & { actor: { type: "user"; id: string } },
  input: { orgId: string; name: string; role: ApiTokenRole; expiresInDays?: number | undefined },
): Promise<ApiToken & { token: string }> {
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const expiresAt =
    input.expiresInDays === undefined ? null : new Date(Date.now() + input.expiresInDays * DAY_MS);
  return db.transaction(async (tx) => {
    const [created] = await tx
      .insert(apiTokens)
      .values({
        org_id: input.orgId,
        name: input.name,
        role: input.role,
        prefix: token.slice(0, TOKEN_PREFIX_SHOWN),
        token_hash: hashApiToken(token),
        created_by: context.actor.id,
        expires_at: expiresAt,
      })
      .returning(tokenColumns);
    if (!created) throw new Error("insert returned no token");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "api_token.create",
      target_type: "api_token",
      target_id: created.id,
      metadata: {
        name: created.name,
        role: created.role,
        prefix: created.prefix,
        expires_at: created.expires_at?.toISOString() ?? null,
      },
    });
    return { ...created, token };
  });
}

/** Newest first; revoked and expired tokens stay listed (with their dates) until deleted with the org. */
export async function listApiTokens(
  db: Db,
  input: PageRequest & { orgId: string },
): Promise<Page<ApiToken>> {
  const query = keyset(apiTokens.id, input, eq(apiTokens.org_id, input.orgId), "desc");
  const rows = await db
    .select(tokenColumns)
    .from(apiTokens)
    .where(query.where)
    .orderBy(query.orderBy)
    .limit(query.limit);
  return toPage(rows, query);
}

/** Takes effect on the token's next request (tokens are looked up on every request). */
export async function revokeApiToken(
  db: Db,
  context: ActionContext,
  input: { orgId: string; id: string },
): Promise<ApiToken> {
  return db.transaction(async (tx) => {
    const [revoked] = await tx
      .update(apiTokens)
      .set({ revoked_at: new Date() })
      .where(
        and(
          eq(apiTokens.org_id, input.orgId),
          eq(apiTokens.id, input.id),
          isNull(apiTokens.revoked_at),
        ),
      )
      .returning(tokenColumns);
    if (!revoked) throw AppError.notFound("API token");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "api_token.revoke",
      target_type: "api_token",
      target_id: revoked.id,
      metadata: { name: revoked.name, prefix: revoked.prefix },
    });
    return revoked;
  });
}

/**
 * A token is only as trusted as the admin who made it: when they leave the org or drop below
 * admin, the tokens they created there are revoked with them (in the caller's transaction), so a
 * token they kept a copy of leaves with them. Returns how many were revoked.
 */
export async function revokeApiTokensCreatedBy(
  tx: Db,
  context: ActionContext,
  input: { orgId: string; userId: string; reason: "member_removed" | "role_lowered" },
): Promise<number> {
  const revoked = await tx
    .update(apiTokens)
    .set({ revoked_at: new Date() })
    .where(
      and(
        eq(apiTokens.org_id, input.orgId),
        eq(apiTokens.created_by, input.userId),
        isNull(apiTokens.revoked_at),
      ),
    )
    .returning({ id: apiTokens.id, name: apiTokens.name, prefix: apiTokens.prefix });
  for (const token of revoked) {
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "api_token.revoke",
      target_type: "api_token",
      target_id: token.id,
      metadata: { name: token.name, prefix: token.prefix, reason: input.reason },
    });
  }
  return revoked.length;
}

export type ApiTokenAuthentication =
  | { ok: true; token: ApiTokenPrincipal }
  /** Why the token is refused, for the 401's message: unknown, revoked or expired. */
  | { ok: false; reason: string };

/**
 * Resolves a bearer API token. Looked up on every request, with no cache, so that a revocation
 * takes effect on the very next request on every replica.
 */
export async function authenticateApiToken(db: Db, token: string): Promise<ApiTokenAuthentication> {
  if (!token.startsWith(API_TOKEN_PREFIX)) return { ok: false, reason: "Unknown API token" };
  const [row] = await db
    .select({
      id: apiTokens.id,
      org_id: apiTokens.org_id,
      name: apiTokens.name,
      role: apiTokens.role,
      expires_at: apiTokens.expires_at,
      last_used_at: apiTokens.last_used_at,
      revoked_at: apiTokens.revoked_at,
      creator_disabled_at: users.disabled_at,
    })
    .from(apiTokens)
    .leftJoin(users, eq(users.id, apiTokens.created_by))
    .where(eq(apiTokens.token_hash, hashApiToken(token)))
    .limit(1);
  if (!row) return { ok: false, reason: "Unknown API token" };
  if (row.revoked_at) {
    return { ok: false, reason: `This API token was revoked at ${row.revoked_at.toISOString()}` };
  }
  // A token is only as trusted as its creator (see revokeApiTokensCreatedBy): while a platform
  // admin has the creator's account disabled, the tokens they made do not work either.
  if (row.creator_disabled_at) {
    return { ok: false, reason: "The account that created this API token is disabled" };
  }
  const now = Date.now();
  if (row.expires_at && row.expires_at.getTime() <= now) {
    return { ok: false, reason: `This API token expired at ${row.expires_at.toISOString()}` };
  }
  if (!row.last_used_at || now - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
    // Conditional, so concurrent requests on any replicas write the row at most once a minute.
    await db
      .update(apiTokens)
      .set({ last_used_at: new Date(now) })
      .where(
        and(
          eq(apiTokens.id, row.id),
          or(
            isNull(apiTokens.last_used_at),
            lt(apiTokens.last_used_at, new Date(now - LAST_USED_RESOLUTION_MS)),
          ),
        ),
      );
  }
  return {
    ok: true,
    token: { id: row.id, org_id: row.org_id, name: row.name, role: row.role },
  };
}
