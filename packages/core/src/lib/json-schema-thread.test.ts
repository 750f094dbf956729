import { describe, expect, it } from "vitest";
import { hostileJsonSchema, watchEventLoop } from "../testing/event-loop";
import { InvalidJsonSchemaError, JSON_SCHEMA_LIMITS, validateJsonEach } from "./json-schema";
import { checkJsonOffLoop, checkJsonSchema, validateJsonOffLoop } from "./json-schema-thread";

/** Issue 11: "the event loop never blocks more than 50 ms". */
const MAX_BLOCK_MS = 50;

const letters = "q".repeat(1000);

describe("JSON Schema checks off the event loop", () => {
  it("compiles and checks a schema at the limits without holding the event loop", async () => {
    // On the event loop this schema held it for seconds: ~1,000 RE2 programs, ajv's code
    // generation, then V8 compiling the generated code.
    const schema = hostileJsonSchema("thread");
    const blocked = watchEventLoop();
    await checkJsonSchema(schema);
    const results = await Promise.all([
      validateJsonOffLoop(schema, { p0: `${letters}thread0` }),
      validateJsonOffLoop(schema, { p0: `${letters}thread1`, p1: `${"a".repeat(40)}!` }),
      validateJsonOffLoop(schema, { p2: 3, p3: "aaathread3" }),
    ]);
    expect(blocked()).toBeLessThan(MAX_BLOCK_MS);
    expect(results).toEqual([
      { valid: true },
      {
        valid: false,
        issues: [
          { path: ["p0"], message: 'must match pattern "^[a-z]{1000}thread0$"' },
          { path: ["p1"], message: 'must match pattern "^(a+)+thread1$"' },
          { path: ["p1"], message: 'must match format "email"' },
        ],
      },
      {
        valid: false,
        issues: [
          { path: ["p2"], message: "must be string" },
          { path: ["p3"], message: 'must match format "email"' },
        ],
      },
    ]);
  }, 300_000);

  it("gives the same outcomes as on the event loop, one budget for a batch", async () => {
    const light = { type: "string", pattern: "a[ab]{200}c" };
    const heavy = {
      type: "string",
      allOf: Array.from({ length: 40 }, (_, i) => ({ not: { const: `x${i}` } })),
    };
    const broken = { type: 12 };
    const over = {
      properties: Object.fromEntries(
        Array.from({ length: JSON_SCHEMA_LIMITS.maxSubschemas }, (_, i) => [`p${i}`, {}]),
      ),
    };
    const value = "ab".repeat(3000);
    for (const schemas of [
      [light, broken, over],
      [light, heavy, broken, over],
      Array.from({ length: 20 }, () => light),
      [heavy, ...Array.from({ length: 20 }, () => light)],
    ]) {
      expect(await checkJsonOffLoop(schemas, value)).toEqual(validateJsonEach(schemas, value));
    }
    const outcomes = await checkJsonOffLoop(
      [heavy, ...Array.from({ length: 20 }, () => light)],
      value,
    );
    expect(outcomes.at(-1)).toMatchObject({ kind: "limit" });
    await expect(checkJsonSchema(broken)).rejects.toBeInstanceOf(InvalidJsonSchemaError);
  });
});
