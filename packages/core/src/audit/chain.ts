import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditChainHeads, auditEvents } from "../db/schema";
import type { AuditEvent } from "./audit";

/**
 * Each organization's audit events form a hash chain: the database numbers every new event of an
 * org (`chain_seq`), stores the hash of the one before (`prev_hash`) and hashes the event with it
 * (`hash`, SQL function audit_event_digest; trigger audit_events_chain in migration 0015). A row
 * changed, removed or reordered afterwards no longer matches, and neither does any link after it.
 * Someone who can rewrite the whole table can rewrite the whole chain too: keep the head hash a
 * verification reports (or an export) somewhere else to catch that.
 */

export interface AuditChainBreak {
  /** The first event whose link does not hold (the event after a gap, for removed events). */
  chain_seq: number;
  event_id: string | null;
  reason: string;
}

export interface AuditChainReport {
  valid: boolean;
  /** Events checked: the org's chained events, oldest retained first. */
  events: number;
  /**
   * Where the check started: 1, or later once retention has deleted older events (the first
   * retained event's `prev_hash` then points at a deleted one and is taken as given).
   */
  first_seq: number | null;
  last_seq: number | null;
  /** The newest link: keep it elsewhere to detect a rewrite of the whole chain later. */
  head_hash: string | null;
  first_broken: AuditChainBreak | null;
}

const PAGE = 1_000;

const digest = sql<string>`audit_event_digest(${auditEvents.prev_hash}, ${auditEvents.chain_seq},
  ${auditEvents.id}, ${auditEvents.org_id}, ${auditEvents.actor_type}::text, ${auditEvents.actor_id},
  ${auditEvents.action}, ${auditEvents.target_type}, ${auditEvents.target_id}, ${auditEvents.metadata},
  ${auditEvents.ip}, ${auditEvents.user_agent}, ${auditEvents.created_at})`;

/** The org's chained events, oldest first, a page at a time (never the whole table in memory). */
async function* chainPages<T extends Record<string, unknown>>(
  read: (after: number) => Promise<(T & { chain_seq: number | null })[]>,
): AsyncGenerator<(T & { chain_seq: number | null })[]> {
  let after = 0;
  for (;;) {
    const rows = await read(after);
    if (rows.length === 0) return;
    yield rows;
    after = rows.at(-1)?.chain_seq ?? after;
    if (rows.length < PAGE) return;
  }
}

/** Checks the org's chain from its oldest retained event to its head; names the first broken link. */
export async function verifyAuditChain(db: Db, orgId: string): Promise<AuditChainReport> {
  const pages = chainPages((after) =>
    db
      .select({
        id: auditEvents.id,
        chain_seq: auditEvents.chain_seq,
        prev_hash: auditEvents.prev_hash,
        hash: auditEvents.hash,
        computed: digest,
      })
      .from(auditEvents)
      .where(and(eq(auditEvents.org_id, orgId), gt(auditEvents.chain_seq, after)))
      .orderBy(asc(auditEvents.chain_seq))
      .limit(PAGE),
  );
  let events = 0;
  let first: number | null = null;
  let previous: { seq: number; hash: string | null } | null = null;
  const report = (broken: AuditChainBreak | null): AuditChainReport => ({
    valid: broken === null,
    events,
    first_seq: first,
    last_seq: previous?.seq ?? null,
    head_hash: previous?.hash ?? null,
    first_broken: broken,
  });
  for await (const rows of pages) {
    for (const row of rows) {
      const seq = row.chain_seq ?? 0;
      events++;
      first ??= seq;
      const broken = (reason: string) => report({ chain_seq: seq, event_id: row.id, reason });
      if (previous && seq !== previous.seq + 1) {
        const missing =
          seq === previous.seq + 2 ? `${previous.seq + 1}` : `${previous.seq + 1}–${seq - 1}`;
        return broken(`event ${missing} of the chain is missing (deleted)`);
      }
      if (previous && row.prev_hash !== previous.hash)
        return broken(`prev_hash is not the hash of event ${previous.seq}`);
      if (row.computed !== row.hash)
        return broken("the event's content does not match its hash (changed after it was written)");
      previous = { seq, hash: row.hash };
    }
  }
  const [head] = await db
    .select({ seq: auditChainHeads.seq, hash: auditChainHeads.hash })
    .from(auditChainHeads)
    .where(eq(auditChainHeads.org_id, orgId));
  const headSeq = head?.seq ?? 0;
  const lastSeq = previous?.seq ?? 0;
  // Retention deletes from the oldest end; a chain that stops short of its head lost its newest.
  if (headSeq !== lastSeq || (head?.hash ?? null) !== (previous?.hash ?? null)) {
    const lost = headSeq === lastSeq + 1 ? `${headSeq}` : `${lastSeq + 1}–${headSeq}`;
    return report({
      chain_seq: lastSeq + 1,
      event_id: null,
      reason: `the newest event${headSeq === lastSeq + 1 ? "" : "s"} (${lost}) of the chain ${headSeq === lastSeq + 1 ? "is" : "are"} missing`,
    });
  }
  return report(null);
}

/** The columns an export carries, the chain's included, in this order. */
export const AUDIT_EXPORT_COLUMNS = [
  "chain_seq",
  "id",
  "created_at",
  "actor_type",
  "actor_id",
  "action",
  "target_type",
  "target_id",
  "metadata",
  "ip",
  "user_agent",
  "prev_hash",
  "hash",
] as const;

export type AuditExportFormat = "ndjson" | "csv";

/**
 * The org's chained events, oldest first, as NDJSON lines or CSV rows (a header first), produced
 * a page at a time for streaming. CSV cells that a spreadsheet would run as a formula are written
 * with a leading `'` (OWASP's CSV injection advice); NDJSON keeps every value exactly.
 */
export async function* exportAuditEvents(
  db: Db,
  orgId: string,
  format: AuditExportFormat,
): AsyncGenerator<string> {
  if (format === "csv") yield `${AUDIT_EXPORT_COLUMNS.join(",")}\r\n`;
  const pages = chainPages((after) =>
    db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.org_id, orgId), gt(auditEvents.chain_seq, after)))
      .orderBy(asc(auditEvents.chain_seq))
      .limit(PAGE),
  );
  for await (const rows of pages) {
    yield rows.map((row) => (format === "csv" ? csvRow(row) : ndjsonLine(row))).join("");
  }
}

/** An event as exports and the audit webhook carry it, its chain links included. */
export function auditExportRecord(
  event: AuditEvent,
): Record<(typeof AUDIT_EXPORT_COLUMNS)[number], unknown> {
  return {
    chain_seq: event.chain_seq,
    id: event.id,
    created_at: event.created_at.toISOString(),
    actor_type: event.actor_type,
    actor_id: event.actor_id,
    action: event.action,
    target_type: event.target_type,
    target_id: event.target_id,
    metadata: event.metadata,
    ip: event.ip,
    user_agent: event.user_agent,
    prev_hash: event.prev_hash,
    hash: event.hash,
  };
}

function ndjsonLine(event: AuditEvent): string {
  return `${JSON.stringify(auditExportRecord(event))}\n`;
}

function csvRow(event: AuditEvent): string {
  const record = auditExportRecord(event);
  return `${AUDIT_EXPORT_COLUMNS.map((column) => csvCell(record[column])).join(",")}\r\n`;
}

/** RFC 4180 quoting, and a `'` before what would start a formula (=, +, -, @, tab, CR). */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text =
    typeof value === "string"
      ? value
      : typeof value === "number" || typeof value === "boolean"
        ? String(value)
        : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n']/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
