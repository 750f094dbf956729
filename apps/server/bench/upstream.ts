/**
 * An upstream MCP server in its own process, so the platform's measurements are not skewed by
 * sharing an event loop with it. Prints `{"url": …}` on stdout once listening.
 *   node --import tsx bench/upstream.ts [generatedTools]
 */
import { startTestMcpServer } from "@mcp/core/testing";

const generated = Number(process.argv[2] ?? "0");
const server = await startTestMcpServer({
  name: "bench-upstream",
  ...(generated > 0 ? { builtinTools: false, generatedTools: generated } : {}),
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

const stop = (): void => {
  void server.close().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
