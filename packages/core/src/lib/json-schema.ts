import Ajv from "ajv";
import type { AnySchema, ErrorObject, ValidateFunction } from "ajv";
import Ajv2019 from "ajv/dist/2019.js";
import Ajv2020 from "ajv/dist/2020.js";
import type AjvCore from "ajv/dist/core.js";
import type { SchemaValidateFunction } from "ajv/dist/types/index.js";
import addFormats from "ajv-formats";
import type { FieldIssue } from "../errors";
import {
  MAX_PATTERN_LENGTH,
  RegexBudgetError,
  UnsupportedPatternError,
  compileSafePattern,
  withRegexBudget,
  DEFAULT_REGEX_BUDGET,
} from "./safe-regex";

export type JsonSchemaIssue = FieldIssue;
export type JsonValidationResult = { valid: true } | { valid: false; issues: JsonSchemaIssue[] };

/** A schema that cannot be compiled. `issues` address locations inside the schema. */
export class InvalidJsonSchemaError extends Error {
  override readonly name = "InvalidJsonSchemaError";
  readonly issues: JsonSchemaIssue[];

  constructor(issues: JsonSchemaIssue[]) {
    super(`Invalid JSON Schema: ${formatJsonSchemaIssues(issues)}`);
    this.issues = issues;
  }
}

/**
 * The schema or the value is too large or too complex to check within the work one check may do;
 * not the value's fault as such, so callers decide (a policy that cannot check its input does
 * not allow it, and a deny still applies).
 */
export class JsonSchemaLimitError extends Error {
  override readonly name = "JsonSchemaLimitError";
}

const DIALECTS = ["draft-07", "2019-09", "2020-12"] as const;
type Dialect = (typeof DIALECTS)[number];

type CacheEntry =
  | { ok: true; validate: ValidateFunction; ajv: AjvCore; schema: AnySchema; light: boolean }
  | { ok: false; error: InvalidJsonSchemaError };

/**
 * What one check against a schema came to, as plain data that crosses threads: a result, or why
 * there is none (see `outcomeResult`).
 */
export type JsonCheckOutcome =
  | { kind: "result"; result: JsonValidationResult }
  | { kind: "invalid_schema"; issues: JsonSchemaIssue[] }
  | { kind: "limit"; message: string };

// allErrors lets one bad payload report every problem, but it is unbounded; a cap keeps a
// pathological input from producing a multi-megabyte error response.
const MAX_ISSUES = 100;

/**
 * Schemas come from upstream servers, i.e. from anyone: these bound what one schema may cost to
 * compile and one validation may cost to run (README, "Patterns and schemas").
 */
export const JSON_SCHEMA_LIMITS = {
  /** Characters of the schema as JSON. */
  maxSchemaChars: 128 * 1024,
  /** Nesting of JSON objects and arrays within the schema. */
  maxNesting: 64,
  /** Schema objects within the schema, $defs and unknown keywords included. */
  maxSubschemas: 1000,
  /** Values of one `enum`. */
  maxEnumValues: 1000,
  /**
   * Applications of a subschema to a value in one validation (`$ref` chains multiply them): e.g.
   * an array of 10,000 objects whose item schema has four properties.
   */
  maxSteps: 50_000,
  /** Steps of pattern matching in one validation (pattern size × string length, summed). */
  regexSteps: DEFAULT_REGEX_BUDGET,
} as const;

/**
 * A schema within all of these is "light": compiling it and its first validation (when V8
 * compiles the generated code) take a few milliseconds, so the event loop may do both. Anything
 * heavier is compiled and checked on the schema thread (./json-schema-thread): at the limits
 * above, a compile takes a second of CPU.
 */
export const LIGHT_SCHEMA_LIMITS = {
  maxSchemaChars: 8 * 1024,
  maxSubschemas: 16,
  /** RE2 program size of all its patterns together. */
  maxPatternSize: 2000,
} as const;

/**
 * Added to every schema object of the private copy ajv compiles: each application of a subschema
 * counts one step, so a schema whose `$ref`s fan out exponentially runs out of steps instead of
 * running for hours.
 */
const STEP_KEYWORD = "x-mcp-platform-step";
let stepsLeft: number | null = null;

