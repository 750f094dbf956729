import { describe, expect, it } from "vitest";
import { isUuid, uuidv7 } from "./ids";

describe("uuidv7", () => {
  it("is an RFC 9562 version 7 UUID whose first 48 bits are the time", () => {
    const now = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
    const id = uuidv7(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isUuid(id)).toBe(true);
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(now);
  });

  it("sorts by creation time and does not repeat within one millisecond", () => {
    const start = Date.now();
    const ordered = Array.from({ length: 50 }, (_, index) => uuidv7(start + index));
    expect([...ordered].sort()).toEqual(ordered);
    const sameMillisecond = new Set(Array.from({ length: 10_000 }, () => uuidv7(start)));
    expect(sameMillisecond.size).toBe(10_000);
  });
});
