export {
  createGateway,
  type GatewayHandler,
  type GatewayOptions,
  type GatewayRequestInfo,
} from "./server";
export { jsonRpcError, send } from "./http";
