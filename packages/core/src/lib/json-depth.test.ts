import { describe, expect, it } from "vitest";
import { fieldNestedTooDeep, MAX_JSON_DEPTH } from "./json-depth";

function nested(levels: number, inArrays = false): unknown {
  let value: unknown = "leaf";
  for (let level = 0; level < levels; level++) value = inArrays ? [value] : { a: value };
  return value;
}

describe("fieldNestedTooDeep", () => {
  it("accepts values up to the limit and names the first field beyond it", () => {
    expect(fieldNestedTooDeep({ input: nested(MAX_JSON_DEPTH), name: "x" })).toBeNull();
    expect(fieldNestedTooDeep({ name: "x", input: nested(MAX_JSON_DEPTH + 1) })).toBe("input");
    expect(fieldNestedTooDeep({ list: nested(MAX_JSON_DEPTH + 1, true) })).toBe("list");
    expect(fieldNestedTooDeep({ a: 1, b: null, c: [], d: {} }, 1)).toBeNull();
    expect(fieldNestedTooDeep({ d: { e: [] } }, 1)).toBe("d");
  });

  it("measures any depth without overflowing the stack", () => {
    expect(fieldNestedTooDeep({ arguments: nested(1_000_000) })).toBe("arguments");
  });
});
