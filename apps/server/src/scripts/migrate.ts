import { createDatabase } from "@mcp/core";
import { loadEnv } from "../env";

const env = loadEnv();
const database = await createDatabase({ databaseUrl: env.DATABASE_URL, pgliteDir: env.PGLITE_DIR });
await database.migrate();
await database.close();
console.log(`Migrations applied (${database.kind}).`);
