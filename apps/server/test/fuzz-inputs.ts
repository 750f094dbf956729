import fc from "fast-check";

/*
 * Hostile inputs for the fuzz tests: values generated from the OpenAPI document's JSON Schemas,
 * mostly plausible (so requests get past validation and into the services), sometimes replaced by
 * the things that broke the platform before: NUL characters, unpaired surrogates, out-of-range
 * dates, huge numbers, bad %-escapes, deep nesting, bodies that are not objects.
 */

export type JsonSchema = Record<string, unknown>;

/** Real ids by the field or parameter name they fill; a request mixes them with random ones. */
export type KnownIds = Record<string, string[]>;

export const HOSTILE_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\uD800",
  "x\uDFFFy",
  "😀\uD83D",
  "0000-01-01T00:00:00Z",
  "-000001-01-01T00:00:00Z",
  "+275760-09-13T00:00:00.000Z",
  "9999-12-31T23:59:59-23:59",
  "0001-01-01T00:00:00+00:01",
  "2023-02-29T00:00:00Z",
  "NaN",
  "1e999",
  "-0",
  "99999999999999999999999999",
  "true",
  "null",
  "[]",
  "{}",
  "'; drop table users; --",
  "../../etc/passwd",
  "<script>alert(1)</script>",
  "a\r\nx-injected: 1",
  "%",
  "%zz",
  "%00",
  "\u202Eevil",
  "İıſK",
  "x".repeat(5000),
  "😀".repeat(300),
];

export const HOSTILE_NUMBERS = [
  -1,
  -0,
  0.5,
  2 ** 31,
  2 ** 53 + 2,
  -(2 ** 63),
  1e308,
  -1e308,
  Number.MIN_VALUE,
];

/** Objects and arrays `depth` levels deep; fast-check prints it by name, not recursively. */
function nestedJson(depth: number): unknown {
  let value: unknown = "leaf";
  for (let level = 0; level < depth; level++) value = level % 2 === 0 ? { a: value } : [value];
  Object.defineProperty(value, fc.toStringMethod, { value: () => `nestedJson(${depth})` });
  return value;
}

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.constantFrom(...HOSTILE_NUMBERS),
  fc.constantFrom(null, true, false, [], {}, [null], { "": "" }, { "a\u0000": 1 }),
  fc.constantFrom(nestedJson(101), nestedJson(2000)),
  fc.constant(JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {}}}')),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/**
 * `encodeURIComponent` for any string: unpaired surrogates (which it refuses) are sent as the
 * replacement character, as a client's UTF-8 encoder would.
 */
export function percentEncode(text: string): string {
  return encodeURIComponent(Buffer.from(text, "utf8").toString("utf8"));
}

/** Path segments as sent, not re-encoded: malformed %-escapes included. */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "%",
    "%zz",
    "%E0%A4%A",
    "%C0%AF",
    "%ED%A0%80",
    "%FF",
    "%00",
    "%2F",
    "%25",
    "%F0%9F%98%80",
    "00000000-0000-0000-0000-000000000000",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "null",
    "0",
    "-1",
    "x".repeat(3000),
  ),
  fc.string({ unit: "binary", maxLength: 20 }).map(percentEncode),
);

/** Bodies that are not a JSON object, or not JSON, or JSON that parsers choke on. */
export const RAW_BODIES = [
  "null",
  "[]",
  "[{}]",
  '"text"',
  "42",
  "true",
  "{",
  '{"a":}',
  "{'single': 1}",
  '{"limit": 1e999}',
  '{"name": "\\u0000"}',
  '{"name": "\\ud800"}',
  '{"name": "a", "name": "b"}',
  "[".repeat(20_000) + "]".repeat(20_000),
  '{"a":'.repeat(5000) + "1" + "}".repeat(5000),
  "\uFEFF{}",
];

export const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/vnd.api+json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=utf-16",
];

