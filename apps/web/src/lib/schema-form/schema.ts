/*
 * JSON Schema → form model. Tools describe their arguments with JSON Schema (draft 7 / 2020-12 as
 * produced by MCP servers); this turns the parts a form can express well into a FieldSpec tree and
 * leaves everything else (tuples, free-form objects, ambiguous unions, deep recursion) to a raw
 * JSON field for that subtree, so no schema makes the form unusable.
 */

export type JsonSchema = Record<string, unknown>;

interface FieldBase {
  title?: string;
  description?: string;
  /** The schema's default, when it declares one. */
  default?: unknown;
  examples?: unknown[];
  /** `null` is an accepted value (type: [T, "null"] or anyOf with a null branch). */
  nullable: boolean;
}

export interface StringField extends FieldBase {
  kind: "string";
  format?: string;
  minLength?: number;
  maxLength?: number;
  /** Text that may span lines (a document, a message body): edited in a textarea. */
  multiline?: boolean;
}

/** Beyond this many characters a string is prose or a document, not a one-line value. */
const ONE_LINE_MAX_LENGTH = 1000;
const MULTILINE_HINT = /multi-?line|paragraph|markdown|\blines\b|document|body/i;

/**
 * Whether a string argument is meant to hold several lines. Formatted and patterned strings are
 * one-line values; long limits, a declared media type or a description that says so mean text.
 */
function isMultiline(schema: JsonSchema): boolean {
  if (schema.format !== undefined || schema.pattern !== undefined) return false;
  const maxLength = num(schema.maxLength);
  if (maxLength !== undefined && maxLength > ONE_LINE_MAX_LENGTH) return true;
  if (typeof schema.contentMediaType === "string") return true;
  const description = str(schema.description);
  return description !== undefined && MULTILINE_HINT.test(description);
}

export interface NumberField extends FieldBase {
  kind: "number" | "integer";
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

export interface BooleanField extends FieldBase {
  kind: "boolean";
}

export interface EnumField extends FieldBase {
  kind: "enum";
  options: unknown[];
}

export interface ArrayField extends FieldBase {
  kind: "array";
  items: FieldSpec;
  minItems?: number;
  maxItems?: number;
}

export interface PropertySpec {
  name: string;
  required: boolean;
  field: FieldSpec;
}

export interface ObjectField extends FieldBase {
  kind: "object";
  properties: PropertySpec[];
}

/** Edited as JSON text: the schema is valid but has no natural form representation. */
export interface JsonField extends FieldBase {
  kind: "json";
  schema: JsonSchema;
}

export type FieldSpec =
  StringField | NumberField | BooleanField | EnumField | ArrayField | ObjectField | JsonField;

const MAX_DEPTH = 8;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Array.isArray narrows to any[]; schemas are untrusted, so their arrays are unknown[]. */
export function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? (value as unknown[]) : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Follows a local `#/…` JSON pointer; remote references are not fetched. */
function resolvePointer(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (!ref.startsWith("#")) return undefined;
  const segments = ref
    .slice(1)
    .split("/")
    .filter((segment) => segment !== "")
    .map((segment) => decodeURIComponent(segment).replace(/~1/g, "/").replace(/~0/g, "~"));
  let node: unknown = root;
  for (const segment of segments) {
    if (!isRecord(node)) return undefined;
    node = node[segment];
  }
  return isRecord(node) ? node : undefined;
}

function base(schema: JsonSchema, nullable: boolean): FieldBase {
  const result: FieldBase = { nullable };
  const title = str(schema.title);
  const description = str(schema.description);
  if (title !== undefined) result.title = title;
  if (description !== undefined) result.description = description;
  if ("default" in schema) result.default = schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length > 0)
    result.examples = schema.examples;
  return result;
}

function isNullSchema(schema: unknown): boolean {
  return (
    isRecord(schema) && (schema.type === "null" || (schema.const === null && !("type" in schema)))
  );
}

/** allOf of object schemas: properties and required lists are merged; the rest is shallow-merged. */
function mergeAllOf(schema: JsonSchema, root: JsonSchema): JsonSchema | undefined {
  const parts = asArray(schema.allOf);
  if (!parts) return schema;
  const { allOf: _ignored, ...rest } = schema;
  let merged: JsonSchema = { ...rest };
  for (const part of parts) {
    let resolved: unknown = part;
    if (isRecord(part) && typeof part.$ref === "string") resolved = resolvePointer(root, part.$ref);
    if (!isRecord(resolved)) return undefined;
    const properties = {
      ...(isRecord(merged.properties) ? merged.properties : {}),
      ...(isRecord(resolved.properties) ? resolved.properties : {}),
    };
    const required = [...(asArray(merged.required) ?? []), ...(asArray(resolved.required) ?? [])];
    merged = { ...resolved, ...merged, properties, required };
    if (Object.keys(properties).length === 0) delete merged.properties;
  }
  return merged;
}

