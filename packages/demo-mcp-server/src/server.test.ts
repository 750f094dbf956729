import { inflateSync } from "node:zlib";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoMcpServer, DEMO_SERVER_INFO } from "./server";

let client: Client;

beforeAll(async () => {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createDemoMcpServer().connect(serverSide);
  client = new Client({ name: "demo-tests", version: "0.0.1" });
  await client.connect(clientSide);
});

afterAll(async () => {
  await client.close();
});

async function call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function text(result: CallToolResult): string {
  const block = result.content.find((item) => item.type === "text");
  return block?.type === "text" ? block.text : "";
}

describe("demo MCP server", () => {
  it("identifies itself and lists six tools with input and output schemas", async () => {
    expect(client.getServerVersion()).toMatchObject(DEMO_SERVER_INFO);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual([
      "calculate",
      "convert_units",
      "text_stats",
      "current_time",
      "generate_uuid",
      "color_swatch",
    ]);
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.outputSchema?.type).toBe("object");
      expect(tool.description).toBeTruthy();
      expect(tool.annotations?.readOnlyHint).toBe(true);
    }
  });

  it("calculate", async () => {
    const result = await call("calculate", { expression: "2 * (3 + 4)" });
    expect(result.structuredContent).toEqual({ expression: "2 * (3 + 4)", result: 14 });
    expect(text(result)).toBe("2 * (3 + 4) = 14");
    const error = await call("calculate", { expression: "1 / 0" });
    expect(error.isError).toBe(true);
    expect(text(error)).toContain("Division by zero");
  });

  it("convert_units", async () => {
    const result = await call("convert_units", { value: 100, from: "C", to: "F" });
    expect(result.structuredContent).toEqual({
      value: 100,
      from: "c",
      to: "f",
      result: 212,
      category: "temperature",
    });
    const error = await call("convert_units", { value: 1, from: "kg", to: "m" });
    expect(error.isError).toBe(true);
    expect(text(error)).toContain("Cannot convert mass (kg) to length (m)");
  });

  it("text_stats", async () => {
    const result = await call("text_stats", { text: "One two three.\nFour." });
    expect(result.structuredContent).toMatchObject({ words: 4, lines: 2, sentences: 2 });
  });

  it("current_time", async () => {
    const result = await call("current_time", { timezone: "Asia/Tokyo" });
    expect(result.structuredContent).toMatchObject({
      timezone: "Asia/Tokyo",
      utc_offset: "+09:00",
    });
    const utc = await call("current_time", {});
    expect(utc.structuredContent).toMatchObject({ timezone: "UTC" });
    const error = await call("current_time", { timezone: "Nowhere/Land" });
    expect(error.isError).toBe(true);
  });

  it("generate_uuid", async () => {
    const result = await call("generate_uuid", { count: 3 });
    const uuids = (result.structuredContent as { uuids: string[] }).uuids;
    expect(uuids).toHaveLength(3);
    expect(new Set(uuids).size).toBe(3);
    for (const uuid of uuids)
      expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const invalid = await call("generate_uuid", { count: 1000 });
    expect(invalid.isError).toBe(true);
  });

  it("color_swatch returns a PNG image", async () => {
    const result = await call("color_swatch", { hex: "#f80", size: 8 });
    expect(result.structuredContent).toEqual({
      hex: "#ff8800",
      rgb: { r: 255, g: 136, b: 0 },
      size: 8,
    });
    const image = result.content[0];
    expect(image?.type).toBe("image");
    if (image?.type !== "image") return;
    expect(image.mimeType).toBe("image/png");
    const png = Buffer.from(image.data, "base64");
    expect(png.subarray(1, 4).toString("ascii")).toBe("PNG");
    const idatLength = png.readUInt32BE(33);
    const pixels = inflateSync(png.subarray(41, 41 + idatLength));
    expect([...pixels.subarray(1, 4)]).toEqual([255, 136, 0]);
    const error = await call("color_swatch", { hex: "tomato" });
    expect(error.isError).toBe(true);
    expect(text(error)).toContain('"tomato" is not a hex colour');
  });

  it("serves the explain_calculation prompt", async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((prompt) => prompt.name)).toEqual(["explain_calculation"]);
    const prompt = await client.getPrompt({
      name: "explain_calculation",
      arguments: { expression: "1 + 1" },
    });
    expect(prompt.messages[0]?.content).toMatchObject({
      type: "text",
      text: expect.stringContaining("`1 + 1`"),
    });
  });

  it("serves the demo://units resource", async () => {
    const { resources } = await client.listResources();
    expect(resources.map((resource) => resource.uri)).toEqual(["demo://units"]);
    const { contents } = await client.readResource({ uri: "demo://units" });
    const body = contents[0];
    const parsed: unknown = JSON.parse(body && "text" in body ? body.text : "{}");
    expect(parsed).toHaveProperty("temperature");
  });
});
