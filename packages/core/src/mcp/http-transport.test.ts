import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { httpTestTarget, startTestMcpServer } from "../testing/mcp-servers";
import { connectMcp, McpCallError } from "./client";
import { NodeStreamableHttpTransport, ResponseTooLargeError, SseParser } from "./http-transport";
import { Diagnostics, translateError } from "./translate-error";

const CLIENT = { clientName: "http-transport-tests", clientVersion: "0.0.1" };

interface RawMessage {
  jsonrpc: "2.0";
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
}

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface RawServer {
  url: string;
  requests: Recorded[];
  /** TCP connections accepted so far. */
  connections: () => number;
  /** Requests whose connection closed before the server answered them. */
  abortedRequests: () => number;
  close: () => Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: RawServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A plain node:http server; every request body is read and recorded before `handler` runs. */
async function rawServer(handler: Handler, path = "/mcp"): Promise<RawServer> {
  const requests: Recorded[] = [];
  let connections = 0;
  let aborted = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.on("close", () => {
        if (!res.writableFinished) aborted++;
      });
      handler(req, res, body);
    });
  });
  server.on("connection", () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const running: RawServer = {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    connections: () => connections,
    abortedRequests: () => aborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  servers.push(running);
  return running;
}

function parse(body: string): RawMessage {
  return JSON.parse(body) as RawMessage;
}

function sendJson(res: ServerResponse, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
}

function result(id: RawMessage["id"], value: Record<string, unknown>): unknown {
  return { jsonrpc: "2.0", id, result: value };
}

/**
 * Answers `initialize` (session "raw-session") and notifications like an MCP server and hands
 * every other request to `onRequest`.
 */
function mcpLike(onRequest: (res: ServerResponse, message: RawMessage) => void): Handler {
  return (req, res, body) => {
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const message = parse(body);
    if (message.method === "initialize") {
      sendJson(
        res,
        result(message.id, {
          protocolVersion: message.params?.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: "raw", version: "1.0.0" },
        }),
        { "mcp-session-id": "raw-session" },
      );
      return;
    }
    if (message.id === undefined) {
      res.writeHead(202).end();
      return;
    }
    onRequest(res, message);
  };
}

function toolText(text: string): Record<string, unknown> {
  return { content: [{ type: "text", text }] };
}

/** A transport with its messages and errors collected. */
function collecting(
  url: string,
  options: ConstructorParameters<typeof NodeStreamableHttpTransport>[1] = {},
): { transport: NodeStreamableHttpTransport; messages: JSONRPCMessage[]; errors: Error[] } {
  const transport = new NodeStreamableHttpTransport(new URL(url), options);
  const messages: JSONRPCMessage[] = [];
  const errors: Error[] = [];
  transport.onmessage = (message) => messages.push(message);
  transport.onerror = (error) => errors.push(error);
  return { transport, messages, errors };
}

const PING: JSONRPCMessage = { jsonrpc: "2.0", id: 1, method: "ping" };

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error: unknown = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error(`expected a rejection, got ${String(error)}`);
  return error;
}

async function failure(promise: Promise<unknown>): Promise<McpCallError> {
  const error = await rejection(promise);
  if (!(error instanceof McpCallError)) throw new Error(`expected McpCallError, got ${error.name}`);
  return error;
}

function textOf(value: { content: { type: string }[] }): string {
  const first = value.content[0];
  if (first?.type !== "text" || !("text" in first) || typeof first.text !== "string")
    throw new Error("no text content");
  return first.text;
}

describe("SseParser", () => {
  function parseAll(chunks: string[]): [string, string][] {
    const events: [string, string][] = [];
    const parser = new SseParser((type, data) => events.push([type, data]));
    for (const chunk of chunks) parser.feed(chunk);
    parser.end();
    return events;
  }

  it("splits events on blank lines with LF, CRLF and CR line ends", () => {
    expect(parseAll(["data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\n"])).toEqual([
      ["", "a"],
      ["", "b"],
      ["", "c"],
      ["", "d"],
    ]);
  });

  it("joins multi-line data and handles fields the standard's way", () => {
    expect(
      parseAll([
        "\uFEFF: a comment\nid: 7\nretry: 1000\nevent: message\ndata: line 1\ndata:line 2\ndata:  indented\n\n",
        "event: other\ndata: skipped by the transport, not the parser\n\n",
        "data\n\n",
        "id: only-an-id\n\n",
      ]),
    ).toEqual([
      ["message", "line 1\nline 2\n indented"],
      ["other", "skipped by the transport, not the parser"],
    ]);
  });

  it("reassembles lines, CRLF pairs and blank lines split across chunks", () => {
    const stream = 'event: message\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: tail\r\n\r\n';
    const expected = [
      ["message", '{"a":\n1}'],
      ["", "tail"],
    ];
    for (let size = 1; size <= stream.length; size++) {
      const chunks: string[] = [];
      for (let at = 0; at < stream.length; at += size) chunks.push(stream.slice(at, at + size));
      expect(parseAll(chunks), `chunk size ${size}`).toEqual(expected);
    }
  });

  it("discards an event the stream did not finish", () => {
    expect(parseAll(["data: complete\n\ndata: cut off"])).toEqual([["", "complete"]]);
  });
});

