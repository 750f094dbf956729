import { randomUUID } from "node:crypto";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditChainHeads, auditEvents, auditWebhooks } from "../db/schema";
import { AppError } from "../errors";
import type { ActionContext } from "../lib/context";
import {
  newWebhookSecret,
  postSignedWebhook,
  webhookErrorText as errorText,
} from "../lib/signed-webhook";
import { assertWebhookUrl } from "../mcp/outbound";
import type { OutboundPolicy } from "../runtime";
import type { SecretStore } from "../secrets/secret-store";
import { recordAudit } from "./audit";
import { auditExportRecord } from "./chain";

/**
 * Streams each organization's new audit events to its webhook (for SIEM ingestion).
 *
 * Delivery is at-least-once and in chain order: a batch is POSTed, and only once the receiver
 * answered 2xx does the org's cursor (`cursor_seq`) move past it. Any failure leaves the cursor
 * and retries the same events later with exponential backoff; a replica that dies mid-delivery
 * leaves its lease to run out, and whichever replica claims next resumes from the cursor (the
 * receiver may then see the interrupted batch twice: deduplicate by event `id`). Cursors on
 * `chain_seq` miss nothing: the chaining trigger numbers an org's events under a row lock held
 * until commit, so they become visible in `chain_seq` order.
 *
 * Requests are signed as lib/signed-webhook.ts describes, with the headers
 * `X-Audit-Webhook-Id`, `X-Audit-Webhook-Timestamp` and `X-Audit-Webhook-Signature`.
 */

export type AuditWebhook = typeof auditWebhooks.$inferSelect;
/** What an admin sees: never the secret nor the lease. */
export type AuditWebhookStatus = Omit<
  AuditWebhook,
  "secret_ciphertext" | "lease_owner" | "lease_until"
>;

export interface AuditWebhookDeps {
  secrets: SecretStore;
  outbound: Pick<OutboundPolicy, "blockPrivateNetworks">;
}

const HEADER_PREFIX = "audit-webhook";

function secretBinding(orgId: string): string {
  return `audit-webhook:${orgId}`;
}

function status(row: AuditWebhook): AuditWebhookStatus {
  const { secret_ciphertext: _secret, lease_owner: _owner, lease_until: _until, ...rest } = row;
  return rest;
}

/** Where events go, for the audit trail: the origin only (a path or query may carry a token). */
function auditedDestination(url: string): string {
  return new URL(url).origin;
}

export async function getAuditWebhook(
  db: Db,
  input: { orgId: string },
): Promise<AuditWebhookStatus | null> {
  const [row] = await db.select().from(auditWebhooks).where(eq(auditWebhooks.org_id, input.orgId));
  return row ? status(row) : null;
}

/**
 * Sets up the org's webhook; it receives the events written from now on. The secret is returned
 * here (and by `rotateAuditWebhookSecret`) only: it is stored encrypted.
 */
export async function createAuditWebhook(
  db: Db,
  deps: AuditWebhookDeps,
  context: ActionContext,
  input: { orgId: string; url: string; enabled?: boolean | undefined },
): Promise<{ webhook: AuditWebhookStatus; secret: string }> {
  const url = await assertWebhookUrl(input.url, deps.outbound);
  const secret = newWebhookSecret();
  return db.transaction(async (tx) => {
    const [head] = await tx
      .select({ seq: auditChainHeads.seq })
      .from(auditChainHeads)
      .where(eq(auditChainHeads.org_id, input.orgId));
    const [row] = await tx
      .insert(auditWebhooks)
      .values({
        org_id: input.orgId,
        url,
        secret_ciphertext: deps.secrets.encrypt(secret, secretBinding(input.orgId)),
        enabled: input.enabled ?? true,
        cursor_seq: head?.seq ?? 0,
      })
      .onConflictDoNothing()
      .returning();
    if (!row)
      throw AppError.conflict("This organization already has an audit webhook; update it instead");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "audit_webhook.create",
      target_type: "audit_webhook",
      target_id: input.orgId,
      metadata: { destination: auditedDestination(url), enabled: row.enabled },
    });
    return { webhook: status(row), secret };
  });
}

