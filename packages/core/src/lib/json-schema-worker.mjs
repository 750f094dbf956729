// The JSON Schema thread's entry (./json-schema-thread.ts). The platform runs its TypeScript
// sources directly (tsx, vitest); a worker starts without their loaders, so it loads its
// TypeScript module through tsx's API.
import { tsImport } from "tsx/esm/api";

await tsImport("./json-schema-worker.ts", import.meta.url);
