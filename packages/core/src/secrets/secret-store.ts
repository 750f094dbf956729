import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { SecretKey } from "./keys";
import { SECRET_KEY_BYTES, SECRET_KEY_ID_PATTERN } from "./keys";

/**
 * Every envelope is bound to what owns it (`binding`, e.g. a connection's org and id): the binding is
 * authenticated with the ciphertext, so an envelope copied to another owner does not open.
 * Envelopes written before bindings existed (version v1) still open under any binding until they are
 * rotated, which re-encrypts them bound.
 */
export interface SecretStore {
  encrypt(plaintext: string, binding: string): string;
  decrypt(envelope: string, binding: string): string;
  /**
   * Re-encrypts with the active key and the current envelope version, bound to `binding`; the
   * plaintext is unchanged. Already-current envelopes are returned as is.
   */
  rotate(envelope: string, binding: string): string;
  /** Encrypted under a key that is no longer the active one, or not bound to its owner (v1). */
  needsRotation(envelope: string): boolean;
  readonly activeKeyId: string;
}

export type SecretStoreErrorReason =
  "malformed" | "unsupported_version" | "unknown_key" | "authentication_failed";

/**
 * Thrown for envelopes that cannot be opened. Messages only ever mention the key id and the
 * reason, never plaintext, ciphertext or key material, so they are safe to log.
 */
export class SecretStoreError extends Error {
  override readonly name = "SecretStoreError";
  readonly reason: SecretStoreErrorReason;
  readonly keyId: string | undefined;

  constructor(reason: SecretStoreErrorReason, message: string, keyId?: string) {
    super(message);
    this.reason = reason;
    this.keyId = keyId;
  }
}

const VERSION = "v2";
/** Unbound envelopes from before bindings; readable until rotated, never written. */
const LEGACY_VERSION = "v1";
const ALGORITHM = "aes-256-gcm";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

interface ParsedEnvelope {
  version: string;
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/**
 * `v2.<keyId>.<iv>.<tag>.<ciphertext>`, each binary part base64url without padding; the version,
 * key id and binding are the associated data.
 */
export class AesGcmSecretStore implements SecretStore {
  readonly activeKeyId: string;
  // Private field so util.inspect / JSON.stringify of the store cannot print key material.
  readonly #keys: Map<string, Buffer>;

  constructor(keys: readonly SecretKey[]) {
    const first = keys[0];
    if (!first) throw new Error("A secret store needs at least one key");
    this.#keys = new Map();
    for (const { id, key } of keys) {
      if (!SECRET_KEY_ID_PATTERN.test(id)) throw new Error(`Invalid secret key id "${id}"`);
      if (key.length !== SECRET_KEY_BYTES) {
        throw new Error(
          `Secret key "${id}" must be exactly ${SECRET_KEY_BYTES} bytes, got ${key.length}`,
        );
      }
      if (this.#keys.has(id)) throw new Error(`Secret key id "${id}" is configured twice`);
      // Copy so a caller zeroing or reusing its buffer cannot change our key.
      this.#keys.set(id, Buffer.from(key));
    }
    this.activeKeyId = first.id;
  }

  encrypt(plaintext: string, binding: string): string {
    const keyId = this.activeKeyId;
    const key = this.#requireKey(keyId);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(VERSION, keyId, binding));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, keyId, b64url(iv), b64url(tag), b64url(ciphertext)].join(".");
  }

  decrypt(envelope: string, binding: string): string {
    const parsed = parseEnvelope(envelope);
    const key = this.#requireKey(parsed.keyId);
    try {
      const decipher = createDecipheriv(ALGORITHM, key, parsed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(parsed.version, parsed.keyId, binding));
      decipher.setAuthTag(parsed.tag);
      return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]).toString("utf8");
    } catch {
      // The cause is deliberately dropped: OpenSSL's messages add nothing and we keep the surface small.
      throw new SecretStoreError(
        "authentication_failed",
        `Secret envelope failed authentication (key id '${parsed.keyId}'): it was tampered with, encrypted with a different key or copied from another owner`,
        parsed.keyId,
      );
    }
  }

  rotate(envelope: string, binding: string): string {
    // Decrypt even when current so a corrupt envelope is reported instead of silently kept.
    const plaintext = this.decrypt(envelope, binding);
    return this.needsRotation(envelope) ? this.encrypt(plaintext, binding) : envelope;
  }

  needsRotation(envelope: string): boolean {
    const parsed = parseEnvelope(envelope);
    return parsed.version !== VERSION || parsed.keyId !== this.activeKeyId;
  }

  #requireKey(keyId: string): Buffer {
    const key = this.#keys.get(keyId);
    if (!key) {
      throw new SecretStoreError(
        "unknown_key",
        `Secret envelope was encrypted with key id '${keyId}', which is not configured; add it to SECRET_KEYS to decrypt`,
        keyId,
      );
    }
    return key;
  }
}

export function createSecretStore(keys: readonly SecretKey[]): SecretStore {
  return new AesGcmSecretStore(keys);
}

/** Reads the key id without decrypting, e.g. to report which keys are still in use. */
export function envelopeKeyId(envelope: string): string {
  return parseEnvelope(envelope).keyId;
}

// Binding version and key id means an attacker cannot relabel an envelope to make it be opened
// under different rules or a different key; the binding (v2 on) ties it to its owner. Key ids
// hold no dots, so the concatenation is unambiguous.
function associatedData(version: string, keyId: string, binding: string): Buffer {
  const parts = version === LEGACY_VERSION ? [version, keyId] : [version, keyId, binding];
  return Buffer.from(parts.join("."), "utf8");
}

function parseEnvelope(envelope: string): ParsedEnvelope {
  const parts = envelope.split(".");
  const [version, keyId, iv, tag, ciphertext] = parts;
  if (
    parts.length !== 5 ||
    version === undefined ||
    keyId === undefined ||
    iv === undefined ||
    tag === undefined ||
    ciphertext === undefined
  ) {
    throw new SecretStoreError(
      "malformed",
      "Secret envelope is malformed: expected 5 dot-separated parts",
    );
  }
  if (version !== VERSION && version !== LEGACY_VERSION) {
    // The unknown prefix is not echoed: a plaintext stored by mistake could land here.
    throw new SecretStoreError(
      "unsupported_version",
      `Secret envelope version is not supported (expected '${VERSION}')`,
    );
  }
  if (!SECRET_KEY_ID_PATTERN.test(keyId)) {
    throw new SecretStoreError("malformed", "Secret envelope is malformed: invalid key id");
  }
  const ivBytes = fromB64url(iv, "IV");
  const tagBytes = fromB64url(tag, "authentication tag");
  if (ivBytes.length !== IV_BYTES) {
    throw new SecretStoreError(
      "malformed",
      `Secret envelope is malformed: IV must be ${IV_BYTES} bytes`,
      keyId,
    );
  }
  if (tagBytes.length !== TAG_BYTES) {
    throw new SecretStoreError(
      "malformed",
      `Secret envelope is malformed: authentication tag must be ${TAG_BYTES} bytes`,
      keyId,
    );
  }
  return {
    version,
    keyId,
    iv: ivBytes,
    tag: tagBytes,
    ciphertext: fromB64url(ciphertext, "ciphertext"),
  };
}

function b64url(bytes: Buffer): string {
  return bytes.toString("base64url");
}

function fromB64url(value: string, what: string): Buffer {
  if (!B64URL_PATTERN.test(value)) {
    throw new SecretStoreError(
      "malformed",
      `Secret envelope is malformed: ${what} is not base64url`,
    );
  }
  return Buffer.from(value, "base64url");
}
