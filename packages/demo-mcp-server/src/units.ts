/**
 * Unit conversion. Linear units are stored as factors to a base unit per category; temperature
 * has offsets and is handled separately.
 */

export class ConversionError extends Error {
  override readonly name = "ConversionError";
}

type Category = "length" | "mass" | "volume" | "time" | "data" | "speed" | "area" | "temperature";

interface LinearUnit {
  category: Exclude<Category, "temperature">;
  /** Value of one of this unit in the category's base unit. */
  factor: number;
  label: string;
}

const LINEAR_UNITS: Readonly<Record<string, LinearUnit>> = {
  // length, base metre
  mm: { category: "length", factor: 0.001, label: "millimetre" },
  cm: { category: "length", factor: 0.01, label: "centimetre" },
  m: { category: "length", factor: 1, label: "metre" },
  km: { category: "length", factor: 1000, label: "kilometre" },
  in: { category: "length", factor: 0.0254, label: "inch" },
  ft: { category: "length", factor: 0.3048, label: "foot" },
  yd: { category: "length", factor: 0.9144, label: "yard" },
  mi: { category: "length", factor: 1609.344, label: "mile" },
  nmi: { category: "length", factor: 1852, label: "nautical mile" },
  // mass, base kilogram
  mg: { category: "mass", factor: 1e-6, label: "milligram" },
  g: { category: "mass", factor: 0.001, label: "gram" },
  kg: { category: "mass", factor: 1, label: "kilogram" },
  t: { category: "mass", factor: 1000, label: "tonne" },
  oz: { category: "mass", factor: 0.028349523125, label: "ounce" },
  lb: { category: "mass", factor: 0.45359237, label: "pound" },
  st: { category: "mass", factor: 6.35029318, label: "stone" },
  // volume, base litre (US customary for gallons and friends)
  ml: { category: "volume", factor: 0.001, label: "millilitre" },
  l: { category: "volume", factor: 1, label: "litre" },
  m3: { category: "volume", factor: 1000, label: "cubic metre" },
  tsp: { category: "volume", factor: 0.00492892159375, label: "US teaspoon" },
  tbsp: { category: "volume", factor: 0.01478676478125, label: "US tablespoon" },
  floz: { category: "volume", factor: 0.0295735295625, label: "US fluid ounce" },
  cup: { category: "volume", factor: 0.2365882365, label: "US cup" },
  pt: { category: "volume", factor: 0.473176473, label: "US pint" },
  qt: { category: "volume", factor: 0.946352946, label: "US quart" },
  gal: { category: "volume", factor: 3.785411784, label: "US gallon" },
  // time, base second
  ms: { category: "time", factor: 0.001, label: "millisecond" },
  s: { category: "time", factor: 1, label: "second" },
  min: { category: "time", factor: 60, label: "minute" },
  h: { category: "time", factor: 3600, label: "hour" },
  d: { category: "time", factor: 86_400, label: "day" },
  wk: { category: "time", factor: 604_800, label: "week" },
  // data, base byte
  b: { category: "data", factor: 1, label: "byte" },
  kb: { category: "data", factor: 1e3, label: "kilobyte" },
  mb: { category: "data", factor: 1e6, label: "megabyte" },
  gb: { category: "data", factor: 1e9, label: "gigabyte" },
  tb: { category: "data", factor: 1e12, label: "terabyte" },
  kib: { category: "data", factor: 1024, label: "kibibyte" },
  mib: { category: "data", factor: 1024 ** 2, label: "mebibyte" },
  gib: { category: "data", factor: 1024 ** 3, label: "gibibyte" },
  tib: { category: "data", factor: 1024 ** 4, label: "tebibyte" },
  // speed, base metre per second
  "m/s": { category: "speed", factor: 1, label: "metre per second" },
  "km/h": { category: "speed", factor: 1000 / 3600, label: "kilometre per hour" },
  mph: { category: "speed", factor: 0.44704, label: "mile per hour" },
  kn: { category: "speed", factor: 1852 / 3600, label: "knot" },
  // area, base square metre
  m2: { category: "area", factor: 1, label: "square metre" },
  km2: { category: "area", factor: 1e6, label: "square kilometre" },
  ha: { category: "area", factor: 10_000, label: "hectare" },
  acre: { category: "area", factor: 4046.8564224, label: "acre" },
  ft2: { category: "area", factor: 0.09290304, label: "square foot" },
};

