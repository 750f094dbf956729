import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  McpError,
  type ClientCapabilities,
  type JSONRPCRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { eq } from "drizzle-orm";
import { schema } from "@mcp/core/db";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentWithConnection,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  type TestAgent,
  type TestServer,
} from "./harness";
import { startBalancer } from "./balancer";
import { startProtocolUpstream, type ProtocolUpstream } from "./protocol-upstream";

/*
 * The MCP protocol beyond tools/call through the gateway, against an upstream built with the
 * SDK's McpServer that uses it: completions, and the connection settings that govern what an
 * upstream may ask of the calling client.
 */

describe.skipIf(databaseUnavailable)("MCP protocol through the gateway", () => {
  let server: TestServer;
  let upstream: ProtocolUpstream;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startProtocolUpstream();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  async function connect(
    agent: TestAgent,
    capabilities: ClientCapabilities = {},
    base = server.url,
  ): Promise<Client> {
    const client = new Client({ name: "protocol-test", version: "1.0.0" }, { capabilities });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp/${agent.agentId}`), {
        requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
      }),
    );
    clients.push(client);
    return client;
  }

  async function policy(agent: TestAgent, body: Record<string, unknown>): Promise<void> {
    const response = await server.request("POST", `/orgs/${agent.org.id}/policies/`, {
      token: agent.org.owner.token,
      body: {
        name: `p-${Math.random().toString(36).slice(2, 8)}`,
        agent_id: agent.agentId,
        ...body,
      },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
  }

  it("completes a prompt argument and a resource-template argument at the owning connection", async () => {
    const agent = await createAgentWithConnection(server, upstream.url);
    await policy(agent, { effect: "allow", target: "prompt", tool_pattern: "*" });
    await policy(agent, { effect: "allow", target: "resource", tool_pattern: "docs://*" });
    const client = await connect(agent);
    expect(client.getServerCapabilities()?.completions).toEqual({});
    // No listChanged: the gateway does not watch prompt or resource lists upstream.
    expect(client.getServerCapabilities()?.prompts).toEqual({});
    expect(client.getServerCapabilities()?.resources).toEqual({});

    const prompt = await client.complete({
      ref: { type: "ref/prompt", name: "translate" },
      argument: { name: "language", value: "Es" },
    });
    expect(prompt.completion.values).toEqual(["Estonian", "Esperanto"]);

    const template = await client.complete({
      ref: { type: "ref/resource", uri: "docs://{section}" },
      argument: { name: "section", value: "g" },
    });
    expect(template.completion.values).toEqual(["guide", "glossary"]);
  });

  it("completes nothing the agent may not use, and nothing for an unknown reference", async () => {
    const agent = await createAgentWithConnection(server, upstream.url);
    // Tools only: neither the prompt nor the template is the agent's.
    const client = await connect(agent);
    const asked = {
      prompt: await client.complete({
        ref: { type: "ref/prompt", name: "translate" },
        argument: { name: "language", value: "E" },
      }),
      template: await client.complete({
        ref: { type: "ref/resource", uri: "docs://{section}" },
        argument: { name: "section", value: "g" },
      }),
      unknown: await client.complete({
        ref: { type: "ref/prompt", name: "no_such_prompt" },
        argument: { name: "x", value: "" },
      }),
    };
    expect(asked.prompt.completion.values).toEqual([]);
    expect(asked.template.completion.values).toEqual([]);
    expect(asked.unknown.completion.values).toEqual([]);

    // A deny wins over an allow, as for reading the prompt.
    await policy(agent, { effect: "allow", target: "prompt", tool_pattern: "*" });
    await policy(agent, { effect: "deny", target: "prompt", tool_pattern: "translate" });
    const denied = await client.complete({
      ref: { type: "ref/prompt", name: "translate" },
      argument: { name: "language", value: "E" },
    });
    expect(denied.completion.values).toEqual([]);
  });

  it("keeps allow_sampling and allow_elicitation per connection (default true)", async () => {
    const agent = await createAgentWithConnection(server, upstream.url);
    const path = `/connections/${agent.connectionId}/`;
    const token = agent.org.owner.token;
    const read = await server.request("GET", path, { token });
    expect(read.body).toMatchObject({ allow_sampling: true, allow_elicitation: true });

    const patched = await server.request("PATCH", path, {
      token,
      body: { allow_sampling: false, allow_elicitation: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ allow_sampling: false, allow_elicitation: false });

    const wrong = await server.request("PATCH", path, { token, body: { allow_sampling: "no" } });
    expect(wrong.status).toBe(400);
    expect(JSON.stringify(wrong.body)).toContain("allow_sampling");
  });

  /** Runs must be read after the gateway answered: its records are written after the answer. */
  async function runOf(agent: TestAgent, tool: string) {
    for (;;) {
      const runs = await server.request(
        "GET",
        `/orgs/${agent.org.id}/runs/?agent_id=${agent.agentId}&tool_id=${agent.tools[tool] ?? ""}`,
        { token: agent.org.owner.token },
      );
      const [run] = runs.body.results as { status: string; relayed: unknown }[];
      if (run && run.status !== "running") return run;
      await server.runtime.recorder.idle();
    }
  }

  it("relays sampling inside a tool call to the client that declared it, and records it", async () => {
    const agent = await createAgentWithConnection(server, upstream.url);
    const client = await connect(agent, { sampling: {} });
    const asked: unknown[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, (request) => {
      asked.push(request.params);
      return {
        role: "assistant",
        model: "test-model",
        content: { type: "text", text: "A short summary." },
      };
    });
    const result = await client.callTool({ name: "summarize", arguments: { text: "Long text" } });
    expect(result.content).toEqual([{ type: "text", text: "A short summary." }]);
    expect(asked).toMatchObject([
      { messages: [{ role: "user", content: { type: "text", text: "Summarize: Long text" } }] },
    ]);
    const run = await runOf(agent, "summarize");
    expect(run).toMatchObject({
      status: "succeeded",
      relayed: [{ method: "sampling/createMessage", outcome: "answered" }],
    });
    const audit = await server.request(
      "GET",
      `/orgs/${agent.org.id}/audit-events/?action=mcp.sampling`,
      {
        token: agent.org.owner.token,
      },
    );
    expect(audit.body.results).toMatchObject([
      { action: "mcp.sampling", metadata: { outcome: "answered", tool_name: "summarize" } },
    ]);
  });

  it("relays elicitation in form mode: accept with defaults and enums, decline, cancel", async () => {
    const agent = await createAgentWithConnection(server, upstream.url);
    const client = await connect(agent, { elicitation: { form: { applyDefaults: true } } });
    const answers = [
      { action: "accept", content: { confirm: true, color: "r", tags: ["b", "c"] } },
      { action: "decline" },
      { action: "cancel" },
    ];
    const seen: unknown[] = [];
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      seen.push(request.params);
      return answers[seen.length - 1] as never;
    });
    const accepted = await client.callTool({ name: "confirm_delete", arguments: { item: "x" } });
    // The defaults the client did not fill are applied; the enums pass as chosen.
    expect(accepted.structuredContent).toEqual({
      action: "accept",
      content: {
        confirm: true,
        reason: "cleanup",
        priority: "low",
        color: "r",
        tags: ["b", "c"],
      },
    });
    expect(seen[0]).toMatchObject({ mode: "form", message: "Delete x?" });
    const declined = await client.callTool({ name: "confirm_delete", arguments: { item: "y" } });
    expect(declined.structuredContent).toEqual({ action: "decline", content: null });
    const cancelled = await client.callTool({ name: "confirm_delete", arguments: { item: "z" } });
    expect(cancelled.structuredContent).toEqual({ action: "cancel", content: null });

    const runs = await server.request(
      "GET",
      `/orgs/${agent.org.id}/audit-events/?action=mcp.elicitation`,
      { token: agent.org.owner.token },
    );
    expect(
      (runs.body.results as { metadata: { action: string } }[])
        .map((e) => e.metadata.action)
        .sort(),
    ).toEqual(["accept", "cancel", "decline"]);
  });

  it("never asks a client for what it did not declare: the upstream gets the protocol's error", async () => {
    const agent = await createAgentWithConnection(server, upstream.url);
    // Declares roots only: elicitation and sampling are not relayed.
    const client = await connect(agent, { roots: {} });
    client.setRequestHandler(ListRootsRequestSchema, () => ({
      roots: [{ uri: "file:///work", name: "work" }],
    }));
    const roots = await client.callTool({ name: "list_roots", arguments: {} });
    expect(roots.content).toEqual([{ type: "text", text: "file:///work" }]);
    const refused = await client.callTool({ name: "confirm_delete", arguments: { item: "x" } });
    expect(refused.isError).toBe(true);
    // The SDK's answer for a request the client has no handler for: method not found.
    expect(JSON.stringify(refused.content)).toContain("-32601");

    // A session-less client declared nothing at all: the pooled upstream session refuses what
    // the upstream asks (on its GET stream or on the call's stream) with the protocol's error at
    // once, and answers its ping.
    const bareCall = async (name: string, args: Record<string, unknown>) => {
      const response = await gatewayPost(server.url, agent.agentId, agent.key, {
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name, arguments: args },
      });
      const body = (await response.json()) as { result: { isError?: boolean; content: unknown } };
      return { isError: body.result.isError ?? false, text: JSON.stringify(body.result.content) };
    };
    const sampling = await bareCall("summarize", { text: "t" });
    expect(sampling.isError).toBe(true);
    expect(sampling.text).toContain("-32601");
    expect(sampling.text).toContain("sampling/createMessage");
    const elicitation = await bareCall("confirm_delete", { item: "x" });
    expect(elicitation.isError).toBe(true);
    expect(elicitation.text).toContain("elicitation/create");
    expect(await bareCall("ping_client", {})).toEqual({
      isError: false,
      text: JSON.stringify([{ type: "text", text: "pong" }]),
    });
  });

  it("refuses sampling and elicitation a connection does not allow, and records the refusal", async () => {
    const agent = await createAgentWithConnection(server, upstream.url);
    await server.request("PATCH", `/connections/${agent.connectionId}/`, {
      token: agent.org.owner.token,
      body: { allow_sampling: false, allow_elicitation: false },
    });
    const client = await connect(agent, { sampling: {}, elicitation: {} });
    let asked = 0;
    client.setRequestHandler(CreateMessageRequestSchema, () => {
      asked++;
      return { role: "assistant", model: "m", content: { type: "text", text: "no" } };
    });
    const result = await client.callTool({ name: "summarize", arguments: { text: "t" } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("allow_sampling");
    expect(asked).toBe(0);
    const run = await runOf(agent, "summarize");
    expect(run.relayed).toMatchObject([
      {
        method: "sampling/createMessage",
        outcome: "refused",
        reason: expect.stringContaining("allow_sampling: false"),
      },
    ]);
  });

  describe("answers to relayed requests, across replicas", () => {
    let other: TestServer;
    beforeAll(async () => {
      // A second server process on the same database: what a replica behind a balancer is.
      other = await startTestServer();
    });
    afterAll(async () => {
      await other.close();
    });

    /** Asks the client of `agent` through replica `server`; resolves once the request is sent. */
    async function ask(agent: TestAgent, params: Record<string, unknown> = {}) {
      let sent: (request: JSONRPCRequest) => void = () => undefined;
      const request = new Promise<JSONRPCRequest>((resolve) => {
        sent = resolve;
      });
      const controller = new AbortController();
      const answer = server.runtime.relay.ask(
        {
          orgId: agent.org.id,
          agentId: agent.agentId,
          sessionId: null,
          send: (message) => {
            sent(message);
            return Promise.resolve();
          },
        },
        { method: "elicitation/create", params },
        controller.signal,
        60_000,
      );
      answer.catch(() => undefined);
      return {
        request: await request,
        answer,
        abort: () => {
          controller.abort();
        },
      };
    }

    const rows = (id: string | number) =>
      server.database.db
        .select()
        .from(schema.relayRequests)
        .where(eq(schema.relayRequests.id, String(id)));

    it("relays sampling and elicitation to the SDK client behind a round-robin balancer", async () => {
      const balancer = await startBalancer([server.url, other.url]);
      try {
        const agent = await createAgentWithConnection(server, upstream.url);
        const client = await connect(
          agent,
          { sampling: {}, elicitation: { form: {} } },
          balancer.url,
        );
        client.setRequestHandler(CreateMessageRequestSchema, () => ({
          role: "assistant",
          model: "test-model",
          content: { type: "text", text: "Balanced summary." },
        }));
        client.setRequestHandler(ElicitRequestSchema, () => ({ action: "decline" }));
        for (let call = 0; call < 2; call++) {
          // Two rounds: whichever replica a call reaches, its answers reach the other one too.
          const summary = await client.callTool({ name: "summarize", arguments: { text: "x" } });
          expect(summary.content).toEqual([{ type: "text", text: "Balanced summary." }]);
          const declined = await client.callTool({
            name: "confirm_delete",
            arguments: { item: `item-${call}` },
          });
          expect(declined.structuredContent).toEqual({ action: "decline", content: null });
        }
        const posts = balancer.routed.filter(
          (request) => request.method === "POST" && request.path.startsWith("/mcp/"),
        );
        expect(new Set(posts.map((request) => request.replica))).toEqual(new Set([0, 1]));
      } finally {
        await balancer.close();
      }
    });

    it("routes the client's answer from the replica it reached to the one waiting", async () => {
      const agent = await createAgentWithConnection(server, upstream.url);
      const stranger = await createAgentWithConnection(server, upstream.url);
      const { request, answer } = await ask(agent, { message: "Delete?" });
      expect(request).toMatchObject({
        method: "elicitation/create",
        params: { message: "Delete?" },
      });
      expect(String(request.id)).toMatch(/^relay-[A-Za-z0-9_-]{24}$/);
      expect(await rows(request.id)).toHaveLength(1);

      // Another tenant's agent knowing the id cannot answer it: accepted, and dropped.
      const forged = await gatewayPost(other.url, stranger.agentId, stranger.key, {
        jsonrpc: "2.0",
        id: request.id,
        result: { action: "accept", content: { confirm: true, reason: "forged" } },
      });
      expect(forged.status).toBe(202);
      // Nor can a key of one agent answer at another agent's endpoint.
      const crossed = await gatewayPost(other.url, agent.agentId, stranger.key, {
        jsonrpc: "2.0",
        id: request.id,
        result: { action: "accept", content: { confirm: true, reason: "crossed" } },
      });
      expect(crossed.status).toBe(401);

      const real = await gatewayPost(other.url, agent.agentId, agent.key, {
        jsonrpc: "2.0",
        id: request.id,
        result: { action: "accept", content: { confirm: true, reason: "real" } },
      });
      expect(real.status).toBe(202);
      // First answer wins: had the forged one been taken, this would be it.
      expect(await answer).toEqual({
        action: "accept",
        content: { confirm: true, reason: "real" },
      });
      expect(await rows(request.id)).toHaveLength(0);
    });

    it("routes answers too large for a notification through the table, and errors as errors", async () => {
      const agent = await createAgentWithConnection(server, upstream.url);
      const large = await ask(agent);
      const text = "x".repeat(20_000);
      const posted = await gatewayPost(other.url, agent.agentId, agent.key, {
        jsonrpc: "2.0",
        id: large.request.id,
        result: { role: "assistant", model: "m", content: { type: "text", text } },
      });
      expect(posted.status).toBe(202);
      expect(await large.answer).toEqual({
        role: "assistant",
        model: "m",
        content: { type: "text", text },
      });

      const refused = await ask(agent);
      await gatewayPost(other.url, agent.agentId, agent.key, {
        jsonrpc: "2.0",
        id: refused.request.id,
        error: { code: -1, message: "User rejected sampling request" },
      });
      const error = await refused.answer.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(McpError);
      expect(error).toMatchObject({ code: -1 });
    });

    it("forgets a request whose call ended: a late answer is dropped", async () => {
      const agent = await createAgentWithConnection(server, upstream.url);
      const { request, answer, abort } = await ask(agent);
      abort();
      await expect(answer).rejects.toThrow();
      expect(await rows(request.id)).toHaveLength(0);
      const late = await gatewayPost(other.url, agent.agentId, agent.key, {
        jsonrpc: "2.0",
        id: request.id,
        result: { action: "cancel" },
      });
      expect(late.status).toBe(202);
    });
  });
});
