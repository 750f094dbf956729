import { randomBytes, randomUUID } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  RELATED_TASK_META_KEY,
} from "@modelcontextprotocol/sdk/types.js";
import { eq } from "drizzle-orm";
import { sweepInterruptedRuns } from "@mcp/core";
import { schema } from "@mcp/core/db";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startBalancer, type Balancer } from "./balancer";
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
 * MCP tasks (2025-11-25) through the gateway: task-augmented tools/call, tasks/get, tasks/result,
 * tasks/list and tasks/cancel, on two server processes' worth of replicas (two servers on one
 * PostgreSQL) behind a round-robin balancer, against an upstream built with the SDK's McpServer
 * whose `wait` tool runs until the test releases it.
 */

const MAX_TASKS = 3;

interface RpcAnswer {
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")(
  "MCP tasks through the gateway",
  () => {
    let first: TestServer;
    let second: TestServer;
    let balancer: Balancer;
    let upstream: ProtocolUpstream;
    const clients: Client[] = [];
    const released: string[] = [];

    beforeAll(async () => {
      const env = { MCP_MAX_TASKS_PER_AGENT: String(MAX_TASKS) };
      first = await startTestServer(env);
      second = await startTestServer(env);
      balancer = await startBalancer([first.url, second.url]);
      upstream = await startProtocolUpstream();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
      for (const id of released.splice(0)) upstream.release(id);
    });
    afterAll(async () => {
      await balancer.close();
      await first.close();
      await second.close();
      await upstream.close();
    });

    /** A `wait` call's id, released after the test if the test did not. */
    function waitId(): string {
      const id = randomBytes(6).toString("hex");
      released.push(id);
      return id;
    }

    async function connect(agent: TestAgent, base = balancer.url): Promise<Client> {
      const client = new Client({ name: "tasks-test", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${base}/mcp/${agent.agentId}`), {
          requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
        }),
      );
      clients.push(client);
      return client;
    }

    /** One JSON-RPC request to one replica (in a session when `sessionId` is given). */
    async function rpc(
      server: { url: string },
      agent: TestAgent,
      method: string,
      params: Record<string, unknown>,
      sessionId?: string,
    ): Promise<RpcAnswer> {
      const response = await fetch(`${server.url}/mcp/${agent.agentId}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${agent.key}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-11-25",
          ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId }),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      expect(response.headers.get("content-type")).toContain("application/json");
      return (await response.json()) as RpcAnswer;
    }

    async function startTask(
      server: { url: string },
      agent: TestAgent,
      args: Record<string, unknown>,
      task: Record<string, unknown> = {},
    ): Promise<string> {
      const answer = await rpc(server, agent, "tools/call", {
        name: "wait",
        arguments: args,
        task,
      });
      const created = CreateTaskResultSchema.parse(answer.result);
      return created.task.taskId;
    }

    const taskRow = async (taskId: string) => {
      const [row] = await first.database.db
        .select()
        .from(schema.mcpTasks)
        .where(eq(schema.mcpTasks.id, taskId));
      if (!row) throw new Error(`no task ${taskId}`);
      return row;
    };

    async function run(agent: TestAgent, runId: string | null) {
      expect(runId).not.toBeNull();
      const response = await first.request<Record<string, unknown>>("GET", `/runs/${runId}/`, {
        token: agent.org.owner.token,
      });
      expect(response.status).toBe(200);
      return response.body;
    }

    it("a task outlives its request; the other replica reports it, waits for it and returns its result", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const client = await connect(agent);
      expect(client.getServerCapabilities()?.tasks).toEqual({
        list: {},
        cancel: {},
        requests: { tools: { call: {} } },
      });
      const { tools } = await client.listTools();
      expect(tools.find((tool) => tool.name === "wait")?.execution).toEqual({
        taskSupport: "optional",
      });

      const id = waitId();
      const created = await client.request(
        {
          method: "tools/call",
          params: { name: "wait", arguments: { id }, task: { ttl: 60_000 } },
        },
        CreateTaskResultSchema,
      );
      const { taskId } = created.task;
      expect(created.task).toMatchObject({ status: "working", ttl: 60_000, pollInterval: 1_000 });
      expect(taskId).toMatch(/^task-[A-Za-z0-9_-]{24}$/);
      // The request has been answered; the call goes on upstream.
      await upstream.waiting(id);

      const row = await taskRow(taskId);
      expect(row.replica_id).toBeOneOf([first.runtime.replicaId, second.runtime.replicaId]);
      const other = row.replica_id === first.runtime.replicaId ? second : first;
      const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId;
      expect(sessionId).toBeDefined();

      const working = await rpc(other, agent, "tasks/get", { taskId }, sessionId);
      expect(working.result).toMatchObject({ taskId, status: "working", ttl: 60_000 });
      expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ status: "working" });

