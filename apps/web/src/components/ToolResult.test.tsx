import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ToolResult } from "./ToolResult";

const PNG_1PX =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

describe("ToolResult", () => {
  it("shows text, images as data URLs and structured content", () => {
    render(
      <ToolResult
        output={{
          content: [
            { type: "text", text: "hello" },
            { type: "image", data: PNG_1PX, mimeType: "image/png" },
          ],
          structuredContent: { answer: 42 },
        }}
      />,
    );
    expect(screen.getByText("hello")).toBeTruthy();
    const image = screen.getByRole("img", { name: /Image result 2/ });
    expect(image.getAttribute("src")).toBe(`data:image/png;base64,${PNG_1PX}`);
    expect(screen.getByText("Structured content")).toBeTruthy();
    expect(screen.getAllByText(/"answer": 42/).length).toBeGreaterThan(0);
  });

  it("flags tool errors and refuses non-image payloads as images", () => {
    render(
      <ToolResult
        output={{
          isError: true,
          content: [
            { type: "text", text: "boom" },
            { type: "image", data: "<svg onload=alert(1)>", mimeType: "text/html" },
          ],
        }}
        truncated
      />,
    );
    expect(screen.getByText("The tool reported an error:")).toBeTruthy();
    expect(screen.queryByRole("img")).toBeNull();
    expect(screen.getByText(/unsupported type/)).toBeTruthy();
    expect(screen.getByText(/truncated/)).toBeTruthy();
  });

  it("shows resources and unknown content as JSON", () => {
    render(
      <ToolResult
        output={{
          content: [
            {
              type: "resource",
              resource: { uri: "demo://units", mimeType: "text/plain", text: "km, mi" },
            },
            { type: "mystery", value: 1 },
          ],
        }}
      />,
    );
    expect(screen.getByText("demo://units")).toBeTruthy();
    expect(screen.getByText("km, mi")).toBeTruthy();
    expect(screen.getAllByText(/"mystery"/).length).toBeGreaterThan(0);
  });
});
