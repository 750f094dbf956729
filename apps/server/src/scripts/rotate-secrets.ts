import { createDatabase, rotateConnectionSecrets, SYSTEM_CONTEXT } from "@mcp/core";
import { loadEnv } from "../env";
import { createLogger } from "../logger";
import { loadSecretStore } from "../secrets";

const env = loadEnv();
const logger = createLogger(env.LOG_LEVEL);
const database = createDatabase({ databaseUrl: env.DATABASE_URL, pgliteDir: env.PGLITE_DIR });
try {
  await database.migrate();
  const secrets = loadSecretStore(env, logger);
  const result = await rotateConnectionSecrets(database.db, secrets, SYSTEM_CONTEXT);
  console.log(`Re-encrypted ${result.rotated} of ${result.total} connection secrets with key '${secrets.activeKeyId}'.`);
} finally {
  await database.close();
}