describe("NodeStreamableHttpTransport over raw HTTP", () => {
  it("sends the protocol and target headers, and the session id once assigned", async () => {
    const server = await rawServer(
      mcpLike((res, message) => {
        sendJson(res, result(message.id, {}));
      }),
    );
    const { transport } = collecting(server.url, {
      headers: { Authorization: "Bearer t0k", "X-Extra": "1" },
    });
    await transport.start();
    await transport.send({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    });
    expect(transport.sessionId).toBe("raw-session");
    transport.setProtocolVersion("2025-06-18");
    await transport.send(PING);
    const [first, second] = server.requests;
    expect(first?.headers).toMatchObject({
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: "Bearer t0k",
      "x-extra": "1",
    });
    expect(first?.headers["mcp-session-id"]).toBeUndefined();
    expect(first?.headers["mcp-protocol-version"]).toBeUndefined();
    expect(second?.method).toBe("POST");
    expect(second?.headers).toMatchObject({
      "mcp-session-id": "raw-session",
      "mcp-protocol-version": "2025-06-18",
      authorization: "Bearer t0k",
    });
    expect(JSON.parse(second?.body ?? "")).toEqual(PING);
    await transport.close();
  });

  it("reuses one keep-alive connection for sequential requests", async () => {
    const server = await rawServer(
      mcpLike((res, message) => {
        sendJson(res, result(message.id, {}));
      }),
    );
    const { transport, messages } = collecting(server.url);
    for (let id = 1; id <= 20; id++) await transport.send({ jsonrpc: "2.0", id, method: "ping" });
    expect(messages).toHaveLength(20);
    expect(server.connections()).toBe(1);
    await transport.close();
  });

  it("delivers each message of a batch JSON answer", async () => {
    const server = await rawServer(
      mcpLike((res, message) => {
        sendJson(res, [
          { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: 1 } },
          result(message.id, { ok: true }),
        ]);
      }),
    );
    const { transport, messages } = collecting(server.url);
    await transport.send(PING);
    expect(messages).toEqual([
      { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: 1 } },
      { jsonrpc: "2.0", id: 1, result: { ok: true } },
    ]);
    await transport.close();
  });

  it("parses an event stream sent in awkward pieces: CRLF, split lines, multi-line data", async () => {
    const progress = JSON.stringify({
      jsonrpc: "2.0",
      method: "notifications/progress",
      params: { progressToken: 1, progress: 1 },
    });
    const answer = JSON.stringify(result(1, { text: "done" }), null, 1);
    const stream =
      `: keep-alive comment\r\nid: 1\r\nretry: 500\r\n` +
      `event: message\r\ndata: ${progress}\r\n\r\n` +
      `event: ping\r\ndata: {"not":"json-rpc"}\r\n\r\n` +
      // Pretty-printed JSON sent as one data line per line of text.
      `id: 2\r\n${answer
        .split("\n")
        .map((line) => `data: ${line}`)
        .join("\r\n")}\r\n\r\n`;
    const server = await rawServer(
      mcpLike((res) => {
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
        let at = 0;
        const timer = setInterval(() => {
          res.write(stream.slice(at, at + 7));
          at += 7;
          if (at >= stream.length) {
            clearInterval(timer);
            res.end();
          }
        }, 1);
      }),
    );
    const { transport, messages, errors } = collecting(server.url);
    await transport.send(PING);
    expect(messages).toEqual([
      JSON.parse(progress),
      { jsonrpc: "2.0", id: 1, result: { text: "done" } },
    ]);
    expect(errors).toEqual([]);
    await transport.close();
  });

  it("delivers events as they arrive, before the stream ends", async () => {
    let finish: (() => void) | undefined;
    const server = await rawServer(
      mcpLike((res, message) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(
          `data: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } })}\n\n`,
        );
        finish = () => res.end(`data: ${JSON.stringify(result(message.id, {}))}\n\n`);
      }),
    );
    const { transport, messages } = collecting(server.url);
    const sent = transport.send(PING);
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]).toMatchObject({ method: "notifications/progress" });
    finish?.();
    await sent;
    expect(messages).toHaveLength(2);
    await transport.close();
  });

  it("decodes multi-byte UTF-8 split across chunks, in JSON and in event streams", async () => {
    const text = "héllo wörld – 日本語 😀🎉 ".repeat(50);
    const server = await rawServer(
      mcpLike((res, message) => {
        const sse = server.requests.length % 2 === 0;
        const json = JSON.stringify(result(message.id, toolText(text)));
        const bytes = Buffer.from(sse ? `data: ${json}\n\n` : json, "utf8");
        res.writeHead(200, { "content-type": sse ? "text/event-stream" : "application/json" });
        // One byte at a time splits every multi-byte character.
        for (let at = 0; at < bytes.length; at++) res.write(bytes.subarray(at, at + 1));
        res.end();
      }),
    );
    const { transport, messages } = collecting(server.url);
    await transport.send({ jsonrpc: "2.0", id: 1, method: "ping" });
    await transport.send({ jsonrpc: "2.0", id: 2, method: "ping" });
    expect(messages).toEqual([result(1, toolText(text)), result(2, toolText(text))]);
    await transport.close();
  });

  it("reports invalid JSON through onerror and fails the request at once", async () => {
    const server = await rawServer(
      mcpLike((res) => {
        if (server.requests.length === 1) {
          res.writeHead(200, { "content-type": "application/json" });
          res.end("{not json");
        } else {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.end("data: {not json either\n\n");
        }
      }),
    );
    const { transport, errors } = collecting(server.url);
    expect(await rejection(transport.send(PING))).toBeInstanceOf(SyntaxError);
    expect(await rejection(transport.send(PING))).toBeInstanceOf(SyntaxError);
    expect(errors).toHaveLength(2);
    expect(errors.every((error) => error instanceof SyntaxError)).toBe(true);
    await transport.close();
  });

  it("rejects answers JSON-RPC does not allow, as the SDK's message schema does", async () => {
    const malformed: unknown[] = [
      { jsonrpc: "2.0", id: 1, result: { ok: true }, extra: 1 },
      { jsonrpc: "2.0", id: 1, result: [1] },
      { jsonrpc: "2.0", id: 1.5, result: {} },
      { jsonrpc: "1.0", id: 1, result: {} },
      { jsonrpc: "2.0", id: 1, result: { _meta: "not an object" } },
    ];
    const valid = { jsonrpc: "2.0", id: 1, result: { _meta: { note: 1 }, ok: true } };
    const server = await rawServer(
      mcpLike((res) => {
        sendJson(res, malformed[server.requests.length - 1] ?? valid);
      }),
    );
    const { transport, messages, errors } = collecting(server.url);
    for (const answer of malformed) {
      expect(await rejection(transport.send(PING)), JSON.stringify(answer)).toBeInstanceOf(
        ZodError,
      );
    }
    await transport.send(PING);
    expect(messages).toEqual([valid]);
    expect(errors).toHaveLength(malformed.length);
    await transport.close();
  });

  it("fails a request whose event stream ends without an answer", async () => {
    const server = await rawServer(
      mcpLike((res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end('data: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n');
      }),
    );
    const { transport } = collecting(server.url);
    const error = await rejection(transport.send(PING));
    expect(error.message).toBe("Upstream ended the event stream without answering the request");
    await transport.close();
  });

  it("caps response bodies", async () => {
    const server = await rawServer(
      mcpLike((res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const noise = `: ${"x".repeat(1000)}\n`;
        // Would stream forever without the cap; the client must cut it off.
        const pump = (): void => {
          while (res.write(noise));
          res.once("drain", pump);
        };
        res.on("close", () => res.removeAllListeners("drain"));
        pump();
      }),
    );
    const { transport, errors } = collecting(server.url, { maxResponseBytes: 64 * 1024 });
    const error = await rejection(transport.send(PING));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(error.message).toBe("Upstream response exceeded the 65536 bytes limit");
    expect(errors).toEqual([error]);
    await expect.poll(() => server.abortedRequests()).toBe(1);
    await transport.close();
  });

  it("reports HTTP errors as StreamableHTTPError with the status", async () => {
    const server = await rawServer((_req, res) => {
      res.writeHead(500, { "content-type": "text/plain" }).end("boom");
    });
    const { transport, errors } = collecting(server.url);
    const error = await rejection(transport.send(PING));
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect(error).toMatchObject({ code: 500 });
    expect(error.message).toBe("Streamable HTTP error: Error POSTing to endpoint: boom");
    expect(errors).toEqual([error]);
    await transport.close();
  });

  it("does not follow a redirect to another origin", async () => {
    const elsewhere = await rawServer(
      mcpLike((res, message) => {
        sendJson(res, result(message.id, {}));
      }),
    );
    const server = await rawServer((_req, res) => {
      res.writeHead(307, { location: `${elsewhere.url}?token=secret` }).end();
    });
    const { transport } = collecting(server.url);
    const error = await rejection(transport.send(PING));
    expect(error).toMatchObject({ code: 307 });
    expect(error.message).toBe(
      `Streamable HTTP error: Error POSTing to endpoint: Redirect to ${elsewhere.url} not followed`,
    );
    expect(elsewhere.requests).toEqual([]);
    await transport.close();
  });

  it("follows a 307/308 within the origin, with method and body", async () => {
    const server = await rawServer((req, res, body) => {
      if (req.url === "/mcp") {
        res.writeHead(308, { location: "/mcp/" }).end();
        return;
      }
      sendJson(res, result(parse(body).id, { path: req.url }));
    });
    const { transport, messages } = collecting(server.url);
    await transport.send(PING);
    expect(messages).toEqual([result(1, { path: "/mcp/" })]);
    expect(server.requests.map((request) => [request.method, request.url])).toEqual([
      ["POST", "/mcp"],
      ["POST", "/mcp/"],
    ]);
    expect(server.requests[1]?.body).toBe(JSON.stringify(PING));
    await transport.close();
  });

  it("refuses private addresses at dial time when blockPrivateNetworks is on", async () => {
    const server = await rawServer(
      mcpLike((res, message) => {
        sendJson(res, result(message.id, {}));
      }),
    );
    const port = new URL(server.url).port;
    for (const [url, pattern] of [
      [server.url, /^Refused to connect: 127\.0\.0\.1 is a loopback address$/],
      [
        `http://localhost:${port}/mcp`,
        /^Refused to connect: localhost resolves to a private or reserved address$/,
      ],
    ] as const) {
      const networkErrors: Error[] = [];
      const transport = new NodeStreamableHttpTransport(new URL(url), {
        blockPrivateNetworks: true,
        onNetworkError: (error) => networkErrors.push(error),
      });
      const error = await rejection(transport.send(PING));
      expect(error).toMatchObject({ code: "EBLOCKEDADDRESS" });
      expect(error.message).toMatch(pattern);
      expect(networkErrors).toEqual([error]);
      const diagnostics = new Diagnostics();
      diagnostics.established = true;
      expect(
        translateError(error, {
          target: httpTestTarget("streamable_http", url),
          diagnostics,
          phase: "request",
          operation: "ping",
          timeoutMs: 1000,
          timedOut: false,
          cancelled: false,
          secrets: [],
        }),
      ).toMatchObject({ kind: "unreachable" });
      await transport.close();
    }
    expect(server.requests).toEqual([]);
    expect(server.connections()).toBe(0);
  });

  it("close() aborts in-flight requests and calls onclose once", async () => {
    const server = await rawServer(
      mcpLike(() => {
        // Never answers.
      }),
    );
    const { transport } = collecting(server.url);
    let closes = 0;
    transport.onclose = () => closes++;
    const pending = transport.send(PING);
    await expect.poll(() => server.requests.length).toBe(1);
    await transport.close();
    await transport.close();
    const error = await rejection(pending);
    expect(error.name).toBe("AbortError");
    expect(closes).toBe(1);
    await expect.poll(() => server.abortedRequests()).toBe(1);
    expect(await rejection(transport.send(PING))).toMatchObject({ name: "AbortError" });
  });

  it("drops the stream of a request the client cancelled", async () => {
    const server = await rawServer(
      mcpLike(() => {
        // Never answers.
      }),
    );
    const { transport, errors } = collecting(server.url);
    const pending = transport.send(PING);
    await expect.poll(() => server.requests.length).toBe(1);
    await transport.send({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 1, reason: "timed out" },
    });
    // The SDK has already failed the request; the dropped stream is not reported again.
    await pending;
    await expect.poll(() => server.abortedRequests()).toBe(1);
    expect(errors).toEqual([]);
    await transport.close();
  });

  it("terminateSession sends DELETE with the session id", async () => {
    const server = await rawServer((req, res, body) => {
      if (req.method === "DELETE") {
        res.writeHead(200).end();
        return;
      }
      sendJson(res, result(parse(body).id, {}), { "mcp-session-id": "to-delete" });
    });
    const { transport } = collecting(server.url);
    await transport.send(PING);
    await transport.terminateSession();
    expect(transport.sessionId).toBeUndefined();
    expect(server.requests[1]).toMatchObject({
      method: "DELETE",
      headers: { "mcp-session-id": "to-delete" },
    });
    await transport.close();
  });
});

