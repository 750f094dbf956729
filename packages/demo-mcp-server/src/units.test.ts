import { describe, expect, it } from "vitest";
import { ConversionError, convertUnits, supportedUnits } from "./units";

describe("convertUnits", () => {
  it.each([
    [5, "km", "mi", 3.10685596119],
    [1, "mi", "ft", 5280],
    [12, "in", "ft", 1],
    [1, "lb", "kg", 0.45359237],
    [1, "gal", "l", 3.785411784],
    [90, "min", "h", 1.5],
    [1, "GiB", "MB", 1073.741824],
    [100, "km/h", "m/s", 27.7777777778],
    [1, "ha", "m2", 10000],
    [100, "C", "F", 212],
    [32, "Fahrenheit", "celsius", 0],
    [0, "K", "C", -273.15],
    [3, "meters", "feet", 9.84251968504],
  ])("%d %s → %s", (value, from, to, expected) => {
    expect(convertUnits(value, from, to).result).toBeCloseTo(expected, 8);
  });

  it("avoids floating point noise", () => {
    expect(convertUnits(0.1, "m", "cm").result).toBe(10);
    expect(convertUnits(1.1, "kg", "g").result).toBe(1100);
  });

  it("reports the category and normalized units", () => {
    expect(convertUnits(2, "Kilometres", "M")).toEqual({
      value: 2,
      from: "km",
      to: "m",
      result: 2000,
      category: "length",
    });
  });

  it.each([
    [1, "parsec", "m", 'Unknown unit "parsec"'],
    [1, "m", "furlong", 'Unknown unit "furlong"'],
    [1, "kg", "m", "Cannot convert mass (kg) to length (m)"],
    [1, "C", "m", "Cannot convert temperature (C) to length (m)"],
    [-300, "C", "K", "That temperature is below absolute zero"],
  ])("rejects %d %s → %s", (value, from, to, message) => {
    expect(() => convertUnits(value, from, to)).toThrow(new ConversionError(message));
  });

  it("lists every unit by category", () => {
    const units = supportedUnits();
    expect(units.length.map((unit) => unit.unit)).toContain("mi");
    expect(units.temperature.map((unit) => unit.unit)).toEqual(["C", "F", "K"]);
  });
});
