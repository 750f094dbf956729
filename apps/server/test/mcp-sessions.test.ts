import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { randomUUID } from "node:crypto";
import { CANCEL_CHANNEL, MAX_CANCELLATIONS_PER_POST } from "@mcp/core";
import { startTestMcpServer, waitUntil, type RunningTestMcpServer } from "@mcp/core/testing";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { startReplicatedCluster } from "./balancer";
import {
  createAgentWithConnection,
  createOrg,
  databaseUnavailable,
  startTestServer,
  TEST_DB,
  type ApiClient,
  type TestAgent,
} from "./harness";

/*
 * Stateful gateway sessions (Mcp-Session-Id, GET stream, DELETE) and list_changed, through the
 * SDK's client: on one server, and on two replicas behind the round-robin balancer, where every
 * request of a session (its GET stream included) goes to the other replica than the one before.
 * PostgreSQL only: the tests read session rows to know when a stream is open.
 */

const PROTOCOL_VERSIONS = ["2025-06-18", "2025-11-25"] as const;

interface Target extends ApiClient {
  url: string;
}

/** A fetch that asks for `version` at initialize, as a client of that protocol version does. */
function fetchAsking(version: string): typeof fetch {
  return (input, init) => {
    if (typeof init?.body === "string" && init.body.includes('"method":"initialize"')) {
      const message = JSON.parse(init.body) as { params: { protocolVersion: string } };
      message.params.protocolVersion = version;
      return fetch(input, { ...init, body: JSON.stringify(message) });
    }
    return fetch(input, init);
  };
}

interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Resolves on the next `notifications/tools/list_changed`. */
  nextListChanged: () => Promise<void>;
  listChangedCount: () => number;
}

describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")("gateway sessions", () => {
  let db: pg.Pool;
  const clients: Client[] = [];

  beforeAll(() => {
    db = new pg.Pool({ connectionString: inject("postgresUrl"), max: 2 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await db.end();
  });

  async function connect(
    target: Target,
    agent: TestAgent,
    version: string = PROTOCOL_VERSIONS[1],
    key = agent.key,
  ): Promise<Connected> {
    const client = new Client({ name: "sessions-test", version: "1.0.0" });
    let count = 0;
    let waiters: (() => void)[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      count += 1;
      const ready = waiters;
      waiters = [];
      for (const resolve of ready) resolve();
    });
    const transport = new StreamableHTTPClientTransport(
      new URL(`${target.url}/mcp/${agent.agentId}`),
      { requestInit: { headers: { Authorization: `Bearer ${key}` } }, fetch: fetchAsking(version) },
    );
    await client.connect(transport);
    clients.push(client);
    return {
      client,
      transport,
      nextListChanged: () =>
        new Promise<void>((resolve) => {
          waiters.push(resolve);
        }),
      listChangedCount: () => count,
    };
  }

  async function sessionRows(agentId: string) {
    const { rows } = await db.query<{
      id: string;
      stream_replica_id: string | null;
      protocol_version: string;
    }>(
      "select id, stream_replica_id, protocol_version from mcp_sessions where agent_id = $1 order by created_at",
      [agentId],
    );
    return rows;
  }

  /** Waits until every session of the agent has its GET stream open on some replica. */
  async function streamsOpen(agentId: string, count = 1): Promise<void> {
    await waitUntil(async () => {
      const rows = await sessionRows(agentId);
      return rows.length === count && rows.every((row) => row.stream_replica_id !== null);
    });
  }

  function raw(
    target: Target,
    agentId: string,
    key: string,
    method: "GET" | "POST" | "DELETE",
    options: { session?: string; body?: unknown } = {},
  ): Promise<Response> {
    return fetch(`${target.url}/mcp/${agentId}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        accept: "application/json, text/event-stream",
        "content-type": "application/json",
        ...(options.session ? { "mcp-session-id": options.session } : {}),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  }

  const initialize = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "raw", version: "1" },
    },
  };
  const listTools = { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} };

  async function openRawSession(target: Target, agent: TestAgent): Promise<string> {
    const response = await raw(target, agent.agentId, agent.key, "POST", { body: initialize });
    expect(response.status).toBe(200);
    await response.text();
    const session = response.headers.get("mcp-session-id");
    if (!session) throw new Error("initialize returned no session");
    return session;
  }

  /** The scenarios every deployment must pass: one server, and replicas behind a balancer. */
  function scenarios(target: () => Target, upstreamFor: () => Promise<RunningTestMcpServer>) {
    for (const version of PROTOCOL_VERSIONS) {
      it(`${version}: initialize opens a session, its GET stream opens, DELETE ends it`, async () => {
        const upstream = await upstreamFor();
        const agent = await createAgentWithConnection(target(), upstream.url);
        const { client, transport } = await connect(target(), agent, version);
        expect(transport.sessionId).toMatch(/^[\w-]{43}$/);
        expect(client.getServerCapabilities()?.tools).toEqual({ listChanged: true });
        await streamsOpen(agent.agentId);
        expect((await sessionRows(agent.agentId))[0]?.protocol_version).toBe(version);

        const listed = await client.listTools();
        expect(listed.tools.map((tool) => tool.name)).toContain("echo");
        const result = await client.callTool({ name: "echo", arguments: { text: "in session" } });
        expect(result.content).toEqual([{ type: "text", text: "in session" }]);

        const session = transport.sessionId ?? "";
        await transport.terminateSession();
        expect(await sessionRows(agent.agentId)).toEqual([]);
        const after = await raw(target(), agent.agentId, agent.key, "POST", {
          session,
          body: listTools,
        });
        expect(after.status).toBe(404);
        expect(await after.json()).toMatchObject({ error: { code: -32001 } });
      });
    }

    it("sends tools/list_changed on the session's stream after a sync adds a tool", async () => {
      const upstream = await upstreamFor();
      const agent = await createAgentWithConnection(target(), upstream.url);
      const connected = await connect(target(), agent);
      await streamsOpen(agent.agentId);

      const changed = connected.nextListChanged();
      upstream.setToolsVersion(2);
      const sync = await target().request("POST", `/connections/${agent.connectionId}/sync/`, {
        token: agent.org.owner.token,
      });
      expect(sync.status).toBe(200);
      await changed;
      const listed = await connected.client.listTools();
      expect(listed.tools.map((tool) => tool.name)).toContain("added_in_v2");
    });

    it("sends tools/list_changed after a policy change, only when the agent's tools changed", async () => {
      const upstream = await upstreamFor();
      const agent = await createAgentWithConnection(target(), upstream.url, { allowAll: false });
      const token = agent.org.owner.token;
      const policy = (name: string, body: Record<string, unknown>) =>
        target().request("POST", `/orgs/${agent.org.id}/policies/`, {
          token,
          body: { name, effect: "allow", agent_id: agent.agentId, ...body },
        });
      expect((await policy("echo only", { tool_pattern: "echo" })).status).toBe(201);
      const connected = await connect(target(), agent);
      await streamsOpen(agent.agentId);
      expect((await connected.client.listTools()).tools.map((tool) => tool.name)).toEqual(["echo"]);

      const changed = connected.nextListChanged();
      // A change in the org that leaves this agent's tools as they are: nothing to tell.
      const other = await target().request("POST", `/orgs/${agent.org.id}/agents/`, {
        token,
        body: { name: "bystander" },
      });
      expect(other.status).toBe(201);
      expect((await policy("add too", { tool_pattern: "add" })).status).toBe(201);
      await changed;
      expect(connected.listChangedCount()).toBe(1);
      expect((await connected.client.listTools()).tools.map((tool) => tool.name)).toEqual([
        "add",
        "echo",
      ]);
    });
  }

  describe("on one server", () => {
    let server: Awaited<ReturnType<typeof startTestServer>>;
    const upstreams: RunningTestMcpServer[] = [];
    beforeAll(async () => {
      server = await startTestServer({ MCP_MAX_SESSIONS_PER_AGENT: "3" });
    });
    afterAll(async () => {
      await server.close();
      await Promise.all(upstreams.map((upstream) => upstream.close()));
    });
    const upstream = async () => {
      const started = await startTestMcpServer();
      upstreams.push(started);
      return started;
    };

    scenarios(() => server, upstream);

    it("answers another agent's, another key's and another org's use of a session with 404", async () => {
      const first = await createAgentWithConnection(server, (await upstream()).url);
      const session = await openRawSession(server, first);
      // The same org, another agent.
      const sibling = await createAgentWithConnection(server, (await upstream()).url, {
        org: first.org,
      });
      // Another key of the same agent.
      const secondKey = await server.request<{ key: string }>(
        "POST",
        `/agents/${first.agentId}/keys/`,
        { token: first.org.owner.token, body: { name: "second" } },
      );
      expect(secondKey.status).toBe(201);
      // Another org.
      const stranger = await createAgentWithConnection(server, (await upstream()).url, {
        org: await createOrg(server),
      });
      const attempts = [
        { agentId: sibling.agentId, key: sibling.key },
        { agentId: first.agentId, key: secondKey.body.key },
        { agentId: stranger.agentId, key: stranger.key },
      ];
      for (const attempt of attempts) {
        for (const method of ["POST", "GET", "DELETE"] as const) {
          const response = await raw(server, attempt.agentId, attempt.key, method, {
            session,
            ...(method === "POST" ? { body: listTools } : {}),
          });
          expect(response.status, `${method} as ${attempt.agentId}`).toBe(404);
          expect(await response.json()).toMatchObject({ error: { code: -32001 } });
        }
      }
      // The session is untouched by the attempts: its owner still uses it.
      const owner = await raw(server, first.agentId, first.key, "POST", {
        session,
        body: listTools,
      });
      expect(owner.status).toBe(200);
      expect(await sessionRows(first.agentId)).toHaveLength(1);
    });

    it("bounds an agent's sessions: one more ends the least recently used", async () => {
      const agent = await createAgentWithConnection(server, (await upstream()).url);
      const sessions: string[] = [];
      for (let index = 0; index < 4; index++) sessions.push(await openRawSession(server, agent));
      expect(await sessionRows(agent.agentId)).toHaveLength(3);
      const statuses = [];
      for (const session of sessions) {
        const response = await raw(server, agent.agentId, agent.key, "POST", {
          session,
          body: listTools,
        });
        await response.text();
        statuses.push(response.status);
      }
      expect(statuses).toEqual([404, 200, 200, 200]);
    });

    it("forgets a session idle past the timeout", async () => {
      const agent = await createAgentWithConnection(server, (await upstream()).url);
      const session = await openRawSession(server, agent);
      await db.query(
        "update mcp_sessions set last_seen_at = now() - interval '2 hours' where agent_id = $1",
        [agent.agentId],
      );
      const response = await raw(server, agent.agentId, agent.key, "POST", {
        session,
        body: listTools,
      });
      expect(response.status).toBe(404);
    });

    it("refuses GET and DELETE without a session, initialize inside one, and unknown ids", async () => {
      const agent = await createAgentWithConnection(server, (await upstream()).url);
      for (const method of ["GET", "DELETE"] as const) {
        const response = await raw(server, agent.agentId, agent.key, method);
        expect(response.status).toBe(405);
      }
      const unknown = await raw(server, agent.agentId, agent.key, "GET", { session: "nope" });
      expect(unknown.status).toBe(404);
      const session = await openRawSession(server, agent);
      const again = await raw(server, agent.agentId, agent.key, "POST", {
        session,
        body: initialize,
      });
      expect(again.status).toBe(400);
      // Without the header, requests are served as they always were: no session needed.
      const sessionless = await raw(server, agent.agentId, agent.key, "POST", { body: listTools });
      expect(sessionless.status).toBe(200);
      expect(sessionless.headers.get("mcp-session-id")).toBeNull();
    });

    it("announces at most MAX_CANCELLATIONS_PER_POST cancellations of one POST, each request once", async () => {
      const agent = await createAgentWithConnection(server, (await upstream()).url);
      const session = await openRawSession(server, agent);
      const tag = randomUUID();
      const listener = new pg.Client({ connectionString: inject("postgresUrl") });
      await listener.connect();
      const flooded: unknown[] = [];
      let markerHeard = (): void => undefined;
      const marker = new Promise<void>((resolve) => {
        markerHeard = resolve;
      });
      listener.on("notification", ({ payload }) => {
        const requestId = (JSON.parse(payload ?? "{}") as { r?: unknown }).r;
        if (typeof requestId !== "string" || !requestId.startsWith(tag)) return;
        if (requestId === `${tag}-marker`) markerHeard();
        else flooded.push(requestId);
      });
      await listener.query(`listen ${CANCEL_CHANNEL}`);
      try {
        const cancel = (requestId: string) => ({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId, reason: "flood" },
        });
        // A full batch (100 messages) cancelling 50 requests twice each, then one more
        // cancellation in a POST of its own.
        const flood = Array.from({ length: 100 }, (_, index) => cancel(`${tag}-${index % 50}`));
        const batch = await raw(server, agent.agentId, agent.key, "POST", { session, body: flood });
        expect(batch.status).toBe(202);
        const last = await raw(server, agent.agentId, agent.key, "POST", {
          session,
          body: cancel(`${tag}-marker`),
        });
        expect(last.status).toBe(202);
        // The marker was announced after the batch's announcements had been sent.
        await marker;
        expect(flooded).toEqual(
          Array.from({ length: MAX_CANCELLATIONS_PER_POST }, (_, index) => `${tag}-${index}`),
        );
      } finally {
        await listener.end();
      }
    });

    it("closes the stream of a session that ends on DELETE; the client's reconnect gets 404", async () => {
      const agent = await createAgentWithConnection(server, (await upstream()).url);
      const session = await openRawSession(server, agent);
      const stream = await raw(server, agent.agentId, agent.key, "GET", { session });
      expect(stream.status).toBe(200);
      expect(stream.headers.get("content-type")).toBe("text/event-stream");
      await streamsOpen(agent.agentId);
      const ended = await raw(server, agent.agentId, agent.key, "DELETE", { session });
      expect(ended.status).toBe(200);
      // The stream ends (the body's text resolves) once the holder heard of the DELETE.
      expect(await stream.text()).not.toContain("event:");
      const reconnect = await raw(server, agent.agentId, agent.key, "GET", { session });
      expect(reconnect.status).toBe(404);
    });
  });

  describe("on two servers of one database", () => {
    let first: Awaited<ReturnType<typeof startTestServer>>;
    let second: Awaited<ReturnType<typeof startTestServer>>;
    let upstream: RunningTestMcpServer;
    beforeAll(async () => {
      [first, second, upstream] = await Promise.all([
        startTestServer(),
        startTestServer(),
        startTestMcpServer(),
      ]);
    });
    afterAll(async () => {
      await Promise.all([first.close(), second.close(), upstream.close()]);
    });

    it("refuses a session deleted on one replica on the other, which had validated it before", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const session = await openRawSession(first, agent);
      // Twice: the second request may be served from the second replica's validated sessions.
      for (let index = 0; index < 2; index++) {
        const used = await raw(second, agent.agentId, agent.key, "POST", {
          session,
          body: listTools,
        });
        expect(used.status).toBe(200);
        await used.text();
      }
      const ended = await raw(first, agent.agentId, agent.key, "DELETE", { session });
      expect(ended.status).toBe(200);
      // Every notification committed before this point has reached the second replica.
      await second.database.changes.barrier();
      const after = await raw(second, agent.agentId, agent.key, "POST", {
        session,
        body: listTools,
      });
      expect(after.status).toBe(404);
    });
  });

  describe("on two replicas behind a round-robin balancer", () => {
    let cluster: Awaited<ReturnType<typeof startReplicatedCluster>>;
    const upstreams: RunningTestMcpServer[] = [];
    beforeAll(async () => {
      cluster = await startReplicatedCluster();
    }, 300_000);
    afterAll(async () => {
      // Undefined when the replicas failed to start.
      await (cluster as typeof cluster | undefined)?.close();
      await Promise.all(upstreams.map((upstream) => upstream.close()));
    });
    const upstream = async () => {
      const started = await startTestMcpServer();
      upstreams.push(started);
      return started;
    };

    scenarios(() => cluster, upstream);

    it("serves one session's requests on both replicas", async () => {
      const agent = await createAgentWithConnection(cluster, (await upstream()).url);
      const from = cluster.balancer.routed.length;
      const { client } = await connect(cluster, agent);
      await streamsOpen(agent.agentId);
      for (let index = 0; index < 4; index++) await client.listTools();
      const used = cluster.balancer.routed
        .slice(from)
        .filter((routed) => routed.path === `/mcp/${agent.agentId}`);
      expect(new Set(used.map((routed) => routed.replica))).toEqual(new Set([0, 1]));
      expect(used.some((routed) => routed.method === "GET")).toBe(true);
    });

    it("ends a stream when its key is revoked or its agent disabled, on whichever replica holds it", async () => {
      const agent = await createAgentWithConnection(cluster, (await upstream()).url);
      const token = agent.org.owner.token;
      const second = await cluster.request<{ id: string; key: string }>(
        "POST",
        `/agents/${agent.agentId}/keys/`,
        { token, body: { name: "second" } },
      );
      expect(second.status).toBe(201);
      const open = async (key: string) => {
        const opened = await raw(cluster, agent.agentId, key, "POST", { body: initialize });
        await opened.text();
        const session = opened.headers.get("mcp-session-id") ?? "";
        const stream = await raw(cluster, agent.agentId, key, "GET", { session });
        expect(stream.status).toBe(200);
        return stream;
      };
      const byFirstKey = await open(agent.key);
      const bySecondKey = await open(second.body.key);
      await streamsOpen(agent.agentId, 2);

      const revoked = await cluster.request(
        "DELETE",
        `/agents/${agent.agentId}/keys/${second.body.id}/`,
        { token },
      );
      expect(revoked.status).toBeLessThan(300);
      expect(await bySecondKey.text()).not.toContain("event:");
      const disabled = await cluster.request("PATCH", `/agents/${agent.agentId}/`, {
        token,
        body: { status: "disabled" },
      });
      expect(disabled.status).toBe(200);
      expect(await byFirstKey.text()).not.toContain("event:");
    });

    it("a stream taken over by the other replica closes on the first", async () => {
      const agent = await createAgentWithConnection(cluster, (await upstream()).url);
      const session = await openRawSession(cluster, agent);
      const first = await raw(cluster, agent.agentId, agent.key, "GET", { session });
      expect(first.status).toBe(200);
      await streamsOpen(agent.agentId);
      const holder = (await sessionRows(agent.agentId))[0]?.stream_replica_id;
      const second = await raw(cluster, agent.agentId, agent.key, "GET", { session });
      expect(second.status).toBe(200);
      await waitUntil(
        async () => (await sessionRows(agent.agentId))[0]?.stream_replica_id !== holder,
      );
      expect(await first.text()).not.toContain("event:");
      await second.body?.cancel();
    });
  });
});
