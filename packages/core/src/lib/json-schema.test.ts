import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import {
  InvalidJsonSchemaError,
  JsonSchemaValidator,
  compileJsonSchema,
  formatJsonSchemaIssues,
  freezeJsonSchema,
  toJsonPointer,
  validateJson,
} from "./json-schema";
import { assertValidJsonSchema } from "./json-schema-thread";

const objectSchema = {
  type: "object",
  required: ["name", "count"],
  properties: {
    name: { type: "string", minLength: 3 },
    count: { type: "integer" },
    email: { type: "string", format: "email" },
    kind: { enum: ["a", "b"] },
    mode: { const: "fast" },
    nullable: { type: ["string", "null"] },
    items: { type: "array", items: { type: "object", properties: { id: { type: "integer" } } } },
    map: { type: "object", properties: { "0": { type: "string" }, "a/b": { type: "string" } } },
    never: false,
  },
  additionalProperties: false,
};

describe("validateJson (draft-07 default)", () => {
  it("accepts valid values", () => {
    expect(validateJson(objectSchema, { name: "abc", count: 1, email: "a@example.com" })).toEqual({
      valid: true,
    });
    expect(validateJson(true, 42)).toEqual({ valid: true });
    expect(validateJson({}, { anything: [1] })).toEqual({ valid: true });
  });

  it("reports every issue with array paths and readable messages", () => {
    const result = validateJson(objectSchema, {
      name: "ab",
      email: "nope",
      kind: "z",
      mode: "slow",
      nullable: 3,
      items: [{ id: 1 }, { id: 1.5 }],
      map: { "0": 1, "a/b": 2 },
      never: 1,
      extra: true,
    });
    expect(result.valid).toBe(false);
    if (result.valid) return;
    expect(result.issues).toEqual(
      expect.arrayContaining([
        { path: ["count"], message: "missing required property 'count'" },
        { path: ["extra"], message: "unexpected property 'extra'" },
        { path: ["name"], message: "must not have fewer than 3 characters" },
        { path: ["email"], message: 'must match format "email"' },
        { path: ["kind"], message: 'must be one of "a", "b"' },
        { path: ["mode"], message: 'must be equal to "fast"' },
        { path: ["nullable"], message: "must be string or null" },
        { path: ["items", 1, "id"], message: "must be integer" },
        // An object key that looks like an index stays a string; "/" is unescaped.
        { path: ["map", "0"], message: "must be string" },
        { path: ["map", "a/b"], message: "must be string" },
        { path: ["never"], message: "is not allowed" },
      ]),
    );
    expect(result.issues).toHaveLength(11);
  });

  it("reports root-level type errors with an empty path", () => {
    expect(validateJson({ type: "object" }, [1])).toEqual({
      valid: false,
      issues: [{ path: [], message: "must be object" }],
    });
  });

  it("uses draft-07 semantics for draft-07 and unknown $schema values", () => {
    for (const $schema of [
      "http://json-schema.org/draft-07/schema#",
      "https://json-schema.org/draft-07/schema",
      "https://example.com/custom-meta",
    ]) {
      const schema = { $schema, if: { type: "number" }, then: { minimum: 10 } };
      expect(validateJson(schema, 12)).toEqual({ valid: true });
      expect(validateJson(schema, "not a number")).toEqual({ valid: true });
      expect(validateJson(schema, 5).valid).toBe(false);
    }
  });

  it("reads draft-04 schemas with their original exclusive bounds", () => {
    const schema = {
      $schema: "http://json-schema.org/draft-04/schema#",
      id: "http://example.com/draft4",
      type: "object",
      properties: {
        lt: { type: "number", maximum: 5, exclusiveMaximum: true },
        le: { type: "number", maximum: 5, exclusiveMaximum: false },
        gt: { type: "array", items: { type: "number", minimum: 0, exclusiveMinimum: true } },
      },
    };
    expect(validateJson(schema, { lt: 4.9, le: 5, gt: [0.1] })).toEqual({ valid: true });
    const result = validateJson(schema, { lt: 5, le: 5.1, gt: [0] });
    expect(result).toEqual({
      valid: false,
      issues: [
        { path: ["lt"], message: "must be < 5" },
        { path: ["le"], message: "must be <= 5" },
        { path: ["gt", 0], message: "must be > 0" },
      ],
    });
  });

  it("accepts draft-06 schemas", () => {
    const schema = { $schema: "http://json-schema.org/draft-06/schema#", contains: { const: 1 } };
    expect(validateJson(schema, [0, 1])).toEqual({ valid: true });
    expect(validateJson(schema, [0]).valid).toBe(false);
  });
});