/**
 * Compiles and caches validators. Compiling is orders of magnitude slower than validating, and the
 * same few schemas (tool input schemas, policy input schemas) are checked on every call.
 */
export class JsonSchemaValidator {
  readonly #cacheSize: number;
  readonly #cache = new Map<string, CacheEntry>();
  /** Entries of schemas `freezeJsonSchema` made immutable, found without re-reading the schema. */
  #byIdentity = new WeakMap<object, CacheEntry>();
  readonly #instances = new Map<Dialect, AjvCore>();

  constructor(options: { cacheSize?: number } = {}) {
    this.#cacheSize = Math.max(1, options.cacheSize ?? 500);
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  clearCache(): void {
    for (const key of [...this.#cache.keys()]) this.#evict(key);
    this.#byIdentity = new WeakMap();
  }

  /** Returns the cached validator for a structurally equal schema, or throws InvalidJsonSchemaError. */
  compile(schema: unknown): ValidateFunction {
    const entry = this.#entry(schema);
    if (!entry.ok) throw entry.error;
    return entry.validate;
  }

  /**
   * Whether the schema is light (LIGHT_SCHEMA_LIMITS); compiles it, so the answer costs what a
   * compile does. Throws InvalidJsonSchemaError.
   */
  isLight(schema: unknown): boolean {
    const entry = this.#entry(schema);
    if (!entry.ok) throw entry.error;
    return entry.light;
  }

  /**
   * Checks `value` against each schema in turn with one budget for them all (withValidationBudget),
   * as a call's policies are checked; a schema that fails does not stop the ones after it.
   */
  validateEach(schemas: readonly unknown[], value: unknown): JsonCheckOutcome[] {
    return withValidationBudget(() =>
      schemas.map((schema): JsonCheckOutcome => {
        try {
          return { kind: "result", result: this.validate(schema, value) };
        } catch (error) {
          if (error instanceof InvalidJsonSchemaError)
            return { kind: "invalid_schema", issues: error.issues };
          if (error instanceof JsonSchemaLimitError)
            return { kind: "limit", message: error.message };
          throw error;
        }
      }),
    );
  }

  /**
   * Creates the ajv instance of every dialect and compiles their meta-schemas, which the first
   * schema of a dialect would otherwise pay for: 70 ms each.
   */
  warm(): void {
    for (const dialect of DIALECTS) void this.#instance(dialect).validateSchema({});
  }

  #entry(schema: unknown): CacheEntry {
    const frozen = isFrozenJsonSchema(schema);
    const known = frozen ? this.#byIdentity.get(schema) : undefined;
    if (known) return known;
    const key = jsonSchemaKey(schema);
    let entry = this.#cache.get(key);
    if (entry) {
      // Re-insert to mark as most recently used; Map iteration order is insertion order.
      this.#cache.delete(key);
      this.#cache.set(key, entry);
    } else {
      entry = this.#compileUncached(schema, key.length);
      this.#cache.set(key, entry);
      for (const oldest of this.#cache.keys()) {
        if (this.#cache.size <= this.#cacheSize) break;
        this.#evict(oldest);
      }
    }
    if (frozen) this.#byIdentity.set(schema, entry);
    return entry;
  }

  /**
   * Throws InvalidJsonSchemaError for a schema that does not compile and JsonSchemaLimitError when
   * the check would take more work than JSON_SCHEMA_LIMITS allow.
   */
  validate(schema: unknown, value: unknown): JsonValidationResult {
    const validate = this.compile(schema);
    let valid: boolean;
    try {
      valid = withValidationBudget(() => validate(value));
    } catch (error) {
      if (error instanceof RegexBudgetError)
        throw new JsonSchemaLimitError(`Value too large to check: ${error.message}`);
      if (error instanceof RangeError)
        throw new JsonSchemaLimitError("Value nested too deeply to check against the schema");
      throw error;
    }
    if (valid) return { valid: true };
    return { valid: false, issues: issuesFromErrors(validate.errors ?? [], value) };
  }

  #compileUncached(original: unknown, chars: number): CacheEntry {
    // A private deep copy: callers may mutate their object later, and the draft-04 upgrade below
    // rewrites it in place. Not the canonical text, so issues keep the author's property order.
    // canonicalJson has already rejected cycles and `undefined`, so this round trip is safe.
    const parsed: unknown = JSON.parse(JSON.stringify(original));
    if (typeof parsed !== "boolean" && !isPlainObject(parsed)) {
      return invalid([{ path: [], message: "must be an object or a boolean" }]);
    }
    const dialect = typeof parsed === "boolean" ? "draft-07" : dialectOf(parsed);
    const schema: AnySchema = typeof parsed === "boolean" ? parsed : prepareSchema(parsed);
    const ajv = this.#instance(dialect);

    if (typeof parsed === "object" && parsed.$async === true) {
      // An async validator returns a Promise, which is truthy: it would accept everything.
      return invalid([{ path: ["$async"], message: "async schemas are not supported" }]);
    }
    const schemaObjects: Record<string, unknown>[] = [];
    const { issues: limitIssues, patternSize } = inspectSchema(schema, schemaObjects);
    if (limitIssues.length > 0) return invalid(limitIssues);
    const metaValid = ajv.validateSchema(schema);
    if (metaValid !== true) {
      return invalid(issuesFromErrors(ajv.errors ?? [], schema));
    }
    for (const object of schemaObjects) object[STEP_KEYWORD] = true;
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      // Unresolvable $ref, a pattern in a place only a $ref makes a schema, duplicate $id, …
      const message = error instanceof Error ? error.message : String(error);
      return invalid([
        {
          path: [],
          message: error instanceof UnsupportedPatternError ? `a pattern ${message}` : message,
        },
      ]);
    }
    const light =
      chars <= LIGHT_SCHEMA_LIMITS.maxSchemaChars &&
      schemaObjects.length <= LIGHT_SCHEMA_LIMITS.maxSubschemas &&
      patternSize <= LIGHT_SCHEMA_LIMITS.maxPatternSize;
    return { ok: true, validate, ajv, schema, light };
  }

  #evict(key: string): void {
    const entry = this.#cache.get(key);
    this.#cache.delete(key);
    // Ajv keeps every compiled schema object in its own cache; drop it or the LRU bound is moot.
    if (entry?.ok && typeof entry.schema === "object") entry.ajv.removeSchema(entry.schema);
  }

