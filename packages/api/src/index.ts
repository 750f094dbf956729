export { appRouter, type AppRouter } from "./root";
export {
  callerRole,
  createContext,
  readCookie,
  sessionCookie,
  type ApiDeps,
  type Context,
  type RequestInfo,
} from "./context";
export { createRestHandler } from "./rest";
export { createOpenApiDocument } from "./openapi";
export { toWireError } from "./errors";
