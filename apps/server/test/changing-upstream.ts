/*
 * The test MCP server whose tools a test changes between syncs, for the browser tests: they run
 * from apps/web, which does not depend on @mcp/core, so they reach it through this module.
 */
export { startTestMcpServer, type RunningTestMcpServer, type TestTool } from "@mcp/core/testing";
