/**
 * An upstream MCP server in its own process, so the platform's measurements are not skewed by
 * sharing an event loop with it. Prints `{"url": …}` on stdout once listening.
 *   node --import tsx bench/upstream.ts [generatedTools]   the test server (`echo`, …)
 *   node --import tsx bench/upstream.ts protocol           the SDK-built server of the protocol
 *     tests (test/protocol-upstream.ts), whose `confirm_delete` elicits from the client once
 */
import { startTestMcpServer } from "@mcp/core/testing";
import { startProtocolUpstream } from "../test/protocol-upstream";

const argument = process.argv[2] ?? "0";
const generated = Number(argument);
const server =
  argument === "protocol"
    ? await startProtocolUpstream()
    : await startTestMcpServer({
        name: "bench-upstream",
        ...(generated > 0 ? { builtinTools: false, generatedTools: generated } : {}),
      });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

const stop = (): void => {
  void server.close().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