export async function updateAuditWebhook(
  db: Db,
  deps: AuditWebhookDeps,
  context: ActionContext,
  input: { orgId: string; url?: string | undefined; enabled?: boolean | undefined },
): Promise<AuditWebhookStatus> {
  const url =
    input.url === undefined ? undefined : await assertWebhookUrl(input.url, deps.outbound);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(auditWebhooks)
      .set({
        ...(url === undefined ? {} : { url }),
        ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
        // A changed destination or a re-enabled webhook is tried at once, not after the backoff.
        next_attempt_at: sql`now()`,
        consecutive_failures: 0,
        updated_at: sql`now()`,
      })
      .where(eq(auditWebhooks.org_id, input.orgId))
      .returning();
    if (!row) throw AppError.notFound("Audit webhook");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "audit_webhook.update",
      target_type: "audit_webhook",
      target_id: input.orgId,
      metadata: {
        ...(url === undefined ? {} : { destination: auditedDestination(url) }),
        ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
      },
    });
    return status(row);
  });
}

/** A new signing secret, returned once; the old one stops signing at once. */
export async function rotateAuditWebhookSecret(
  db: Db,
  deps: AuditWebhookDeps,
  context: ActionContext,
  input: { orgId: string },
): Promise<{ webhook: AuditWebhookStatus; secret: string }> {
  const secret = newWebhookSecret();
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(auditWebhooks)
      .set({
        secret_ciphertext: deps.secrets.encrypt(secret, secretBinding(input.orgId)),
        updated_at: sql`now()`,
      })
      .where(eq(auditWebhooks.org_id, input.orgId))
      .returning();
    if (!row) throw AppError.notFound("Audit webhook");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "audit_webhook.secret_rotate",
      target_type: "audit_webhook",
      target_id: input.orgId,
    });
    return { webhook: status(row), secret };
  });
}

export async function deleteAuditWebhook(
  db: Db,
  context: ActionContext,
  input: { orgId: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    const deleted = await tx
      .delete(auditWebhooks)
      .where(eq(auditWebhooks.org_id, input.orgId))
      .returning({ url: auditWebhooks.url });
    const [row] = deleted;
    if (!row) throw AppError.notFound("Audit webhook");
    await recordAudit(tx, context, {
      org_id: input.orgId,
      action: "audit_webhook.delete",
      target_type: "audit_webhook",
      target_id: input.orgId,
      metadata: { destination: auditedDestination(row.url) },
    });
  });
}

/**
 * Re-encrypts the webhook secrets not under the active key (after SECRET_KEYS gained a new first
 * key); returns how many were rotated and the orgs whose secret cannot be opened.
 */
export async function rotateAuditWebhookSecretKeys(
  db: Db,
  secrets: SecretStore,
  scope: { orgId?: string | undefined } = {},
): Promise<{ rotated: number; failed: { org_id: string; reason: string }[] }> {
  const rows = await db
    .select({ org_id: auditWebhooks.org_id, secret_ciphertext: auditWebhooks.secret_ciphertext })
    .from(auditWebhooks)
    .where(scope.orgId ? eq(auditWebhooks.org_id, scope.orgId) : undefined);
  let rotated = 0;
  const failed: { org_id: string; reason: string }[] = [];
  for (const row of rows) {
    let ciphertext: string;
    try {
      if (!secrets.needsRotation(row.secret_ciphertext)) continue;
      ciphertext = secrets.rotate(row.secret_ciphertext, secretBinding(row.org_id));
    } catch (error) {
      failed.push({ org_id: row.org_id, reason: errorText(error) });
      continue;
    }
    // Only if unchanged since read: a secret rotated meanwhile must not be overwritten.
    const updated = await db
      .update(auditWebhooks)
      .set({ secret_ciphertext: ciphertext })
      .where(
        and(
          eq(auditWebhooks.org_id, row.org_id),
          eq(auditWebhooks.secret_ciphertext, row.secret_ciphertext),
        ),
      )
      .returning({ org_id: auditWebhooks.org_id });
    rotated += updated.length;
  }
  return { rotated, failed };
}

export interface AuditWebhookDeliveryOptions {
  /** Events per request. */
  batchSize: number;
  /** The first retry's delay; each further failure doubles it up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long the receiver has to answer. */
  timeoutMs: number;
}

/** Longer than any request may take, so a lease only runs out when its holder is gone. */
const leaseMs = (options: AuditWebhookDeliveryOptions) => options.timeoutMs * 3 + 30_000;

export function auditWebhookRetryDelayMs(
  failures: number,
  options: Pick<AuditWebhookDeliveryOptions, "retryBaseMs" | "retryMaxMs">,
): number {
  return Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** Math.min(failures - 1, 30));
}

const milliseconds = (ms: number) => sql`make_interval(secs => ${ms / 1000})`;

/**
 * Takes one org's webhook that is due and has events past its cursor, unless another replica
 * holds it: FOR UPDATE SKIP LOCKED makes concurrent claims pick different rows, and the lease
 * keeps the row this replica's until it is released or runs out.
 */
