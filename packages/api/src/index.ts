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
export { toWireError } from "./errors";
