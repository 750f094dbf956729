export type { KeyFileResult, SecretKey } from "./keys";
export {
  formatSecretKeys,
  generateSecretKey,
  loadOrCreateKeyFile,
  parseSecretKeys,
  SECRET_KEY_BYTES,
  SECRET_KEY_FILE_NAME,
  SECRET_KEY_ID_PATTERN,
} from "./keys";
export type { SecretStore, SecretStoreErrorReason } from "./secret-store";
export {
  AesGcmSecretStore,
  createSecretStore,
  envelopeKeyId,
  SecretStoreError,
} from "./secret-store";
