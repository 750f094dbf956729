import {
  createSecretStore,
  loadOrCreateKeyFile,
  parseSecretKeys,
  type SecretStore,
} from "@mcp/core";
import type { Env } from "./env";
import type { Logger } from "./logger";

/** SECRET_KEYS when set; otherwise a key generated once into the data directory (mode 0600). */
export function loadSecretStore(env: Env, logger: Logger): SecretStore {
  if (env.SECRET_KEYS) return createSecretStore(parseSecretKeys(env.SECRET_KEYS, "SECRET_KEYS"));
  const file = loadOrCreateKeyFile(env.DATA_DIR);
  if (file.created) {
    logger.warn(
      { path: file.path },
      "generated a secret encryption key; back it up, or set SECRET_KEYS",
    );
  }
  if (file.insecurePermissions) {
    logger.warn(
      { path: file.path },
      "the secret key file is readable by other users; chmod 600 it",
    );
  }
  return createSecretStore(file.keys);
}