describe("validateJson (draft 2020-12)", () => {
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "array",
    prefixItems: [{ type: "string" }, { type: "integer" }],
    items: false,
  };

  it("applies 2020-12 keywords", () => {
    expect(validateJson(schema, ["a", 1])).toEqual({ valid: true });
    expect(validateJson(schema, ["a", "b"])).toEqual({
      valid: false,
      issues: [{ path: [1], message: "must be integer" }],
    });
    expect(validateJson(schema, ["a", 1, true]).valid).toBe(false);
  });

  it("would read the same keywords differently under draft-07", () => {
    // Without $schema, `items: false` forbids every element and prefixItems is an unknown keyword.
    const { $schema: _ignored, ...draft7 } = schema;
    expect(validateJson(draft7, ["a", 1]).valid).toBe(false);
    expect(validateJson(draft7, []).valid).toBe(true);
  });

  it("supports $defs, unevaluatedProperties and dependentRequired", () => {
    const s = {
      $schema: "https://json-schema.org/draft/2020-12/schema#",
      $defs: { base: { type: "object", properties: { a: { type: "string" } } } },
      $ref: "#/$defs/base",
      properties: { b: { type: "string" } },
      dependentRequired: { a: ["b"] },
      unevaluatedProperties: false,
    };
    expect(validateJson(s, { a: "x", b: "y" })).toEqual({ valid: true });
    expect(validateJson(s, { a: "x", c: 1 })).toEqual({
      valid: false,
      issues: [
        { path: [], message: "must have property b when property a is present" },
        { path: ["c"], message: "unexpected property 'c'" },
      ],
    });
  });
});

describe("compiled validator cache", () => {
  it("reuses the compiled validator for structurally equal schemas regardless of key order", () => {
    const a = compileJsonSchema({
      type: "object",
      properties: { x: { type: "string", minLength: 1 } },
    });
    const b = compileJsonSchema({
      properties: { x: { minLength: 1, type: "string" } },
      type: "object",
    });
    expect(b).toBe(a);
    expect(compileJsonSchema({ type: "object", properties: { x: { type: "string" } } })).not.toBe(
      a,
    );
  });

  it("is not affected by later mutation of the caller's schema object", () => {
    const validator = new JsonSchemaValidator();
    const schema: { type: string; minimum?: number } = { type: "number", minimum: 5 };
    expect(validator.validate(schema, 1).valid).toBe(false);
    delete schema.minimum;
    expect(validator.validate(schema, 1).valid).toBe(true);
    expect(validator.validate({ type: "number", minimum: 5 }, 1).valid).toBe(false);
  });

  it("evicts the least recently used schema when full", () => {
    const validator = new JsonSchemaValidator({ cacheSize: 2 });
    const s1 = { type: "string" };
    const s2 = { type: "number" };
    const s3 = { type: "boolean" };
    const v1 = validator.compile(s1);
    const v2 = validator.compile(s2);
    expect(validator.compile(s1)).toBe(v1); // s1 is now the most recent
    const v3 = validator.compile(s3); // evicts s2
    expect(validator.cacheSize).toBe(2);
    expect(validator.compile(s1)).toBe(v1);
    expect(validator.compile(s3)).toBe(v3);
    const v2again = validator.compile(s2); // recompiled; evicts s1
    expect(v2again).not.toBe(v2);
    expect(v2again("x")).toBe(false);
    expect(validator.compile(s3)).toBe(v3);
    expect(validator.compile(s1)).not.toBe(v1);
    validator.clearCache();
    expect(validator.cacheSize).toBe(0);
  });

  it("lets different schemas share an $id", () => {
    const validator = new JsonSchemaValidator();
    expect(validator.validate({ $id: "https://example.com/s", type: "string" }, "x").valid).toBe(
      true,
    );
    expect(validator.validate({ $id: "https://example.com/s", type: "number" }, 1).valid).toBe(
      true,
    );
  });

  it("finds a frozen schema's validator by identity, and the schema can no longer change", () => {
    const validator = new JsonSchemaValidator({ cacheSize: 1 });
    const schema = freezeJsonSchema({
      type: "object",
      properties: { n: { type: "number", minimum: 5 } },
      required: ["n"],
    });
    const compiled = validator.compile(schema);
    expect(validator.validate(schema, { n: 1 }).valid).toBe(false);
    expect(validator.validate(schema, { n: 7 }).valid).toBe(true);
    // Evicted from the LRU by another schema, it is still served for the same frozen object.
    validator.compile({ type: "string" });
    expect(validator.compile(schema)).toBe(compiled);
    expect(validator.validate(schema, { n: 1 }).valid).toBe(false);
    expect(() => {
      (schema.properties.n as { minimum?: number }).minimum = 0;
    }).toThrow(TypeError);
    validator.clearCache();
    expect(validator.compile(schema)).not.toBe(compiled);
    const invalid = freezeJsonSchema({ type: 12 });
    expect(() => validator.compile(invalid)).toThrow(InvalidJsonSchemaError);
    expect(() => validator.compile(invalid)).toThrow(InvalidJsonSchemaError);
  });

  it("caches invalid schemas too and keeps throwing for them", () => {
    const validator = new JsonSchemaValidator();
    expect(() => validator.compile({ type: 12 })).toThrow(InvalidJsonSchemaError);
    expect(() => validator.compile({ type: 12 })).toThrow(InvalidJsonSchemaError);
    expect(validator.cacheSize).toBe(1);
  });
});

