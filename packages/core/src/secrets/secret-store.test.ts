import { createCipheriv, randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import type { SecretKey } from "./keys";
import {
  AesGcmSecretStore,
  SecretStoreError,
  createSecretStore,
  envelopeKeyId,
} from "./secret-store";

const key = (id: string): SecretKey => ({ id, key: randomBytes(32) });
const OWNER = "connection:org-1:conn-1";

/** An envelope as written before bindings existed: AAD `v1.<keyId>` only. */
function legacyEnvelope({ id, key: material }: SecretKey, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", material, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`v1.${id}`, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v1", id, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
    .join(".");
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

/** Flips one bit of the base64url part at `index` (2 = IV, 3 = tag, 4 = ciphertext). */
function tamper(envelope: string, index: number): string {
  const parts = envelope.split(".");
  const bytes = Buffer.from(parts[index] ?? "", "base64url");
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  parts[index] = bytes.toString("base64url");
  return parts.join(".");
}

describe("AesGcmSecretStore", () => {
  const k1 = key("k1");
  const store = createSecretStore([k1]);

  it("round-trips plaintext through a versioned envelope", () => {
    const envelope = store.encrypt('{"headers":{"authorization":"Bearer abc"}}', OWNER);
    expect(envelope).toMatch(/^v2\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(store.decrypt(envelope, OWNER)).toBe('{"headers":{"authorization":"Bearer abc"}}');
    expect(envelope).not.toContain("Bearer");
    expect(store.activeKeyId).toBe("k1");
    expect(envelopeKeyId(envelope)).toBe("k1");
  });

  it("round-trips unicode and the empty string", () => {
    const text = "pässwörd — 密码 — 🔑\u0000end";
    expect(store.decrypt(store.encrypt(text, OWNER), OWNER)).toBe(text);
    expect(store.decrypt(store.encrypt("", OWNER), OWNER)).toBe("");
  });

  it("uses a fresh IV for every encryption", () => {
    const envelopes = Array.from({ length: 50 }, () => store.encrypt("same", OWNER));
    expect(new Set(envelopes).size).toBe(50);
    expect(new Set(envelopes.map((e) => e.split(".")[2])).size).toBe(50);
  });

  it.each([
    ["IV", 2],
    ["tag", 3],
    ["ciphertext", 4],
  ])("detects a tampered %s", (_part, index) => {
    const secret = "super-secret-value";
    const error = catchError(() =>
      store.decrypt(tamper(store.encrypt(secret, OWNER), index), OWNER),
    );
    expect(error).toBeInstanceOf(SecretStoreError);
    expect((error as SecretStoreError).reason).toBe("authentication_failed");
    expect((error as SecretStoreError).message).not.toContain(secret);
    expect((error as SecretStoreError).message).not.toContain(k1.key.toString("base64"));
  });

  it("authenticates the key id: relabelling an envelope to another key fails", () => {
    const k2 = key("k2");
    const both = createSecretStore([k1, k2]);
    const relabelled = store.encrypt("x", OWNER).replace(/^v2\.k1\./, "v2.k2.");
    expect(() => both.decrypt(relabelled, OWNER)).toThrow(SecretStoreError);
  });

  it("rejects an unknown key id with a typed error naming only the id", () => {
    const other = createSecretStore([key("old")]);
    const envelope = other.encrypt("hunter2", OWNER);
    const error = catchError(() => store.decrypt(envelope, OWNER));
    expect(error).toBeInstanceOf(SecretStoreError);
    expect((error as SecretStoreError).reason).toBe("unknown_key");
    expect((error as SecretStoreError).keyId).toBe("old");
    expect((error as SecretStoreError).message).toContain("'old'");
    expect((error as SecretStoreError).message).not.toContain("hunter2");
  });

  it.each([
    ["not an envelope", "plain text secret"],
    ["too few parts", "v1.k1.abc"],
    ["unknown version", "v9.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AA"],
    ["bad key id", "v1.k 1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AA"],
    ["short IV", "v1.k1.AAAA.AAAAAAAAAAAAAAAAAAAAAA.AA"],
    ["non-base64url part", "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.A+A="],
  ])("rejects a malformed envelope (%s) without echoing it", (_name, envelope) => {
    const error = catchError(() => store.decrypt(envelope, OWNER));
    expect(error).toBeInstanceOf(SecretStoreError);
    expect((error as SecretStoreError).message).not.toContain(envelope);
    expect((error as SecretStoreError).message).not.toContain("plain text");
  });

  it("rotates envelopes from an old key to the new active key", () => {
    const oldKey = key("2024");
    const newKey = key("2025");
    const before = createSecretStore([oldKey]);
    const envelope = before.encrypt("token-123", OWNER);

    // New key first (it encrypts), old key kept so existing envelopes still open.
    const after = createSecretStore([newKey, oldKey]);
    expect(after.activeKeyId).toBe("2025");
    expect(after.decrypt(envelope, OWNER)).toBe("token-123");
    expect(after.needsRotation(envelope)).toBe(true);

    const rotated = after.rotate(envelope, OWNER);
    expect(envelopeKeyId(rotated)).toBe("2025");
    expect(after.needsRotation(rotated)).toBe(false);
    expect(after.decrypt(rotated, OWNER)).toBe("token-123");
    expect(after.rotate(rotated, OWNER)).toBe(rotated);

    // Once rotated, the old key can be retired.
    expect(createSecretStore([newKey]).decrypt(rotated, OWNER)).toBe("token-123");
    expect(() => createSecretStore([newKey]).decrypt(envelope, OWNER)).toThrow(/'2024'/);
  });

  it("binds an envelope to its owner: copied to another owner it does not open", () => {
    const envelope = store.encrypt("bound-secret", OWNER);
    for (const other of ["connection:org-1:conn-2", "connection:org-2:conn-1", ""]) {
      const error = catchError(() => store.decrypt(envelope, other));
      expect(error).toBeInstanceOf(SecretStoreError);
      expect((error as SecretStoreError).reason).toBe("authentication_failed");
      expect((error as SecretStoreError).message).not.toContain("bound-secret");
    }
    expect(() => store.rotate(envelope, "connection:org-1:conn-2")).toThrow(SecretStoreError);
  });

  it("reads unbound v1 envelopes until rotation binds them", () => {
    const legacy = legacyEnvelope(k1, "old-token");
    expect(store.decrypt(legacy, OWNER)).toBe("old-token");
    // Same active key, but the version is old: rotation is still due, and it binds.
    expect(store.needsRotation(legacy)).toBe(true);
    const bound = store.rotate(legacy, OWNER);
    expect(bound).toMatch(/^v2\.k1\./);
    expect(store.needsRotation(bound)).toBe(false);
    expect(store.decrypt(bound, OWNER)).toBe("old-token");
    expect(() => store.decrypt(bound, "connection:org-1:other")).toThrow(SecretStoreError);
  });

  it("refuses to rotate a corrupt envelope", () => {
    expect(() => store.rotate(tamper(store.encrypt("x", OWNER), 4), OWNER)).toThrow(
      SecretStoreError,
    );
  });

  it("validates its keys and never exposes them through inspection", () => {
    expect(() => new AesGcmSecretStore([])).toThrow(/at least one key/);
    expect(() => new AesGcmSecretStore([{ id: "a", key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => new AesGcmSecretStore([k1, k1])).toThrow(/twice/);
    expect(() => new AesGcmSecretStore([{ id: "a.b", key: randomBytes(32) }])).toThrow(
      /Invalid secret key id/,
    );

    const hex = k1.key.toString("hex");
    const printed = inspect(store, { depth: 10 }) + JSON.stringify(store);
    expect(printed).not.toContain(hex);
    expect(printed).not.toContain(k1.key.toString("base64"));
  });

  it("copies key material so later changes to the caller's buffer have no effect", () => {
    const mutable = key("m");
    const s = createSecretStore([mutable]);
    const envelope = s.encrypt("v", OWNER);
    mutable.key.fill(0);
    expect(s.decrypt(envelope, OWNER)).toBe("v");
  });
});
