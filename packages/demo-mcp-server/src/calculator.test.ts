import { describe, expect, it } from "vitest";
import { CalculationError, evaluateExpression } from "./calculator";

describe("evaluateExpression", () => {
  it.each([
    ["1 + 2", 3],
    ["2 + 3 * 4", 14],
    ["(2 + 3) * 4", 20],
    ["10 / 4", 2.5],
    ["10 % 4", 2],
    ["2 ^ 10", 1024],
    ["2 ** 10", 1024],
    ["2 ^ 3 ^ 2", 512],
    ["-2 ^ 2", -4],
    ["2 ^ -1", 0.5],
    ["--3", 3],
    ["-(1 + 2) * +3", -9],
    ["1.5e3 + .5", 1500.5],
    ["sqrt(16) + abs(-3)", 7],
    ["max(1, 7, 3) - min(4, 2)", 5],
    ["round(2.5) + floor(2.9) + ceil(2.1)", 8],
    ["log(1000) + ln(e) + log2(8)", 7],
    ["2 * PI", 2 * Math.PI],
    ["cos(0) + sin(0)", 1],
    ["2 * (3 + 4) ^ 2 / sqrt(16)", 24.5],
  ])("%s = %d", (expression, expected) => {
    expect(evaluateExpression(expression)).toBeCloseTo(expected, 10);
  });

  it.each([
    ["", "The expression is empty"],
    ["1 +", "The expression ends unexpectedly"],
    ["(1 + 2", 'Expected ")" at the end of the expression'],
    ["1 + 2)", 'Unexpected ")" at position 6'],
    ["1 / 0", "Division by zero"],
    ["5 % 0", "Division by zero"],
    ["sqrt(-1)", "The result is not a number (e.g. sqrt of a negative number)"],
    ["10 ^ 400", "The result is too large to represent"],
    ["foo(1)", 'Unknown name "foo" at position 1'],
    ["sqrt(1, 2)", "sqrt() takes 1 argument, got 2"],
    ["2 & 3", 'Unexpected character "&" at position 3'],
    ["process.exit()", 'Unexpected character "." at position 8'],
    ["1 2", 'Unexpected "2" at position 3'],
  ])("rejects %j", (expression, message) => {
    expect(() => evaluateExpression(expression)).toThrow(new CalculationError(message));
  });

  it("bounds length and nesting", () => {
    expect(() => evaluateExpression("1+".repeat(600) + "1")).toThrow("longer than 1000 characters");
    expect(() => evaluateExpression("(".repeat(100) + "1" + ")".repeat(100))).toThrow(
      "nested too deeply",
    );
    expect(() => evaluateExpression("-".repeat(100) + "1")).toThrow("nested too deeply");
  });
});
