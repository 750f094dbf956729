import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatSecretKeys, generateSecretKey, loadOrCreateKeyFile, parseSecretKeys } from "./keys";
import { createSecretStore } from "./secret-store";

const b64 = (bytes = 32) => randomBytes(bytes).toString("base64");

describe("parseSecretKeys", () => {
  it("parses a list; the first key is the active one", () => {
    const a = b64();
    const b = randomBytes(32).toString("base64url");
    const keys = parseSecretKeys(` new:${a} , old_1:${b} `);
    expect(keys.map((k) => k.id)).toEqual(["new", "old_1"]);
    expect(keys[0]?.key.toString("base64")).toBe(a);
    expect(keys[1]?.key.toString("base64url")).toBe(b);
    expect(createSecretStore(keys).activeKeyId).toBe("new");
  });

  it("accepts one key per line and a trailing newline", () => {
    expect(parseSecretKeys(`a:${b64()}\nb:${b64()}\n`).map((k) => k.id)).toEqual(["a", "b"]);
  });

  it("round-trips through formatSecretKeys", () => {
    const keys = [generateSecretKey("one"), generateSecretKey("two")];
    expect(parseSecretKeys(formatSecretKeys(keys))).toEqual(keys);
  });

  const secret = b64();
  const short = b64(16);
  it.each([
    ["empty", "", /SECRET_KEYS is empty/],
    ["only separators", " , ,", /SECRET_KEYS is empty/],
    ["missing colon", secret, /entry 1 is not in the form "id:base64key"/],
    ["empty id", `:${secret}`, /entry 1 has an invalid key id/],
    ["id with a dot", `a.b:${secret}`, /entry 1 has an invalid key id/],
    ["id too long", `${"x".repeat(33)}:${secret}`, /entry 1 has an invalid key id/],
    ["duplicate id", `a:${secret},a:${b64()}`, /entry 2 \("a"\) repeats a key id/],
    ["not base64", `a:${secret},b:not*base64!`, /entry 2 \("b"\) is not valid base64/],
    ["empty key", "a:", /entry 1 \("a"\) is not valid base64/],
    ["wrong length", `a:${short}`, /entry 1 \("a"\) must decode to exactly 32 bytes, got 16/],
  ])("rejects %s with a message naming the entry", (_name, value, message) => {
    expect(() => parseSecretKeys(value)).toThrow(message);
  });

  it("never echoes key material in errors", () => {
    const keyMaterial = b64(31);
    for (const value of [
      keyMaterial,
      `bad id:${keyMaterial}`,
      `ok:${keyMaterial}`,
      `ok:${keyMaterial}$`,
    ]) {
      let message = "";
      try {
        parseSecretKeys(value);
      } catch (error) {
        message = error instanceof Error ? error.message : String(error);
      }
      expect(message).not.toBe("");
      expect(message).not.toContain(keyMaterial);
      expect(message).not.toContain(keyMaterial.slice(0, 12));
    }
  });

  it("names the source in messages", () => {
    expect(() => parseSecretKeys("x", "/data/secret-keys")).toThrow(/^\/data\/secret-keys entry 1/);
  });
});

describe("loadOrCreateKeyFile", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "secret-keys-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates a 0600 key file (and missing directories), then reuses it", () => {
    const dataDir = join(dir, "nested", "data");
    const first = loadOrCreateKeyFile(dataDir);
    expect(first.created).toBe(true);
    expect(first.path).toBe(join(dataDir, "secret-keys"));
    expect(first.keys).toHaveLength(1);
    expect(first.keys[0]?.key).toHaveLength(32);
    expect(first.insecurePermissions).toBe(false);
    if (process.platform !== "win32") {
      expect(statSync(first.path).mode & 0o777).toBe(0o600);
    }

    const second = loadOrCreateKeyFile(dataDir);
    expect(second.created).toBe(false);
    expect(second.keys).toEqual(first.keys);

    const envelope = createSecretStore(first.keys).encrypt("persisted", "owner");
    expect(createSecretStore(second.keys).decrypt(envelope, "owner")).toBe("persisted");
  });

  it("reads an existing file in SECRET_KEYS format", () => {
    const keys = [generateSecretKey("b"), generateSecretKey("a")];
    writeFileSync(join(dir, "secret-keys"), `${formatSecretKeys(keys)}\n`, { mode: 0o600 });
    const loaded = loadOrCreateKeyFile(dir);
    expect(loaded.created).toBe(false);
    expect(loaded.keys).toEqual(keys);
  });

  it.skipIf(process.platform === "win32")("flags a key file readable by group or others", () => {
    const path = join(dir, "secret-keys");
    writeFileSync(path, formatSecretKeys([generateSecretKey("a")]));
    chmodSync(path, 0o644);
    expect(loadOrCreateKeyFile(dir).insecurePermissions).toBe(true);
    chmodSync(path, 0o600);
    expect(loadOrCreateKeyFile(dir).insecurePermissions).toBe(false);
  });

  it("reports a corrupt key file instead of replacing it", () => {
    const path = join(dir, "secret-keys");
    writeFileSync(path, "a:tooshort", { mode: 0o600 });
    expect(() => loadOrCreateKeyFile(dir)).toThrow(/secret-keys entry 1 \("a"\)/);
    expect(readFileSync(path, "utf8")).toBe("a:tooshort");
  });
});