const dateTime = fc.oneof(
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom(
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.123456+05:30",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-02-29T00:00:00Z",
    "2026-13-01T00:00:00Z",
  ),
);

/** Generates values for the schemas of one OpenAPI document. */
export class SchemaArbitraries {
  constructor(
    private readonly schemas: Record<string, JsonSchema>,
    private readonly ids: KnownIds,
    private readonly urls: string[],
  ) {}

  private resolve(schema: JsonSchema): JsonSchema {
    const ref = schema.$ref;
    if (typeof ref !== "string") return schema;
    return this.schemas[ref.replace("#/components/schemas/", "")] ?? {};
  }

  /** A value for `field`: mostly plausible, sometimes hostile. */
  value(schema: JsonSchema, field: string, depth = 0): fc.Arbitrary<unknown> {
    return fc.oneof(
      { weight: 6, arbitrary: this.plausible(this.resolve(schema), field, depth) },
      { weight: 1, arbitrary: hostileValue },
    );
  }

  id(field: string): fc.Arbitrary<string> {
    const known = this.ids[field] ?? [];
    return known.length > 0
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known) }, fc.uuid())
      : fc.uuid();
  }

  private plausible(schema: JsonSchema, field: string, depth: number): fc.Arbitrary<unknown> {
    if (depth > 4) return fc.jsonValue({ maxDepth: 2 });
    const alternatives = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
    if (alternatives) {
      return fc.oneof(
        ...alternatives.map((alternative) =>
          this.plausible(this.resolve(alternative), field, depth + 1),
        ),
      );
    }
    if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
    switch (schema.type) {
      case "string":
        return this.string(schema, field);
      case "integer":
        return fc.integer({
          min: typeof schema.minimum === "number" ? schema.minimum : -1_000_000,
          max: typeof schema.maximum === "number" ? schema.maximum : 1_000_000,
        });
      case "number":
        return fc.double({ noNaN: true, noDefaultInfinity: true });
      case "boolean":
        return fc.boolean();
      case "null":
        return fc.constant(null);
      case "array":
        return fc.array(
          this.value(this.resolve((schema.items ?? {}) as JsonSchema), field, depth + 1),
          {
            maxLength: 3,
          },
        );
      case "object":
        return this.object(schema, depth);
      default:
        return fc.jsonValue({ maxDepth: 3 });
    }
  }

  private string(schema: JsonSchema, field: string): fc.Arbitrary<string> {
    if (schema.format === "uuid") return this.id(field);
    if (schema.format === "date-time") return dateTime;
    if (schema.format === "uri" || field === "url") return fc.constantFrom(...this.urls);
    if (field === "email") {
      return fc.oneof(
        fc.emailAddress(),
        fc.constantFrom(...(this.ids.email ?? ["nobody@example.com"])),
      );
    }
    // Kept short by the generator's size, never by a filter: a filter no match can pass (a
    // pattern of exactly 64 hex digits under a 60-character cap) spins synchronously forever.
    if (typeof schema.pattern === "string" && schema.format === undefined)
      return fc.stringMatching(new RegExp(schema.pattern), { size: "xsmall" });
    const maxLength = Math.min(typeof schema.maxLength === "number" ? schema.maxLength : 60, 60);
    return fc.string({ minLength: 1, maxLength, unit: "grapheme" });
  }

  private object(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const fields = Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [
        name,
        this.value(property, name, depth + 1),
      ]),
    );
    const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
    // Mostly with the required fields, so requests reach the services; sometimes without.
    const record = fc.oneof(
      { weight: 3, arbitrary: fc.record(fields, { requiredKeys: required }) },
      { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
    );
    const additional = schema.additionalProperties;
    if (additional === undefined || additional === false) return record;
    const extra = fc.dictionary(
      fc.string({ maxLength: 12 }),
      typeof additional === "object"
        ? this.value(additional as JsonSchema, "", depth + 1)
        : fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 4 },
    );
    return fc.tuple(record, extra).map(([known, more]) => ({ ...more, ...known }));
  }
}
