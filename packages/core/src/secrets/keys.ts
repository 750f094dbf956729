import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** One AES-256 key. `id` is written into every envelope so old ciphertexts stay decryptable. */
export interface SecretKey {
  readonly id: string;
  readonly key: Buffer;
}

export const SECRET_KEY_BYTES = 32;
export const SECRET_KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
export const SECRET_KEY_FILE_NAME = "secret-keys";

// Standard or URL-safe alphabet; checked up front because Buffer.from(…, "base64") silently skips
// characters it does not know, which would turn a typo into a different key.
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/;

/**
 * Parses `id:base64key,id2:base64key`. The first key encrypts, all of them decrypt. Errors name
 * the entry by position (and id once the id is known to be well formed) but never repeat key
 * material: a misplaced colon could otherwise print a key into the logs.
 */
export function parseSecretKeys(value: string, source = "SECRET_KEYS"): SecretKey[] {
  // Newlines are accepted as separators too so a key file can list one key per line.
  const entries = value
    .split(/[,\r\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) {
    throw new Error(`${source} is empty: expected "id:base64key[,id2:base64key…]"`);
  }

  const keys: SecretKey[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    const position = `${source} entry ${index + 1}`;
    const colon = entry.indexOf(":");
    if (colon === -1) {
      throw new Error(`${position} is not in the form "id:base64key"`);
    }
    const id = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!SECRET_KEY_ID_PATTERN.test(id)) {
      throw new Error(
        `${position} has an invalid key id: ids must be 1-32 characters of A-Z, a-z, 0-9, _ or -`,
      );
    }
    const label = `${position} ("${id}")`;
    if (seen.has(id)) {
      throw new Error(`${label} repeats a key id that is already configured`);
    }
    if (encoded.length === 0 || !BASE64_PATTERN.test(encoded)) {
      throw new Error(`${label} is not valid base64`);
    }
    const key = Buffer.from(
      encoded,
      encoded.includes("-") || encoded.includes("_") ? "base64url" : "base64",
    );
    if (key.length !== SECRET_KEY_BYTES) {
      throw new Error(
        `${label} must decode to exactly ${SECRET_KEY_BYTES} bytes, got ${key.length}`,
      );
    }
    seen.add(id);
    keys.push({ id, key });
  });
  return keys;
}

export function formatSecretKeys(keys: readonly SecretKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString("base64")}`).join(",");
}

export function generateSecretKey(id = defaultKeyId()): SecretKey {
  if (!SECRET_KEY_ID_PATTERN.test(id)) throw new Error(`Invalid secret key id "${id}"`);
  return { id, key: randomBytes(SECRET_KEY_BYTES) };
}

// Dated ids make it obvious which key is older when an operator later prepends a new one.
function defaultKeyId(now = new Date()): string {
  const date = now.toISOString().slice(0, 10).replaceAll("-", "");
  return `k${date}-${randomBytes(2).toString("hex")}`;
}

export interface KeyFileResult {
  keys: SecretKey[];
  created: boolean;
  path: string;
  /** The file can be read by group or others; callers should warn (we still use it). */
  insecurePermissions: boolean;
}

/**
 * Development convenience when SECRET_KEYS is unset: keep a generated key in `<dataDir>/secret-keys`
 * so encrypted connection secrets survive restarts.
 */
export function loadOrCreateKeyFile(dataDir: string): KeyFileResult {
  const path = join(dataDir, SECRET_KEY_FILE_NAME);
  const existing = readKeyFile(path);
  if (existing) return { ...existing, created: false, path };

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keys = [generateSecretKey()];
  try {
    // `wx` so two processes starting together cannot both write: the loser reads the winner's key.
    writeFileSync(path, `${formatSecretKeys(keys)}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if (isErrno(error, "EEXIST")) {
      const raced = readKeyFile(path);
      if (raced) return { ...raced, created: false, path };
    }
    throw error;
  }
  return { keys, created: true, path, insecurePermissions: false };
}

function readKeyFile(
  path: string,
): { keys: SecretKey[]; insecurePermissions: boolean } | undefined {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    throw error;
  }
  // Mode bits mean nothing on Windows; everywhere else group/other access leaks every secret.
  const insecurePermissions = process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0;
  return { keys: parseSecretKeys(content, path), insecurePermissions };
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}
