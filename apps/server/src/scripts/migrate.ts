import { createDatabase } from "@mcp/core";
import { databaseConfig, loadEnv } from "../env";

const env = loadEnv();
const database = await createDatabase(databaseConfig(env));
await database.migrate();
await database.close();
console.log(`Migrations applied (${database.kind}).`);
