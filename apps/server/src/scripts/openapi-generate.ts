/**
 * Regenerates what is derived from the API's procedures and committed:
 *   packages/api/openapi.json          the OpenAPI document (with a fixed server URL)
 *   packages/sdk/src/generated/router.ts  the SDK's router types
 *
 *   pnpm openapi:generate            write both
 *   pnpm openapi:generate --check    exit 1 when either is stale (what the tests check)
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  generateRouterTypes,
  ROUTER_TYPES_PATH,
} from "../../../../packages/sdk/scripts/generate-router-types";

const here = dirname(fileURLToPath(import.meta.url));
export const OPENAPI_SNAPSHOT_PATH = resolve(here, "../../../../packages/api/openapi.json");
/** Fixed, so the snapshot does not depend on where it was generated. */
export const OPENAPI_SNAPSHOT_SERVER_URL = "http://localhost:3000/api/v1";

/** Imported when called, so that a direct run can first switch to the sources (rerunOnSources). */
export async function renderOpenApiSnapshot(): Promise<string> {
  const { createOpenApiDocument } = await import("@mcp/api/openapi");
  return `${JSON.stringify(createOpenApiDocument(OPENAPI_SNAPSHOT_SERVER_URL), null, 2)}\n`;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Each derived file with its fresh content and whether the committed one matches. */
export async function derivedFiles(): Promise<{ path: string; content: string; stale: boolean }[]> {
  const files = [
    { path: OPENAPI_SNAPSHOT_PATH, content: await renderOpenApiSnapshot() },
    { path: ROUTER_TYPES_PATH, content: await generateRouterTypes() },
  ];
  return files.map((file) => ({ ...file, stale: readOrEmpty(file.path) !== file.content }));
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  let stale = false;
  for (const file of await derivedFiles()) {
    const path = relative(process.cwd(), file.path);
    if (check) {
      if (file.stale) {
        stale = true;
        console.error(`${path} is stale: run \`pnpm openapi:generate\``);
      } else {
        console.log(`${path} is up to date`);
      }
    } else {
      if (file.stale) writeFileSync(file.path, file.content);
      console.log(`${file.stale ? "wrote" : "unchanged"} ${path}`);
    }
  }
  if (stale) process.exit(1);
}

/**
 * Run directly (`npx tsx src/scripts/openapi-generate.ts`) without the `@mcp/source` condition,
 * `@mcp/api` would be its compiled `dist`, possibly older than the procedures: run again on the
 * sources instead.
 */
function rerunOnSources(): boolean {
  const flag = "--conditions=@mcp/source";
  if (process.execArgv.includes(flag) || import.meta.resolve("@mcp/api").includes("/src/"))
    return false;
  const args = [flag, ...process.execArgv, ...process.argv.slice(1)];
  const result = spawnSync(process.execPath, args, { stdio: "inherit" });
  process.exit(result.status ?? 1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!rerunOnSources()) await main();
}
