import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ElicitRequestSchema,
  RELATED_TASK_META_KEY,
  TaskStatusNotificationSchema,
  type Task,
} from "@modelcontextprotocol/sdk/types.js";
import { eq } from "drizzle-orm";
import {
  appendMcpSessionEvents,
  hashSessionToken,
  MCP_SESSION_EVENTS_KEPT,
  MCP_SESSION_GET_STREAM,
  mcpSessionEventsAfter,
  pruneIdleMcpSessions,
} from "@mcp/core";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, waitUntil, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentWithConnection,
  databaseUnavailable,
  startTestServer,
  TEST_DB,
  type TestAgent,
  type TestServer,
} from "./harness";
import { startProtocolUpstream, type ProtocolUpstream } from "./protocol-upstream";

/*
 * Resumable session streams (MCP "Resumability and Redelivery") and task status notifications,
 * on two servers of one PostgreSQL (what two replicas behind a balancer without sticky sessions
 * are), each request sent to the replica the test names: a GET stream dropped on one replica is
 * resumed with Last-Event-ID on the other. Raw HTTP where the test needs to drop a stream or send
 * a header by hand, the SDK's client where it does the work itself.
 */

interface SseEvent {
  id: string | null;
  data: string;
}

const LIST_CHANGED = { jsonrpc: "2.0", method: "notifications/tools/list_changed" };

interface RpcAnswer {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** Reads an SSE response event by event (comments, such as keep-alives, are skipped). */
function sseReader(response: Response) {
  const body = response.body;
  if (!body) throw new Error("the response has no body");
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const queue: SseEvent[] = [];
  const next = async (): Promise<SseEvent> => {
    for (;;) {
      const queued = queue.shift();
      if (queued) return queued;
      const chunk = await reader.read();
      if (chunk.done) throw new Error("the stream ended");
      buffer += chunk.value;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | null = null;
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (id !== null || data.length > 0) queue.push({ id, data: data.join("\n").trim() });
      }
    }
  };
  return {
    next,
    /** The next event that carries a message, parsed, with its id. */
    message: async (): Promise<{ id: string; message: Record<string, unknown> }> => {
      for (;;) {
        const event = await next();
        if (event.data === "") continue;
        if (event.id === null) throw new Error(`an event without an id: ${event.data}`);
        return { id: event.id, message: JSON.parse(event.data) as Record<string, unknown> };
      }
    },
    drop: () => reader.cancel(),
  };
}

describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")(
  "resumable session streams and task notifications",
  () => {
    let first: TestServer;
    let second: TestServer;
    let upstream: ProtocolUpstream;
    let toolsUpstream: RunningTestMcpServer;
    const clients: Client[] = [];
    const released: string[] = [];
    const dropped: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      [first, second, upstream, toolsUpstream] = await Promise.all([
        startTestServer(),
        startTestServer(),
        startProtocolUpstream(),
        startTestMcpServer(),
      ]);
    });
    afterEach(async () => {
      await Promise.all(dropped.splice(0).map((drop) => drop().catch(() => undefined)));
      await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
      for (const id of released.splice(0)) upstream.release(id);
    });
    afterAll(async () => {
      await Promise.all([first.close(), second.close(), upstream.close(), toolsUpstream.close()]);
    });

    function headers(agent: TestAgent, session: string | null): Record<string, string> {
      return {
        authorization: `Bearer ${agent.key}`,
        accept: "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2025-11-25",
        ...(session === null ? {} : { "mcp-session-id": session }),
      };
    }

    async function openSession(server: TestServer, agent: TestAgent): Promise<string> {
      const response = await fetch(`${server.url}/mcp/${agent.agentId}`, {
        method: "POST",
        headers: headers(agent, null),
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 0,
          method: "initialize",
          params: {
            protocolVersion: "2025-11-25",
            capabilities: {},
            clientInfo: { name: "streams-test", version: "1" },
          },
        }),
      });
      expect(response.status).toBe(200);
      await response.text();
      const session = response.headers.get("mcp-session-id");
      if (!session) throw new Error("initialize returned no session");
      return session;
    }

    async function rpc(
      server: TestServer,
      agent: TestAgent,
      session: string,
      method: string,
      params: Record<string, unknown>,
    ): Promise<RpcAnswer> {
      const response = await fetch(`${server.url}/mcp/${agent.agentId}`, {
        method: "POST",
        headers: headers(agent, session),
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      return (await response.json()) as RpcAnswer;
    }

    /** Opens the session's GET stream on `server`, resuming after `lastEventId` when given. */
    async function getStream(
      server: TestServer,
      agent: TestAgent,
      session: string,
      lastEventId?: string,
    ) {
      const response = await fetch(`${server.url}/mcp/${agent.agentId}`, {
        headers: {
          ...headers(agent, session),
          accept: "text/event-stream",
          ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }),
        },
      });
      if (response.status !== 200) return { response, stream: null };
      const stream = sseReader(response);
      dropped.push(stream.drop);
      return { response, stream };
    }

    async function openStream(
      server: TestServer,
      agent: TestAgent,
      session: string,
      lastEventId?: string,
    ) {
      const { response, stream } = await getStream(server, agent, session, lastEventId);
      expect(response.status).toBe(200);
      if (!stream) throw new Error("no stream");
      return stream;
    }

    /** A task of the upstream's `wait` tool in the session; it runs until released or cancelled. */
    async function startTask(server: TestServer, agent: TestAgent, session: string) {
      const id = randomBytes(6).toString("hex");
      released.push(id);
      const answer = await rpc(server, agent, session, "tools/call", {
        name: "wait",
        arguments: { id },
        task: {},
      });
      const { taskId } = CreateTaskResultSchema.parse(answer.result).task;
      await upstream.waiting(id);
      return {
        taskId,
        release: () => {
          upstream.release(id);
        },
      };
    }

    async function cancelTask(
      server: TestServer,
      agent: TestAgent,
      session: string,
      taskId: string,
    ) {
      const answer = await rpc(server, agent, session, "tasks/cancel", { taskId });
      expect(answer.result).toMatchObject({ taskId, status: "cancelled" });
    }

    /** The task and status a `notifications/tasks/status` message reports. */
    function taskStatus(message: Record<string, unknown>) {
      const parsed = TaskStatusNotificationSchema.parse(message);
      return { taskId: parsed.params.taskId, status: parsed.params.status };
    }

    async function sessionRow(session: string) {
      const [row] = await first.database.db
        .select()
        .from(schema.mcpSessions)
        .where(eq(schema.mcpSessions.token_hash, hashSessionToken(session)));
      if (!row) throw new Error("no session row");
      return row;
    }

    it("a stream dropped mid-way resumes on the other replica with exactly what it missed, then live", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const session = await openSession(first, agent);
      const tasks = [];
      for (let index = 0; index < 5; index++) tasks.push(await startTask(first, agent, session));
      const ids = tasks.map((task) => task.taskId);

      const stream = await openStream(first, agent, session);
      const priming = await stream.next();
      expect(priming).toMatchObject({ data: "" });
      expect(priming.id).toMatch(/^\d+\.get\.[\w-]{16}$/);
      // Four status changes while the stream is open, made on both replicas.
      for (const [index, taskId] of ids.slice(0, 4).entries())
        await cancelTask(index % 2 === 0 ? first : second, agent, session, taskId);
      const one = await stream.message();
      const two = await stream.message();
      expect([taskStatus(one.message), taskStatus(two.message)]).toEqual([
        { taskId: ids[0], status: "cancelled" },
        { taskId: ids[1], status: "cancelled" },
      ]);
      // The client drops the stream having read two; the other two were sent or are on the way.
      await stream.drop();

      const resumed = await openStream(second, agent, session, two.id);
      const three = await resumed.message();
      const four = await resumed.message();
      expect([taskStatus(three.message), taskStatus(four.message)]).toEqual([
        { taskId: ids[2], status: "cancelled" },
        { taskId: ids[3], status: "cancelled" },
      ]);
      // Then live: the next change reaches the resumed stream, nothing repeated before it.
      tasks[4]?.release();
      const five = await resumed.message();
      expect(taskStatus(five.message)).toEqual({ taskId: ids[4], status: "completed" });
      const sequence = [one, two, three, four, five].map(({ id }) => Number(id.split(".")[0]));
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
      expect(new Set(sequence).size).toBe(5);
      // The stream now belongs to the second replica.
      expect((await sessionRow(session)).stream_replica_id).toBe(second.runtime.replicaId);
    });

    it("keeps what happens while no stream is open for the client that resumes; a new stream starts at the newest", async () => {
      const agent = await createAgentWithConnection(first, toolsUpstream.url);
      const session = await openSession(first, agent);
      const stream = await openStream(first, agent, session);
      const priming = await stream.next();
      if (priming.id === null) throw new Error("no priming id");
      await stream.drop();
      // Let go by the replica, so that nothing watches the session's tools.
      await waitUntil(async () => (await sessionRow(session)).stream_replica_id === null);

      // With no stream open: the agent's tools change, and a task ends.
      toolsUpstream.setToolsVersion(2);
      try {
        const sync = await second.request("POST", `/connections/${agent.connectionId}/sync/`, {
          token: agent.org.owner.token,
        });
        expect(sync.status).toBe(200);
      } finally {
        toolsUpstream.setToolsVersion(1);
      }
      const task = await rpc(second, agent, session, "tools/call", {
        name: "echo",
        arguments: { text: "as a task" },
        task: {},
      });
      const { taskId } = CreateTaskResultSchema.parse(task.result).task;
      await waitUntil(
        async () =>
          (await rpc(second, agent, session, "tasks/get", { taskId })).result?.status ===
          "completed",
      );

      // A new stream (no Last-Event-ID) starts at the newest event: the task's end is not
      // replayed. The tools changed since the session last looked: that is said on opening.
      const fresh = await openStream(second, agent, session);
      const freshPriming = await fresh.next();
      expect(freshPriming.data).toBe("");
      expect((await fresh.message()).message).toEqual(LIST_CHANGED);
      const later = await rpc(first, agent, session, "tools/call", {
        name: "echo",
        arguments: { text: "later" },
        task: {},
      });
      const laterId = CreateTaskResultSchema.parse(later.result).task.taskId;
      expect(taskStatus((await fresh.message()).message)).toEqual({
        taskId: laterId,
        status: "completed",
      });
      await fresh.drop();

      // Resuming after the first priming event: everything since, the tools change said once.
      const resumed = await openStream(first, agent, session, priming.id);
      const messages = [];
      for (let index = 0; index < 3; index++) messages.push((await resumed.message()).message);
      expect(taskStatus(messages[0] ?? {})).toEqual({ taskId, status: "completed" });
      expect(messages[1]).toEqual(LIST_CHANGED);
      expect(taskStatus(messages[2] ?? {})).toEqual({ taskId: laterId, status: "completed" });
      // Nothing more: the next message is one made now.
      const last = await rpc(second, agent, session, "tools/call", {
        name: "echo",
        arguments: { text: "last" },
        task: {},
      });
      expect(taskStatus((await resumed.message()).message)).toEqual({
        taskId: CreateTaskResultSchema.parse(last.result).task.taskId,
        status: "completed",
      });
    });

    it("refuses a Last-Event-ID of another session or a garbled one, replaying nothing", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const mine = await openSession(first, agent);
      const theirs = await openSession(first, agent);
      const theirStream = await openStream(first, agent, theirs);
      const theirPriming = await theirStream.next();
      const { taskId } = await startTask(first, agent, theirs);
      await cancelTask(first, agent, theirs, taskId);
      const theirEvent = await theirStream.message();
      await theirStream.drop();

      const myStream = await openStream(second, agent, mine);
      const myPriming = await myStream.next();
      await myStream.drop();
      const [seq = "", , tag = ""] = (myPriming.id ?? "").split(".");
      const foreign = [
        theirEvent.id,
        theirPriming.id ?? "",
        "garbage",
        `${Number(seq) + 1}.get.${tag}`,
        `${seq}.other.${tag}`,
        `${seq}.get.${"A".repeat(16)}`,
      ];
      for (const lastEventId of foreign) {
        for (const server of [first, second]) {
          const { response } = await getStream(server, agent, mine, lastEventId);
          expect(response.status, lastEventId).toBe(400);
          const body = await response.text();
          expect(body).toContain("Last-Event-ID");
          expect(body).not.toContain(taskId);
        }
      }
      // The other session's id with the other agent's key: that session is not found at all.
      const stranger = await createAgentWithConnection(first, upstream.url);
      const strangers = await fetch(`${first.url}/mcp/${stranger.agentId}`, {
        headers: {
          ...headers(stranger, theirs),
          accept: "text/event-stream",
          "last-event-id": theirPriming.id ?? "",
        },
      });
      expect(strangers.status).toBe(404);
      await strangers.text();
      // Its own priming id still resumes the session (nothing happened since).
      const resumed = await openStream(first, agent, mine, myPriming.id ?? "");
      const { taskId: mineTask } = await startTask(second, agent, mine);
      await cancelTask(second, agent, mine, mineTask);
      expect(taskStatus((await resumed.message()).message)).toEqual({
        taskId: mineTask,
        status: "cancelled",
      });
    });

    it("keeps the newest events of a session, and none once the session ends", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const session = await openSession(first, agent);
      const { id } = await sessionRow(session);
      const db = first.database.db;
      const messages = Array.from({ length: MCP_SESSION_EVENTS_KEPT + 5 }, (_, index) => ({
        jsonrpc: "2.0",
        method: "notifications/message",
        params: { level: "info", data: index },
      }));
      expect(
        await appendMcpSessionEvents(db, {
          sessionId: id,
          stream: MCP_SESSION_GET_STREAM,
          messages,
        }),
      ).toBe(true);
      const kept = await mcpSessionEventsAfter(db, {
        sessionId: id,
        stream: MCP_SESSION_GET_STREAM,
        afterSeq: 0,
        limit: 2 * MCP_SESSION_EVENTS_KEPT,
      });
      expect(kept).toHaveLength(MCP_SESSION_EVENTS_KEPT);
      expect(kept[0]).toMatchObject({ seq: 6, message: { params: { data: 5 } } });

      const ended = await fetch(`${second.url}/mcp/${agent.agentId}`, {
        method: "DELETE",
        headers: headers(agent, session),
      });
      expect(ended.status).toBe(200);
      const left = await db
        .select({ seq: schema.mcpSessionEvents.seq })
        .from(schema.mcpSessionEvents)
        .where(eq(schema.mcpSessionEvents.session_id, id));
      expect(left).toEqual([]);
      expect(
        await appendMcpSessionEvents(db, {
          sessionId: id,
          stream: MCP_SESSION_GET_STREAM,
          messages: [messages[0] ?? {}],
        }),
      ).toBe(false);
    });

    it("the maintenance job deletes sessions idle past the timeout, with their events", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const idle = await openSession(first, agent);
      const busy = await openSession(first, agent);
      const db = first.database.db;
      for (const session of [idle, busy]) {
        const { taskId } = await startTask(first, agent, session);
        await cancelTask(first, agent, session, taskId);
      }
      const { id: idleId } = await sessionRow(idle);
      const { id: busyId } = await sessionRow(busy);
      await db
        .update(schema.mcpSessions)
        .set({ last_seen_at: new Date(Date.now() - 7_200_000) })
        .where(eq(schema.mcpSessions.id, idleId));
      expect(await pruneIdleMcpSessions(db, { idleTimeoutSeconds: 3_600 })).toBeGreaterThan(0);
      const events = (sessionId: string) =>
        db
          .select({ seq: schema.mcpSessionEvents.seq })
          .from(schema.mcpSessionEvents)
          .where(eq(schema.mcpSessionEvents.session_id, sessionId));
      expect(await events(idleId)).toEqual([]);
      expect(await events(busyId)).toHaveLength(1);
      await expect(sessionRow(idle)).rejects.toThrow("no session row");
      const stillThere = await rpc(second, agent, busy, "tasks/list", {});
      expect(stillThere.result).toMatchObject({ tasks: [expect.anything()] });
    });

    it("the SDK client's own reconnection resumes on the other replica: every status once, in order", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const client = new Client({ name: "streams-test", version: "1.0.0" });
      const statuses: { taskId: string; status: string }[] = [];
      let heard: () => void = () => undefined;
      client.setNotificationHandler(TaskStatusNotificationSchema, (notification) => {
        statuses.push({ taskId: notification.params.taskId, status: notification.params.status });
        heard();
      });
      const heardAll = (count: number) =>
        new Promise<void>((resolve) => {
          heard = () => {
            if (statuses.length >= count) resolve();
          };
          heard();
        });
      // The first GET goes to the second replica and can be cut; the client's reconnection goes
      // to the first replica once the test opens the gate.
      const gets: { lastEventId: string | null }[] = [];
      const cut = new AbortController();
      let openGate: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        openGate = resolve;
      });
      const transport = new StreamableHTTPClientTransport(
        new URL(`${first.url}/mcp/${agent.agentId}`),
        {
          requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
          reconnectionOptions: {
            initialReconnectionDelay: 0,
            maxReconnectionDelay: 0,
            reconnectionDelayGrowFactor: 1,
            maxRetries: 3,
          },
          fetch: async (input, init) => {
            if (init?.method !== "GET") return fetch(input, init);
            gets.push({ lastEventId: new Headers(init.headers).get("last-event-id") });
            if (gets.length === 1) {
              const signal = init.signal ? AbortSignal.any([init.signal, cut.signal]) : cut.signal;
              return fetch(String(input).replace(first.url, second.url), { ...init, signal });
            }
            await gate;
            return fetch(input, init);
          },
        },
      );
      await client.connect(transport);
      clients.push(client);
      const session = transport.sessionId ?? "";
      await waitUntil(
        async () => (await sessionRow(session)).stream_replica_id === second.runtime.replicaId,
      );
      const tasks = [];
      for (let index = 0; index < 4; index++) tasks.push(await startTask(first, agent, session));
      const [a, b, c, d] = tasks.map((task) => task.taskId);

      await cancelTask(first, agent, session, a ?? "");
      await heardAll(1);
      cut.abort();
      // While the client is cut off: two more changes, on either replica.
      await cancelTask(second, agent, session, b ?? "");
      await cancelTask(first, agent, session, c ?? "");
      openGate();
      await heardAll(3);
      await cancelTask(second, agent, session, d ?? "");
      await heardAll(4);
      expect(statuses).toEqual([a, b, c, d].map((taskId) => ({ taskId, status: "cancelled" })));
      expect(gets).toHaveLength(2);
      expect(gets[0]?.lastEventId).toBeNull();
      expect(gets[1]?.lastEventId).toMatch(/^\d+\.get\.[\w-]{16}$/);
      expect((await sessionRow(session)).stream_replica_id).toBe(first.runtime.replicaId);
    });

    it("tells the SDK client each status of its task in order, input_required while an elicitation waits", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      // POSTs go to the first replica, the GET stream to the second.
      const client = new Client(
        { name: "streams-test", version: "1.0.0" },
        { capabilities: { elicitation: { form: {} } } },
      );
      const statuses: Task[] = [];
      let ended: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        ended = resolve;
      });
      client.setNotificationHandler(TaskStatusNotificationSchema, (notification) => {
        statuses.push(notification.params);
        if (notification.params.status === "completed") ended();
      });
      const transport = new StreamableHTTPClientTransport(
        new URL(`${first.url}/mcp/${agent.agentId}`),
        {
          requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
          fetch: (input, init) =>
            fetch(
              init?.method === "GET" ? String(input).replace(first.url, second.url) : input,
              init,
            ),
        },
      );
      await client.connect(transport);
      clients.push(client);
      const session = transport.sessionId ?? "";
      await waitUntil(
        async () => (await sessionRow(session)).stream_replica_id === second.runtime.replicaId,
      );

      const seenWhileAsked: unknown[] = [];
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        const taskId = (request.params._meta?.[RELATED_TASK_META_KEY] as { taskId: string }).taskId;
        // Pending: either replica reports the task as waiting for input.
        for (const server of [first, second])
          seenWhileAsked.push((await rpc(server, agent, session, "tasks/get", { taskId })).result);
        return { action: "accept", content: { confirm: true } };
      });

      const created = await client.request(
        {
          method: "tools/call",
          params: { name: "confirm_delete", arguments: { item: "report" }, task: {} },
        },
        CreateTaskResultSchema,
      );
      const { taskId } = created.task;
      await done;
      expect(seenWhileAsked).toEqual([
        expect.objectContaining({ taskId, status: "input_required" }),
        expect.objectContaining({ taskId, status: "input_required" }),
      ]);
      expect(statuses.map((task) => [task.taskId, task.status])).toEqual([
        [taskId, "input_required"],
        [taskId, "working"],
        [taskId, "completed"],
      ]);
      const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(result.structuredContent).toMatchObject({
        action: "accept",
        content: { confirm: true },
      });
      const task = await client.experimental.tasks.getTask(taskId);
      expect(task).toMatchObject({ status: "completed" });
    });
  },
);
