export { createPlatformClient, type PlatformClient, type PlatformClientOptions } from "./client";
export {
  ERROR_CODES,
  isPlatformError,
  PlatformError,
  type ErrorCode,
  type ErrorIssue,
  type PlatformErrorCode,
} from "./errors";
export { collect, paginate } from "./paginate";
export type { ErrorShape, JsonValue, PlatformRouter } from "./generated/router";
export type * from "./types";
