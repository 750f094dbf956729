export { createGateway, type GatewayOptions, type GatewayRequestInfo } from "./server";