async function claimDueWebhook(
  db: Db,
  options: AuditWebhookDeliveryOptions,
): Promise<(AuditWebhook & { lease: string }) | null> {
  const lease = randomUUID();
  const due = sql`select w.org_id from ${auditWebhooks} w
    join ${auditChainHeads} h on h.org_id = w.org_id
    where w.enabled and w.next_attempt_at <= now() and h.seq > w.cursor_seq
      and (w.lease_until is null or w.lease_until < now())
    order by w.next_attempt_at
    limit 1
    for update of w skip locked`;
  const [row] = await db
    .update(auditWebhooks)
    .set({ lease_owner: lease, lease_until: sql`now() + ${milliseconds(leaseMs(options))}` })
    .where(sql`${auditWebhooks.org_id} = (${due})`)
    .returning();
  return row ? { ...row, lease } : null;
}

/** POSTs one batch; null when the receiver acknowledged it, else why not. */
async function post(
  deps: AuditWebhookDeps,
  webhook: AuditWebhook,
  events: (typeof auditEvents.$inferSelect)[],
  timeoutMs: number,
): Promise<string | null> {
  let secret: string;
  try {
    secret = deps.secrets.decrypt(webhook.secret_ciphertext, secretBinding(webhook.org_id));
  } catch (error) {
    return `The signing secret cannot be decrypted (${errorText(error)}); rotate it`;
  }
  const body = JSON.stringify({
    org_id: webhook.org_id,
    events: events.map(auditExportRecord),
  });
  try {
    const response = await postSignedWebhook(deps.outbound, {
      url: webhook.url,
      secret,
      body,
      prefix: HEADER_PREFIX,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) return null;
    return `The receiver answered HTTP ${response.status}`;
  } catch (error) {
    return errorText(error);
  }
}

/**
 * Delivers what is due, one org's batch at a time, until nothing is due or claimable; returns the
 * number of events the receivers acknowledged. Safe to run on every replica at once.
 */
export async function deliverAuditWebhooks(
  db: Db,
  deps: AuditWebhookDeps,
  options: AuditWebhookDeliveryOptions,
): Promise<number> {
  let delivered = 0;
  for (;;) {
    const webhook = await claimDueWebhook(db, options);
    if (!webhook) return delivered;
    // Read before the events: every event up to it is committed (the head moves in the same
    // transaction as the insert), so finding none past the cursor means retention deleted them.
    const [head] = await db
      .select({ seq: auditChainHeads.seq })
      .from(auditChainHeads)
      .where(eq(auditChainHeads.org_id, webhook.org_id));
    const events = await db
      .select()
      .from(auditEvents)
      .where(
        and(eq(auditEvents.org_id, webhook.org_id), gt(auditEvents.chain_seq, webhook.cursor_seq)),
      )
      .orderBy(asc(auditEvents.chain_seq))
      .limit(options.batchSize);
    const last = events.at(-1);
    const failure = last
      ? await post(deps, webhook, events, options.timeoutMs)
      : // Retention deleted them before they were delivered: move past the gap.
        null;
    const held = and(
      eq(auditWebhooks.org_id, webhook.org_id),
      eq(auditWebhooks.lease_owner, webhook.lease),
    );
    const release = { lease_owner: null, lease_until: null };
    if (failure === null) {
      await db
        .update(auditWebhooks)
        .set({
          ...release,
          cursor_seq: last?.chain_seq ?? head?.seq ?? webhook.cursor_seq,
          ...(last ? { last_delivered_event_id: last.id, last_delivered_at: sql`now()` } : {}),
          consecutive_failures: 0,
          next_attempt_at: sql`now()`,
        })
        .where(held);
      delivered += events.length;
    } else {
      const failures = webhook.consecutive_failures + 1;
      await db
        .update(auditWebhooks)
        .set({
          ...release,
          last_error: failure,
          last_error_at: sql`now()`,
          consecutive_failures: failures,
          next_attempt_at: sql`now() + ${milliseconds(auditWebhookRetryDelayMs(failures, options))}`,
        })
        .where(held);
    }
  }
}

/**
 * Runs `deliverAuditWebhooks` every `intervalMs` on this replica (never two rounds at once);
 * `close` stops it and waits for the round in progress.
 */
export function startAuditWebhookDelivery(
  db: Db,
  deps: AuditWebhookDeps,
  options: AuditWebhookDeliveryOptions & {
    intervalMs: number;
    onError: (error: unknown) => void;
  },
): { close(): Promise<void> } {
  let round: Promise<void> = Promise.resolve();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      round = deliverAuditWebhooks(db, deps, options).then(
        () => undefined,
        (error: unknown) => {
          options.onError(error);
        },
      );
      void round.then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await round;
    },
  };
}
