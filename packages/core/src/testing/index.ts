export * from "./mcp-servers";
export * from "./wait";
export * from "./event-loop";
