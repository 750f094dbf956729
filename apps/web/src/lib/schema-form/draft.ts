import { isRecord, type FieldSpec } from "./schema";

/*
 * What the inputs hold while the user edits. Numbers stay text until submit so "-", "1." and
 * "1e" can be typed; booleans have an unset state so optional flags are not sent as false.
 */
export type Draft =
  | { kind: "text"; text: string }
  | { kind: "bool"; value: boolean | null }
  | { kind: "choice"; index: number }
  | { kind: "list"; items: Draft[] }
  | { kind: "object"; fields: Record<string, Draft> };

export interface FormIssue {
  /** Dotted path from the root, as the server reports issues (`filters.0.name`). */
  path: string;
  message: string;
}

export interface DraftResult {
  /** `undefined` when the field is left out of its parent object. */
  value: unknown;
  issues: FormIssue[];
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => key in b && deepEqual(a[key], b[key]))
    );
  }
  return false;
}

/** A draft showing `value`, or the schema's default when `value` is undefined. */
export function toDraft(field: FieldSpec, value?: unknown): Draft {
  const current = value === undefined ? field.default : value;
  switch (field.kind) {
    case "string":
      return { kind: "text", text: typeof current === "string" ? current : "" };
    case "number":
    case "integer":
      return { kind: "text", text: typeof current === "number" ? String(current) : "" };
    case "json":
      return { kind: "text", text: current === undefined ? "" : JSON.stringify(current, null, 2) };
    case "boolean":
      return { kind: "bool", value: typeof current === "boolean" ? current : null };
    case "enum":
      return {
        kind: "choice",
        index: field.options.findIndex((option) => deepEqual(option, current)),
      };
    case "array":
      return {
        kind: "list",
        items: Array.isArray(current) ? current.map((item) => toDraft(field.items, item)) : [],
      };
    case "object": {
      const source = isRecord(current) ? current : {};
      const fields: Record<string, Draft> = {};
      for (const property of field.properties)
        fields[property.name] = toDraft(property.field, source[property.name]);
      return { kind: "object", fields };
    }
  }
}

function join(path: string, key: string | number): string {
  return path === "" ? String(key) : `${path}.${key}`;
}

function missing(field: FieldSpec, required: boolean, path: string): DraftResult {
  if (!required) return { value: undefined, issues: [] };
  if (field.nullable) return { value: null, issues: [] };
  return { value: undefined, issues: [{ path, message: "Required" }] };
}

function checkString(
  field: Extract<FieldSpec, { kind: "string" }>,
  text: string,
  path: string,
): FormIssue[] {
  const issues: FormIssue[] = [];
  // JSON Schema counts code points, as Array.from does (not UTF-16 units, as .length does).
  const length = Array.from(text).length;
  if (field.minLength !== undefined && length < field.minLength) {
    issues.push({ path, message: `At least ${field.minLength} characters` });
  }
  if (field.maxLength !== undefined && length > field.maxLength) {
    issues.push({ path, message: `At most ${field.maxLength} characters` });
  }
  // No `pattern` here: it comes from an upstream server, and the browser's backtracking RegExp
  // can spend minutes on `^(a+)+$`. The server checks it on a linear-time engine and its issue
  // shows on the field.
  return issues;
}

function checkNumber(
  field: Extract<FieldSpec, { kind: "number" | "integer" }>,
  value: number,
  path: string,
): FormIssue[] {
  if (field.kind === "integer" && !Number.isInteger(value))
    return [{ path, message: "Must be a whole number" }];
  if (field.minimum !== undefined && value < field.minimum)
    return [{ path, message: `Must be ≥ ${field.minimum}` }];
  if (field.maximum !== undefined && value > field.maximum)
    return [{ path, message: `Must be ≤ ${field.maximum}` }];
  if (field.exclusiveMinimum !== undefined && value <= field.exclusiveMinimum) {
    return [{ path, message: `Must be > ${field.exclusiveMinimum}` }];
  }
  if (field.exclusiveMaximum !== undefined && value >= field.exclusiveMaximum) {
    return [{ path, message: `Must be < ${field.exclusiveMaximum}` }];
  }
  return [];
}

/**
 * The value a draft stands for, with the problems a user can fix before sending. Optional fields
 * left empty are omitted; an optional object is omitted while none of its fields is filled in.
 */