export function parseSchema(
  input: unknown,
  root?: JsonSchema,
  depth = 0,
  nullableIn = false,
): FieldSpec {
  if (input === true || input === undefined)
    return { kind: "json", schema: {}, nullable: nullableIn };
  if (!isRecord(input)) return { kind: "json", schema: {}, nullable: nullableIn };
  const rootSchema = root ?? input;
  let schema: JsonSchema = input;
  if (depth > MAX_DEPTH) return { ...base(schema, nullableIn), kind: "json", schema };

  if (typeof schema.$ref === "string") {
    const target = resolvePointer(rootSchema, schema.$ref);
    if (!target) return { ...base(schema, nullableIn), kind: "json", schema };
    // Keywords beside $ref (title, description, default) describe this use of the target.
    const { $ref: _ref, ...siblings } = schema;
    return parseSchema({ ...target, ...siblings }, rootSchema, depth + 1, nullableIn);
  }

  if (Array.isArray(schema.allOf)) {
    const merged = mergeAllOf(schema, rootSchema);
    if (!merged) return { ...base(schema, nullableIn), kind: "json", schema };
    schema = merged;
  }

  const union = asArray(schema.anyOf) ?? asArray(schema.oneOf);
  if (union) {
    const branches = union.filter((branch) => !isNullSchema(branch));
    const nullable = nullableIn || branches.length < union.length;
    const { anyOf: _a, oneOf: _o, ...outer } = schema;
    const first = branches[0];
    if (branches.length === 1 && isRecord(first)) {
      return parseSchema({ ...first, ...outer }, rootSchema, depth + 1, nullable);
    }
    if (branches.length > 0 && branches.every((branch) => isRecord(branch) && "const" in branch)) {
      const options = branches.map((branch) => (isRecord(branch) ? branch.const : undefined));
      return { ...base(schema, nullable), kind: "enum", options };
    }
    return { ...base(schema, nullable), kind: "json", schema };
  }

  if (Array.isArray(schema.enum)) {
    const options = schema.enum.filter((option) => option !== null);
    const nullable = nullableIn || options.length < schema.enum.length;
    return { ...base(schema, nullable), kind: "enum", options };
  }
  if ("const" in schema)
    return { ...base(schema, nullableIn), kind: "enum", options: [schema.const] };

  let type: unknown = schema.type;
  let nullable = nullableIn;
  if (Array.isArray(type)) {
    const types = type.filter((entry) => entry !== "null");
    nullable = nullable || types.length < type.length;
    if (types.length !== 1) return { ...base(schema, nullable), kind: "json", schema };
    type = types[0];
  }
  if (type === undefined) {
    if (isRecord(schema.properties)) type = "object";
    else if ("items" in schema) type = "array";
  }

  const common = base(schema, nullable);
  switch (type) {
    case "string": {
      const field: StringField = { ...common, kind: "string" };
      const format = str(schema.format);
      const minLength = num(schema.minLength);
      const maxLength = num(schema.maxLength);
      if (format !== undefined) field.format = format;
      if (minLength !== undefined) field.minLength = minLength;
      if (maxLength !== undefined) field.maxLength = maxLength;
      if (isMultiline(schema)) field.multiline = true;
      return field;
    }
    case "number":
    case "integer": {
      const field: NumberField = { ...common, kind: type };
      const bounds = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;
      for (const key of bounds) {
        const value = num(schema[key]);
        if (value !== undefined) field[key] = value;
      }
      return field;
    }
    case "boolean":
      return { ...common, kind: "boolean" };
    case "array": {
      if (!isRecord(schema.items) && schema.items !== undefined && schema.items !== true) {
        return { ...common, kind: "json", schema };
      }
      const items = parseSchema(schema.items, rootSchema, depth + 1);
      const field: ArrayField = { ...common, kind: "array", items };
      const minItems = num(schema.minItems);
      const maxItems = num(schema.maxItems);
      if (minItems !== undefined) field.minItems = minItems;
      if (maxItems !== undefined) field.maxItems = maxItems;
      return field;
    }
    case "object": {
      const properties = isRecord(schema.properties) ? schema.properties : {};
      const names = Object.keys(properties);
      // An object whose keys are not known in advance is a map: a form cannot list its fields.
      if (names.length === 0) return { ...common, kind: "json", schema };
      const required = new Set(
        Array.isArray(schema.required)
          ? schema.required.filter((name) => typeof name === "string")
          : [],
      );
      return {
        ...common,
        kind: "object",
        properties: names.map((name) => ({
          name,
          required: required.has(name),
          field: parseSchema(properties[name], rootSchema, depth + 1),
        })),
      };
    }
    default:
      return { ...common, kind: "json", schema };
  }
}

/** The label a field shows: its title, else its property name in sentence case. */
export function labelFor(name: string, field: FieldSpec): string {
  if (field.title) return field.title;
  const words = name
    .replace(
      /([a-z0-9])([A-Z])(?=[a-z])/g,
      (_match, before: string, upper: string) => `${before} ${upper.toLowerCase()}`,
    )
    .replace(/[_-]+/g, " ")
    .trim();
  return words.length > 0 ? words.charAt(0).toUpperCase() + words.slice(1) : name;
}
