import { describe, expect, it } from "vitest";
import {
  draftToJsonText,
  formValue,
  fromDraft,
  jsonTextToDraft,
  parseRawJson,
  toDraft,
  type Draft,
} from "./draft";
import { labelFor, parseSchema, type FieldSpec } from "./schema";

function objectField(field: FieldSpec) {
  if (field.kind !== "object") throw new Error(`expected an object field, got ${field.kind}`);
  return field;
}

function property(field: FieldSpec, name: string) {
  const found = objectField(field).properties.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no property ${name}`);
  return found;
}

/** Sets a draft value at a dotted path, as the inputs do. */
function set(draft: Draft, path: (string | number)[], next: Draft): Draft {
  const [head, ...rest] = path;
  if (head === undefined) return next;
  if (draft.kind === "object" && typeof head === "string") {
    const child = draft.fields[head];
    if (!child) throw new Error(`no field ${head}`);
    return { kind: "object", fields: { ...draft.fields, [head]: set(child, rest, next) } };
  }
  if (draft.kind === "list" && typeof head === "number") {
    const items = draft.items.slice();
    const child = items[head];
    if (!child) throw new Error(`no item ${head}`);
    items[head] = set(child, rest, next);
    return { kind: "list", items };
  }
  throw new Error(`cannot descend into ${draft.kind} with ${String(head)}`);
}

const text = (value: string): Draft => ({ kind: "text", text: value });

const searchSchema = {
  type: "object",
  properties: {
    query: { type: "string", description: "What to look for", minLength: 2 },
    limit: { type: "integer", minimum: 1, maximum: 100, default: 10 },
    ratio: { type: "number" },
    exact: { type: "boolean", default: false },
    verbose: { type: "boolean" },
    sort: { type: "string", enum: ["relevance", "date"], default: "relevance" },
    tags: { type: "array", items: { type: "string" } },
    filter: {
      type: "object",
      properties: {
        field: { type: "string" },
        op: { enum: ["eq", "ne", "gt"] },
        value: { type: ["string", "null"] },
      },
      required: ["field", "op"],
    },
    metadata: { type: "object", additionalProperties: { type: "string" } },
  },
  required: ["query", "exact"],
  additionalProperties: false,
};

describe("parseSchema", () => {
  it("maps every JSON Schema type to a field kind, with required markers and defaults", () => {
    const field = objectField(parseSchema(searchSchema));
    expect(field.properties.map((p) => [p.name, p.field.kind, p.required])).toEqual([
      ["query", "string", true],
      ["limit", "integer", false],
      ["ratio", "number", false],
      ["exact", "boolean", true],
      ["verbose", "boolean", false],
      ["sort", "enum", false],
      ["tags", "array", false],
      ["filter", "object", false],
      ["metadata", "json", false],
    ]);
    expect(property(field, "query").field.description).toBe("What to look for");
    expect(property(field, "limit").field).toMatchObject({ default: 10, minimum: 1, maximum: 100 });
    expect(property(field, "sort").field).toMatchObject({
      kind: "enum",
      options: ["relevance", "date"],
    });
    const filter = objectField(property(field, "filter").field);
    expect(
      filter.properties.map((p) => [p.name, p.field.kind, p.required, p.field.nullable]),
    ).toEqual([
      ["field", "string", true, false],
      ["op", "enum", true, false],
      ["value", "string", false, true],
    ]);
  });

  it("resolves local $ref, merges allOf and unwraps nullable anyOf", () => {
    const field = objectField(
      parseSchema({
        type: "object",
        $defs: {
          Point: {
            type: "object",
            properties: { x: { type: "number" }, y: { type: "number" } },
            required: ["x"],
          },
        },
        properties: {
          at: { $ref: "#/$defs/Point", description: "Where" },
          maybe: { anyOf: [{ type: "integer" }, { type: "null" }] },
          mode: { oneOf: [{ const: "fast" }, { const: "slow" }] },
          both: {
            allOf: [
              { properties: { a: { type: "string" } }, required: ["a"] },
              { properties: { b: { type: "boolean" } } },
            ],
          },
          choice: { anyOf: [{ type: "string" }, { type: "number" }] },
        },
      }),
    );
    const at = objectField(property(field, "at").field);
    expect(at.description).toBe("Where");
    expect(at.properties.map((p) => [p.name, p.required])).toEqual([
      ["x", true],
      ["y", false],
    ]);
    expect(property(field, "maybe").field).toMatchObject({ kind: "integer", nullable: true });
    expect(property(field, "mode").field).toMatchObject({
      kind: "enum",
      options: ["fast", "slow"],
    });
    const both = objectField(property(field, "both").field);
    expect(both.properties.map((p) => [p.name, p.field.kind, p.required])).toEqual([
      ["a", "string", true],
      ["b", "boolean", false],
    ]);
    expect(property(field, "choice").field.kind).toBe("json");
  });

  it("falls back to JSON for tuples, free-form objects, unknown types and runaway recursion", () => {
    const field = objectField(
      parseSchema({
        type: "object",
        $defs: { Node: { type: "object", properties: { child: { $ref: "#/$defs/Node" } } } },
        properties: {
          pair: { type: "array", items: [{ type: "string" }, { type: "number" }] },
          anything: {},
          blob: { type: "object" },
          tree: { $ref: "#/$defs/Node" },
          missing: { $ref: "#/$defs/Nope" },
        },
      }),
    );
    expect(property(field, "pair").field.kind).toBe("json");
    expect(property(field, "anything").field.kind).toBe("json");
    expect(property(field, "blob").field.kind).toBe("json");
    expect(property(field, "missing").field.kind).toBe("json");
    let node: FieldSpec = property(field, "tree").field;
    let depth = 0;
    while (node.kind === "object") {
      node = property(node, "child").field;
      depth += 1;
    }
    expect(node.kind).toBe("json");
    expect(depth).toBeGreaterThan(3);
  });

  it("labels fields from titles or property names", () => {
    expect(labelFor("max_results", { kind: "string", nullable: false })).toBe("Max results");
    expect(labelFor("pageSize", { kind: "string", nullable: false })).toBe("Page size");
    expect(labelFor("x", { kind: "string", nullable: false, title: "The X" })).toBe("The X");
  });

  it("marks strings meant for several lines, and only those", () => {
    const multiline = (schema: Record<string, unknown>) => {
      const field = parseSchema({ type: "string", ...schema });
      return field.kind === "string" ? field.multiline === true : null;
    };
    expect(multiline({ maxLength: 1_000_000 })).toBe(true);
    expect(multiline({ contentMediaType: "text/markdown" })).toBe(true);
    expect(multiline({ description: "The message body" })).toBe(true);
    expect(multiline({})).toBe(false);
    expect(multiline({ maxLength: 1000 })).toBe(false);
    expect(multiline({ maxLength: 5000, format: "uri" })).toBe(false);
    expect(multiline({ maxLength: 5000, pattern: "^[a-z]+$" })).toBe(false);
  });
});

describe("drafts and values", () => {
  const field = parseSchema(searchSchema);

  it("starts from defaults and reports missing required fields", () => {
    const draft = toDraft(field);
    const result = formValue(field, draft);
    expect(result.value).toEqual({ limit: 10, exact: false, sort: "relevance" });
    expect(result.issues).toEqual([{ path: "query", message: "Required" }]);
  });

  it("builds the value object from filled-in fields, including nested objects and arrays", () => {
    let draft = toDraft(field);
    draft = set(draft, ["query"], text("mcp servers"));
    draft = set(draft, ["limit"], text("25"));
    draft = set(draft, ["ratio"], text("0.5"));
    draft = set(draft, ["verbose"], { kind: "bool", value: true });
    draft = set(draft, ["sort"], { kind: "choice", index: 1 });
    draft = set(draft, ["tags"], { kind: "list", items: [text("a"), text("b")] });
    draft = set(draft, ["filter", "field"], text("name"));
    draft = set(draft, ["filter", "op"], { kind: "choice", index: 2 });
    draft = set(draft, ["metadata"], text('{"team": "core"}'));
    expect(formValue(field, draft)).toEqual({
      value: {
        query: "mcp servers",
        limit: 25,
        ratio: 0.5,
        exact: false,
        verbose: true,
        sort: "date",
        tags: ["a", "b"],
        filter: { field: "name", op: "gt" },
        metadata: { team: "core" },
      },
      issues: [],
    });
  });

  it("omits an optional nested object until one of its fields is set, then requires its required fields", () => {
    let draft = set(toDraft(field), ["query"], text("ok"));
    expect(formValue(field, draft).value).not.toHaveProperty("filter");
    draft = set(draft, ["filter", "value"], text("x"));
    const result = formValue(field, draft);
    expect(result.value).toMatchObject({ filter: { value: "x" } });
    expect(result.issues).toEqual([
      { path: "filter.field", message: "Required" },
      { path: "filter.op", message: "Required" },
    ]);
  });

  it("checks numbers, integers, bounds, lengths and JSON", () => {
    let draft = set(toDraft(field), ["query"], text("a"));
    draft = set(draft, ["limit"], text("2.5"));
    draft = set(draft, ["ratio"], text("abc"));
    draft = set(draft, ["metadata"], text("{oops"));
    const issues = formValue(field, draft).issues;
    expect(issues).toContainEqual({ path: "query", message: "At least 2 characters" });
    expect(issues).toContainEqual({ path: "limit", message: "Must be a whole number" });
    expect(issues).toContainEqual({ path: "ratio", message: "Must be a number" });
    expect(issues.find((issue) => issue.path === "metadata")?.message).toMatch(/^Invalid JSON/);
    draft = set(draft, ["limit"], text("500"));
    expect(formValue(field, draft).issues).toContainEqual({
      path: "limit",
      message: "Must be ≤ 100",
    });
  });

  it("leaves `pattern` to the server instead of running it on the browser's backtracking RegExp", () => {
    // ^(a+)+$ against 40 characters would freeze the tab for hours.
    const hostile = parseSchema({
      type: "object",
      properties: { s: { type: "string", pattern: "^(a+)+$" } },
    });
    const draft = set(toDraft(hostile), ["s"], text(`${"a".repeat(40)}b`));
    expect(formValue(hostile, draft)).toEqual({ value: { s: `${"a".repeat(40)}b` }, issues: [] });
  });

  it("reports issues inside array items by index", () => {
    const listField = parseSchema({
      type: "object",
      properties: {
        steps: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            properties: { name: { type: "string" }, weight: { type: "number" } },
            required: ["name"],
          },
        },
      },
      required: ["steps"],
    });
    let draft = toDraft(listField);
    expect(formValue(listField, draft)).toEqual({
      value: { steps: [] },
      issues: [{ path: "steps", message: "At least 1 item" }],
    });
    const steps = property(listField, "steps").field;
    if (steps.kind !== "array") throw new Error("expected an array");
    draft = set(draft, ["steps"], { kind: "list", items: [toDraft(steps.items)] });
    draft = set(draft, ["steps", 0, "weight"], text("3"));
    expect(formValue(listField, draft)).toEqual({
      value: { steps: [{ weight: 3 }] },
      issues: [{ path: "steps.0.name", message: "Required" }],
    });
  });

  it("sends null for empty required nullable fields and leaves optional ones out", () => {
    const nullableField = parseSchema({
      type: "object",
      properties: { a: { type: ["string", "null"] }, b: { type: ["integer", "null"] } },
      required: ["a"],
    });
    expect(formValue(nullableField, toDraft(nullableField))).toEqual({
      value: { a: null },
      issues: [],
    });
  });

  it("round-trips values through drafts", () => {
    const value = {
      query: "qq",
      limit: 3,
      exact: true,
      sort: "date",
      tags: ["x"],
      filter: { field: "f", op: "eq", value: null },
      metadata: { k: "v" },
    };
    const result = fromDraft(field, toDraft(field, value));
    expect(result.issues).toEqual([]);
    // `value: null` is an empty nullable optional field, so it is left out.
    expect(result.value).toEqual({ ...value, filter: { field: "f", op: "eq" } });
  });
});

describe("raw JSON fallback", () => {
  const field = parseSchema(searchSchema);

  it("shows what the form would send and reads edited JSON back into the form", () => {
    const draft = set(toDraft(field), ["query"], text("hello"));
    const json = draftToJsonText(field, draft);
    expect(JSON.parse(json)).toEqual({
      query: "hello",
      limit: 10,
      exact: false,
      sort: "relevance",
    });

    const back = jsonTextToDraft(
      field,
      JSON.stringify({ query: "edited", tags: ["t"], exact: true }),
    );
    if ("error" in back) throw new Error(back.error);
    expect(formValue(field, back.draft).value).toEqual({
      query: "edited",
      tags: ["t"],
      exact: true,
      limit: 10,
      sort: "relevance",
    });
  });

  it("refuses to switch back on invalid JSON or a non-object", () => {
    expect(jsonTextToDraft(field, "{nope")).toHaveProperty("error");
    expect(jsonTextToDraft(field, "[1, 2]")).toEqual({
      error: "The arguments must be a JSON object",
    });
  });

  it("parses raw arguments: empty text is {}, anything but an object is an issue", () => {
    expect(parseRawJson("")).toEqual({ value: {}, issues: [] });
    expect(parseRawJson('{"a": 1}')).toEqual({ value: { a: 1 }, issues: [] });
    expect(parseRawJson("42").issues).toEqual([
      { path: "", message: "The arguments must be a JSON object" },
    ]);
    expect(parseRawJson("{").issues[0]?.message).toMatch(/^Invalid JSON/);
  });
});
