export * from "./mcp-servers";
export * from "./wait";