const TEMPERATURE_UNITS: Readonly<
  Record<
    string,
    { toKelvin: (v: number) => number; fromKelvin: (k: number) => number; label: string }
  >
> = {
  c: { toKelvin: (v) => v + 273.15, fromKelvin: (k) => k - 273.15, label: "degree Celsius" },
  f: {
    toKelvin: (v) => ((v - 32) * 5) / 9 + 273.15,
    fromKelvin: (k) => ((k - 273.15) * 9) / 5 + 32,
    label: "degree Fahrenheit",
  },
  k: { toKelvin: (v) => v, fromKelvin: (k) => k, label: "kelvin" },
};

const ALIASES: Readonly<Record<string, string>> = {
  celsius: "c",
  "°c": "c",
  fahrenheit: "f",
  "°f": "f",
  kelvin: "k",
  meter: "m",
  metre: "m",
  meters: "m",
  metres: "m",
  kilometer: "km",
  kilometre: "km",
  kilometers: "km",
  kilometres: "km",
  inch: "in",
  inches: "in",
  foot: "ft",
  feet: "ft",
  mile: "mi",
  miles: "mi",
  kilogram: "kg",
  kilograms: "kg",
  gram: "g",
  grams: "g",
  pound: "lb",
  pounds: "lb",
  lbs: "lb",
  ounce: "oz",
  ounces: "oz",
  liter: "l",
  litre: "l",
  liters: "l",
  litres: "l",
  gallon: "gal",
  gallons: "gal",
  second: "s",
  seconds: "s",
  sec: "s",
  minute: "min",
  minutes: "min",
  hour: "h",
  hours: "h",
  hr: "h",
  day: "d",
  days: "d",
  week: "wk",
  weeks: "wk",
  kph: "km/h",
  knot: "kn",
  knots: "kn",
};

function normalizeUnit(unit: string): string {
  const lower = unit.trim().toLowerCase();
  return ALIASES[lower] ?? lower;
}

export interface ConversionResult {
  value: number;
  from: string;
  to: string;
  result: number;
  category: Category;
}

/** Converts `value` between two units of the same kind, e.g. `convertUnits(5, "km", "mi")`. */
export function convertUnits(value: number, from: string, to: string): ConversionResult {
  const source = normalizeUnit(from);
  const target = normalizeUnit(to);

  const fromTemperature = TEMPERATURE_UNITS[source];
  const toTemperature = TEMPERATURE_UNITS[target];
  if (fromTemperature && toTemperature) {
    const kelvin = fromTemperature.toKelvin(value);
    if (kelvin < 0) throw new ConversionError("That temperature is below absolute zero");
    return {
      value,
      from: source,
      to: target,
      result: roundSensibly(toTemperature.fromKelvin(kelvin)),
      category: "temperature",
    };
  }

  const fromLinear = LINEAR_UNITS[source];
  const toLinear = LINEAR_UNITS[target];
  if (!fromLinear && !fromTemperature) throw new ConversionError(`Unknown unit "${from}"`);
  if (!toLinear && !toTemperature) throw new ConversionError(`Unknown unit "${to}"`);
  if (fromLinear && toLinear?.category === fromLinear.category) {
    const result = (value * fromLinear.factor) / toLinear.factor;
    return {
      value,
      from: source,
      to: target,
      result: roundSensibly(result),
      category: fromLinear.category,
    };
  }
  const kindOf = (unit: string): string => LINEAR_UNITS[unit]?.category ?? "temperature";
  throw new ConversionError(
    `Cannot convert ${kindOf(source)} (${from}) to ${kindOf(target)} (${to})`,
  );
}

/** Trims binary floating-point noise (0.30000000000000004) without losing real precision. */
function roundSensibly(value: number): number {
  return Number.parseFloat(value.toPrecision(12));
}

/** Supported units grouped by category, for the `demo://units` resource. */
export function supportedUnits(): Record<Category, { unit: string; label: string }[]> {
  const groups: Record<Category, { unit: string; label: string }[]> = {
    length: [],
    mass: [],
    volume: [],
    time: [],
    data: [],
    speed: [],
    area: [],
    temperature: [],
  };
  for (const [unit, definition] of Object.entries(LINEAR_UNITS)) {
    groups[definition.category].push({ unit, label: definition.label });
  }
  for (const [unit, definition] of Object.entries(TEMPERATURE_UNITS)) {
    groups.temperature.push({ unit: unit.toUpperCase(), label: definition.label });
  }
  return groups;
}
