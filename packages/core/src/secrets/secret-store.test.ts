import { randomBytes } from "node:crypto";
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
    const envelope = store.encrypt('{"headers":{"authorization":"Bearer abc"}}');
    expect(envelope).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(store.decrypt(envelope)).toBe('{"headers":{"authorization":"Bearer abc"}}');
    expect(envelope).not.toContain("Bearer");
    expect(store.activeKeyId).toBe("k1");
    expect(envelopeKeyId(envelope)).toBe("k1");
  });

  it("round-trips unicode and the empty string", () => {
    const text = "pässwörd — 密码 — 🔑\u0000end";
    expect(store.decrypt(store.encrypt(text))).toBe(text);
    expect(store.decrypt(store.encrypt(""))).toBe("");
  });

  it("uses a fresh IV for every encryption", () => {
    const envelopes = Array.from({ length: 50 }, () => store.encrypt("same"));
    expect(new Set(envelopes).size).toBe(50);
    expect(new Set(envelopes.map((e) => e.split(".")[2])).size).toBe(50);
  });

  it.each([
    ["IV", 2],
    ["tag", 3],
    ["ciphertext", 4],
  ])("detects a tampered %s", (_part, index) => {
    const secret = "super-secret-value";
    const error = catchError(() => store.decrypt(tamper(store.encrypt(secret), index)));
    expect(error).toBeInstanceOf(SecretStoreError);
    expect((error as SecretStoreError).reason).toBe("authentication_failed");
    expect((error as SecretStoreError).message).not.toContain(secret);
    expect((error as SecretStoreError).message).not.toContain(k1.key.toString("base64"));
  });

  it("authenticates the key id: relabelling an envelope to another key fails", () => {
    const k2 = key("k2");
    const both = createSecretStore([k1, k2]);
    const relabelled = store.encrypt("x").replace(/^v1\.k1\./, "v1.k2.");
    expect(() => both.decrypt(relabelled)).toThrow(SecretStoreError);
  });

  it("rejects an unknown key id with a typed error naming only the id", () => {
    const other = createSecretStore([key("old")]);
    const envelope = other.encrypt("hunter2");
    const error = catchError(() => store.decrypt(envelope));
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
    const error = catchError(() => store.decrypt(envelope));
    expect(error).toBeInstanceOf(SecretStoreError);
    expect((error as SecretStoreError).message).not.toContain(envelope);
    expect((error as SecretStoreError).message).not.toContain("plain text");
  });

  it("rotates envelopes from an old key to the new active key", () => {
    const oldKey = key("2024");
    const newKey = key("2025");
    const before = createSecretStore([oldKey]);
    const envelope = before.encrypt("token-123");

    // New key first (it encrypts), old key kept so existing envelopes still open.
    const after = createSecretStore([newKey, oldKey]);
    expect(after.activeKeyId).toBe("2025");
    expect(after.decrypt(envelope)).toBe("token-123");
    expect(after.needsRotation(envelope)).toBe(true);

    const rotated = after.rotate(envelope);
    expect(envelopeKeyId(rotated)).toBe("2025");
    expect(after.needsRotation(rotated)).toBe(false);
    expect(after.decrypt(rotated)).toBe("token-123");
    expect(after.rotate(rotated)).toBe(rotated);

    // Once rotated, the old key can be retired.
    expect(createSecretStore([newKey]).decrypt(rotated)).toBe("token-123");
    expect(() => createSecretStore([newKey]).decrypt(envelope)).toThrow(/'2024'/);
  });

  it("refuses to rotate a corrupt envelope", () => {
    expect(() => store.rotate(tamper(store.encrypt("x"), 4))).toThrow(SecretStoreError);
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
    const envelope = s.encrypt("v");
    mutable.key.fill(0);
    expect(s.decrypt(envelope)).toBe("v");
  });
});
