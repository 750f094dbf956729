/** Runs the demo MCP server standalone: `PORT=3001 HOST=127.0.0.1 tsx src/http.ts`, endpoint /mcp. */
import { readDemoServerEnv } from "./env";
import { createDemoHttpServer } from "./node-http";

const { port, host } = readDemoServerEnv();
const server = createDemoHttpServer();

server.listen(port, host, () => {
  const address = server.address();
  const actualPort = address !== null && typeof address === "object" ? address.port : port;
  console.log(`MCP demo server listening on http://${host}:${actualPort}/mcp`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
