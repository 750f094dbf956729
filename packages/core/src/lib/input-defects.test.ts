import { describe, expect, it } from "vitest";
import { findInputDefect, MAX_JSON_DEPTH, NESTED_TOO_DEEP } from "./input-defects";

function nested(levels: number, inArrays = false): unknown {
  let value: unknown = "leaf";
  for (let level = 0; level < levels; level++) value = inArrays ? [value] : { a: value };
  return value;
}

describe("findInputDefect", () => {
  it("accepts ordinary JSON, emoji (surrogate pairs) included", () => {
    expect(
      findInputDefect({ name: "Acme 😀", list: [1, null, true, { "k é": "ü" }], n: 1e308 }),
    ).toBeNull();
    expect(findInputDefect({})).toBeNull();
  });

  it("accepts values up to the depth limit and names the first field beyond it", () => {
    expect(findInputDefect({ input: nested(MAX_JSON_DEPTH), name: "x" })).toBeNull();
    expect(findInputDefect({ name: "x", input: nested(MAX_JSON_DEPTH + 1) })).toEqual({
      path: ["input"],
      message: NESTED_TOO_DEEP,
    });
    expect(findInputDefect({ list: nested(MAX_JSON_DEPTH + 1, true) })?.path).toEqual(["list"]);
    expect(findInputDefect({ a: 1, b: null, c: [], d: {} }, 1)).toBeNull();
    expect(findInputDefect({ d: { e: [] } }, 1)).toEqual({
      path: ["d"],
      message: "Nested deeper than 1 levels",
    });
  });

  it("measures any depth without overflowing the stack", () => {
    expect(findInputDefect({ arguments: nested(1_000_000) })?.path).toEqual(["arguments"]);
  });

  it("names the field holding a NUL character by its full path", () => {
    expect(findInputDefect({ a: { b: ["ok", "x\u0000y"] } })).toEqual({
      path: ["a", "b", 1],
      message: "Must not contain NUL characters (\\u0000)",
    });
    expect(findInputDefect({ name: "\u0000" })).toMatchObject({ path: ["name"] });
  });

  it("refuses unpaired surrogates, high or low", () => {
    expect(findInputDefect({ name: "x\uD800" })).toMatchObject({
      path: ["name"],
      message: expect.stringContaining("unpaired surrogate"),
    });
    expect(findInputDefect({ name: "\uDFFFx" })).toMatchObject({ path: ["name"] });
  });

  it("checks object keys too", () => {
    expect(findInputDefect({ input: { "a\u0000": 1 } })).toEqual({
      path: ["input", "a\u0000"],
      message: "Field name: Must not contain NUL characters (\\u0000)",
    });
    expect(findInputDefect({ "\uD800": 1 })?.path).toEqual(["\uD800"]);
  });
});