  #instance(dialect: Dialect): AjvCore {
    let ajv = this.#instances.get(dialect);
    if (!ajv) {
      // strict: false because real-world schemas (MCP tool schemas especially) carry unknown
      // keywords and annotations; addUsedSchema: false so two schemas sharing an $id can coexist.
      // code.regExp: patterns run on RE2 (./safe-regex), never on the backtracking RegExp.
      const options = {
        allErrors: true,
        strict: false,
        addUsedSchema: false,
        code: { regExp: safeRegExpEngine },
      };
      ajv =
        dialect === "2020-12"
          ? new Ajv2020(options)
          : dialect === "2019-09"
            ? new Ajv2019(options)
            : new Ajv(options);
      addFormats(ajv);
      hardenInstance(ajv);
      this.#instances.set(dialect, ajv);
    }
    return ajv;
  }
}

/**
 * Runs `work` with one budget of JSON_SCHEMA_LIMITS.maxSteps and regexSteps for every validation
 * it makes, so that many schemas checking one value (a call's policies) cannot add up to more
 * than one schema may; inside an enclosing budget it shares that one.
 */
export function withValidationBudget<T>(work: () => T): T {
  if (stepsLeft !== null) return work();
  stepsLeft = JSON_SCHEMA_LIMITS.maxSteps;
  try {
    return withRegexBudget(JSON_SCHEMA_LIMITS.regexSteps, work);
  } finally {
    stepsLeft = null;
  }
}

const defaultValidator = new JsonSchemaValidator();

const frozenSchemas = new WeakSet<object>();

/**
 * Freezes `schema` deeply, so validators can find its compiled form by identity instead of
 * re-serializing it on every validation (the per-call cost for a cached tool's input schema).
 * For schemas held for many validations, such as rows of a cache; returns `schema`.
 */
