/**
 * Globs over names (tool names today; prompt and resource names may use the same syntax):
 *
 * - `*` matches any run of characters, `/`, `.` and the empty run included;
 * - `?` matches exactly one character;
 * - `[abc]`, `[a-z]` match one character of the set, `[!a-z]` or `[^a-z]` one outside it;
 * - `\` makes the next character literal (`\*` is a star);
 * - everything else, braces included, matches itself, case-sensitively.
 *
 * Policy patterns are written by tenants and matched on every call and every listing, so matching
 * must stay cheap whatever the pattern: a greedy two-pointer walk that only ever backtracks to the
 * most recent `*` takes at most pattern length × name length steps (a regex engine with
 * backtracking takes exponential time on `*a*a*a*a*a*a*a*a*b`).
 */

type CharTest = (codePoint: number) => boolean;
type GlobToken = { kind: "star" } | { kind: "char"; test: CharTest };

export type GlobMatcher = (name: string) => boolean;

const MATCHER_CACHE_SIZE = 1000;
const matchers = new Map<string, GlobMatcher>();

/** Whether `name` matches the glob `pattern` (syntax above). */
export function globMatches(pattern: string, name: string): boolean {
  return compileGlob(pattern)(name);
}

/** A reusable matcher for `pattern`; compiled matchers are cached, since listings reuse a few patterns. */
export function compileGlob(pattern: string): GlobMatcher {
  const cached = matchers.get(pattern);
  if (cached) return cached;
  const tokens = parseGlob(pattern);
  const matcher: GlobMatcher = (name) => matchTokens(tokens, codePoints(name));
  if (matchers.size >= MATCHER_CACHE_SIZE) {
    const oldest = matchers.keys().next();
    if (!oldest.done) matchers.delete(oldest.value);
  }
  matchers.set(pattern, matcher);
  return matcher;
}

function matchTokens(tokens: readonly GlobToken[], name: readonly number[]): boolean {
  let t = 0;
  let n = 0;
  // Where the last `*` was and how much of the name it has swallowed so far: on a mismatch, that
  // star takes one more character and matching resumes after it. Earlier stars never need to be
  // revisited, because a later star can absorb whatever an earlier one would have.
  let starToken = -1;
  let starName = 0;
  while (n < name.length) {
    const token = tokens[t];
    const char = name[n];
    if (token?.kind === "star") {
      starToken = t++;
      starName = n;
    } else if (token && char !== undefined && token.test(char)) {
      t++;
      n++;
    } else if (starToken >= 0) {
      t = starToken + 1;
      n = ++starName;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === "star") t++;
  return t === tokens.length;
}

function parseGlob(pattern: string): GlobToken[] {
  const chars = codePoints(pattern);
  const tokens: GlobToken[] = [];
  let i = 0;
  while (i < chars.length) {
    const char = chars[i] ?? 0;
    if (char === STAR) {
      // Consecutive stars mean the same as one; collapsing them keeps the walk short.
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
      i++;
    } else if (char === QUESTION) {
      tokens.push({ kind: "char", test: () => true });
      i++;
    } else if (char === OPEN_BRACKET) {
      const parsed = parseClass(chars, i);
      if (parsed) {
        tokens.push({ kind: "char", test: parsed.test });
        i = parsed.end;
      } else {
        // An unclosed `[` is an ordinary character.
        tokens.push(literal(char));
        i++;
      }
    } else if (char === BACKSLASH && i + 1 < chars.length) {
      tokens.push(literal(chars[i + 1] ?? char));
      i += 2;
    } else {
      tokens.push(literal(char));
      i++;
    }
  }
  return tokens;
}

/** `[...]` starting at `start`: its test and the index after `]`, or null when it never closes. */
function parseClass(
  chars: readonly number[],
  start: number,
): { test: CharTest; end: number } | null {
  let i = start + 1;
  const negated = chars[i] === EXCLAMATION || chars[i] === CARET;
  if (negated) i++;
  const ranges: [number, number][] = [];
  // A `]` right after the opening (or its negation) is a member, as in shell globs.
  let first = true;
  while (i < chars.length) {
    let char = chars[i] ?? 0;
    if (char === CLOSE_BRACKET && !first) {
      const test: CharTest = (c) => ranges.some(([lo, hi]) => c >= lo && c <= hi) !== negated;
      return { test, end: i + 1 };
    }
    first = false;
    if (char === BACKSLASH && i + 1 < chars.length) char = chars[++i] ?? char;
    i++;
    let high = char;
    if (chars[i] === DASH && i + 1 < chars.length && chars[i + 1] !== CLOSE_BRACKET) {
      high = chars[i + 1] ?? char;
      i += 2;
      if (high === BACKSLASH && i < chars.length) high = chars[i++] ?? high;
    }
    ranges.push(char <= high ? [char, high] : [high, char]);
  }
  return null;
}

function literal(expected: number): GlobToken {
  return { kind: "char", test: (c) => c === expected };
}

/** By code point, so `?` and a class take a whole emoji rather than half a surrogate pair. */
function codePoints(text: string): number[] {
  return Array.from(text, (char) => char.codePointAt(0) ?? 0);
}

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const BACKSLASH = 0x5c;
const EXCLAMATION = 0x21;
const CARET = 0x5e;
const DASH = 0x2d;
