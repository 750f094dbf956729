import { describe, expect, it } from "vitest";
import { threadCpuMs } from "../testing/event-loop";
import {
  InvalidJsonSchemaError,
  JSON_SCHEMA_LIMITS,
  JsonSchemaLimitError,
  compileJsonSchema,
  validateJson,
  withValidationBudget,
} from "./json-schema";

/**
 * The one timing bound the tests allow (issue 11: "the event loop never blocks more than 50 ms").
 * Every case below blocked for seconds to hours before, so the margin cannot flake. This thread's
 * CPU time, not wall time: on a shared machine the wall clock also counts other processes' turns.
 */
const MAX_BLOCK_MS = 50;

/** Runs `work` synchronously and fails if it held the event loop longer than MAX_BLOCK_MS. */
function quickly<T>(work: () => T): T {
  const before = threadCpuMs();
  const result = work();
  expect(threadCpuMs() - before).toBeLessThan(MAX_BLOCK_MS);
  return result;
}

function quicklyThrows(work: () => unknown): Error {
  const before = threadCpuMs();
  let thrown: unknown;
  try {
    work();
  } catch (error) {
    thrown = error;
  }
  expect(threadCpuMs() - before).toBeLessThan(MAX_BLOCK_MS);
  expect(thrown).toBeInstanceOf(Error);
  return thrown as Error;
}

/** Compiles outside the timed part: compiling a legitimate schema is paid once per process. */
function warm(schema: object): object {
  compileJsonSchema(schema);
  return schema;
}

describe("hostile patterns", () => {
  it("runs catastrophic-backtracking patterns in linear time", () => {
    const schema = warm({ type: "string", pattern: "^(a+)+$" });
    expect(quickly(() => validateJson(schema, `${"a".repeat(28)}b`)).valid).toBe(false);
    expect(quickly(() => validateJson(schema, `${"a".repeat(50_000)}b`)).valid).toBe(false);
    expect(quickly(() => validateJson(schema, "a".repeat(50_000)))).toEqual({ valid: true });
  });

  it("runs patternProperties and additionalProperties lookups in linear time", () => {
    const schema = warm({
      type: "object",
      patternProperties: { "^(a|aa)+$": { type: "string" } },
      additionalProperties: false,
    });
    const key = `${"a".repeat(40)}!`;
    const result = quickly(() => validateJson(schema, { [key]: "x", aaaa: 1 }));
    expect(result).toEqual({
      valid: false,
      issues: [
        { path: [key], message: "unexpected property '" + key + "'" },
        { path: ["aaaa"], message: "must be string" },
      ],
    });
  });

  it("keeps ECMAScript meaning for ., \\s and \\S", () => {
    expect(validateJson({ pattern: "^.$" }, "\n").valid).toBe(false);
    expect(validateJson({ pattern: "^.$" }, "😀").valid).toBe(true);
    expect(validateJson({ pattern: "^\\s$" }, "\u00a0").valid).toBe(true);
    expect(validateJson({ pattern: "^[^\\S]$" }, "\u2003").valid).toBe(true);
    expect(validateJson({ pattern: "^(?<year>\\d{4})-\\u0041$" }, "2024-A").valid).toBe(true);
  });

  it.each([
    ["a lookahead", "^(?=a)a$", "lookahead (?="],
    ["a negative lookbehind", "(?<!x)a", "lookbehind (?<!"],
    ["a backreference", "(a)\\1", "backreference \\1"],
    ["a named backreference", "(?<n>a)\\k<n>", "named backreference"],
    ["a script property RE2 lacks", "\\p{Script=Greek}", "RE2"],
    ["an invalid regex", "(", "not a valid regular expression"],
    ["an overlong pattern", "a".repeat(2001), "longer than 2000"],
  ])("refuses %s at load, naming where it is", (_name, pattern, message) => {
    const error = quicklyThrows(() =>
      validateJson(
        { properties: { x: { pattern }, y: { patternProperties: { [pattern]: {} } } } },
        {},
      ),
    );
    if (!(error instanceof InvalidJsonSchemaError)) throw error;
    const issues = error.issues;
    expect(issues.map((issue) => issue.path)).toEqual([
      ["properties", "x", "pattern"],
      ["properties", "y", "patternProperties", pattern],
    ]);
    for (const issue of issues) expect(issue.message).toContain(message);
  });

  it("does not read `pattern` inside data keywords as a pattern", () => {
    expect(validateJson({ const: { pattern: "(?=x)" } }, { pattern: "(?=x)" })).toEqual({
      valid: true,
    });
  });

  it("stops a check whose pattern work exceeds the budget instead of blocking", () => {
    // Linear, but program size × length: 2.5 s for one 1 MB string before the budget.
    const schema = warm({ type: "string", pattern: "a[ab]{200}c" });
    const error = quicklyThrows(() => validateJson(schema, "ab".repeat(500_000)));
    expect(error).toBeInstanceOf(JsonSchemaLimitError);
    expect(error.message).toMatch(/too long to check/);
    // Many short strings add up to the same budget.
    const many = warm({ type: "array", items: schema });
    const items = Array.from({ length: 2000 }, () => "ab".repeat(300));
    expect(quicklyThrows(() => validateJson(many, items))).toBeInstanceOf(JsonSchemaLimitError);
  });

  it("shares one budget among all the validations of a scope, such as a call's policies", () => {
    const schema = warm({ type: "string", pattern: "a[ab]{200}c" });
    const value = "ab".repeat(3000);
    // Alone, each check fits the budget; a hundred policies checking the same value do not.
    expect(validateJson(schema, value).valid).toBe(false);
    const error = quicklyThrows(() => {
      withValidationBudget(() => {
        for (let i = 0; i < 100; i++) validateJson(schema, value);
      });
    });
    expect(error).toBeInstanceOf(JsonSchemaLimitError);
    // The scope ends with the work: the next check has its own budget again.
    expect(validateJson(schema, value).valid).toBe(false);
  });
});