export function freezeJsonSchema<T>(schema: T): T {
  if (typeof schema !== "object" || schema === null || frozenSchemas.has(schema)) return schema;
  const freeze = (value: unknown): void => {
    if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
    Object.freeze(value);
    for (const item of Object.values(value)) freeze(item);
  };
  freeze(schema);
  frozenSchemas.add(schema);
  return schema;
}

/**
 * Validates `value` against `schema` (draft-07 unless `$schema` names 2019-09 or 2020-12; draft-04
 * and draft-06 schemas are read with draft-07 semantics). Throws InvalidJsonSchemaError when the
 * schema itself does not compile; server code checks through
 * ./json-schema-thread, which keeps heavy schemas off the event loop.
 */
export function validateJson(schema: unknown, value: unknown): JsonValidationResult {
  return defaultValidator.validate(schema, value);
}

/** JsonSchemaValidator.warm for the validator on this thread. */
export function warmJsonSchemaValidator(): void {
  defaultValidator.warm();
}

/** JsonSchemaValidator.validateEach on this thread. */
export function validateJsonEach(schemas: readonly unknown[], value: unknown): JsonCheckOutcome[] {
  return defaultValidator.validateEach(schemas, value);
}

export function compileJsonSchema(schema: unknown): ValidateFunction {
  return defaultValidator.compile(schema);
}

/** The result an outcome carries, or the error the check threw where there is none. */
export function outcomeResult(outcome: JsonCheckOutcome): JsonValidationResult {
  switch (outcome.kind) {
    case "result":
      return outcome.result;
    case "invalid_schema":
      throw new InvalidJsonSchemaError(outcome.issues);
    case "limit":
      throw new JsonSchemaLimitError(outcome.message);
  }
}

/**
 * The text schemas are cached by (canonical JSON). Throws InvalidJsonSchemaError for a schema
 * over the size or nesting limits, or one that is not JSON.
 */
export function jsonSchemaKey(schema: unknown): string {
  const key = canonicalJson(schema);
  if (key.length > JSON_SCHEMA_LIMITS.maxSchemaChars) {
    throw new InvalidJsonSchemaError([
      {
        path: [],
        message: `is ${key.length} characters as JSON, more than the ${JSON_SCHEMA_LIMITS.maxSchemaChars} allowed`,
      },
    ]);
  }
  return key;
}

/** Whether `schema` was made immutable by freezeJsonSchema. */
export function isFrozenJsonSchema(schema: unknown): schema is object {
  return typeof schema === "object" && schema !== null && frozenSchemas.has(schema);
}

/** `["a", 0, "b"]` → `/a/0/b` (RFC 6901); the root is the empty string. */
export function toJsonPointer(path: readonly (string | number)[]): string {
  return path
    .map((segment) => `/${String(segment).replaceAll("~", "~0").replaceAll("/", "~1")}`)
    .join("");
}

/**
 * One line for messages: `/count must be integer; /name missing required property 'x' (+2 more)`.
 * Issues at the root get `rootLabel` as their subject, or none when it is empty.
 */
export function formatJsonSchemaIssues(
  issues: readonly JsonSchemaIssue[],
  max = 3,
  rootLabel = "",
): string {
  const subject = (path: readonly (string | number)[]) =>
    path.length === 0 ? rootLabel : toJsonPointer(path);
  const shown = issues
    .slice(0, max)
    .map((issue) => [subject(issue.path), issue.message].filter(Boolean).join(" "));
  const rest = issues.length - shown.length;
  return rest > 0 ? `${shown.join("; ")} (+${rest} more)` : shown.join("; ");
}

/** ajv's RegExpEngine: `code` only matters for standalone code, which is never generated here. */
const safeRegExpEngine = Object.assign((pattern: string) => compileSafePattern(pattern), {
  code: "compileSafePattern",
});

