import { lookup as lookupCallback, type LookupAddress, type LookupOptions } from "node:dns";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Agent } from "undici";
import { AppError } from "../errors";
import { commonJsExports } from "../lib/commonjs";

/**
 * Outbound guards for user-supplied MCP endpoints. Without them any org member could point a
 * connection at the platform's own network (databases, the cloud metadata service) and read the
 * answers back through "test connection" or tool results.
 */

const BLOCKED_HOSTNAMES = new Set(["metadata.google.internal", "metadata.goog"]);

type Ipv4Range = readonly [base: number, prefix: number, label: string];

// Ordered so the most specific label wins (the metadata address sits inside link-local).
const BLOCKED_IPV4_RANGES: readonly Ipv4Range[] = [
  [ipv4ToInt(169, 254, 169, 254), 32, "the cloud metadata address"],
  [ipv4ToInt(0, 0, 0, 0), 8, 'a "this network" address (0.0.0.0/8)'],
  [ipv4ToInt(10, 0, 0, 0), 8, "a private network address (RFC 1918)"],
  [ipv4ToInt(100, 64, 0, 0), 10, "a carrier-grade NAT address (100.64.0.0/10)"],
  [ipv4ToInt(127, 0, 0, 0), 8, "a loopback address"],
  [ipv4ToInt(169, 254, 0, 0), 16, "a link-local address"],
  [ipv4ToInt(172, 16, 0, 0), 12, "a private network address (RFC 1918)"],
  [ipv4ToInt(192, 0, 0, 0), 24, "an IETF protocol address (192.0.0.0/24)"],
  [ipv4ToInt(192, 168, 0, 0), 16, "a private network address (RFC 1918)"],
  [ipv4ToInt(198, 18, 0, 0), 15, "a benchmarking network address (198.18.0.0/15)"],
  [ipv4ToInt(224, 0, 0, 0), 4, "a multicast address"],
  [ipv4ToInt(240, 0, 0, 0), 4, "a reserved address (240.0.0.0/4)"],
];

function ipv4ToInt(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function parseIpv4(address: string): number | null {
  const parts = address.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/** Eight 16-bit groups, or null when `address` is not an IPv6 literal. Zone ids (`%eth0`) are ignored. */
export function parseIpv6(address: string): number[] | null {
  const withoutZone = address.split("%")[0] ?? "";
  const halves = withoutZone.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 === null) return null;
        groups.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function classifyIpv4(value: number): string | null {
  for (const [base, prefix, label] of BLOCKED_IPV4_RANGES) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((value & mask) >>> 0 === base) return label;
  }
  return null;
}

function classifyIpv6(groups: number[]): string | null {
  const g = (index: number): number => groups[index] ?? 0;
  const embeddedV4 = (): number => ((g(6) << 16) | g(7)) >>> 0;
  const zeroUpTo = (end: number): boolean => groups.slice(0, end).every((group) => group === 0);

  if (zeroUpTo(8)) return "the unspecified address (::)";
  if (zeroUpTo(7) && g(7) === 1) return "a loopback address";
  // Addresses that carry an IPv4 address inside them are judged by that IPv4 address, so
  // `::ffff:127.0.0.1` cannot be used to sneak past the IPv4 rules.
  const viaV4 = (kind: string): string | null => {
    const label = classifyIpv4(embeddedV4());
    return label ? `${label} (${kind})` : null;
  };
  if (zeroUpTo(5) && g(5) === 0xffff) return viaV4("IPv4-mapped");
  if (zeroUpTo(6)) return viaV4("IPv4-compatible");
  if (g(0) === 0x64 && g(1) === 0xff9b && groups.slice(2, 6).every((group) => group === 0))
    return viaV4("NAT64");
  if (g(0) === 0x2002) {
    const label = classifyIpv4(((g(1) << 16) | g(2)) >>> 0);
    return label ? `${label} (6to4)` : null;
  }
  if ((g(0) & 0xffc0) === 0xfe80) return "a link-local address (fe80::/10)";
  if ((g(0) & 0xffc0) === 0xfec0) return "a site-local address (fec0::/10)";
  if ((g(0) & 0xfe00) === 0xfc00) return "a unique-local address (fc00::/7)";
  if ((g(0) & 0xff00) === 0xff00) return "a multicast address";
  return null;
}

/**
 * Why `address` (an IPv4 or IPv6 literal) must not be contacted when private networks are
 * blocked, e.g. "a loopback address"; null for public unicast addresses and non-IP strings.
 */
export function blockedAddressReason(address: string): string | null {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  const version = isIP(bare.split("%")[0] ?? "");
  if (version === 4) {
    const value = parseIpv4(bare);
    return value === null ? null : classifyIpv4(value);
  }
  if (version === 6) {
    const groups = parseIpv6(bare);
    return groups ? classifyIpv6(groups) : null;
  }
  return null;
}

function normalizeHostname(hostname: string): string {
  const lower = hostname.toLowerCase();
  const unbracketed = lower.startsWith("[") && lower.endsWith("]") ? lower.slice(1, -1) : lower;
  return unbracketed.endsWith(".") ? unbracketed.slice(0, -1) : unbracketed;
}

const PRIVATE_NETWORK_HINT =
  "connections to private and internal networks are blocked on this server";

/**
 * What a refusal says about a name that resolves inside: only that, never the address or its kind,
 * so the guard cannot be used to map the platform's internal DNS and network.
 */
const RESOLVES_INSIDE = "resolves to a private or reserved address";

/**
 * Throws `AppError.invalidField(field, …)` unless `url` is an http(s) URL that, when
 * `blockPrivateNetworks` is on, names and resolves only to public addresses. The resolved
 * addresses are checked, not just the literal host, so DNS names pointing inside are refused too.
 * The connect that follows resolves again, so connections themselves go through
 * `privateNetworkGuardedFetch`, which re-checks the address actually dialled (DNS rebinding).
 */
export async function assertOutboundUrlAllowed(
  url: string,
  opts: { blockPrivateNetworks: boolean },
  /** The input field the URL came from, named by the refusal. */
  field: string | (string | number)[] = "url",
): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw AppError.invalidField(field, "Not a valid URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw AppError.invalidField(
      field,
      `Only http:// and https:// URLs are allowed, not ${parsed.protocol}//`,
    );
  }
  if (!opts.blockPrivateNetworks) return;

  const host = normalizeHostname(parsed.hostname);
  if (host === "") throw AppError.invalidField(field, "The URL has no host");
  if (BLOCKED_HOSTNAMES.has(host)) {
    throw AppError.invalidField(
      field,
      `Host ${host} is a cloud metadata endpoint; ${PRIVATE_NETWORK_HINT}`,
    );
  }

  if (isIP(host) !== 0) {
    const reason = blockedAddressReason(host);
    if (reason)
      throw AppError.invalidField(field, `Address ${host} is ${reason}; ${PRIVATE_NETWORK_HINT}`);
    return;
  }

  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    const code =
      error instanceof Error && "code" in error && typeof error.code === "string"
        ? ` (${error.code})`
        : "";
    throw AppError.invalidField(
      field,
      `Could not resolve host ${host}${code}, so it cannot be checked against private networks`,
    );
  }
  if (addresses.some(({ address }) => blockedAddressReason(address) !== null))
    throw AppError.invalidField(field, `Host ${host} ${RESOLVES_INSIDE}; ${PRIVATE_NETWORK_HINT}`);
}

