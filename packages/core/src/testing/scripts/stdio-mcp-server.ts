/**
 * A real MCP server over stdio for tests; spawned through `prepareStdioTestServer()` in
 * ../mcp-servers.ts. Flags select failure modes a stdio upstream can have in production:
 *   --name <name>        server name reported in `initialize` (default "stdio-test-server")
 *   --exit-on-start <n>  print to stderr and exit with code n before speaking MCP
 *   --garbage            write non-JSON-RPC lines to stdout instead of speaking MCP
 *   --ignore-stdin-eof   keep running after stdin closes, so closing must fall back to signals
 */
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

const argv = process.argv.slice(2);

function flagValue(flag: string): string | undefined {
  const index = argv.indexOf(flag);
  return index === -1 ? undefined : argv[index + 1];
}

const exitCode = flagValue("--exit-on-start");
if (exitCode !== undefined) {
  process.stderr.write("fatal: missing configuration, refusing to start\n");
  process.exit(Number(exitCode));
}

if (argv.includes("--ignore-stdin-eof")) {
  // A live timer keeps the event loop running when stdin closes, like a server with open sockets.
  setInterval(() => undefined, 60_000);
}

if (argv.includes("--garbage")) {
  process.stdout.write("Welcome! This program does not speak MCP.\n");
  process.stdin.on("data", () => {
    process.stdout.write("{not json-rpc}\n");
  });
  process.stdin.on("end", () => process.exit(0));
} else {
  // Loaded only here so the failure modes above start (and fail) without the SDK's load time.
  const [{ McpServer }, { StdioServerTransport }, { z }] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/mcp.js"),
    import("@modelcontextprotocol/sdk/server/stdio.js"),
    import("zod"),
  ]);
  const server = new McpServer(
    { name: flagValue("--name") ?? "stdio-test-server", version: "2.3.4" },
    { capabilities: { logging: {} } },
  );

  server.registerTool(
    "echo",
    { description: "Returns the given text", inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: "text", text }] }),
  );

  server.registerTool(
    "env",
    {
      description: "Returns the values of the named environment variables (null when unset)",
      inputSchema: { names: z.array(z.string()) },
    },
    ({ names }) => {
      const values = Object.fromEntries(names.map((name) => [name, process.env[name] ?? null]));
      return {
        content: [{ type: "text", text: JSON.stringify(values) }],
        structuredContent: values,
      };
    },
  );

  server.registerTool(
    "slow",
    { description: "Sleeps for `ms` milliseconds", inputSchema: { ms: z.number().int().min(0) } },
    async ({ ms }, extra) => {
      await sleep(ms, undefined, { signal: extra.signal });
      return { content: [{ type: "text", text: `slept ${ms} ms` }] };
    },
  );

  server.registerTool("fail", { description: "Always reports a tool error" }, () => ({
    isError: true,
    content: [{ type: "text", text: "The tool failed on purpose" }],
  }));

  server.registerTool(
    "crash",
    { description: "Exits the server process in the middle of the call" },
    () => {
      process.stderr.write("fatal: crashing on purpose\n");
      process.exit(3);
    },
  );

  server.registerTool(
    "read_file",
    {
      description: "Returns a file's content, or the error reading it (for sandbox tests)",
      inputSchema: { path: z.string() },
    },
    async ({ path }) => {
      try {
        return { content: [{ type: "text", text: await readFile(path, "utf8") }] };
      } catch (error) {
        const code = error instanceof Error && "code" in error ? String(error.code) : "unknown";
        return { isError: true, content: [{ type: "text", text: `unreadable: ${code}` }] };
      }
    },
  );

  server.registerTool("pid", { description: "Returns the server's process id" }, () => ({
    content: [{ type: "text", text: String(process.pid) }],
  }));

  process.stderr.write("stdio test server ready\n");
  await server.connect(new StdioServerTransport());
}
