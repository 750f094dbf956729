/**
 * Arithmetic expression evaluator: a small recursive-descent parser, so user input is never
 * handed to `eval` or `Function`.
 *
 * Grammar (lowest to highest precedence):
 *   expression := term (("+" | "-") term)*
 *   term       := unary (("*" | "/" | "%") unary)*
 *   unary      := ("+" | "-") unary | power
 *   power      := primary ("^" unary)?            right-associative, binds tighter than unary minus on its left
 *   primary    := number | constant | function "(" expression ("," expression)* ")" | "(" expression ")"
 */

export class CalculationError extends Error {
  override readonly name = "CalculationError";
}

const MAX_EXPRESSION_LENGTH = 1000;
const MAX_NESTING = 64;

const CONSTANTS: Readonly<Record<string, number>> = { pi: Math.PI, e: Math.E, tau: 2 * Math.PI };

type MathFunction = { arity: number | "variadic"; apply: (args: number[]) => number };

const unary = (fn: (x: number) => number): MathFunction => ({
  arity: 1,
  apply: (args) => fn(args[0] ?? NaN),
});

const FUNCTIONS: Readonly<Record<string, MathFunction>> = {
  sqrt: unary(Math.sqrt),
  cbrt: unary(Math.cbrt),
  abs: unary(Math.abs),
  round: unary(Math.round),
  floor: unary(Math.floor),
  ceil: unary(Math.ceil),
  sin: unary(Math.sin),
  cos: unary(Math.cos),
  tan: unary(Math.tan),
  asin: unary(Math.asin),
  acos: unary(Math.acos),
  atan: unary(Math.atan),
  ln: unary(Math.log),
  log: unary(Math.log10),
  log2: unary(Math.log2),
  exp: unary(Math.exp),
  min: { arity: "variadic", apply: (args) => Math.min(...args) },
  max: { arity: "variadic", apply: (args) => Math.max(...args) },
};

const OPERATORS = ["+", "-", "*", "/", "%", "^", "(", ")", ","] as const;
type Operator = (typeof OPERATORS)[number];

type Token =
  | { type: "number"; value: number; at: number }
  | { type: "name"; value: string; at: number }
  | { type: "op"; value: Operator; at: number };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < input.length) {
    const char = input.charAt(index);
    if (/\s/.test(char)) {
      index++;
      continue;
    }
    const number = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(input.slice(index));
    if (number) {
      tokens.push({ type: "number", value: Number(number[0]), at: index });
      index += number[0].length;
      continue;
    }
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(input.slice(index));
    if (name) {
      tokens.push({ type: "name", value: name[0].toLowerCase(), at: index });
      index += name[0].length;
      continue;
    }
    if (char === "*" && input.charAt(index + 1) === "*") {
      tokens.push({ type: "op", value: "^", at: index });
      index += 2;
      continue;
    }
    const operator = OPERATORS.find((candidate) => candidate === char);
    if (operator) {
      tokens.push({ type: "op", value: operator, at: index });
      index++;
      continue;
    }
    throw new CalculationError(`Unexpected character "${char}" at position ${index + 1}`);
  }
  return tokens;
}

class Parser {
  private position = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    if (this.tokens.length === 0) throw new CalculationError("The expression is empty");
    const value = this.expression();
    const extra = this.peek();
    if (extra)
      throw new CalculationError(`Unexpected "${String(extra.value)}" at position ${extra.at + 1}`);
    return value;
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private isOp(value: string): boolean {
    const token = this.peek();
    return token?.type === "op" && token.value === value;
  }

  private expect(value: string): void {
    if (!this.isOp(value)) {
      const token = this.peek();
      throw new CalculationError(
        token
          ? `Expected "${value}" at position ${token.at + 1}`
          : `Expected "${value}" at the end of the expression`,
      );
    }
    this.position++;
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_NESTING)
      throw new CalculationError("The expression is nested too deeply");
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private expression(): number {
    let value = this.term();
    while (this.isOp("+") || this.isOp("-")) {
      const operator = this.tokens[this.position++]?.value;
      const right = this.term();
      value = operator === "+" ? value + right : value - right;
    }
    return value;
  }

  private term(): number {
    let value = this.unary();
    while (this.isOp("*") || this.isOp("/") || this.isOp("%")) {
      const operator = this.tokens[this.position++]?.value;
      const right = this.unary();
      if ((operator === "/" || operator === "%") && right === 0)
        throw new CalculationError("Division by zero");
      value = operator === "*" ? value * right : operator === "/" ? value / right : value % right;
    }
    return value;
  }

  private unary(): number {
    if (this.isOp("-") || this.isOp("+")) {
      const negate = this.isOp("-");
      this.position++;
      const value = this.nested(() => this.unary());
      return negate ? -value : value;
    }
    return this.power();
  }

  private power(): number {
    const base = this.primary();
    if (!this.isOp("^")) return base;
    this.position++;
    const exponent = this.nested(() => this.unary());
    return base ** exponent;
  }

  private primary(): number {
    const token = this.peek();
    if (!token) throw new CalculationError("The expression ends unexpectedly");
    if (token.type === "number") {
      this.position++;
      return token.value;
    }
    if (token.type === "op" && token.value === "(") {
      this.position++;
      const value = this.nested(() => this.expression());
      this.expect(")");
      return value;
    }
    if (token.type === "name") {
      this.position++;
      const fn = FUNCTIONS[token.value];
      if (fn) return this.call(token.value, fn);
      const constant = CONSTANTS[token.value];
      if (constant !== undefined) return constant;
      throw new CalculationError(`Unknown name "${token.value}" at position ${token.at + 1}`);
    }
    throw new CalculationError(`Unexpected "${token.value}" at position ${token.at + 1}`);
  }

  private call(name: string, fn: MathFunction): number {
    this.expect("(");
    const args = [this.nested(() => this.expression())];
    while (this.isOp(",")) {
      this.position++;
      args.push(this.nested(() => this.expression()));
    }
    this.expect(")");
    if (fn.arity !== "variadic" && args.length !== fn.arity) {
      throw new CalculationError(
        `${name}() takes ${fn.arity} argument${fn.arity === 1 ? "" : "s"}, got ${args.length}`,
      );
    }
    return fn.apply(args);
  }
}

/** Evaluates an arithmetic expression such as `2 * (3 + 4) ^ 2 / sqrt(16)`. */
export function evaluateExpression(expression: string): number {
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    throw new CalculationError(`The expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  }
  const result = new Parser(tokenize(expression)).parse();
  if (Number.isNaN(result))
    throw new CalculationError("The result is not a number (e.g. sqrt of a negative number)");
  if (!Number.isFinite(result)) throw new CalculationError("The result is too large to represent");
  return result;
}
