import {
  createDatabase,
  rotateAuditWebhookSecretKeys,
  rotateConnectionSecrets,
  rotatePolicyHookSecretKeys,
  SYSTEM_CONTEXT,
} from "@mcp/core";
import { databaseConfig, loadEnv } from "../env";
import { createLogger } from "../logger";
import { loadSecretStore } from "../secrets";

/**
 * `pnpm secrets:rotate [--org <org_id>]`: every connection, audit webhook and policy hook secret,
 * or one organization's.
 */
const orgFlag = process.argv.indexOf("--org");
const orgId = orgFlag === -1 ? undefined : process.argv[orgFlag + 1];
const env = loadEnv();
const logger = createLogger(env.LOG_LEVEL, undefined, env.LOG_FORMAT);
const database = await createDatabase(databaseConfig(env));
try {
  await database.migrate();
  const secrets = loadSecretStore(env, logger);
  const result = await rotateConnectionSecrets(database.db, secrets, SYSTEM_CONTEXT, { orgId });
  console.log(
    `Re-encrypted ${result.rotated} of ${result.total} connection secrets with key '${secrets.activeKeyId}'.`,
  );
  for (const failure of result.failed) {
    console.error(
      `Could not re-encrypt the secret of connection "${failure.name}" (${failure.connection_id}, org ${failure.org_id}): ${failure.reason}`,
    );
  }
  const webhooks = await rotateAuditWebhookSecretKeys(database.db, secrets, { orgId });
  console.log(`Re-encrypted ${webhooks.rotated} audit webhook secrets.`);
  for (const failure of webhooks.failed) {
    console.error(
      `Could not re-encrypt the audit webhook secret of org ${failure.org_id}: ${failure.reason}`,
    );
  }
  const hooks = await rotatePolicyHookSecretKeys(database.db, secrets, { orgId });
  console.log(`Re-encrypted ${hooks.rotated} policy hook secrets.`);
  for (const failure of hooks.failed) {
    console.error(
      `Could not re-encrypt the hook secret of policy ${failure.policy_id} (org ${failure.org_id}): ${failure.reason}`,
    );
  }
  // Every other row was rotated; a non-zero exit still tells scripts that some were not.
  if (result.failed.length + webhooks.failed.length + hooks.failed.length > 0) process.exitCode = 1;
} finally {
  await database.close();
}