      // tasks/result blocks on the replica that does not run the call until the task ends there.
      const result = rpc(other, agent, "tasks/result", { taskId }, sessionId);
      upstream.release(id);
      expect((await result).result).toEqual({
        content: [{ type: "text", text: `released ${id}` }],
        _meta: { [RELATED_TASK_META_KEY]: { taskId } },
      });

      // Through the balancer, with the SDK client's tasks API.
      expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({
        taskId,
        status: "completed",
      });
      const payload = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(payload.content).toEqual([{ type: "text", text: `released ${id}` }]);
      const listed = await client.experimental.tasks.listTasks();
      expect(listed.tasks.map((task) => task.taskId)).toEqual([taskId]);
      expect(new Set(balancer.routed.map((request) => request.replica))).toEqual(new Set([0, 1]));

      // The run follows the task: linked, and recorded before the task ended.
      const finished = await taskRow(taskId);
      expect(await run(agent, finished.run_id)).toMatchObject({
        status: "succeeded",
        agent_id: agent.agentId,
        tool_name: "wait",
      });
    });

    it("cancels from the other replica: the replica running the call aborts it upstream", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const id = waitId();
      const taskId = await startTask(first, agent, { id });
      await upstream.waiting(id);

      const cancelled = await rpc(second, agent, "tasks/cancel", { taskId });
      expect(cancelled.result).toMatchObject({ taskId, status: "cancelled" });
      await upstream.aborted(id);

      expect((await rpc(first, agent, "tasks/get", { taskId })).result).toMatchObject({
        status: "cancelled",
      });
      const result = await rpc(first, agent, "tasks/result", { taskId });
      expect(result.error).toMatchObject({ code: -32600 });
      expect(result.error?.message).toContain("cancelled");
      // A task that ended cannot be cancelled again.
      const again = await rpc(second, agent, "tasks/cancel", { taskId });
      expect(again.error).toMatchObject({ code: -32602 });
    });

    it("lists only the caller's tasks (its agent's, in its session), page by page", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const colleague = await createAgentWithConnection(first, upstream.url, { org: agent.org });
      const outside = [await startTask(first, agent, { id: waitId() })];
      outside.push(await startTask(second, agent, { id: waitId() }));
      const colleagues = await startTask(first, colleague, { id: waitId() });
      const client = await connect(agent);
      const inSession = await client.request(
        { method: "tools/call", params: { name: "wait", arguments: { id: waitId() }, task: {} } },
        CreateTaskResultSchema,
      );

      const sessionLess = await rpc(second, agent, "tasks/list", {});
      expect(
        (sessionLess.result?.tasks as { taskId: string }[]).map((task) => task.taskId),
      ).toEqual(outside);
      const listed = await client.experimental.tasks.listTasks();
      expect(listed.tasks.map((task) => task.taskId)).toEqual([inSession.task.taskId]);
      const theirs = await rpc(first, colleague, "tasks/list", {});
      expect((theirs.result?.tasks as { taskId: string }[]).map((task) => task.taskId)).toEqual([
        colleagues,
      ]);

      // Pages of 100, in creation order, continued on either replica.
      const many = await createAgentWithConnection(first, upstream.url);
      const ids = Array.from({ length: 150 }, (_, index) => `task-page-${randomUUID()}-${index}`);
      await first.database.db.insert(schema.mcpTasks).values(
        ids.map((taskId, index) => ({
          id: taskId,
          org_id: many.org.id,
          agent_id: many.agentId,
          tool_name: "wait",
          status: "completed" as const,
          result: { content: [] },
          replica_id: first.runtime.replicaId,
          ttl_ms: 60_000,
          poll_interval_ms: 1_000,
          created_at: new Date(Date.now() - 10_000 + index),
          expires_at: new Date(Date.now() + 60_000),
        })),
      );
      const page1 = await rpc(first, many, "tasks/list", {});
      const cursor = page1.result?.nextCursor;
      expect(typeof cursor).toBe("string");
      const page2 = await rpc(second, many, "tasks/list", { cursor });
      expect(page2.result?.nextCursor).toBeUndefined();
      const pages = [page1, page2].flatMap((page) => page.result?.tasks as { taskId: string }[]);
      expect(pages.map((task) => task.taskId)).toEqual(ids);

      const wrongCursor = await rpc(first, many, "tasks/list", { cursor: "not-a-cursor" });
      expect(wrongCursor.error).toMatchObject({ code: -32602 });
    });

    it("runs a denied tool as a task as a normal call: it fails with the policy's reason, recorded", async () => {
      const agent = await createAgentWithConnection(first, upstream.url, { allowAll: false });
      const taskId = await startTask(first, agent, { id: waitId() });
      const result = await rpc(second, agent, "tasks/result", { taskId });
      const payload = CallToolResultSchema.parse(result.result);
      expect(payload.isError).toBe(true);

      const task = await rpc(second, agent, "tasks/get", { taskId });
      expect(task.result).toMatchObject({ status: "failed" });
      const row = await taskRow(taskId);
      const recorded = await run(agent, row.run_id);
      expect(recorded).toMatchObject({ status: "denied", tool_name: "wait" });
      expect(payload.content).toEqual([{ type: "text", text: recorded.error }]);
      expect(task.result?.statusMessage).toBe(recorded.error);
    });

    it("counts a task against the agent's rate limits like a plain call, and records the refusal", async () => {
      const agent = await createAgentWithConnection(first, upstream.url, { allowAll: false });
      const created = await first.request("POST", `/orgs/${agent.org.id}/policies/`, {
        token: agent.org.owner.token,
        body: {
          name: "wait-limit",
          effect: "allow",
          agent_id: agent.agentId,
          tool_pattern: "wait",
          rate_limit: { max_calls: 1, per_seconds: 3600 },
        },
      });
      expect(created.status).toBe(201);
      const id = waitId();
      const allowed = await startTask(first, agent, { id });
      await upstream.waiting(id);
      const limited = await startTask(second, agent, { id: waitId() });
      const result = CallToolResultSchema.parse(
        (await rpc(first, agent, "tasks/result", { taskId: limited })).result,
      );
      expect(result.isError).toBe(true);
      expect(result.content).toEqual([
        { type: "text", text: expect.stringMatching(/^Rate limited by policy 'wait-limit'/) },
      ]);
      expect(await run(agent, (await taskRow(limited)).run_id)).toMatchObject({
        status: "rate_limited",
      });
      expect((await rpc(second, agent, "tasks/get", { taskId: allowed })).result).toMatchObject({
        status: "working",
      });
    });

    it("refuses bad task params, unknown tools, and tasks for a connection that forbids them", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      for (const ttl of [-1, 0, 1.5, "soon", null]) {
        const answer = await rpc(first, agent, "tools/call", {
          name: "wait",
          arguments: { id: "never" },
          task: { ttl },
        });
        expect(answer.error, JSON.stringify(ttl)).toMatchObject({ code: -32602 });
        expect(answer.error?.message).toContain("task.ttl");
      }
      const notAnObject = await rpc(first, agent, "tools/call", {
        name: "wait",
        arguments: {},
        task: "yes",
      });
      expect(notAnObject.error).toMatchObject({ code: -32602 });
      expect(notAnObject.error?.message).toContain("task");
      const unknown = await rpc(first, agent, "tools/call", {
        name: "no_such_tool",
        arguments: {},
        task: {},
      });
      expect(unknown.error).toMatchObject({ code: -32602 });
      expect(unknown.error?.message).toContain("Unknown tool: no_such_tool");

      // The ttl is kept within bounds.
      const long = await rpc(first, agent, "tools/call", {
        name: "wait",
        arguments: { id: waitId() },
        task: { ttl: 10 ** 12 },
      });
      expect(long.result).toMatchObject({ task: { ttl: 86_400_000 } });

      const path = `/connections/${agent.connectionId}/`;
      const token = agent.org.owner.token;
      expect((await first.request("GET", path, { token })).body).toMatchObject({
        allow_tasks: true,
      });
      const patched = await first.request("PATCH", path, { token, body: { allow_tasks: false } });
      expect(patched.body).toMatchObject({ allow_tasks: false });
      const wrong = await first.request("PATCH", path, { token, body: { allow_tasks: "no" } });
      expect(wrong.status).toBe(400);
      const client = await connect(agent);
      const { tools } = await client.listTools();
      expect(tools.find((tool) => tool.name === "wait")?.execution).toEqual({
        taskSupport: "forbidden",
      });
      const forbidden = await rpc(second, agent, "tools/call", {
        name: "wait",
        arguments: { id: "never" },
        task: {},
      });
      expect(forbidden.error).toMatchObject({ code: -32601 });
      // A plain call of the same tool still runs.
      const id = waitId();
      const plain = client.callTool({ name: "wait", arguments: { id } });
      await upstream.waiting(id);
      upstream.release(id);
      expect((await plain).content).toEqual([{ type: "text", text: `released ${id}` }]);
    });

    it("does not show a task to another agent, another session, or another org", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const colleague = await createAgentWithConnection(first, upstream.url, { org: agent.org });
      const stranger = await createAgentWithConnection(first, upstream.url);
      const id = waitId();
      const taskId = await startTask(first, agent, { id });
      await upstream.waiting(id);
      const client = await connect(agent);
      const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId;

      for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
        for (const [who, session] of [
          [colleague, undefined],
          [stranger, undefined],
          [agent, sessionId],
        ] as const) {
          const answer = await rpc(second, who, method, { taskId }, session);
          // The same answer as for an id that never existed: nothing tells the two apart.
          expect(answer.error, method).toEqual({
            code: -32602,
            message: `MCP error -32602: Task not found: ${taskId}`,
          });
        }
      }
      const unknown = await rpc(first, agent, "tasks/get", { taskId: "task-doesnotexist" });
      expect(unknown.error).toMatchObject({ code: -32602 });
      const missing = await rpc(first, agent, "tasks/get", {});
      expect(missing.error).toMatchObject({ code: -32602 });
      expect(missing.error?.message).toContain("taskId");
      // Still running for its owner.
      expect((await rpc(second, agent, "tasks/get", { taskId })).result).toMatchObject({
        status: "working",
      });
    });

    it("bounds an agent's running tasks (MCP_MAX_TASKS_PER_AGENT)", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      const running: string[] = [];
      for (let index = 0; index < MAX_TASKS; index++) {
        const id = waitId();
        running.push(await startTask(index % 2 ? first : second, agent, { id }));
        await upstream.waiting(id);
      }
      const refused = await rpc(first, agent, "tools/call", {
        name: "wait",
        arguments: { id: waitId() },
        task: {},
      });
      expect(refused.error).toMatchObject({ code: -32600 });
      expect(refused.error?.message).toContain("MCP_MAX_TASKS_PER_AGENT");
      // Another agent is not held by this one's tasks.
      const other = await createAgentWithConnection(first, upstream.url, { org: agent.org });
      await startTask(second, other, { id: waitId() });

      await rpc(second, agent, "tasks/cancel", { taskId: running[0] });
      await startTask(first, agent, { id: waitId() });
    });

    it("fails the task of a replica that died; a waiting tasks/result returns the failure", async () => {
      const agent = await createAgentWithConnection(first, upstream.url);
      // What a replica killed mid-task leaves: a working task whose replica no longer heartbeats.
      const taskId = `task-${randomBytes(18).toString("base64url")}`;
      await first.database.db.insert(schema.mcpTasks).values({
        id: taskId,
        org_id: agent.org.id,
        agent_id: agent.agentId,
        tool_name: "wait",
        replica_id: randomUUID(),
        ttl_ms: 60_000,
        poll_interval_ms: 1_000,
        expires_at: new Date(Date.now() + 60_000),
      });
      const result = rpc(second, agent, "tasks/result", { taskId });
      await sweepInterruptedRuns(first.database.db);
      const answer = await result;
      expect(answer.error).toMatchObject({ code: -32603 });
      expect(answer.error?.message).toContain("Interrupted");
      expect((await rpc(first, agent, "tasks/get", { taskId })).result).toMatchObject({
        status: "failed",
      });
    });
  },
);
