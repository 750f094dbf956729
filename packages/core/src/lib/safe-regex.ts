import { RE2JS, RE2JSException } from "re2js";

/**
 * Regular expressions from untrusted sources (JSON Schema `pattern` and `patternProperties` of
 * tools synced from upstream servers, policy input schemas) run on RE2, whose matching time is
 * linear in the input: `^(a+)+$` against 28 characters blocked a backtracking engine for 5 s.
 *
 * The rule for ECMAScript syntax (what JSON Schema specifies):
 * - it must first be a valid ECMAScript regular expression with the `u` flag;
 * - lookarounds (`(?=`, `(?!`, `(?<=`, `(?<!`) and backreferences (`\1`, `\k<name>`) are refused,
 *   since no linear-time engine can run them; so is what RE2 rejects (`\p{Script=…}`, counted
 *   repetitions above 1000, …);
 * - the rest keeps its ECMAScript meaning: `.` excludes line terminators, `\s` and `\S` cover the
 *   Unicode spaces, `[^]` matches anything and `[]` nothing.
 *
 * Linear is not free: RE2 may take (program size × input length) steps. Every test is charged
 * that much against a budget (see `withRegexBudget`), and exceeding it throws RegexBudgetError
 * rather than block the event loop.
 */

/** A pattern the linear-time engine cannot or will not run; `message` says why. */
export class UnsupportedPatternError extends Error {
  override readonly name = "UnsupportedPatternError";
}

/** The strings tested in one budget took more steps than it allows. */
export class RegexBudgetError extends Error {
  override readonly name = "RegexBudgetError";
}

export interface SafePattern {
  test(text: string): boolean;
  /** `text` with every non-empty match replaced by `replacement`, and how many there were. */
  replaceAll(text: string, replacement: string): { text: string; count: number };
  /** RE2 program size: what compiling it cost and what each character matched costs. */
  readonly size: number;
  /** Unique per pattern: ajv keys the compiled pattern by this string. */
  toString(): string;
}

export const MAX_PATTERN_LENGTH = 2000;
/** Steps (program size × string length) one budget may spend: tens of milliseconds at worst. */
export const DEFAULT_REGEX_BUDGET = 2_000_000;

let remainingBudget: number | null = null;

/**
 * Runs `work` with `units` steps for all the pattern tests it makes; without an enclosing budget
 * each test gets DEFAULT_REGEX_BUDGET on its own.
 */
export function withRegexBudget<T>(units: number, work: () => T): T {
  const outer = remainingBudget;
  remainingBudget = units;
  try {
    return work();
  } finally {
    remainingBudget = outer;
  }
}

const CACHE_SIZE = 1000;
const compiled = new Map<string, SafePattern>();

/** Compiles an ECMAScript pattern for RE2 (rules above), or throws UnsupportedPatternError. */
export function compileSafePattern(pattern: string): SafePattern {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  const safe = compileUncached(pattern);
  if (compiled.size >= CACHE_SIZE) {
    const oldest = compiled.keys().next();
    if (!oldest.done) compiled.delete(oldest.value);
  }
  compiled.set(pattern, safe);
  return safe;
}

function compileUncached(pattern: string): SafePattern {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new UnsupportedPatternError(
      `is longer than ${MAX_PATTERN_LENGTH} characters, the limit for patterns`,
    );
  }
  try {
    // Only parsed (V8 compiles a regex when it is first run), to hold the pattern to ECMAScript.
    new RegExp(pattern, "u");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UnsupportedPatternError(`is not a valid regular expression: ${reason}`);
  }
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(RE2JS.translateRegExp(toRe2Syntax(pattern)));
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    throw new UnsupportedPatternError(
      `is not supported by the linear-time regex engine (RE2): ${error.message}`,
    );
  }
  const size = Math.max(1, re2.programSize());
  const key = `re2:${pattern}`;
  const charge = (text: string) => {
    const cost = size * (text.length + 1);
    if (remainingBudget === null) {
      if (cost > DEFAULT_REGEX_BUDGET) throw budgetError(pattern);
    } else {
      remainingBudget -= cost;
      if (remainingBudget < 0) throw budgetError(pattern);
    }
  };
  return {
    test(text) {
      charge(text);
      return re2.test(text);
    },
    replaceAll(text, replacement) {
      charge(text);
      const matcher = re2.matcher(text);
      let out = "";
      let last = 0;
      let count = 0;
      while (matcher.find()) {
        const start = matcher.start();
        const end = matcher.end();
        // An empty match hides nothing; replacing it would only insert the replacement.
        if (end === start) continue;
        out += text.slice(last, start) + replacement;
        last = end;
        count++;
      }
      return count === 0 ? { text, count } : { text: out + text.slice(last), count };
    },
    size,
    toString: () => key,
  };
}

