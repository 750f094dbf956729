import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { evaluateExpression } from "./calculator";
import { parseHexColor, solidColorPng } from "./png";
import { textStats } from "./text-stats";
import { currentTime } from "./time";
import { convertUnits, supportedUnits } from "./units";

export const DEMO_SERVER_INFO = { name: "mcp-demo-server", version: "1.0.0" } as const;

const pure = { readOnlyHint: true, idempotentHint: true, openWorldHint: false } as const;

/**
 * The demo MCP server shipped with the platform: a handful of small, safe tools so a fresh
 * install has something real to register, sync, govern and call. Handlers throw plain errors for
 * bad input; McpServer turns those into `isError: true` results the model can read and correct.
 */
export function createDemoMcpServer(): McpServer {
  const server = new McpServer(DEMO_SERVER_INFO, {
    instructions:
      "Demo tools: arithmetic (calculate), unit conversion (convert_units), text statistics (text_stats), " +
      "time zones (current_time), UUIDs (generate_uuid) and colour swatches as PNG images (color_swatch).",
  });

  server.registerTool(
    "calculate",
    {
      title: "Calculator",
      description:
        "Evaluates an arithmetic expression. Supports + - * / % ^ (or **), parentheses, the constants pi, e and tau, " +
        "and sqrt, cbrt, abs, round, floor, ceil, sin, cos, tan, asin, acos, atan, ln, log (base 10), log2, exp, min, max.",
      inputSchema: {
        expression: z.string().min(1).max(1000).describe("For example: 2 * (3 + 4) ^ 2 / sqrt(16)"),
      },
      outputSchema: { expression: z.string(), result: z.number() },
      annotations: pure,
    },
    ({ expression }) => {
      const result = evaluateExpression(expression);
      return {
        content: [{ type: "text", text: `${expression} = ${result}` }],
        structuredContent: { expression, result },
      };
    },
  );

  server.registerTool(
    "convert_units",
    {
      title: "Unit converter",
      description:
        "Converts a value between units of length, mass, volume, time, data size, speed, area or temperature " +
        "(e.g. km→mi, lb→kg, F→C, GiB→GB). The demo://units resource lists every unit.",
      inputSchema: {
        value: z.number().describe("The amount to convert"),
        from: z.string().min(1).max(20).describe('Source unit, e.g. "km"'),
        to: z.string().min(1).max(20).describe('Target unit, e.g. "mi"'),
      },
      outputSchema: {
        value: z.number(),
        from: z.string(),
        to: z.string(),
        result: z.number(),
        category: z.string(),
      },
      annotations: pure,
    },
    ({ value, from, to }) => {
      const conversion = convertUnits(value, from, to);
      return {
        content: [
          {
            type: "text",
            text: `${value} ${conversion.from} = ${conversion.result} ${conversion.to}`,
          },
        ],
        structuredContent: { ...conversion },
      };
    },
  );

  server.registerTool(
    "text_stats",
    {
      title: "Text statistics",
      description:
        "Counts characters, words, lines, sentences and paragraphs in a text, with a reading-time estimate.",
      inputSchema: { text: z.string().max(1_000_000) },
      outputSchema: {
        characters: z.number().int(),
        characters_excluding_spaces: z.number().int(),
        words: z.number().int(),
        lines: z.number().int(),
        sentences: z.number().int(),
        paragraphs: z.number().int(),
        reading_time_minutes: z.number().int(),
      },
      annotations: pure,
    },
    ({ text }) => {
      const stats = textStats(text);
      return {
        content: [
          {
            type: "text",
            text: `${stats.words} words, ${stats.characters} characters, ${stats.lines} lines, ${stats.sentences} sentences, ${stats.paragraphs} paragraphs`,
          },
        ],
        structuredContent: { ...stats },
      };
    },
  );

  server.registerTool(
    "current_time",
    {
      title: "Current time",
      description:
        'The current date and time in an IANA time zone such as "Europe/Paris" (default UTC).',
      inputSchema: { timezone: z.string().min(1).max(64).default("UTC") },
      outputSchema: {
        timezone: z.string(),
        utc: z.string(),
        local: z.string(),
        utc_offset: z.string(),
        weekday: z.string(),
        unix_ms: z.number(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ timezone }) => {
      const time = currentTime(timezone);
      return {
        content: [{ type: "text", text: `${time.local} (${time.weekday}, ${time.timezone})` }],
        structuredContent: { ...time },
      };
    },
  );

  server.registerTool(
    "generate_uuid",
    {
      title: "UUID generator",
      description: "Generates random (version 4) UUIDs.",
      inputSchema: { count: z.number().int().min(1).max(100).default(1) },
      outputSchema: { uuids: z.array(z.string()) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ count }) => {
      const uuids = Array.from({ length: count }, () => randomUUID());
      return { content: [{ type: "text", text: uuids.join("\n") }], structuredContent: { uuids } };
    },
  );

  server.registerTool(
    "color_swatch",
    {
      title: "Colour swatch",
      description:
        'Returns a square PNG image filled with a colour given as hex, e.g. "#1e90ff" or "#19f".',
      inputSchema: {
        hex: z.string().max(16).describe('Colour as "#rrggbb" or "#rgb"'),
        size: z.number().int().min(8).max(256).default(64).describe("Width and height in pixels"),
      },
      outputSchema: {
        hex: z.string(),
        rgb: z.object({ r: z.number().int(), g: z.number().int(), b: z.number().int() }),
        size: z.number().int(),
      },
      annotations: pure,
    },
    ({ hex, size }) => {
      const rgb = parseHexColor(hex);
      if (!rgb) throw new Error(`"${hex}" is not a hex colour; use "#rrggbb" or "#rgb"`);
      const normalized = `#${[rgb.r, rgb.g, rgb.b].map((channel) => channel.toString(16).padStart(2, "0")).join("")}`;
      return {
        content: [
          {
            type: "image",
            data: solidColorPng(rgb, size).toString("base64"),
            mimeType: "image/png",
          },
          {
            type: "text",
            text: `${size}×${size} swatch of ${normalized} (rgb ${rgb.r}, ${rgb.g}, ${rgb.b})`,
          },
        ],
        structuredContent: { hex: normalized, rgb, size },
      };
    },
  );

  server.registerPrompt(
    "explain_calculation",
    {
      title: "Explain a calculation",
      description:
        "Asks the model to evaluate an expression with the calculate tool and explain each step.",
      argsSchema: { expression: z.string().describe("The arithmetic expression to explain") },
    },
    ({ expression }) => ({
      messages: [
        {
          role: "user",
          content: {
            type: "text",
            text: `Evaluate \`${expression}\` with the calculate tool, then explain the order of operations step by step and state the final result.`,
          },
        },
      ],
    }),
  );

  server.registerResource(
    "units",
    "demo://units",
    {
      title: "Supported units",
      description: "Every unit convert_units understands, grouped by category.",
      mimeType: "application/json",
    },
    (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: "application/json",
          text: JSON.stringify(supportedUnits(), null, 2),
        },
      ],
    }),
  );

  return server;
}
