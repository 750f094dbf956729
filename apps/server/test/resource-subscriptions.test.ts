import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  ErrorCode,
  McpError,
  ResourceUpdatedNotificationSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { eq } from "drizzle-orm";
import { schema } from "@mcp/core/db";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startBalancer, type Balancer } from "./balancer";
import { serveStatefulMcp } from "./protocol-upstream";
import {
  createAgentWithConnection,
  databaseUnavailable,
  gatewayPost,
  type TestAgent,
  type TestServer,
  startTestServer,
} from "./harness";

/*
 * resources/subscribe and resources/unsubscribe through the gateway, against an upstream built
 * with the SDK's McpServer that supports subscriptions: updates reach the subscribing session's
 * GET stream from whichever replica holds it, governed like reads and bounded per session.
 */

const MAX_SUBSCRIPTIONS = 2;
const RESOURCE_NOT_FOUND = -32002;

interface ResourceUpstream {
  url: string;
  /** Resolves once `count` upstream sessions hold a subscription to `uri`. */
  subscribers: (uri: string, count: number) => Promise<void>;
  /** Sends `notifications/resources/updated` to every session subscribed to `uri`; how many. */
  update: (uri: string) => Promise<number>;
  close: () => Promise<void>;
}

/**
 * A stateful Streamable HTTP server whose sessions may subscribe to its resources: `listed`, and
 * any URI of the `template`.
 */
async function startResourceUpstream(
  listed: string[],
  template?: string,
): Promise<ResourceUpstream> {
  const subscribed = new Map<string, Set<McpServer>>();
  const changes = new EventEmitter();
  const holders = (uri: string): Set<McpServer> => {
    let set = subscribed.get(uri);
    if (!set) {
      set = new Set();
      subscribed.set(uri, set);
    }
    return set;
  };

  const build = (): McpServer => {
    const mcp = new McpServer(
      { name: "resource-upstream", version: "1.0.0" },
      { capabilities: { resources: { subscribe: true } } },
    );
    // A tool, so the connection syncs.
    mcp.registerTool("touch", { description: "Does nothing" }, () => ({
      content: [{ type: "text", text: "touched" }],
    }));
    for (const uri of listed)
      mcp.registerResource(uri, uri, {}, () => ({ contents: [{ uri, text: `now ${uri}` }] }));
    if (template)
      mcp.registerResource(
        "template",
        new ResourceTemplate(template, { list: undefined }),
        {},
        (uri) => ({ contents: [{ uri: uri.href, text: `now ${uri.href}` }] }),
      );
    mcp.server.setRequestHandler(SubscribeRequestSchema, (request) => {
      holders(request.params.uri).add(mcp);
      changes.emit("changed");
      return {};
    });
    mcp.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
      holders(request.params.uri).delete(mcp);
      changes.emit("changed");
      return {};
    });
    mcp.server.onclose = () => {
      for (const set of subscribed.values()) set.delete(mcp);
      changes.emit("changed");
    };
    return mcp;
  };

  const served = await serveStatefulMcp(build);
  return {
    url: served.url,
    subscribers: (uri, count) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (holders(uri).size !== count) return;
          changes.off("changed", check);
          resolve();
        };
        changes.on("changed", check);
        check();
      }),
    update: async (uri) => {
      const targets = [...holders(uri)];
      await Promise.all(targets.map((mcp) => mcp.server.sendResourceUpdated({ uri })));
      return targets.length;
    },
    close: served.close,
  };
}

/** The `notifications/resources/updated` a client received, in order, and a wait for the next. */
function updatesOf(client: Client) {
  const received: string[] = [];
  const waiting: { uri: string; resolve: () => void }[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    const { uri } = notification.params;
    received.push(uri);
    for (const waiter of waiting.filter((entry) => entry.uri === uri)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    received,
    next: (uri: string) =>
      new Promise<void>((resolve) => {
        waiting.push({ uri, resolve });
      }),
  };
}

async function refusal(promise: Promise<unknown>): Promise<McpError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof McpError)) throw new Error(`expected an McpError, got ${String(error)}`);
  return error;
}