describe("streamable_http sessions through connectMcp", () => {
  it("works against SSE and JSON answering MCP servers, with progress before the result", async () => {
    for (const enableJsonResponse of [false, true]) {
      const server = await startTestMcpServer({ enableJsonResponse });
      try {
        const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
        const unicode = "ünïcødé 😀 ".repeat(20_000);
        const echoed = await session.callTool("echo", { text: unicode }, { timeoutMs: 5_000 });
        expect(textOf(echoed)).toBe(unicode);
        const events: string[] = [];
        const done = await session.callTool(
          "progress",
          { steps: 3, delayMs: 5 },
          { timeoutMs: 5_000, onProgress: (update) => events.push(`progress ${update.progress}`) },
        );
        events.push(textOf(done));
        // A JSON answer carries only the result; an event stream carries progress first.
        expect(events).toEqual(
          enableJsonResponse
            ? ["completed 3 steps"]
            : ["progress 1", "progress 2", "progress 3", "completed 3 steps"],
        );
        await session.close();
      } finally {
        await server.close();
      }
    }
  });

  it("401 is an auth error", async () => {
    const server = await startTestMcpServer({ bearerToken: "right" });
    try {
      const error = await failure(
        connectMcp(
          httpTestTarget("streamable_http", server.url, {
            secret: { headers: { authorization: "Bearer wrong" }, env: {} },
          }),
          CLIENT,
        ),
      );
      expect(error).toMatchObject({
        kind: "auth",
        code: 401,
        message: "Upstream answered 401 Unauthorized",
      });
    } finally {
      await server.close();
    }
  });

  it("404 on an established session means the session was lost", async () => {
    const server = await startTestMcpServer();
    try {
      const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
      await server.dropSessions();
      const error = await failure(session.ping());
      expect(error).toMatchObject({ kind: "closed", sessionLost: true, code: 404 });
      await expect.poll(() => session.closed).toBe(true);
    } finally {
      await server.close();
    }
  });

  it("500 on a call is an upstream error and the session stays usable", async () => {
    const server = await rawServer(
      mcpLike((res, message) => {
        if (message.method === "tools/call") {
          res.writeHead(500, { "content-type": "text/plain" }).end("internal");
          return;
        }
        sendJson(res, result(message.id, {}));
      }),
    );
    const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
    const error = await failure(session.callTool("anything", {}, { timeoutMs: 2_000 }));
    expect(error).toMatchObject({
      kind: "upstream",
      code: 500,
      message: "Upstream answered 500 Internal Server Error",
    });
    expect(session.closed).toBe(false);
    await session.ping();
    await session.close();
  });

  it("invalid JSON in a call fails it promptly as a protocol error", async () => {
    const server = await rawServer(
      mcpLike((res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end("data: {broken\n\n");
      }),
    );
    const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
    const error = await failure(session.callTool("anything", {}, { timeoutMs: 10_000 }));
    expect(error).toMatchObject({
      kind: "protocol",
      message: "Upstream sent an invalid tools/call response: it sent invalid JSON",
    });
    await session.close();
  });

  it("close() fails an in-flight call at once and ends the upstream request", async () => {
    const server = await startTestMcpServer();
    try {
      const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
      const started = server.nextCall("started", "slow");
      const call = failure(session.callTool("slow", { ms: 10_000 }, { timeoutMs: 20_000 }));
      await started;
      await session.close();
      const error = await call;
      expect(error.kind).toBe("closed");
      expect(server.sessionCount).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("many calls on one session leave no listeners behind", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on("warning", onWarning);
    const server = await startTestMcpServer({ enableJsonResponse: true });
    try {
      const session = await connectMcp(httpTestTarget("streamable_http", server.url), CLIENT);
      for (let round = 0; round < 10; round++) {
        await Promise.all(
          Array.from({ length: 30 }, (_, index) =>
            session.callTool("echo", { text: `${round}/${index}` }, { timeoutMs: 5_000 }),
          ),
        );
      }
      await session.close();
      expect(warnings.filter((warning) => warning.name === "MaxListenersExceededWarning")).toEqual(
        [],
      );
    } finally {
      process.off("warning", onWarning);
      await server.close();
    }
  });
});