/** What ajv and ajv-formats would otherwise do in super-linear time on hostile values. */
function hardenInstance(ajv: AjvCore): void {
  // ajv-formats' `url` regex is quadratic (40,000 characters: 10 s); WHATWG parsing is linear.
  // Unlike that regex it accepts private addresses and hosts without a dot.
  ajv.addFormat("url", {
    type: "string",
    validate: (value: string) => /^(?:https?|ftp):\/\/[^\s]+$/iu.test(value) && URL.canParse(value),
  });
  // A value that claims to be a regex is checked as ECMAScript, but not at any length.
  ajv.addFormat("regex", {
    type: "string",
    validate: (value: string) => value.length <= MAX_PATTERN_LENGTH && isEcmaScriptRegex(value),
  });
  // ajv compares every pair of non-scalar items (20,000 objects: 19 s); canonical JSON keys
  // find duplicates in one pass.
  ajv.removeKeyword("uniqueItems");
  ajv.addKeyword({
    keyword: "uniqueItems",
    type: "array",
    schemaType: "boolean",
    validate: uniqueItems,
  });
  ajv.addKeyword({
    keyword: STEP_KEYWORD,
    schemaType: "boolean",
    errors: false,
    validate: () => {
      if (stepsLeft !== null && --stepsLeft < 0) {
        throw new JsonSchemaLimitError(
          `Value too large to check: validating it takes more than ${JSON_SCHEMA_LIMITS.maxSteps} steps`,
        );
      }
      return true;
    },
  });
}

function isEcmaScriptRegex(value: string): boolean {
  // As ajv-formats: `\Z` is a common mistake for `$`, valid but never what was meant.
  if (/[^\\]\\Z/u.test(value)) return false;
  try {
    new RegExp(value, "u");
    return true;
  } catch {
    return false;
  }
}

const uniqueItems: SchemaValidateFunction = (schema: unknown, data: unknown) => {
  if (schema !== true || !Array.isArray(data)) return true;
  const firstIndex = new Map<string, number>();
  for (const [index, item] of data.entries()) {
    let key: string;
    try {
      key = canonicalJson(item);
    } catch {
      throw new JsonSchemaLimitError("Value nested too deeply to check against the schema");
    }
    const earlier = firstIndex.get(key);
    if (earlier !== undefined) {
      uniqueItems.errors = [
        {
          keyword: "uniqueItems",
          message: `must NOT have duplicate items (items ## ${earlier} and ${index} are identical)`,
          params: { i: index, j: earlier },
        },
      ];
      return false;
    }
    firstIndex.set(key, index);
  }
  return true;
};

/**
 * Checks what JSON_SCHEMA_LIMITS and the regex rules (./safe-regex) demand, with paths into the
 * schema, and collects the schema objects. Values of DATA_KEYWORDS are data; any other object is
 * treated as a schema, since a `$ref` can point anywhere.
 */
function inspectSchema(
  root: AnySchema,
  schemaObjects: Record<string, unknown>[],
): { issues: JsonSchemaIssue[]; patternSize: number } {
  const issues: JsonSchemaIssue[] = [];
  let patternSize = 0;
  // One shared stack of the path, copied only into issues: schemas at the limits are large.
  const path: (string | number)[] = [];
  const issue = (message: string, ...last: (string | number)[]) =>
    issues.push({ path: [...path, ...last], message });
  const checkPattern = (pattern: string, ...last: (string | number)[]) => {
    try {
      patternSize += compileSafePattern(pattern).size;
    } catch (error) {
      if (!(error instanceof UnsupportedPatternError)) throw error;
      issue(`pattern ${JSON.stringify(pattern)} ${error.message}`, ...last);
    }
  };
  const visit = (schema: unknown, known: boolean): void => {
    if (!isPlainObject(schema)) return;
    schemaObjects.push(schema);
    if (schemaObjects.length > JSON_SCHEMA_LIMITS.maxSubschemas) {
      if (schemaObjects.length === JSON_SCHEMA_LIMITS.maxSubschemas + 1) {
        issue(`is one subschema more than the ${JSON_SCHEMA_LIMITS.maxSubschemas} allowed`);
      }
      return;
    }
    for (const [keyword, value] of Object.entries(schema)) {
      path.push(keyword);
      if (DATA_KEYWORDS.has(keyword)) {
        if (keyword === "enum" && Array.isArray(value)) {
          if (value.length > JSON_SCHEMA_LIMITS.maxEnumValues) {
            issue(
              `has ${value.length} values, more than the ${JSON_SCHEMA_LIMITS.maxEnumValues} allowed`,
            );
          }
        }
      } else if (keyword === "pattern" && known) {
        if (typeof value === "string") checkPattern(value);
      } else if (isSubschemaMapKeyword(keyword) && isPlainObject(value)) {
        for (const [name, sub] of Object.entries(value)) {
          if (keyword === "patternProperties" && known) checkPattern(name, name);
          path.push(name);
          visit(sub, known);
          path.pop();
        }
      } else if (Array.isArray(value)) {
        for (const [index, sub] of value.entries()) {
          path.push(index);
          visit(sub, known);
          path.pop();
        }
      } else {
        visit(value, known && isSubschemaKeyword(keyword));
      }
      path.pop();
    }
  };
  visit(root, true);
  return { issues, patternSize };
}

