export * from "./mcp-servers";