describe("invalid schemas", () => {
  const catchAppError = async (fn: () => Promise<void>): Promise<AppError> => {
    try {
      await fn();
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
    throw new Error("expected an AppError");
  };

  it.each([
    ["a bad type", { type: 12 }, /\/type must be/],
    [
      "a bad nested keyword",
      { properties: { a: { minLength: -1 } } },
      /\/properties\/a\/minLength must be >= 0/,
    ],
    [
      "an unresolvable $ref",
      { $ref: "https://example.com/remote.json" },
      /can't resolve reference/,
    ],
    ["an invalid regular expression", { pattern: "(" }, /Invalid regular expression/],
    ["an async schema", { $async: true, type: "object" }, /async schemas are not supported/],
    ["a non-schema value", 12, /must be an object or a boolean/],
    ["an array", [{ type: "string" }], /must be an object or a boolean/],
    ["undefined", undefined, /must be an object or a boolean/],
  ])("rejects %s as a 400 on the field", async (_name, schema, message) => {
    const error = await catchAppError(() => assertValidJsonSchema(schema, "input_schema"));
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/^Invalid JSON Schema: /);
    expect(error.message).toMatch(message);
    expect(error.issues).toEqual([{ path: ["input_schema"], message: error.message }]);
  });

  it("rejects circular schemas instead of overflowing the stack", async () => {
    const schema: Record<string, unknown> = { type: "object" };
    schema.properties = { self: schema };
    await expect(assertValidJsonSchema(schema, "input_schema")).rejects.toThrow(/circular/);
  });

  it.each<[string, unknown]>([
    ["draft-07", { type: "object", properties: { a: { type: "string" } } }],
    ["2020-12", { $schema: "https://json-schema.org/draft/2020-12/schema", prefixItems: [true] }],
    [
      "draft-04",
      { $schema: "http://json-schema.org/draft-04/schema#", maximum: 1, exclusiveMaximum: true },
    ],
    ["boolean", false],
  ])("accepts a valid %s schema", async (_name, schema) => {
    await expect(assertValidJsonSchema(schema, "s")).resolves.toBeUndefined();
  });

  it("makes validateJson throw a typed error rather than report the value as invalid", () => {
    expect(() => validateJson({ type: "nope" }, 1)).toThrow(InvalidJsonSchemaError);
  });
});

describe("formatting helpers", () => {
  it("builds RFC 6901 pointers", () => {
    expect(toJsonPointer([])).toBe("");
    expect(toJsonPointer(["a", 0, "b/c", "d~e"])).toBe("/a/0/b~1c/d~0e");
  });

  it("formats issues on one line", () => {
    const issues = [
      { path: [], message: "must be object" },
      { path: ["a", 0], message: "must be integer" },
      { path: ["b"], message: "x" },
      { path: ["c"], message: "y" },
    ];
    expect(formatJsonSchemaIssues(issues)).toBe(
      "must be object; /a/0 must be integer; /b x (+1 more)",
    );
    expect(formatJsonSchemaIssues(issues.slice(0, 1), 3, "input")).toBe("input must be object");
  });
});
