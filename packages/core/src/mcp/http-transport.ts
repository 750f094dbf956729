import http from "node:http";
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import https from "node:https";
import { StringDecoder } from "node:string_decoder";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type {
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/sdk/shared/transport.js";
import { JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { blockedLiteralError, guardedLookup } from "./outbound";
import { injectTraceContext } from "../telemetry/tracing";

/**
 * Client side of the MCP Streamable HTTP transport (spec 2025-06-18 / 2025-11-25) on node:http.
 *
 * It replaces the SDK's StreamableHTTPClientTransport for pooled upstream sessions: that one goes
 * through fetch, web streams and an SSE parser stream, which costs about 1 ms of CPU per call;
 * plain node:http with keep-alive costs a fraction of that. The SDK `Client` still does the
 * protocol work on top; this class only moves JSON-RPC messages.
 *
 * Deliberate differences from the SDK transport:
 * - The standalone GET event stream is opened only for servers that gave a session id (a
 *   stateless server has no session to send anything on it for), and reopened with backoff
 *   without Last-Event-ID. It carries what belongs to no request of ours: the server's requests
 *   (the SDK client answers them, with an error for what the session did not declare; without
 *   the stream the SDK's server drops them and its tool waits for a timeout) and notifications
 *   such as `notifications/resources/updated`.
 * - No resumability: `resumptionToken` / `onresumptiontoken` are ignored and SSE event ids are
 *   not tracked. A POST stream that ends before answering its request fails the request at once
 *   instead of being resumed with GET + Last-Event-ID (the SDK would otherwise wait for a timeout
 *   on servers without resumability, which is the common case).
 * - No OAuth provider: credentials come from the target's headers.
 * - Redirects are followed only within the origin, like the SDK's default policy, and every hop
 *   is dialled through the same private-network guard. Anything else is reported as an HTTP error.
 * - Response bodies are capped (`maxResponseBytes`), so a hostile server cannot exhaust memory.
 * - When the SDK cancels a request (`notifications/cancelled`: timeout or caller abort), the POST
 *   stream still carrying it is dropped, so hung calls do not pin sockets until the session ends.
 */

export interface NodeStreamableHttpTransportOptions {
  /** Sent with every request (auth secrets included); protocol headers set by the transport win. */
  headers?: Record<string, string>;
  /** Check every dialled address against the private-network ranges (see outbound.ts). */
  blockPrivateNetworks?: boolean;
  /** Per-response body limit in bytes (default 16 MiB); beyond it the response is dropped. */
  maxResponseBytes?: number;
  /** Concurrent connections per transport (default 256). */
  maxSockets?: number;
  /** Called with every connection-level failure, which keeps errno details for diagnostics. */
  onNetworkError?: (error: Error) => void;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_SOCKETS = 256;
const MAX_REDIRECTS = 5;
/** The longest wait before reopening a standalone GET stream that ended. */
const MAX_RELISTEN_DELAY_MS = 30_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Enough of an error body for a message; the rest is drained and dropped. */
const ERROR_BODY_CHARS = 1000;

/** Raised for work cut short by `close()`; the name makes the translator report a closed session. */
class TransportClosedError extends Error {
  override readonly name = "AbortError";
  constructor() {
    super("The MCP transport was closed");
  }
}

export class ResponseTooLargeError extends Error {
  override readonly name = "ResponseTooLargeError";
  constructor(limit: number) {
    super(`Upstream response exceeded the ${formatBytes(limit)} limit`);
  }
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** "text/event-stream; charset=utf-8" → "text/event-stream". */
function mediaType(contentType: string | undefined): string {
  return (contentType?.split(";")[0] ?? "").trim().toLowerCase();
}

function isWithinOrigin(from: URL, to: URL): boolean {
  if (from.protocol === to.protocol && from.hostname === to.hostname && from.port === to.port)
    return true;
  // An upgrade from http to https on default ports keeps the origin's intent.
  return (
    from.hostname === to.hostname &&
    from.protocol === "http:" &&
    from.port === "" &&
    to.protocol === "https:" &&
    to.port === ""
  );
}

function redirectLocation(res: IncomingMessage, from: URL): URL | null {
  const location = res.headers.location;
  if (res.statusCode === undefined || !REDIRECT_STATUSES.has(res.statusCode) || !location)
    return null;
  try {
    return new URL(location, from);
  } catch {
    return null;
  }
}

/** The text the SDK transport uses for an unfollowed redirect, without userinfo, query or hash. */
function describeRedirect(target: URL): string {
  const shown = new URL(target.href);
  shown.username = shown.password = shown.search = shown.hash = "";
  return `Redirect to ${shown.href} not followed`;
}

function requestIdOf(message: JSONRPCMessage): RequestId | null {
  return "method" in message && "id" in message ? message.id : null;
}

function answers(message: JSONRPCMessage, id: RequestId): boolean {
  return "id" in message && message.id === id && ("result" in message || "error" in message);
}

/**
 * A message from the server. The answer to a request, by far the most common message, is checked
 * by hand exactly as JSONRPCResultResponseSchema would (the zod union tries the request and
 * notification shapes first, failing both on every answer); the result's own fields are then
 * checked by the SDK against the schema of the request it answers. Anything else goes to zod.
 */
function parseMessage(value: unknown): JSONRPCMessage {
  if (typeof value === "object" && value !== null && Object.keys(value).length === 3) {
    const { jsonrpc, id, result } = value as { jsonrpc?: unknown; id?: unknown; result?: unknown };
    if (
      jsonrpc === "2.0" &&
      (typeof id === "string" || (typeof id === "number" && Number.isInteger(id))) &&
      typeof result === "object" &&
      result !== null &&
      !Array.isArray(result) &&
      !("_meta" in result)
    ) {
      return value as JSONRPCMessage;
    }
  }
  return JSONRPCMessageSchema.parse(value);
}

/** The request a `notifications/cancelled` message cancels, or null for any other message. */
function cancelledRequestId(message: JSONRPCMessage): RequestId | null {
  if (!("method" in message) || "id" in message || message.method !== "notifications/cancelled")
    return null;
  const id: unknown = message.params?.requestId;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

/**
 * Incremental parser for `text/event-stream` (WHATWG HTML, "Interpreting an event stream"):
 * lines end in CRLF, LF or CR; a blank line dispatches the event; `data` lines accumulate,
 * joined by LF; comments and unknown fields are ignored. An event left unfinished when the
 * stream ends is discarded, as the standard requires.
 */
export class SseParser {
  private buffer = "";
  /** No line terminator sits before this index of `buffer` (saves rescanning long lines). */
  private scanFrom = 0;
  private data: string[] = [];
  private eventType = "";
  private atStart = true;
  private readonly lineEnd = /\r\n|\r|\n/g;

  constructor(private readonly onEvent: (type: string, data: string) => void) {}

  feed(text: string): void {
    let chunk = text;
    if (this.atStart && chunk !== "") {
      this.atStart = false;
      if (chunk.startsWith("\uFEFF")) chunk = chunk.slice(1);
    }
    this.buffer += chunk;
    this.lineEnd.lastIndex = this.scanFrom;
    let lineStart = 0;
    for (
      let match = this.lineEnd.exec(this.buffer);
      match;
      match = this.lineEnd.exec(this.buffer)
    ) {
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      this.line(this.buffer.slice(lineStart, match.index));
      lineStart = match.index + match[0].length;
    }
    this.buffer = this.buffer.slice(lineStart);
    this.scanFrom = Math.max(0, this.buffer.length - 1);
  }

  /** Call when the stream ended; a trailing lone CR still counts as a line end. */
  end(): void {
    if (this.buffer === "\r") this.line("");
    this.buffer = "";
    this.data = [];
  }

  private line(line: string): void {
    if (line === "") {
      const data = this.data.join("\n");
      const type = this.eventType;
      this.data = [];
      this.eventType = "";
      if (data !== "") this.onEvent(type, data);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.eventType = value;
    // "id" and "retry" only matter for resuming streams, which this client does not do.
  }
}

/** One outgoing message's HTTP exchange, across redirects. */
class Exchange {
  request: http.ClientRequest | null = null;
  /** Set when the SDK cancelled the request: later failures of this exchange are expected. */
  abandoned = false;

  abandon(): void {
    this.abandoned = true;
    this.request?.destroy();
  }
}

export class NodeStreamableHttpTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private _sessionId: string | undefined;
  private _protocolVersion: string | undefined;
  private started = false;
  private closed = false;
  /** Set by `terminateSession()`: the server then ends open streams, which is not its fault. */
  private terminating = false;
  private readonly baseHeaders: Record<string, string> = {};
  private readonly blockPrivateNetworks: boolean;
  private readonly maxResponseBytes: number;
  private readonly maxSockets: number;
  private readonly onNetworkError: ((error: Error) => void) | undefined;
  private httpAgent: http.Agent | undefined;
  private httpsAgent: https.Agent | undefined;
  /** Every live ClientRequest, so `close()` can tear them down. */
  private readonly inflight = new Set<http.ClientRequest>();
  /** POST exchanges carrying a request, by JSON-RPC id, so a cancellation can drop the stream. */
  private readonly requestExchanges = new Map<RequestId, Exchange>();
  /** Errors already passed to `onerror`, so a rejection does not report them a second time. */
  private readonly reported = new WeakSet<Error>();
  /** The standalone GET stream's exchange while it is open or opening. */
  private listening: Exchange | null = null;
  private relistenTimer: NodeJS.Timeout | null = null;
  /** Consecutive GET streams that ended without carrying a message: the reopening backoff. */
  private listenFailures = 0;
  /** Settles once the latest GET stream is open, or known not to open. */
  private streamOpened: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: URL,
    options: NodeStreamableHttpTransportOptions = {},
  ) {
    // Lower-cased so the protocol headers below replace, rather than duplicate, user headers.
    for (const [name, value] of Object.entries(options.headers ?? {}))
      this.baseHeaders[name.toLowerCase()] = value;
    this.blockPrivateNetworks = options.blockPrivateNetworks ?? false;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
    this.onNetworkError = options.onNetworkError;
  }

  get sessionId(): string | undefined {
    return this._sessionId;
  }

  get protocolVersion(): string | undefined {
    return this._protocolVersion;
  }

  setProtocolVersion(version: string): void {
    this._protocolVersion = version;
  }

  start(): Promise<void> {
    if (this.started)
      return Promise.reject(new Error("NodeStreamableHttpTransport already started"));
    this.started = true;
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.relistenTimer) clearTimeout(this.relistenTimer);
    for (const request of this.inflight) request.destroy(new TransportClosedError());
    this.inflight.clear();
    this.requestExchanges.clear();
    // Destroying the agents also closes idle keep-alive sockets.
    this.httpAgent?.destroy();
    this.httpsAgent?.destroy();
    this.onclose?.();
    return Promise.resolve();
  }

  /**
   * POSTs one message. For a request, resolves once its response has been delivered through
   * `onmessage` (or the server answered 202); rejects when the HTTP exchange fails or the server
   * answered without a response. `options` (resumption, related request) do not apply here.
   */
  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    const cancelled = cancelledRequestId(message);
    // Dropped before the notification is posted: a server that hangs the call may hang that too.
    if (cancelled !== null) this.requestExchanges.get(cancelled)?.abandon();
    try {
      await this.post(message);
    } catch (caught) {
      const error = toError(caught);
      this.report(error);
      throw error;
    }
    if ("method" in message && message.method === "notifications/initialized") this.listen();
  }

  /**
   * Settles once the standalone GET stream is open (or known not to open): what the server sends
   * there before is lost, so a subscription waits for it.
   */
  streamReady(): Promise<void> {
    return this.streamOpened;
  }

  /** Opens the standalone GET stream (see the class comment); it stays open until closed. */
  private listen(): void {
    if (this.closed || this.terminating || this._sessionId === undefined || this.listening) return;
    const exchange = new Exchange();
    this.listening = exchange;
    let opened = (): void => undefined;
    this.streamOpened = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const headers = { ...this.headers(null), accept: "text/event-stream" };
    void this.open("GET", this.url, headers, null, exchange)
      .then(async (res) => {
        opened();
        if (
          res.statusCode !== 200 ||
          mediaType(res.headers["content-type"]) !== "text/event-stream"
        ) {
          // 405: the server offers no such stream; any other answer will not change by asking again.
          res.on("error", () => undefined);
          res.resume();
          return false;
        }
        const parser = new SseParser((type, data) => {
          if (type !== "" && type !== "message") return;
          let message: JSONRPCMessage;
          try {
            message = parseMessage(JSON.parse(data));
          } catch (caught) {
            this.report(toError(caught));
            return;
          }
          this.listenFailures = 0;
          this.deliver(message);
        });
        const decoder = new StringDecoder("utf8");
        // The body cap applies to the stream as a whole: past it, the stream is reopened.
        await this.consume(res, exchange, (chunk) => {
          parser.feed(decoder.write(chunk));
        });
        return true;
      })
      .catch(() => true)
      .then((reopen) => {
        opened();
        this.listening = null;
        if (!reopen || this.closed || this.terminating) return;
        const delay = Math.min(MAX_RELISTEN_DELAY_MS, 500 * 2 ** this.listenFailures);
        this.listenFailures += 1;
        this.relistenTimer = setTimeout(() => {
          this.relistenTimer = null;
          this.listen();
        }, delay);
        this.relistenTimer.unref();
      });
  }

  /** Ends the upstream session (HTTP DELETE); 405 means the server does not support it. */
  async terminateSession(): Promise<void> {
    if (this._sessionId === undefined) return;
    this.terminating = true;
    try {
      const res = await this.open("DELETE", this.url, this.headers(null), null, new Exchange());
      // Only the status matters; the body is drained so the socket can be reused.
      res.on("error", () => undefined);
      res.resume();
      const status = res.statusCode ?? 0;
      if ((status < 200 || status > 299) && status !== 405) {
        const redirect = redirectLocation(res, this.url);
        throw new StreamableHTTPError(
          status,
          `Failed to terminate session: ${redirect ? describeRedirect(redirect) : (res.statusMessage ?? "")}`,
        );
      }
      this._sessionId = undefined;
    } catch (caught) {
      const error = toError(caught);
      this.report(error);
      throw error;
    }
  }

  private report(error: Error): void {
    if (this.closed || this.reported.has(error)) return;
    this.reported.add(error);
    this.onerror?.(error);
  }

  private headers(body: string | null): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = { ...this.baseHeaders };
    // The governed call's trace continues upstream (nothing is added with tracing off).
    injectTraceContext(headers);
    if (this._sessionId !== undefined) headers["mcp-session-id"] = this._sessionId;
    if (this._protocolVersion !== undefined)
      headers["mcp-protocol-version"] = this._protocolVersion;
    if (body !== null) {
      headers["content-type"] = "application/json";
      headers.accept = "application/json, text/event-stream";
      headers["content-length"] = Buffer.byteLength(body);
    }
    return headers;
  }

  private agentFor(protocol: string): http.Agent {
    if (protocol === "https:") {
      this.httpsAgent ??= new https.Agent({ keepAlive: true, maxSockets: this.maxSockets });
      return this.httpsAgent;
    }
    this.httpAgent ??= new http.Agent({ keepAlive: true, maxSockets: this.maxSockets });
    return this.httpAgent;
  }

  private failNetwork(error: Error, reject: (error: Error) => void): void {
    if (this.closed) {
      reject(new TransportClosedError());
      return;
    }
    this.onNetworkError?.(error);
    reject(error);
  }

  /** Sends one HTTP request and resolves with its response, following same-origin redirects. */
  private open(
    method: "GET" | "POST" | "DELETE",
    url: URL,
    headers: OutgoingHttpHeaders,
    body: string | null,
    exchange: Exchange,
    redirects = 0,
  ): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      if (this.closed || exchange.abandoned) {
        reject(new TransportClosedError());
        return;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        reject(new Error(`Unsupported URL scheme ${url.protocol}`));
        return;
      }
      // IP literals are dialled without a lookup, so the guarded lookup alone would miss them.
      const refused = this.blockPrivateNetworks ? blockedLiteralError(url.hostname) : null;
      if (refused) {
        this.failNetwork(refused, reject);
        return;
      }
      const hostname =
        url.hostname.startsWith("[") && url.hostname.endsWith("]")
          ? url.hostname.slice(1, -1)
          : url.hostname;
      let request: http.ClientRequest;
      try {
        request = (url.protocol === "https:" ? https : http).request({
          protocol: url.protocol,
          hostname,
          port: url.port === "" ? undefined : url.port,
          path: `${url.pathname}${url.search}`,
          method,
          headers,
          agent: this.agentFor(url.protocol),
          ...(url.username !== "" || url.password !== ""
            ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` }
            : {}),
          ...(this.blockPrivateNetworks ? { lookup: guardedLookup } : {}),
        });
      } catch (error) {
        // Invalid header names or values throw synchronously.
        reject(toError(error));
        return;
      }
      exchange.request = request;
      this.inflight.add(request);
      request.once("close", () => {
        this.inflight.delete(request);
      });
      // `on`, not `once`: a second error event without a listener would crash the process.
      request.on("error", (error) => {
        if (exchange.abandoned) reject(new TransportClosedError());
        else this.failNetwork(error, reject);
      });
      request.once("response", (res) => {
        const next = redirectLocation(res, url);
        const keepsMethod = res.statusCode === 307 || res.statusCode === 308;
        if (
          next &&
          keepsMethod &&
          redirects < MAX_REDIRECTS &&
          next.username === url.username &&
          next.password === url.password &&
          isWithinOrigin(url, next)
        ) {
          // Dropping the socket is simpler than draining a body of unknown size.
          res.on("error", () => undefined);
          res.destroy();
          this.open(method, next, headers, body, exchange, redirects + 1).then(resolve, reject);
          return;
        }
        resolve(res);
      });
      request.end(body ?? undefined);
    });
  }

  /**
   * Streams `res`'s body into `onChunk`; settles when it ends. Fails when the connection drops,
   * or the body exceeds the cap (then the response is destroyed).
   */
  private consume(
    res: IncomingMessage,
    exchange: Exchange,
    onChunk: (chunk: Buffer) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let received = 0;
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        if (exchange.abandoned || this.closed) reject(new TransportClosedError());
        else this.failNetwork(error, reject);
      };
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        received += chunk.length;
        if (received > this.maxResponseBytes) {
          settled = true;
          res.destroy();
          reject(new ResponseTooLargeError(this.maxResponseBytes));
          return;
        }
        onChunk(chunk);
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        resolve();
      });
      res.on("error", fail);
      res.once("close", () => {
        // A close without "end" is a connection dropped mid-body (Node emits "error" first
        // in most, not all, cases).
        if (!res.complete) {
          const error: Error & { code?: string } = new Error("Upstream closed the connection");
          error.code = "ECONNRESET";
          fail(error);
        }
      });
    });
  }

  private deliver(message: JSONRPCMessage): void {
    try {
      this.onmessage?.(message);
    } catch (error) {
      // A throwing handler must not break the stream other messages are still arriving on.
      this.report(toError(error));
    }
  }

  private async post(message: JSONRPCMessage): Promise<void> {
    const body = JSON.stringify(message);
    const requestId = requestIdOf(message);
    const exchange = new Exchange();
    if (requestId !== null) this.requestExchanges.set(requestId, exchange);
    try {
      const res = await this.open("POST", this.url, this.headers(body), body, exchange);
      await this.handleResponse(res, requestId, exchange);
    } catch (error) {
      // The SDK already failed a cancelled request; dropping its stream is not a new error.
      if (!exchange.abandoned) throw error;
    } finally {
      if (requestId !== null && this.requestExchanges.get(requestId) === exchange)
        this.requestExchanges.delete(requestId);
    }
  }

  private async handleResponse(
    res: IncomingMessage,
    requestId: RequestId | null,
    exchange: Exchange,
  ): Promise<void> {
    const sessionId = res.headers["mcp-session-id"];
    if (typeof sessionId === "string" && sessionId !== "") this._sessionId = sessionId;
    const status = res.statusCode ?? 0;

    if (status < 200 || status > 299) {
      const redirect = redirectLocation(res, this.url);
      let text = "";
      const decoder = new StringDecoder("utf8");
      await this.consume(res, exchange, (chunk) => {
        if (text.length < ERROR_BODY_CHARS) text += decoder.write(chunk);
      }).catch(() => undefined);
      throw new StreamableHTTPError(
        status,
        `Error POSTing to endpoint: ${redirect ? describeRedirect(redirect) : text.slice(0, ERROR_BODY_CHARS)}`,
      );
    }

    if (status === 202 || requestId === null) {
      // Notifications and responses get no answer worth reading.
      res.on("error", () => undefined);
      res.resume();
      return;
    }

    const contentType = res.headers["content-type"];
    const type = mediaType(contentType);
    if (type === "application/json") {
      await this.handleJson(res, requestId, exchange);
      return;
    }
    if (type === "text/event-stream") {
      await this.handleEventStream(res, requestId, exchange);
      return;
    }
    res.on("error", () => undefined);
    res.destroy();
    throw new StreamableHTTPError(-1, `Unexpected content type: ${contentType ?? "(none)"}`);
  }

  private async handleJson(
    res: IncomingMessage,
    requestId: RequestId,
    exchange: Exchange,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    await this.consume(res, exchange, (chunk) => {
      chunks.push(chunk);
    });
    // Decoding the whole body at once keeps multi-byte characters split across chunks intact.
    let text = Buffer.concat(chunks).toString("utf8");
    if (text.startsWith("\uFEFF")) text = text.slice(1);
    // Parse errors (SyntaxError, ZodError) reject the send, which fails the request at once.
    const data: unknown = JSON.parse(text);
    const messages = Array.isArray(data)
      ? data.map((item) => parseMessage(item))
      : [parseMessage(data)];
    let answered = false;
    for (const message of messages) {
      if (answers(message, requestId)) answered = true;
      this.deliver(message);
    }
    if (!answered) throw new Error("Upstream answered without a response to the request");
  }

  private async handleEventStream(
    res: IncomingMessage,
    requestId: RequestId,
    exchange: Exchange,
  ): Promise<void> {
    // An object, not locals: the parser callback sets these, which TS flow analysis cannot see.
    const state: { answered: boolean; firstInvalid: Error | null } = {
      answered: false,
      firstInvalid: null,
    };
    const parser = new SseParser((type, data) => {
      if (type !== "" && type !== "message") return;
      let message: JSONRPCMessage;
      try {
        message = parseMessage(JSON.parse(data));
      } catch (caught) {
        // Reported right away (the client records a protocol error); a later valid event may
        // still answer the request, so the stream keeps going.
        const error = toError(caught);
        state.firstInvalid ??= error;
        this.report(error);
        return;
      }
      if (answers(message, requestId)) state.answered = true;
      this.deliver(message);
    });
    const decoder = new StringDecoder("utf8");
    try {
      await this.consume(res, exchange, (chunk) => {
        parser.feed(decoder.write(chunk));
      });
      parser.feed(decoder.end());
      parser.end();
    } catch (error) {
      // Once the request is answered, a broken stream only loses notifications.
      if (!state.answered) throw error;
      this.report(toError(error));
      return;
    }
    if (!state.answered) {
      // Ending the session makes the server close its streams; the request failed because we
      // are closing, which the translator reports as a closed session.
      if (this.terminating) throw new TransportClosedError();
      throw (
        state.firstInvalid ??
        new Error("Upstream ended the event stream without answering the request")
      );
    }
  }
}
