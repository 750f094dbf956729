import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

/** The shell every page loads before its own chunk: index.html's entry script (kB as vite counts). */
const SHELL_BUDGET_BYTES = 130_000;

const dist = join(import.meta.dirname, "..", "dist");

describe("the production bundle", () => {
  it("keeps the shell within its budget, so a new library lands in a page chunk", async () => {
    const html = await readFile(join(dist, "index.html"), "utf8");
    const entries = [...html.matchAll(/<script type="module"[^>]* src="\/(assets\/[^"]+\.js)"/g)];
    expect(entries).toHaveLength(1);
    const preloads = [...html.matchAll(/rel="modulepreload"[^>]* href="\/(assets\/[^"]+\.js)"/g)];
    let shellBytes = 0;
    for (const [, path] of [...entries, ...preloads]) {
      shellBytes += gzipSync(await readFile(join(dist, path ?? ""))).byteLength;
    }
    expect(shellBytes, `shell ${(shellBytes / 1000).toFixed(1)} kB gzip`).toBeLessThanOrEqual(
      SHELL_BUDGET_BYTES,
    );
  });
});
