/**
 * How deep a field of a request may nest (objects and arrays within objects and arrays), on every
 * surface: the REST and tRPC API and the MCP gateway. Deeper values are refused before anything
 * walks them: validating, serialising or storing them recursively would overflow the stack (a
 * 36 KB body can nest 6,000 levels). No tool argument or JSON Schema needs this many.
 */
export const MAX_JSON_DEPTH = 100;

export const NESTED_TOO_DEEP = `Nested deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * The first of `fields` whose value nests deeper than `maxDepth` levels (`{}` is one level,
 * `{"a": {}}` two), or null. Walks without recursion, so any depth is measured safely.
 */
export function fieldNestedTooDeep(
  fields: Record<string, unknown>,
  maxDepth = MAX_JSON_DEPTH,
): string | null {
  for (const [field, value] of Object.entries(fields)) {
    const stack: [unknown, number][] = [[value, 1]];
    for (let entry = stack.pop(); entry; entry = stack.pop()) {
      const [current, depth] = entry;
      if (typeof current !== "object" || current === null) continue;
      if (depth > maxDepth) return field;
      for (const child of Array.isArray(current) ? current : Object.values(current))
        stack.push([child, depth + 1]);
    }
  }
  return null;
}
