import { describe, expect, it } from "vitest";
import { textStats } from "./text-stats";

describe("textStats", () => {
  it("counts a typical text", () => {
    const text = "Hello world. How are you?\nFine, thanks!\n\nA new paragraph here.";
    expect(textStats(text)).toEqual({
      characters: text.length,
      characters_excluding_spaces: text.replace(/\s/g, "").length,
      words: 11,
      lines: 4,
      sentences: 4,
      paragraphs: 2,
      reading_time_minutes: 1,
    });
  });

  it("handles empty text", () => {
    expect(textStats("")).toEqual({
      characters: 0,
      characters_excluding_spaces: 0,
      words: 0,
      lines: 0,
      sentences: 0,
      paragraphs: 0,
      reading_time_minutes: 0,
    });
  });

  it("counts user-perceived characters", () => {
    const stats = textStats("café 👍🏽 naïve");
    expect(stats.characters).toBe(12);
    expect(stats.words).toBe(2);
  });

  it("estimates reading time at 200 words per minute", () => {
    expect(textStats("word ".repeat(401)).reading_time_minutes).toBe(3);
  });
});
