import type { FieldIssue } from "../errors";

/**
 * How deep a field of a request may nest (objects and arrays within objects and arrays), on every
 * surface: the REST and tRPC API and the MCP gateway. Deeper values are refused before anything
 * walks them: validating, serialising or storing them recursively would overflow the stack (a
 * 36 KB body can nest 6,000 levels). No tool argument or JSON Schema needs this many.
 */
export const MAX_JSON_DEPTH = 100;

export const NESTED_TOO_DEEP = `Nested deeper than ${MAX_JSON_DEPTH} levels`;

// With the `u` flag a surrogate pair is one code point, so this matches unpaired surrogates only.
const UNPAIRED_SURROGATE = /[\uD800-\uDFFF]/u;

function textDefect(text: string): string | null {
  if (text.includes("\u0000")) return "Must not contain NUL characters (\\u0000)";
  if (UNPAIRED_SURROGATE.test(text))
    return "Must be valid Unicode text: contains an unpaired surrogate";
  return null;
}

/**
 * The first part of a request's `fields` that must be refused before any schema, service or
 * serialiser walks it, or null:
 *  - a field whose value nests deeper than `maxDepth` levels (`{}` is one level, `{"a": {}}` two),
 *    named by the field alone;
 *  - text PostgreSQL cannot store, in values or object keys, named by its full path: NUL
 *    characters, and unpaired UTF-16 surrogates (jsonb refuses them, text columns silently
 *    replace them).
 * Walks without recursion, so any depth is measured safely.
 */
export function findInputDefect(
  fields: Record<string, unknown>,
  maxDepth = MAX_JSON_DEPTH,
): FieldIssue | null {
  for (const [field, value] of Object.entries(fields)) {
    const pending: { value: unknown; path: (string | number)[] }[] = [{ value, path: [field] }];
    const fieldDefect = textDefect(field);
    if (fieldDefect) return { path: [field], message: `Field name: ${fieldDefect}` };
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const { value: current, path } = next;
      if (typeof current === "string") {
        const defect = textDefect(current);
        if (defect) return { path, message: defect };
        continue;
      }
      if (typeof current !== "object" || current === null) continue;
      if (path.length > maxDepth)
        return { path: [field], message: `Nested deeper than ${maxDepth} levels` };
      if (Array.isArray(current)) {
        current.forEach((item: unknown, index) =>
          pending.push({ value: item, path: [...path, index] }),
        );
        continue;
      }
      for (const [key, item] of Object.entries(current)) {
        const defect = textDefect(key);
        if (defect) return { path: [...path, key], message: `Field name: ${defect}` };
        pending.push({ value: item, path: [...path, key] });
      }
    }
  }
  return null;
}
