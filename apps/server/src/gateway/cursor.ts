import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

/** Items per page of every list the gateway serves. */
export const PAGE_SIZE = 100;

type Position = { after: string } | { offset: number };

/**
 * Cursors are opaque to clients but self-contained, so any process can continue a listing that
 * another one started (no server-side cursor state).
 */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify({ v: 1, ...position }), "utf8").toString("base64url");
}

function invalidCursor(): McpError {
  return new McpError(ErrorCode.InvalidParams, "Invalid cursor");
}

function decode(cursor: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      "v" in parsed &&
      parsed.v === 1
    ) {
      return parsed;
    }
  } catch {
    // reported below
  }
  throw invalidCursor();
}

/** A keyset position (the last name of the previous page), for lists read from the database. */
export function decodeAfterCursor(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  const { after } = decode(cursor);
  if (typeof after !== "string") throw invalidCursor();
  return after;
}

/** An offset, for lists assembled in memory from upstream servers. */
export function decodeOffsetCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const { offset } = decode(cursor);
  if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0) throw invalidCursor();
  return offset;
}

export function pageOf<T>(
  items: readonly T[],
  cursor: string | undefined,
): { items: T[]; nextCursor?: string } {
  const offset = decodeOffsetCursor(cursor);
  const end = offset + PAGE_SIZE;
  return end < items.length
    ? { items: items.slice(offset, end), nextCursor: encodeCursor({ offset: end }) }
    : { items: items.slice(offset) };
}