const DATA_KEYWORDS = new Set([
  "enum",
  "const",
  "default",
  "examples",
  "dependentRequired",
  "$vocabulary",
]);

function invalid(issues: JsonSchemaIssue[]): CacheEntry {
  return { ok: false, error: new InvalidJsonSchemaError(issues) };
}

function dialectOf(schema: Record<string, unknown>): Dialect {
  const declared = schema.$schema;
  if (typeof declared !== "string") return "draft-07";
  const uri = declared.toLowerCase();
  if (uri.includes("/draft/2020-12/")) return "2020-12";
  if (uri.includes("/draft/2019-09/")) return "2019-09";
  return "draft-07";
}

/**
 * The instance is chosen from `$schema`, so the declaration itself is dropped: ajv only knows
 * exact meta-schema URIs and would reject `https://…draft-07…` or draft-04/06 outright.
 */
function prepareSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const declared = schema.$schema;
  if (typeof declared === "string") {
    delete schema.$schema;
    if (/draft-0[34]\b/i.test(declared)) upgradeDraft04(schema);
  }
  return schema;
}

/** Keywords whose value is one subschema, in any of the drafts read here. */
const SUBSCHEMA_KEYWORDS = [
  "additionalItems",
  "additionalProperties",
  "contains",
  "contentSchema",
  "else",
  "if",
  "items",
  "not",
  "propertyNames",
  "then",
  "unevaluatedItems",
  "unevaluatedProperties",
] as const;
const SUBSCHEMA_LIST_KEYWORDS = ["allOf", "anyOf", "oneOf", "items"] as const;
/** Keywords whose value maps names to subschemas. */
const SUBSCHEMA_MAP_KEYWORDS = [
  "definitions",
  "$defs",
  "dependencies",
  "dependentSchemas",
  "patternProperties",
  "properties",
] as const;
const isSubschemaKeyword = (keyword: string) =>
  (SUBSCHEMA_KEYWORDS as readonly string[]).includes(keyword);
const isSubschemaMapKeyword = (keyword: string) =>
  (SUBSCHEMA_MAP_KEYWORDS as readonly string[]).includes(keyword);

/** Rewrites the draft-04 keywords whose meaning changed in draft-06, so draft-07 reads them right. */
function upgradeDraft04(schema: Record<string, unknown>): void {
  if (typeof schema.id === "string" && schema.$id === undefined) {
    schema.$id = schema.id;
    delete schema.id;
  }
  // Draft-04 `exclusiveMaximum: true` modifies `maximum`; from draft-06 on it is the bound itself.
  if (typeof schema.exclusiveMaximum === "boolean") {
    if (schema.exclusiveMaximum && typeof schema.maximum === "number") {
      schema.exclusiveMaximum = schema.maximum;
      delete schema.maximum;
    } else {
      delete schema.exclusiveMaximum;
    }
  }
  if (typeof schema.exclusiveMinimum === "boolean") {
    if (schema.exclusiveMinimum && typeof schema.minimum === "number") {
      schema.exclusiveMinimum = schema.minimum;
      delete schema.minimum;
    } else {
      delete schema.exclusiveMinimum;
    }
  }
  for (const keyword of SUBSCHEMA_KEYWORDS) {
    const sub = schema[keyword];
    if (isPlainObject(sub)) upgradeDraft04(sub);
  }
  for (const keyword of SUBSCHEMA_LIST_KEYWORDS) {
    const list = schema[keyword];
    if (Array.isArray(list)) for (const sub of list) if (isPlainObject(sub)) upgradeDraft04(sub);
  }
  for (const keyword of SUBSCHEMA_MAP_KEYWORDS) {
    const map = schema[keyword];
    if (isPlainObject(map))
      for (const sub of Object.values(map)) if (isPlainObject(sub)) upgradeDraft04(sub);
  }
}