function budgetError(pattern: string): RegexBudgetError {
  const shown = pattern.length > 60 ? `${pattern.slice(0, 60)}…` : pattern;
  return new RegexBudgetError(
    `the strings to match against pattern "${shown}" are too long to check (at most ${DEFAULT_REGEX_BUDGET} steps of pattern size × length)`,
  );
}

// ECMAScript's whitespace (`\s`) and its complement, as RE2 class ranges.
const SPACE_RANGES =
  "\\x09-\\x0d\\x20\\xa0\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";
const NON_SPACE_RANGES =
  "\\x00-\\x08\\x0e-\\x1f\\x21-\\x9f\\xa1-\\x{167f}\\x{1681}-\\x{1fff}\\x{200b}-\\x{2027}" +
  "\\x{202a}-\\x{202e}\\x{2030}-\\x{205e}\\x{2060}-\\x{2fff}\\x{3001}-\\x{fefe}\\x{ff00}-\\x{10ffff}";
const ANY_BUT_LINE_TERMINATOR = "[^\\n\\r\\x{2028}\\x{2029}]";

/**
 * Rewrites what RE2 reads differently from ECMAScript and refuses what it cannot run; the rest
 * (`\u` escapes, named groups, …) is left to RE2JS.translateRegExp. `pattern` is valid ECMAScript.
 */
function toRe2Syntax(pattern: string): string {
  let out = "";
  let inClass = false;
  let i = 0;
  while (i < pattern.length) {
    const char = pattern.charAt(i);
    if (char === "\\") {
      const next = pattern.charAt(i + 1);
      if (!inClass && /[1-9]/.test(next)) throw unsupported(`the backreference \\${next}`);
      if (!inClass && next === "k") throw unsupported("a named backreference \\k<…>");
      if (next === "s") out += inClass ? SPACE_RANGES : `[${SPACE_RANGES}]`;
      else if (next === "S") out += inClass ? NON_SPACE_RANGES : `[${NON_SPACE_RANGES}]`;
      else if (inClass && next === "b") out += "\\x08";
      else out += char + next;
      i += 2;
    } else if (inClass) {
      if (char === "]") inClass = false;
      out += char;
      i++;
    } else if (pattern.startsWith("[^]", i)) {
      out += "[\\x00-\\x{10ffff}]";
      i += 3;
    } else if (pattern.startsWith("[]", i)) {
      out += "[^\\x00-\\x{10ffff}]";
      i += 2;
    } else if (char === "[") {
      inClass = true;
      // A leading `^` negates and `]` cannot follow unescaped in ECMAScript, so copy both `[^`.
      const negation = pattern.charAt(i + 1) === "^" ? "^" : "";
      out += char + negation;
      i += 1 + negation.length;
    } else if (pattern.startsWith("(?=", i) || pattern.startsWith("(?!", i)) {
      throw unsupported(`the lookahead ${pattern.slice(i, i + 3)}`);
    } else if (pattern.startsWith("(?<=", i) || pattern.startsWith("(?<!", i)) {
      throw unsupported(`the lookbehind ${pattern.slice(i, i + 4)}`);
    } else if (char === ".") {
      out += ANY_BUT_LINE_TERMINATOR;
      i++;
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

function unsupported(what: string): UnsupportedPatternError {
  return new UnsupportedPatternError(
    `uses ${what}, which the linear-time regex engine (RE2) cannot run`,
  );
}
