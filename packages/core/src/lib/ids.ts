import { randomUUID } from "node:crypto";

/**
 * UUIDv7 (RFC 9562): the first 48 bits are the Unix time in milliseconds, so ids sort by creation
 * time and keyset pagination can order by the primary key alone. The random bits come from a v4
 * UUID (same variant bits, random everywhere else), which Node draws from a pooled CSPRNG buffer:
 * a fresh `randomBytes` per id costs a call into OpenSSL each, and ids are made on every call.
 */
export function uuidv7(now = Date.now()): string {
  const random = randomUUID();
  const time = now.toString(16).padStart(12, "0");
  // random: xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx (V: the RFC variant, kept as it is)
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15, 18)}-${random.slice(19)}`;
}

/** The lowest UUID of the given millisecond: every UUIDv7 minted at or after it sorts after it. */
export function uuidv7Floor(ms: number): string {
  const time = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-0000-0000-000000000000`;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
