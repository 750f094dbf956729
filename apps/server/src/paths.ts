import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Where `pnpm --filter @mcp/web build` writes the SPA. */
export const webDistDir = resolve(here, "../../web/dist");
