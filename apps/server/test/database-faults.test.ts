import { mkdtempSync } from "node:fs";
import { createServer, Socket, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDatabase, type ChangeListener } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadEnv } from "../src/env";
import { startServer, type RunningServer } from "../src/server";
import { governance } from "./governance";
import {
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  TEST_DB,
  type TestServer,
  toolCall,
} from "./harness";

/** How the change feed's connection introduces itself in its startup message. */
const FEED_APPLICATION_NAME = Buffer.from("mcp-agents-platform change feed");

interface ProxiedConnection {
  client: Socket;
  upstream: Socket;
  feed: boolean;
  /** Bytes held back while the connection is frozen, per direction, in order. */
  held: { toUpstream: Buffer[]; toClient: Buffer[] };
}

/**
 * A TCP proxy in front of PostgreSQL that can stop forwarding without closing anything, as a
 * NAT or firewall that drops a connection silently does: the change feed's connections only, or
 * every connection. Resuming forwards what was held back, in order.
 */
async function startFaultProxy(target: { host: string; port: number }) {
  const connections = new Set<ProxiedConnection>();
  const faults = { feed: false, all: false };
  const frozen = (connection: ProxiedConnection) => faults.all || (faults.feed && connection.feed);

  const forward = (connection: ProxiedConnection, direction: "toUpstream" | "toClient") => {
    const to = direction === "toUpstream" ? connection.upstream : connection.client;
    return (chunk: Buffer) => {
      // The first bytes from the client are its startup message, naming the application.
      if (direction === "toUpstream" && chunk.includes(FEED_APPLICATION_NAME))
        connection.feed = true;
      if (frozen(connection)) connection.held[direction].push(chunk);
      else to.write(chunk);
    };
  };

  const server: Server = createServer((client) => {
    const upstream = new Socket();
    const connection: ProxiedConnection = {
      client,
      upstream,
      feed: false,
      held: { toUpstream: [], toClient: [] },
    };
    connections.add(connection);
    const close = () => {
      connections.delete(connection);
      client.destroy();
      upstream.destroy();
    };
    client.on("data", forward(connection, "toUpstream"));
    upstream.on("data", forward(connection, "toClient"));
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
    upstream.connect(target.port, target.host);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");

  return {
    port: address.port,
    freezeFeed: () => {
      faults.feed = true;
    },
    blackHole: () => {
      faults.all = true;
    },
    resume: () => {
      faults.feed = false;
      faults.all = false;
      for (const connection of connections) {
        for (const chunk of connection.held.toUpstream.splice(0)) connection.upstream.write(chunk);
        for (const chunk of connection.held.toClient.splice(0)) connection.client.write(chunk);
      }
    },
    close: async () => {
      for (const connection of connections) {
        connection.client.destroy();
        connection.upstream.destroy();
      }
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

const echoCall = (id: number) => toolCall("echo", { text: "hi" }, id);

describe.skipIf(databaseUnavailable)("database faults", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  it("does not notify caches of health-only connection writes, and does of everything else", async () => {
    const org = await createOrg(server);
    const other = await createOrg(server);
    const { id } = await governance(server, org).syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const heard: string[] = [];
    const listener: ChangeListener = {
      changed: (orgId) => heard.push(orgId),
      reset: () => undefined,
    };
    const unsubscribe = server.database.changes.subscribe(listener);
    try {
      const { db } = server.database;
      await db
        .update(schema.connections)
        .set({
          status: "unhealthy",
          last_error: "flapping",
          last_tested_at: new Date(),
          server_info: { name: "x" },
        })
        .where(eq(schema.connections.id, id));
      // A change in another organization, notified after the health write: once it is heard,
      // a notification of the health write would have been heard before it.
      await governance(server, other).agent();
      await expect.poll(() => heard).toContain(other.id);
      expect(heard).not.toContain(org.id);

      await db
        .update(schema.connections)
        .set({ timeout_ms: 1234 })
        .where(eq(schema.connections.id, id));
      await expect.poll(() => heard).toContain(org.id);
    } finally {
      unsubscribe();
    }
  });

  it("answers 503 + Retry-After on REST and tRPC, JSON-RPC errors to MCP clients, when the database is gone; /healthz stays up, /readyz does not", async () => {
    const database =
      TEST_DB === "postgres"
        ? await createDatabase({ databaseUrl: inject("postgresUrl"), poolSize: 2 })
        : await createDatabase({ pgliteDir: "memory://" });
    const gone = await startServer(
      loadEnv({
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        DATA_DIR: mkdtempSync(join(tmpdir(), "mcpa-")),
      }),
      { database },
    );
    try {
      await database.close();
      const response = await fetch(`${gone.url}/api/v1/auth/login/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "a@example.com", password: "whatever-password" }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await response.json()).toEqual({
        code: "SERVICE_UNAVAILABLE",
        message: "The database cannot be reached right now; retry shortly",
        request_id: expect.any(String),
      });
      expect((await fetch(`${gone.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${gone.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { database: "unavailable" } });

      const agentId = "00000000-0000-7000-8000-000000000000";
      const call = await gatewayPost(gone.url, agentId, "mcpa_whatever", echoCall(7));
      expect(call.status).toBe(200);
      expect(call.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await call.json()).toEqual({
        jsonrpc: "2.0",
        id: 7,
        error: {
          code: -32000,
          message: expect.stringMatching(/database cannot be reached/),
          data: { retry_after_seconds: expect.any(Number) },
        },
      });

      const notification = await gatewayPost(gone.url, agentId, "mcpa_whatever", {
        jsonrpc: "2.0",
        method: "notifications/initialized",
      });
      expect(notification.status).toBe(503);
      expect(notification.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await notification.json()).toMatchObject({ jsonrpc: "2.0", id: null });

      const trpc = await fetch(`${gone.url}/trpc/auth.me`, {
        headers: { authorization: "Token whatever" },
      });
      expect(trpc.status).toBe(503);
      expect(trpc.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(JSON.stringify(await trpc.json())).not.toMatch(/stack|pool|select/i);
    } finally {
      await gone.close();
    }
  });
});

/*
 * One replica reaches PostgreSQL through a proxy that can freeze its change feed's connection or
 * black-hole every connection; the other replica (the test server) reaches it directly. PGlite
 * has no network, so this runs on PostgreSQL only. Timeouts are short here through the same
 * variables an operator sets.
 */
describe.runIf(TEST_DB === "postgres" && !databaseUnavailable)(
  "a replica behind a faulty network",
  () => {
    let other: TestServer;
    let upstream: RunningTestMcpServer;
    let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
    let replica: RunningServer;

    beforeAll(async () => {
      other = await startTestServer();
      upstream = await startTestMcpServer();
      const direct = new URL(inject("postgresUrl"));
      proxy = await startFaultProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
      const proxied = new URL(direct);
      proxied.host = `127.0.0.1:${proxy.port}`;
      replica = await startServer(
        loadEnv({
          PORT: "0",
          HOST: "127.0.0.1",
          LOG_LEVEL: "silent",
          NODE_ENV: "test",
          DATA_DIR: mkdtempSync(join(tmpdir(), "mcpa-")),
          DATABASE_URL: proxied.toString(),
          DATABASE_POOL_SIZE: "4",
          DATABASE_CONNECT_TIMEOUT_MS: "500",
          DATABASE_STATEMENT_TIMEOUT_MS: "1000",
          CHANGE_FEED_HEARTBEAT_MS: "200",
        }),
      );
    });
    afterAll(async () => {
      proxy.resume();
      await replica.close();
      await proxy.close();
      await other.close();
      await upstream.close();
    });

    const ready = async () => (await fetch(`${replica.url}/readyz`)).status;

    async function setup() {
      const org = await createOrg(other);
      const api = governance(other, org);
      await api.syncedConnection({ transport: "streamable_http", url: upstream.url });
      const agent = (await api.agent()) as { id: string };
      const keys: { id: string; key: string }[] = [];
      for (let n = 0; n < 3; n++)
        keys.push((await api.key(agent.id)) as { id: string; key: string });
      await api.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
      const call = async (key: string, id = 1) => {
        const response = await gatewayPost(replica.url, agent.id, key, echoCall(id));
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      const revoke = (base: string, keyId: string) =>
        fetch(`${base}/api/v1/agents/${agent.id}/keys/${keyId}/`, {
          method: "DELETE",
          headers: { authorization: `Token ${org.owner.token}` },
        });
      return { org, agent, keys, call, revoke };
    }

    it("stops serving from its cache once the frozen feed's heartbeat is overdue, and recovers", async () => {
      const { keys, call, revoke } = await setup();
      const [own, elsewhere, kept] = keys;
      if (!own || !elsewhere || !kept) throw new Error("keys missing");
      await expect.poll(ready, { timeout: 20_000 }).toBe(200);
      // Served twice each, so the answers come from the replica's cache.
      for (const { key } of [own, elsewhere, own, elsewhere])
        expect((await call(key)).body).toHaveProperty("result");

      proxy.freezeFeed();
      // A mutation on the frozen replica waits for its own change at most the heartbeat deadline,
      // then gives the cache up instead of hanging: the key is refused on the very next call.
      expect((await revoke(replica.url, own.id)).status).toBe(204);
      expect((await call(own.key)).status).toBe(401);

      // Revoked elsewhere, the notification cannot arrive; once the heartbeat is overdue the cache
      // reports unsafe, and from then on the key is refused.
      expect((await revoke(other.url, elsewhere.id)).status).toBe(204);
      await expect.poll(() => replica.database.changes.live, { timeout: 20_000 }).toBe(false);
      expect((await call(elsewhere.key)).status).toBe(401);
      const unready = await fetch(`${replica.url}/readyz`);
      expect(unready.status).toBe(503);
      expect(await unready.json()).toMatchObject({
        checks: { database: "ok", change_feed: "down" },
      });
      expect((await call(kept.key)).body).toHaveProperty("result");

      proxy.resume();
      await expect.poll(ready, { timeout: 20_000 }).toBe(200);
      expect((await call(elsewhere.key)).status).toBe(401);
      expect((await call(kept.key)).body).toHaveProperty("result");
    });

    it("answers every request with an error while the database is black-holed, and recovers", async () => {
      const { org, keys, call } = await setup();
      const [{ key } = { key: "" }] = keys;
      await expect.poll(ready, { timeout: 20_000 }).toBe(200);
      expect((await call(key)).body).toHaveProperty("result");
      const runs = () =>
        fetch(`${replica.url}/api/v1/orgs/${org.id}/runs/?limit=1`, {
          headers: { authorization: `Token ${org.owner.token}` },
        });

      proxy.blackHole();
      // Liveness does not depend on the database.
      expect((await fetch(`${replica.url}/healthz`)).status).toBe(200);
      await expect.poll(ready, { timeout: 20_000 }).toBe(503);

      const listed = await runs();
      expect(listed.status).toBe(503);
      expect(listed.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await listed.json()).toEqual({
        code: "SERVICE_UNAVAILABLE",
        message: expect.any(String),
        request_id: expect.any(String),
      });

      const refused = await call(key, 9);
      expect(refused.status).toBe(200);
      expect(refused.body).toMatchObject({ jsonrpc: "2.0", id: 9, error: { code: -32000 } });

      proxy.resume();
      await expect.poll(ready, { timeout: 20_000 }).toBe(200);
      expect((await runs()).status).toBe(200);
      expect((await call(key)).body).toHaveProperty("result");
    });
  },
);
