import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseHexColor, solidColorPng } from "./png";

function chunks(png: Buffer): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  let offset = 8;
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("ascii", offset + 4, offset + 8);
    found.set(type, png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  return found;
}

describe("parseHexColor", () => {
  it("parses long and short forms", () => {
    expect(parseHexColor("#1e90ff")).toEqual({ r: 30, g: 144, b: 255 });
    expect(parseHexColor("1E90FF")).toEqual({ r: 30, g: 144, b: 255 });
    expect(parseHexColor("#19f")).toEqual({ r: 17, g: 153, b: 255 });
  });

  it.each(["", "#12", "#12345", "#gggggg", "red", "#1234567"])("rejects %j", (hex) => {
    expect(parseHexColor(hex)).toBeNull();
  });
});

describe("solidColorPng", () => {
  it("encodes a valid PNG of the requested size and colour", () => {
    const png = solidColorPng({ r: 30, g: 144, b: 255 }, 16);
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const parts = chunks(png);
    expect([...parts.keys()]).toEqual(["IHDR", "IDAT", "IEND"]);
    const header = parts.get("IHDR") ?? Buffer.alloc(0);
    expect(header.readUInt32BE(0)).toBe(16);
    expect(header.readUInt32BE(4)).toBe(16);
    const pixels = inflateSync(parts.get("IDAT") ?? Buffer.alloc(0));
    expect(pixels).toHaveLength(16 * (1 + 16 * 3));
    expect([...pixels.subarray(1, 4)]).toEqual([30, 144, 255]);
    expect([...pixels.subarray(pixels.length - 3)]).toEqual([30, 144, 255]);
  });

  it("writes correct chunk CRCs", () => {
    const png = solidColorPng({ r: 0, g: 0, b: 0 }, 8);
    // The IEND chunk is constant, so its CRC is a known value.
    expect(png.subarray(png.length - 4).toString("hex")).toBe("ae426082");
  });
});
