import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  findRefusedPort,
  httpTestTarget,
  prepareStdioTestServer,
  startNonMcpHttpServer,
  startSseTestMcpServer,
  startTestMcpServer,
} from "../testing/mcp-servers";
import type {
  RunningNonMcpServer,
  RunningTestMcpServer,
  StdioTestServer,
} from "../testing/mcp-servers";
import type { McpTarget } from "./target";
import { testMcpConnection } from "./test-connection";

const CLIENT = { clientName: "test-connection-tests", clientVersion: "0.0.1" };

let http: RunningTestMcpServer;
let secured: RunningTestMcpServer;
let sse: RunningTestMcpServer;
let stdio: StdioTestServer;
let nonMcp: RunningNonMcpServer;

beforeAll(async () => {
  [http, secured, sse, stdio, nonMcp] = await Promise.all([
    startTestMcpServer({ name: "probe-http", version: "1.2.3" }),
    startTestMcpServer({ bearerToken: "right-token" }),
    startSseTestMcpServer({ name: "probe-sse", version: "4.5.6" }),
    prepareStdioTestServer(["--name", "probe-stdio"]),
    startNonMcpHttpServer(),
  ]);
});

afterAll(async () => {
  await Promise.all([http.close(), secured.close(), sse.close(), nonMcp.close()]);
});

describe("testMcpConnection", () => {
  it.each([
    [
      "streamable_http",
      (): McpTarget => httpTestTarget("streamable_http", http.url),
      "probe-http",
      "1.2.3",
    ],
    ["sse", (): McpTarget => httpTestTarget("sse", sse.url), "probe-sse", "4.5.6"],
    ["stdio", (): McpTarget => stdio.target(), "probe-stdio", "2.3.4"],
  ] as const)("succeeds over %s", async (_transport, target, name, version) => {
    const result = await testMcpConnection(target(), CLIENT);
    expect(result).toMatchObject({ ok: true, server: { name, version }, error: null });
    expect(result.protocol_version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(result.capabilities).toHaveProperty("tools");
    expect(result.latency_ms).toBeGreaterThanOrEqual(0);
  });

  async function expectFailure(target: McpTarget, error: string | RegExp): Promise<void> {
    const result = await testMcpConnection(target, CLIENT);
    expect(result).toMatchObject({
      ok: false,
      server: null,
      protocol_version: null,
      capabilities: null,
    });
    if (typeof error === "string") expect(result.error).toBe(error);
    else expect(result.error).toMatch(error);
  }

  it("refused connection", async () => {
    const port = await findRefusedPort();
    await expectFailure(
      httpTestTarget("streamable_http", `http://127.0.0.1:${port}/mcp`),
      `Connection refused at 127.0.0.1:${port}`,
    );
  });

  it("a port fetch refuses as unsafe (sse)", async () => {
    await expectFailure(
      httpTestTarget("sse", "http://127.0.0.1:9/mcp"),
      /^Port refused by fetch at 127\.0\.0\.1:9: the Fetch standard blocks this port/,
    );
  });

  it("streamable_http is not on fetch, so it dials ports fetch would refuse", async () => {
    // Nothing listens on the discard port here: the connect itself is refused.
    await expectFailure(
      httpTestTarget("streamable_http", "http://127.0.0.1:9/mcp"),
      "Connection refused at 127.0.0.1:9",
    );
  });

  it("unreachable host", async () => {
    await expectFailure(
      httpTestTarget("sse", "http://does-not-exist.invalid/sse"),
      /^Could not resolve host does-not-exist\.invalid/,
    );
  });

  it("TLS failure", async () => {
    const port = new URL(http.url).port;
    await expectFailure(
      httpTestTarget("streamable_http", `https://127.0.0.1:${port}/mcp`),
      /^TLS handshake with 127\.0\.0\.1:\d+ failed/,
    );
  });

  it("401 and 403", async () => {
    await expectFailure(
      httpTestTarget("streamable_http", secured.url),
      "Upstream answered 401 Unauthorized",
    );
    await expectFailure(
      httpTestTarget("streamable_http", nonMcp.status(403)),
      "Upstream answered 403 Forbidden",
    );
  });

  it("the right secret header makes it pass", async () => {
    const result = await testMcpConnection(
      httpTestTarget("streamable_http", secured.url, {
        secret: { headers: { Authorization: "Bearer right-token" }, env: {} },
      }),
      CLIENT,
    );
    expect(result.ok).toBe(true);
  });

  it("timeout against a server that never answers", async () => {
    await expectFailure(
      httpTestTarget("streamable_http", nonMcp.hang, { timeout_ms: 300 }),
      "Timed out after 300 ms",
    );
    await expectFailure(
      httpTestTarget("sse", nonMcp.hang, { timeout_ms: 300 }),
      "Timed out after 300 ms",
    );
  });

  it("non-MCP answers", async () => {
    await expectFailure(
      httpTestTarget("streamable_http", nonMcp.html),
      "Server did not speak MCP: it answered with content type text/html; charset=utf-8",
    );
    await expectFailure(
      httpTestTarget("streamable_http", nonMcp.notJsonRpc),
      "Server did not speak MCP: it sent a message that is not valid MCP JSON-RPC",
    );
    await expectFailure(
      httpTestTarget("streamable_http", nonMcp.invalidJson),
      "Server did not speak MCP: it sent invalid JSON",
    );
  });

  it("invalid targets and outbound policy come back as errors, not exceptions", async () => {
    const missingUrl = await testMcpConnection(httpTestTarget("streamable_http", ""), CLIENT);
    expect(missingUrl).toMatchObject({
      ok: false,
      error: "A URL is required for HTTP connections",
    });
    const blocked = await testMcpConnection(
      httpTestTarget("streamable_http", "http://169.254.169.254/mcp"),
      {
        ...CLIENT,
        policy: { blockPrivateNetworks: true, stdioServers: [] },
      },
    );
    expect(blocked.error).toBe(
      "Refused by outbound policy: Address 169.254.169.254 is the cloud metadata address; connections to private and internal networks are blocked on this server",
    );
    const stdioDisabled = await testMcpConnection(stdio.target(), {
      ...CLIENT,
      policy: { blockPrivateNetworks: true, stdioServers: [] },
    });
    expect(stdioDisabled.error).toContain("is not declared on this server (MCP_STDIO_SERVERS)");
  });
});
