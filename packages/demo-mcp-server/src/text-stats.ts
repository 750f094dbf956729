export interface TextStats {
  /** User-perceived characters (grapheme clusters), so "é" or an emoji counts once. */
  characters: number;
  characters_excluding_spaces: number;
  words: number;
  lines: number;
  sentences: number;
  paragraphs: number;
  /** At 200 words per minute, rounded up; 0 for empty text. */
  reading_time_minutes: number;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const words = new Intl.Segmenter(undefined, { granularity: "word" });
const sentences = new Intl.Segmenter(undefined, { granularity: "sentence" });

function count<T>(items: Iterable<T>, predicate: (item: T) => boolean): number {
  let total = 0;
  for (const item of items) if (predicate(item)) total++;
  return total;
}

/** Counts characters, words, lines, sentences and paragraphs the way a reader would. */
export function textStats(text: string): TextStats {
  const characters = count(graphemes.segment(text), () => true);
  const nonSpace = count(graphemes.segment(text), (segment) => !/^\s+$/u.test(segment.segment));
  const wordCount = count(words.segment(text), (segment) => segment.isWordLike === true);
  const lines = text === "" ? 0 : text.split(/\r\n|\r|\n/).length;
  const sentenceCount = count(sentences.segment(text), (segment) =>
    /[\p{L}\p{N}]/u.test(segment.segment),
  );
  const paragraphs = text
    .split(/(?:\r?\n\s*){2,}/)
    .filter((paragraph) => paragraph.trim() !== "").length;
  return {
    characters,
    characters_excluding_spaces: nonSpace,
    words: wordCount,
    lines,
    sentences: sentenceCount,
    paragraphs,
    reading_time_minutes: Math.ceil(wordCount / 200),
  };
}