/**
 * A tenant's webhook destination (the audit webhook, a guardrail hook), normalised: allowed by
 * `assertOutboundUrlAllowed` and without credentials (they would end up in logs and the audit).
 */
export async function assertWebhookUrl(
  url: string,
  opts: { blockPrivateNetworks: boolean },
  field: string | (string | number)[] = "url",
): Promise<string> {
  await assertOutboundUrlAllowed(url, opts, field);
  const parsed = new URL(url);
  if (parsed.username !== "" || parsed.password !== "")
    throw AppError.invalidField(field, "Credentials in the URL are not allowed");
  return parsed.href;
}

/** A connection the private-network guard refused; `code` lets error translation recognise it. */
export class BlockedAddressError extends Error {
  override readonly name = "BlockedAddressError";
  readonly code = "EBLOCKEDADDRESS";
}

/**
 * The refusal for dialling `hostname` directly when it is a blocked IP literal, null otherwise.
 * Needed next to `guardedLookup` because IP literals are dialled without any lookup.
 */
export function blockedLiteralError(hostname: string): BlockedAddressError | null {
  const host = normalizeHostname(hostname);
  const reason = isIP(host) !== 0 ? blockedAddressReason(host) : null;
  return reason ? new BlockedAddressError(`Refused to connect: ${host} is ${reason}`) : null;
}

/**
 * Resolves like dns.lookup but fails for any answer in a blocked range. Usable as the `lookup`
 * option of net/tls/http(s) connects and of undici's connector, so the check happens on the
 * addresses actually dialled (no window for DNS rebinding).
 */
export function guardedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (
    error: NodeJS.ErrnoException | null,
    address: string | LookupAddress[],
    family?: number,
  ) => void,
): void {
  lookupCallback(hostname, { ...options, all: true, verbatim: true }, (error, addresses) => {
    if (error) {
      callback(error, []);
      return;
    }
    if (addresses.some(({ address }) => blockedAddressReason(address) !== null)) {
      callback(new BlockedAddressError(`Refused to connect: ${hostname} ${RESOLVES_INSIDE}`), []);
      return;
    }
    const [first] = addresses;
    if (options.all) callback(null, addresses);
    else if (first) callback(null, first.address, first.family);
    else callback(new BlockedAddressError(`No address for ${hostname}`), []);
  });
}

let guardedAgent: Promise<Agent> | undefined;

/** undici is loaded with the first guarded connection: nothing needs it before, and it slows a start. */
function privateNetworkGuard(): Promise<Agent> {
  guardedAgent ??= import("undici").then(commonJsExports).then(({ Agent, buildConnector }) => {
    const connect = buildConnector({ lookup: guardedLookup });
    return new Agent({
      connect: (options, callback) => {
        // IP literals (also after a redirect) are dialled without a lookup: check them here.
        const refused = blockedLiteralError(options.hostname);
        if (refused) {
          callback(refused, null);
          return;
        }
        connect(options, callback);
      },
    });
  });
  return guardedAgent;
}

/**
 * fetch whose every connection, redirects included, is checked against the blocked ranges at the
 * moment it is dialled: closes the window between `assertOutboundUrlAllowed` and the connect.
 */
export const privateNetworkGuardedFetch = async (
  url: string | URL,
  init?: RequestInit,
): Promise<Response> =>
  fetch(url, { ...init, dispatcher: (await privateNetworkGuard()) as unknown as NodeDispatcher });

/** The npm undici Agent and the types Node ships for its bundled undici describe the same class. */
type NodeDispatcher = NonNullable<RequestInit["dispatcher"]>;