function issuesFromErrors(errors: readonly ErrorObject[], data: unknown): JsonSchemaIssue[] {
  const issues: JsonSchemaIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const issue = issueFromError(error, data);
    const key = JSON.stringify(issue);
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
    if (issues.length >= MAX_ISSUES) break;
  }
  return issues;
}

function issueFromError(error: ErrorObject, data: unknown): JsonSchemaIssue {
  const path = pointerToPath(error.instancePath, data);
  const params: Record<string, unknown> = error.params;
  switch (error.keyword) {
    case "required": {
      const property = String(params.missingProperty);
      return { path: [...path, property], message: `missing required property '${property}'` };
    }
    case "additionalProperties": {
      const property = String(params.additionalProperty);
      return { path: [...path, property], message: `unexpected property '${property}'` };
    }
    case "unevaluatedProperties": {
      const property = String(params.unevaluatedProperty);
      return { path: [...path, property], message: `unexpected property '${property}'` };
    }
    case "type": {
      const types = Array.isArray(params.type)
        ? params.type.map(String)
        : String(params.type).split(",");
      return { path, message: `must be ${types.join(" or ")}` };
    }
    case "enum": {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      const listed = allowed.slice(0, 10).map((v) => JSON.stringify(v));
      const more = allowed.length > listed.length ? `, … (${allowed.length} values)` : "";
      return { path, message: `must be one of ${listed.join(", ")}${more}` };
    }
    case "const":
      return { path, message: `must be equal to ${JSON.stringify(params.allowedValue)}` };
    case "false schema":
      return { path, message: "is not allowed" };
    default:
      return {
        path,
        message: (error.message ?? `failed '${error.keyword}'`).replace(/^must NOT /, "must not "),
      };
  }
}

/**
 * Turns `/a/0/b` into `["a", 0, "b"]`. A segment becomes a number only where the data at that
 * point is an array, so an object key "0" stays a string.
 */
function pointerToPath(pointer: string, data: unknown): (string | number)[] {
  if (pointer === "") return [];
  const path: (string | number)[] = [];
  let current: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const segment = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(current) && /^(0|[1-9]\d*)$/.test(segment)) {
      const index = Number(segment);
      path.push(index);
      current = current[index];
    } else {
      path.push(segment);
      current = isPlainObject(current) ? current[segment] : undefined;
    }
  }
  return path;
}

/** Deterministic JSON with sorted keys, so `{a,b}` and `{b,a}` share one compiled validator. */
function canonicalJson(value: unknown): string {
  const seen = new Set<object>();
  const write = (v: unknown): string => {
    if (seen.size > JSON_SCHEMA_LIMITS.maxNesting)
      throw new InvalidJsonSchemaError([
        {
          path: [],
          message: `is nested more than ${JSON_SCHEMA_LIMITS.maxNesting} levels deep, the limit`,
        },
      ]);
    if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : "null";
    if (typeof v !== "object") return "null";
    if (seen.has(v))
      throw new InvalidJsonSchemaError([
        { path: [], message: "must not contain circular references" },
      ]);
    seen.add(v);
    let out: string;
    if (Array.isArray(v)) {
      out = `[${v.map((item: unknown) => (item === undefined ? "null" : write(item))).join(",")}]`;
    } else {
      const parts: string[] = [];
      const record: Record<string, unknown> = isPlainObject(v) ? v : {};
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
        parts.push(`${JSON.stringify(key)}:${write(item)}`);
      }
      out = `{${parts.join(",")}}`;
    }
    seen.delete(v);
    return out;
  };
  if (value === undefined)
    throw new InvalidJsonSchemaError([{ path: [], message: "must be an object or a boolean" }]);
  return write(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