describe("hostile schemas", () => {
  it("stops $ref chains that fan out exponentially", () => {
    const levels = 40;
    const $defs: Record<string, object> = { [`d${levels}`]: { type: "string", minLength: 1 } };
    for (let i = 0; i < levels; i++) {
      const next = { $ref: `#/$defs/d${i + 1}` };
      $defs[`d${i}`] = { allOf: [next, next] };
    }
    const schema = warm({ $defs, $ref: "#/$defs/d0" });
    const error = quicklyThrows(() => validateJson(schema, "x"));
    expect(error).toBeInstanceOf(JsonSchemaLimitError);
    expect(error.message).toContain(`${JSON_SCHEMA_LIMITS.maxSteps} steps`);
  });

  it("stops a $ref that recurses without consuming the value", () => {
    const schema = warm({
      $defs: { loop: { allOf: [{ $ref: "#/$defs/loop" }] } },
      $ref: "#/$defs/loop",
    });
    expect(quicklyThrows(() => validateJson(schema, 1))).toBeInstanceOf(JsonSchemaLimitError);
  });

  it("checks uniqueItems on large arrays in one pass", () => {
    const schema = warm({ type: "array", uniqueItems: true });
    // ajv compared every pair: 1.2 s for these, 19 s for 20,000.
    const distinct = Array.from({ length: 5000 }, (_, i) => ({ id: i, tags: [i % 7] }));
    expect(quickly(() => validateJson(schema, distinct))).toEqual({ valid: true });
    // Key order does not make objects different; 1 and 1.0 are the same number.
    expect(validateJson(schema, [{ a: 1, b: [2] }, 3, { b: [2], a: 1.0 }])).toEqual({
      valid: false,
      issues: [
        { path: [], message: "must not have duplicate items (items ## 0 and 2 are identical)" },
      ],
    });
  });

  it("checks the url and regex formats in linear time", () => {
    const url = warm({ type: "string", format: "url" });
    expect(quickly(() => validateJson(url, `http://${"::".repeat(40_000)}!`)).valid).toBe(false);
    expect(validateJson(url, "https://example.com/a?b=c").valid).toBe(true);
    expect(validateJson(url, "mailto:a@example.com").valid).toBe(false);
    expect(validateJson(url, "https://exa mple.com").valid).toBe(false);
    const regex = warm({ type: "string", format: "regex" });
    expect(quickly(() => validateJson(regex, "a.".repeat(50_000))).valid).toBe(false);
    expect(validateJson(regex, "^a+$").valid).toBe(true);
    expect(validateJson(regex, "(").valid).toBe(false);
  });

  it("treats huge and tiny multipleOf without looping", () => {
    const schema = warm({ type: "number", multipleOf: 1e-308 });
    expect(quickly(() => validateJson(schema, 1e308)).valid).toBe(false);
    expect(validateJson({ multipleOf: 1e308 }, 0)).toEqual({ valid: true });
  });

  it.each([
    ["an enum over the limit", { enum: Array.from({ length: 1001 }, (_, i) => i) }, ["enum"]],
    [
      "a schema over the size limit",
      { description: "x".repeat(JSON_SCHEMA_LIMITS.maxSchemaChars) },
      [],
    ],
    [
      "too many subschemas",
      {
        properties: Object.fromEntries(
          Array.from({ length: JSON_SCHEMA_LIMITS.maxSubschemas }, (_, i) => [`p${i}`, {}]),
        ),
      },
      ["properties", `p${JSON_SCHEMA_LIMITS.maxSubschemas - 1}`],
    ],
    [
      "nesting over the limit",
      Array.from({ length: 100 }).reduce<object>((inner) => ({ not: inner }), {}),
      [],
    ],
  ])("refuses %s before compiling it", (_name, schema, path) => {
    const error = quicklyThrows(() => validateJson(schema, {}));
    if (!(error instanceof InvalidJsonSchemaError)) throw error;
    expect(error.issues).toEqual([
      { path, message: expect.stringMatching(/limit|allowed/) as unknown },
    ]);
  });

  it("reports data nested too deeply for uniqueItems as a limit, not a broken schema", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => validateJson({ uniqueItems: true }, [deep, 2])).toThrow(JsonSchemaLimitError);
  });
});