describe.skipIf(databaseUnavailable)("resource subscriptions through the gateway", () => {
  let server: TestServer;
  let other: TestServer;
  let balancer: Balancer;
  let upstream: ResourceUpstream;
  const clients: Client[] = [];

  beforeAll(async () => {
    const env = { MCP_MAX_SUBSCRIPTIONS_PER_SESSION: String(MAX_SUBSCRIPTIONS) };
    server = await startTestServer(env);
    // A second server on the same database, and the round-robin balancer in front of both.
    other = await startTestServer(env);
    balancer = await startBalancer([server.url, other.url]);
    upstream = await startResourceUpstream(["secret://x"], "notes://{name}");
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await balancer.close();
    await other.close();
    await server.close();
    await upstream.close();
  });

  /** URIs of this test only: the upstream is shared, and a closed session lets go of its own later. */
  function notes<const Names extends readonly string[]>(
    ...names: Names
  ): { [Index in keyof Names]: string } {
    const prefix = randomUUID().slice(0, 8);
    return names.map((name) => `notes://${prefix}-${name}`) as { [Index in keyof Names]: string };
  }

  async function agentReadingNotes(upstreamUrl = upstream.url): Promise<TestAgent> {
    const agent = await createAgentWithConnection(server, upstreamUrl);
    const response = await server.request("POST", `/orgs/${agent.org.id}/policies/`, {
      token: agent.org.owner.token,
      body: {
        name: "notes",
        agent_id: agent.agentId,
        effect: "allow",
        target: "resource",
        tool_pattern: "notes://*",
      },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return agent;
  }

  async function connect(agent: TestAgent, base = server.url): Promise<Client> {
    const client = new Client({ name: "subscriptions-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp/${agent.agentId}`), {
      requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  /** Subscribes and waits until the subscription is held upstream. */
  async function subscribe(client: Client, uri: string, holders = 1): Promise<void> {
    await client.subscribeResource({ uri });
    await upstream.subscribers(uri, holders);
  }

  it("forwards updates of a subscribed resource to the session's stream until it unsubscribes", async () => {
    const [a, b] = notes("a", "b");
    const agent = await agentReadingNotes();
    const client = await connect(agent);
    // Subscriptions, and no listChanged: the gateway does not watch resource lists upstream.
    expect(client.getServerCapabilities()?.resources).toEqual({ subscribe: true });
    const updates = updatesOf(client);

    await subscribe(client, a);
    const first = updates.next(a);
    expect(await upstream.update(a)).toBe(1);
    await first;

    await client.unsubscribeResource({ uri: a });
    await upstream.subscribers(a, 0);
    expect(await upstream.update(a)).toBe(0);
    // An update of another subscription arrives on the same stream after anything sent before it.
    await subscribe(client, b);
    const sentinel = updates.next(b);
    await upstream.update(b);
    await sentinel;
    expect(updates.received).toEqual([a, b]);
  });

  it("holds the subscription from the replica with the stream, whichever replica took the subscribe", async () => {
    const [a, b] = notes("a", "b");
    const agent = await agentReadingNotes();
    const before = balancer.routed.length;
    const client = await connect(agent, balancer.url);
    const updates = updatesOf(client);
    await subscribe(client, a);
    await subscribe(client, b);
    for (const uri of [a, b]) {
      const arrived = updates.next(uri);
      await upstream.update(uri);
      await arrived;
    }
    await client.unsubscribeResource({ uri: a });
    await upstream.subscribers(a, 0);
    const routed = balancer.routed.slice(before);
    // The stream on one replica; (un)subscribes after it reached the other one too.
    const streams = routed.filter((request) => request.method === "GET");
    expect(streams).toHaveLength(1);
    const streamAt = routed.findIndex((request) => request.method === "GET");
    const later = routed.slice(streamAt + 1).filter((request) => request.method === "POST");
    expect(later.some((request) => request.replica !== streams[0]?.replica)).toBe(true);
    expect(updates.received).toEqual([a, b]);
  });

  it("bounds subscriptions per session (MCP_MAX_SUBSCRIPTIONS_PER_SESSION)", async () => {
    const [a, b, c] = notes("a", "b", "c");
    const agent = await agentReadingNotes();
    const client = await connect(agent);
    await client.subscribeResource({ uri: a });
    await client.subscribeResource({ uri: b });
    // Subscribing again to a held URI is no new subscription.
    await client.subscribeResource({ uri: a });
    const error = await refusal(client.subscribeResource({ uri: c }));
    expect(error.code).toBe(ErrorCode.InvalidRequest);
    expect(error.message).toContain("MCP_MAX_SUBSCRIPTIONS_PER_SESSION");
    await client.unsubscribeResource({ uri: a });
    await client.subscribeResource({ uri: c });
  });

  it("refuses what the agent may not read, another tenant's resources and session-less requests", async () => {
    const [a] = notes("a");
    const agent = await agentReadingNotes();
    const elsewhere = await startResourceUpstream(["other://z"]);
    try {
      // Another org whose connection serves other://z, with a policy allowing every resource.
      const stranger = await createAgentWithConnection(server, elsewhere.url);
      await server.request("POST", `/orgs/${stranger.org.id}/policies/`, {
        token: stranger.org.owner.token,
        body: { name: "all", effect: "allow", target: "resource", tool_pattern: "*" },
      });
      const client = await connect(agent);
      const denied = await refusal(client.subscribeResource({ uri: "secret://x" }));
      expect(denied.code).toBe(ErrorCode.InvalidRequest);
      expect(denied.message).toContain("may not read secret://x");
      const foreign = await refusal(client.subscribeResource({ uri: "other://z" }));
      expect(foreign.code).toBe(RESOURCE_NOT_FOUND);
      const unknown = await refusal(client.subscribeResource({ uri: "unknown://nope" }));
      expect(unknown.code).toBe(RESOURCE_NOT_FOUND);
      const rows = await server.database.db
        .select()
        .from(schema.mcpResourceSubscriptions)
        .where(eq(schema.mcpResourceSubscriptions.org_id, agent.org.id));
      expect(rows).toEqual([]);

      const bare = await gatewayPost(server.url, agent.agentId, agent.key, {
        jsonrpc: "2.0",
        id: 1,
        method: "resources/subscribe",
        params: { uri: a },
      });
      const body = (await bare.json()) as { error: { code: number; message: string } };
      expect(body.error.code).toBe(ErrorCode.InvalidRequest);
      expect(body.error.message).toContain("needs a session");
    } finally {
      await elsewhere.close();
    }
  });

  it("stops holding a subscription once a policy denies reading it", async () => {
    const [b] = notes("b");
    const agent = await agentReadingNotes();
    const client = await connect(agent);
    await subscribe(client, b);
    const denied = await server.request("POST", `/orgs/${agent.org.id}/policies/`, {
      token: agent.org.owner.token,
      body: {
        name: "no b",
        agent_id: agent.agentId,
        effect: "deny",
        target: "resource",
        tool_pattern: b,
      },
    });
    expect(denied.status, JSON.stringify(denied.body)).toBe(201);
    await upstream.subscribers(b, 0);
  });

  it("lets go upstream when the session is deleted", async () => {
    const [c] = notes("c");
    const agent = await agentReadingNotes();
    const client = await connect(agent);
    await subscribe(client, c);
    const transport = client.transport;
    if (!(transport instanceof StreamableHTTPClientTransport)) throw new Error("not HTTP");
    await transport.terminateSession();
    await upstream.subscribers(c, 0);
    const rows = await server.database.db
      .select()
      .from(schema.mcpResourceSubscriptions)
      .where(eq(schema.mcpResourceSubscriptions.org_id, agent.org.id));
    expect(rows).toEqual([]);
  });
});