export function fromDraft(field: FieldSpec, draft: Draft, required = true, path = ""): DraftResult {
  switch (field.kind) {
    case "string": {
      const text = draft.kind === "text" ? draft.text : "";
      if (text === "") return missing(field, required, path);
      return { value: text, issues: checkString(field, text, path) };
    }
    case "number":
    case "integer": {
      const text = draft.kind === "text" ? draft.text.trim() : "";
      if (text === "") return missing(field, required, path);
      const value = Number(text);
      if (!Number.isFinite(value))
        return { value: undefined, issues: [{ path, message: "Must be a number" }] };
      return { value, issues: checkNumber(field, value, path) };
    }
    case "json": {
      const text = draft.kind === "text" ? draft.text.trim() : "";
      if (text === "") return missing(field, required, path);
      try {
        return { value: JSON.parse(text) as unknown, issues: [] };
      } catch (error) {
        const reason = error instanceof Error ? error.message : "parse error";
        return { value: undefined, issues: [{ path, message: `Invalid JSON: ${reason}` }] };
      }
    }
    case "boolean": {
      const value = draft.kind === "bool" ? draft.value : null;
      if (value === null)
        return required ? { value: false, issues: [] } : { value: undefined, issues: [] };
      return { value, issues: [] };
    }
    case "enum": {
      const index = draft.kind === "choice" ? draft.index : -1;
      if (index < 0 || index >= field.options.length) return missing(field, required, path);
      return { value: field.options[index], issues: [] };
    }
    case "array": {
      const items = draft.kind === "list" ? draft.items : [];
      if (items.length === 0 && !required) return { value: undefined, issues: [] };
      const issues: FormIssue[] = [];
      const value = items.map((item, index) => {
        const result = fromDraft(field.items, item, true, join(path, index));
        issues.push(...result.issues);
        return result.value;
      });
      if (field.minItems !== undefined && value.length < field.minItems) {
        issues.push({
          path,
          message: `At least ${field.minItems} item${field.minItems === 1 ? "" : "s"}`,
        });
      }
      if (field.maxItems !== undefined && value.length > field.maxItems) {
        issues.push({
          path,
          message: `At most ${field.maxItems} item${field.maxItems === 1 ? "" : "s"}`,
        });
      }
      return { value, issues };
    }
    case "object": {
      const fields = draft.kind === "object" ? draft.fields : {};
      const value: Record<string, unknown> = {};
      const issues: FormIssue[] = [];
      let filled = false;
      for (const property of field.properties) {
        const child = fields[property.name] ?? toDraft(property.field);
        const result = fromDraft(
          property.field,
          child,
          property.required,
          join(path, property.name),
        );
        issues.push(...result.issues);
        if (result.value !== undefined) {
          value[property.name] = result.value;
          // Values the user did not choose (false for an unticked required box) do not make an
          // optional object present on their own.
          if (!(property.field.kind === "boolean" && child.kind === "bool" && child.value === null))
            filled = true;
        }
      }
      if (!required && !filled) return { value: undefined, issues: [] };
      return { value, issues };
    }
  }
}

/** The value of a whole form (the root is always sent, as `{}` at least). */
export function formValue(field: FieldSpec, draft: Draft): DraftResult {
  const result = fromDraft(field, draft, true);
  if (result.value === undefined && field.kind === "object")
    return { value: {}, issues: result.issues };
  return result;
}

/** An empty item for an array's "Add" button: defaults applied, nothing else chosen. */
export function newItemDraft(field: FieldSpec): Draft {
  return toDraft(field);
}

/*
 * The raw JSON fallback. Switching to it shows what the form would send (even while some fields
 * are still invalid, so nothing typed is lost); switching back needs text that parses.
 */
export function draftToJsonText(field: FieldSpec, draft: Draft): string {
  const { value } = formValue(field, draft);
  return JSON.stringify(value ?? {}, null, 2);
}

export function jsonTextToDraft(
  field: FieldSpec,
  text: string,
): { draft: Draft } | { error: string } {
  const result = parseRawJson(text);
  if (result.issues.length > 0)
    return { error: result.issues.map((issue) => issue.message).join("; ") };
  return { draft: toDraft(field, result.value) };
}

/** A tool's arguments typed as JSON: they must form an object. */
export function parseRawJson(text: string): DraftResult {
  if (text.trim() === "") return { value: {}, issues: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : "parse error";
    return { value: undefined, issues: [{ path: "", message: `Invalid JSON: ${reason}` }] };
  }
  if (!isRecord(value))
    return {
      value: undefined,
      issues: [{ path: "", message: "The arguments must be a JSON object" }],
    };
  return { value, issues: [] };
}
