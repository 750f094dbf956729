import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  ElicitResultSchema,
  EmptyResultSchema,
  isInitializeRequest,
  ListRootsResultSchema,
  type CallToolResult,
  type ElicitRequestFormParams,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/*
 * An upstream MCP server, built with the SDK's McpServer as a third party would build one, that
 * uses what a server may ask of its client during a tool call, and completions:
 *   summarize {text}      sampling/createMessage via `server.createMessage` (no related request:
 *                          the SDK sends it on the session's standalone GET stream)
 *   confirm_delete {item} elicitation/create in form mode via `extra.sendRequest` (on the call's
 *                          stream), with defaults and the enum variants of 2025-11-25
 *   list_roots            roots/list
 *   ping_client           ping
 *   wait {id}             runs until `release(id)`, or until the call is cancelled (`aborted(id)`):
 *                          a call that outlives its HTTP request
 *   translate prompt      its `language` argument completes
 *   docs://{section}      a resource template whose `section` completes
 */

export const CONFIRM_SCHEMA: ElicitRequestFormParams["requestedSchema"] = {
  type: "object",
  properties: {
    confirm: { type: "boolean", title: "Really delete?", default: false },
    reason: { type: "string", title: "Why", default: "cleanup" },
    // Untitled single-select enum.
    priority: { type: "string", enum: ["low", "high"], default: "low" },
    // Titled single-select enum (oneOf const/title).
    color: {
      type: "string",
      title: "Label colour",
      oneOf: [
        { const: "r", title: "Red" },
        { const: "g", title: "Green" },
      ],
      default: "g",
    },
    // Multi-select enum.
    tags: {
      type: "array",
      title: "Tags",
      items: { type: "string", enum: ["a", "b", "c"] },
      default: ["a"],
    },
  },
  required: ["confirm"],
};

export const LANGUAGES = ["English", "Estonian", "Esperanto", "French"];
export const SECTIONS = ["guide", "glossary", "api"];

function text(value: string): CallToolResult {
  return { content: [{ type: "text", text: value }] };
}

export interface ProtocolUpstream {
  url: string;
  /** Ends a `wait` call with this id. */
  release: (id: string) => void;
  /** Resolves when a `wait` call with this id is running upstream. */
  waiting: (id: string) => Promise<void>;
  /** Resolves when a `wait` call with this id was cancelled by its caller. */
  aborted: (id: string) => Promise<void>;
  close: () => Promise<void>;
}

/** One-shot events by id, awaitable before or after they happen. */
function events() {
  const entries = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  return (id: string) => {
    let entry = entries.get(id);
    if (!entry) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      entry = { promise, resolve };
      entries.set(id, entry);
    }
    return entry;
  };
}

function waitRegistry() {
  const releases = new Map<string, () => void>();
  const startedOf = events();
  const abortedOf = events();
  return {
    wait: (id: string, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        releases.set(id, resolve);
        signal.addEventListener("abort", () => {
          abortedOf(id).resolve();
          reject(new Error("cancelled"));
        });
        startedOf(id).resolve();
      }),
    release: (id: string) => releases.get(id)?.(),
    waiting: (id: string) => startedOf(id).promise,
    aborted: (id: string) => abortedOf(id).promise,
  };
}

function buildServer(waits: ReturnType<typeof waitRegistry>): McpServer {
  const mcp = new McpServer({ name: "protocol-upstream", version: "1.0.0" });
  mcp.registerTool(
    "summarize",
    { description: "Summarizes text with the client's LLM", inputSchema: { text: z.string() } },
    async ({ text: input }) => {
      const response = await mcp.server.createMessage({
        messages: [{ role: "user", content: { type: "text", text: `Summarize: ${input}` } }],
        maxTokens: 100,
      });
      return text(response.content.type === "text" ? response.content.text : "(not text)");
    },
  );
  mcp.registerTool(
    "confirm_delete",
    { description: "Asks the user before deleting", inputSchema: { item: z.string() } },
    async ({ item }, extra) => {
      const answer = await extra.sendRequest(
        {
          method: "elicitation/create",
          params: { mode: "form", message: `Delete ${item}?`, requestedSchema: CONFIRM_SCHEMA },
        },
        ElicitResultSchema,
      );
      return {
        ...text(answer.action),
        structuredContent: { action: answer.action, content: answer.content ?? null },
      };
    },
  );
  mcp.registerTool("list_roots", { description: "Lists the client's roots" }, async (extra) => {
    const roots = await extra.sendRequest({ method: "roots/list" }, ListRootsResultSchema);
    return text(roots.roots.map((root) => root.uri).join(","));
  });
  mcp.registerTool("ping_client", { description: "Pings the client" }, async (extra) => {
    await extra.sendRequest({ method: "ping" }, EmptyResultSchema);
    return text("pong");
  });
  mcp.registerTool(
    "wait",
    { description: "Runs until released", inputSchema: { id: z.string() } },
    async ({ id }, extra) => {
      await waits.wait(id, extra.signal);
      return text(`released ${id}`);
    },
  );
  mcp.registerPrompt(
    "translate",
    {
      description: "Translate into a language",
      argsSchema: {
        language: completable(z.string(), (value) =>
          LANGUAGES.filter((language) => language.startsWith(value)),
        ),
      },
    },
    ({ language }) => ({
      messages: [{ role: "user", content: { type: "text", text: `Translate into ${language}` } }],
    }),
  );
  mcp.registerResource(
    "docs",
    new ResourceTemplate("docs://{section}", {
      list: undefined,
      complete: { section: (value) => SECTIONS.filter((section) => section.startsWith(value)) },
    }),
    { description: "Documentation sections" },
    (uri) => ({ contents: [{ uri: uri.href, text: `Section ${uri.host}` }] }),
  );
  return mcp;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  return body === "" ? undefined : (JSON.parse(body) as unknown);
}

/**
 * A stateful Streamable HTTP MCP server at `<url>`: `build` makes the McpServer of each new
 * session (an initialize request without a session id); other requests go to their session's.
 */
export async function serveStatefulMcp(
  build: () => McpServer,
): Promise<{ url: string; close: () => Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = req.method === "POST" ? await readBody(req) : undefined;
    const header = req.headers["mcp-session-id"];
    const sessionId = Array.isArray(header) ? header[0] : header;
    const existing = sessionId === undefined ? undefined : sessions.get(sessionId);
    if (existing) {
      await existing.handleRequest(req, res, body);
      return;
    }
    if (!isInitializeRequest(body)) {
      res.writeHead(sessionId === undefined ? 400 : 404).end();
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await build().connect(transport);
    await transport.handleRequest(req, res, body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      for (const transport of sessions.values()) await transport.close().catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    },
  };
}

/** A stateful Streamable HTTP server (one McpServer per session) at `<url>`. */
export async function startProtocolUpstream(): Promise<ProtocolUpstream> {
  const waits = waitRegistry();
  const served = await serveStatefulMcp(() => buildServer(waits));
  return {
    url: served.url,
    release: waits.release,
    waiting: waits.waiting,
    aborted: waits.aborted,
    close: served.close,
  };
}
