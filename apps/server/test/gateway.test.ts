import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  LoggingMessageNotificationSchema,
  McpError,
  type Progress,
} from "@modelcontextprotocol/sdk/types.js";
import {
  prepareStdioTestServer,
  startTestMcpServer,
  type RunningTestMcpServer,
  type StdioTestServer,
} from "@mcp/core/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadEnv } from "../src/env";
import { startServer } from "../src/server";
import { originAllowed } from "../src/gateway/http";
import {
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  type TestOrg,
  type TestServer,
  toolCall,
} from "./harness";

describe("gateway origin check (DNS rebinding)", () => {
  const allowed = (request: { origin: string | null; url: URL }, publicOrigin: string | null) =>
    originAllowed(request.origin, () => request.url, publicOrigin);
  const request = (url: string, origin?: string) => ({ origin: origin ?? null, url: new URL(url) });

  it("lets requests without Origin through: native clients send none", () => {
    expect(allowed(request("http://mcp.example.com/mcp/x"), "https://mcp.example.com")).toBe(true);
  });

  it("with PUBLIC_URL, accepts only that origin", () => {
    expect(
      allowed(
        request("https://mcp.example.com/mcp/x", "https://mcp.example.com"),
        "https://mcp.example.com",
      ),
    ).toBe(true);
    expect(
      allowed(
        request("https://mcp.example.com/mcp/x", "https://evil.example"),
        "https://mcp.example.com",
      ),
    ).toBe(false);
    // A rebound name is same-origin with itself, so matching the Host proves nothing.
    expect(
      allowed(
        request("http://evil.example:3000/mcp/x", "http://evil.example:3000"),
        "https://mcp.example.com",
      ),
    ).toBe(false);
  });

  it("without PUBLIC_URL, accepts its own origin only on hosts that cannot be rebound", () => {
    expect(allowed(request("http://127.0.0.1:3000/mcp/x", "http://127.0.0.1:3000"), null)).toBe(
      true,
    );
    expect(allowed(request("http://localhost:3000/mcp/x", "http://localhost:3000"), null)).toBe(
      true,
    );
    expect(allowed(request("http://[::1]:3000/mcp/x", "http://[::1]:3000"), null)).toBe(true);
    expect(
      allowed(request("http://evil.example:3000/mcp/x", "http://evil.example:3000"), null),
    ).toBe(false);
    expect(allowed(request("http://127.0.0.1:3000/mcp/x", "http://localhost:3000"), null)).toBe(
      false,
    );
  });
});

interface Agent {
  id: string;
  name: string;
  mcp_url: string;
}

describe.skipIf(databaseUnavailable)("MCP gateway", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let stdio: StdioTestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    stdio = await prepareStdioTestServer();
    server = await startTestServer({
      MCP_STDIO_SERVERS: JSON.stringify([stdio.declaration("test-server")]),
    });
    upstream = await startTestMcpServer();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  async function created(org: TestOrg, path: string, body: unknown) {
    const response = await server.request("POST", path, { token: org.owner.token, body });
    expect(response.status, `${path}: ${JSON.stringify(response.body)}`).toBe(201);
    return response.body;
  }

  async function connection(
    org: TestOrg,
    body: Record<string, unknown>,
  ): Promise<{ id: string; slug: string; tools: Record<string, string> }> {
    const conn = await created(org, `/orgs/${org.id}/connections/`, {
      name: `conn-${Math.random().toString(36).slice(2, 8)}`,
      ...body,
    });
    const sync = await server.request("POST", `/connections/${conn.id}/sync/`, {
      token: org.owner.token,
    });
    expect(sync.status, JSON.stringify(sync.body)).toBe(200);
    const list = await server.request(
      "GET",
      `/orgs/${org.id}/tools/?connection_id=${conn.id}&limit=200`,
      { token: org.owner.token },
    );
    const tools: Record<string, string> = {};
    for (const tool of list.body.results as { upstream_name: string; id: string }[])
      tools[tool.upstream_name] = tool.id;
    return { id: conn.id, slug: conn.slug, tools };
  }

  const policy = (org: TestOrg, body: Record<string, unknown>) =>
    created(org, `/orgs/${org.id}/policies/`, {
      name: `policy-${Math.random().toString(36).slice(2, 8)}`,
      ...body,
    });

  /** An org with a Streamable HTTP and a stdio connection, an agent, its key and an allow-all policy. */
  async function setup(options: { allowAll?: boolean } = {}) {
    const org = await createOrg(server);
    const http = await connection(org, { transport: "streamable_http", url: upstream.url });
    const local = await connection(org, { transport: "stdio", stdio_server: "test-server" });
    const agent = (await created(org, `/orgs/${org.id}/agents/`, {
      name: `Agent ${Math.random().toString(36).slice(2, 8)}`,
    })) as Agent;
    const { key, id: keyId } = (await created(org, `/agents/${agent.id}/keys/`, {
      name: "test",
    })) as { key: string; id: string };
    if (options.allowAll !== false)
      await policy(org, { effect: "allow", agent_id: agent.id, tool_pattern: "*" });
    return { org, http, local, agent, key, keyId };
  }

  function gatewayUrl(agentId: string, base = server.url): URL {
    return new URL(`${base}/mcp/${agentId}`);
  }

  async function connect(agentId: string, key: string, base?: string): Promise<Client> {
    const client = new Client({ name: "gateway-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(gatewayUrl(agentId, base), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  async function direct(): Promise<Client> {
    const client = new Client({ name: "direct", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(upstream.url)));
    clients.push(client);
    return client;
  }

  function rawPost(agentId: string, body: unknown, headers: Record<string, string> = {}) {
    return fetch(gatewayUrl(agentId), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...headers,
      },
      body: JSON.stringify(body),
    });
  }

  const initialize = (protocolVersion: string) => ({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });

  function textOf(result: unknown): string {
    const content = (result as { content: { type: string; text?: string }[] }).content;
    return content.map((item) => item.text ?? "").join("\n");
  }

  it("initializes as the agent, lists and calls tools of every connection", async () => {
    const { agent, key, local } = await setup();
    const client = await connect(agent.id, key);
    expect(client.getServerVersion()?.name).toBe(agent.name);
    expect(client.getServerCapabilities()).toMatchObject({
      tools: {},
      logging: {},
      prompts: {},
      resources: {},
    });

    const { tools, nextCursor } = await client.listTools();
    expect(nextCursor).toBeUndefined();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "echo",
        "add",
        "mixed",
        "progress",
        `${local.slug}__echo`,
        "env",
        "pid",
      ]),
    );

    const upstreamTools = (await (await direct()).listTools()).tools;
    for (const name of ["echo", "add"]) {
      const listed = tools.find((tool) => tool.name === name);
      const original = upstreamTools.find((tool) => tool.name === name);
      expect(listed?.inputSchema).toEqual(original?.inputSchema);
      expect(listed?.outputSchema).toEqual(original?.outputSchema);
      expect(listed?.annotations).toEqual(original?.annotations);
      expect(listed?.description).toEqual(original?.description);
    }
    expect(tools.find((tool) => tool.name === "add")?.outputSchema).toBeDefined();

    expect(await client.callTool({ name: "echo", arguments: { text: "over http" } })).toEqual({
      content: [{ type: "text", text: "over http" }],
    });
    const viaStdio = await client.callTool({
      name: `${local.slug}__echo`,
      arguments: { text: "over stdio" },
    });
    expect(textOf(viaStdio)).toBe("over stdio");
    expect(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })).toMatchObject({
      structuredContent: { sum: 5 },
    });
    await expect(client.ping()).resolves.toBeDefined();
  });

  it("negotiates protocol versions 2025-06-18 and 2025-11-25, each opening a session", async () => {
    const { agent, key } = await setup();
    for (const version of ["2025-06-18", "2025-11-25"]) {
      const response = await rawPost(agent.id, initialize(version), {
        authorization: `Bearer ${key}`,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("mcp-session-id")).toMatch(/^[\w-]{43}$/);
      const body = (await response.json()) as {
        result: { protocolVersion: string; serverInfo: { name: string } };
      };
      expect(body.result.protocolVersion).toBe(version);
      expect(body.result.serverInfo.name).toBe(agent.name);
    }
    // Any request stands alone: no initialize on this "connection" first.
    const list = await rawPost(
      agent.id,
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      {
        authorization: `Bearer ${key}`,
        "mcp-protocol-version": "2025-11-25",
      },
    );
    expect(list.status).toBe(200);
    expect(
      ((await list.json()) as { result: { tools: unknown[] } }).result.tools.length,
    ).toBeGreaterThan(0);
  });

  it("serves any request from any process: no sticky sessions", async () => {
    const { agent, key } = await setup();
    const second = await startServer(
      loadEnv({
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        NODE_ENV: "test",
        MCP_STDIO_SERVERS: JSON.stringify([stdio.declaration("test-server")]),
      }),
      { database: server.database },
    );
    try {
      const first = await connect(agent.id, key);
      const other = await connect(agent.id, key, second.url);
      expect(textOf(await first.callTool({ name: "echo", arguments: { text: "one" } }))).toBe(
        "one",
      );
      expect(textOf(await other.callTool({ name: "echo", arguments: { text: "two" } }))).toBe(
        "two",
      );
      // A session-less request initialized nowhere on the second process still works.
      const response = await fetch(gatewayUrl(agent.id, second.url), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${key}`,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "ping" }),
      });
      expect(await response.json()).toEqual({ jsonrpc: "2.0", id: 7, result: {} });
    } finally {
      await second.close();
    }
  });

  it("hides denied tools and answers a call to one with the reason", async () => {
    const { org, agent, key } = await setup();
    await policy(org, {
      effect: "deny",
      agent_id: agent.id,
      tool_pattern: "fail",
      name: "no-fail",
    });
    const client = await connect(agent.id, key);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain("echo");
    expect(names).not.toContain("fail");
    const result = await client.callTool({ name: "fail", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Denied by policy 'no-fail'/);
  });

  it("lists nothing by default (default deny) and refuses the call", async () => {
    const { agent, key } = await setup({ allowAll: false });
    const client = await connect(agent.id, key);
    expect((await client.listTools()).tools).toEqual([]);
    const result = await client.callTool({ name: "echo", arguments: { text: "x" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/No allow policy matches tool 'echo'/);
  });

  it("rate limits: the third call within the window is a tool error naming the limit", async () => {
    const { org, agent, key } = await setup();
    await policy(org, {
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "echo",
      name: "echo-limit",
      rate_limit: { max_calls: 2, per_seconds: 3600 },
    });
    const client = await connect(agent.id, key);
    for (const text of ["1", "2"])
      expect(textOf(await client.callTool({ name: "echo", arguments: { text } }))).toBe(text);
    const third = await client.callTool({ name: "echo", arguments: { text: "3" } });
    expect(third.isError).toBe(true);
    expect(textOf(third)).toMatch(/Rate limited by policy 'echo-limit'/);
  });

  it("refuses invalid input as a tool error and an unknown tool as a protocol error", async () => {
    const { agent, key } = await setup();
    const client = await connect(agent.id, key);
    const invalid = await client.callTool({ name: "echo", arguments: { text: 5 } });
    expect(invalid.isError).toBe(true);
    expect(textOf(invalid)).toMatch(/Invalid input: \/text must be string/);

    const unknown = client.callTool({ name: "no_such_tool", arguments: {} });
    await expect(unknown).rejects.toBeInstanceOf(McpError);
    await expect(unknown).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining("Unknown tool: no_such_tool"),
    });
  });

  it("passes every content type, structured content and isError through unchanged", async () => {
    const { agent, key } = await setup();
    const client = await connect(agent.id, key);
    const upstreamClient = await direct();
    for (const [name, args] of [
      ["mixed", {}],
      ["add", { a: 1, b: 2 }],
      ["fail", {}],
    ] as const) {
      const viaGateway = await client.callTool({ name, arguments: args });
      const viaUpstream = await upstreamClient.callTool({ name, arguments: args });
      expect(viaGateway).toEqual(viaUpstream);
    }
    const mixed = await client.callTool({ name: "mixed", arguments: {} });
    expect((mixed.content as { type: string }[]).map((item) => item.type)).toEqual([
      "text",
      "image",
      "audio",
      "resource",
      "resource_link",
    ]);
  });

  it("forwards progress (only with a progress token) and log notifications of a call", async () => {
    const { agent, key } = await setup();
    const client = await connect(agent.id, key);
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      logs.push(notification.params);
    });
    const progress: Progress[] = [];
    const result = await client.callTool(
      { name: "progress", arguments: { steps: 3, delayMs: 5 } },
      undefined,
      {
        onprogress: (update) => progress.push(update),
      },
    );
    expect(textOf(result)).toBe("completed 3 steps");
    expect(progress.map((update) => [update.progress, update.total])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(progress[0]?.message).toBe("step 1 of 3");
    expect(logs).toEqual(
      [1, 2, 3].map((step) => ({ level: "info", logger: "progress", data: { step } })),
    );

    // Without a progress token: the SSE stream carries only the logs and the result.
    const response = await rawPost(
      agent.id,
      {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { name: "progress", arguments: { steps: 2, delayMs: 0 } },
      },
      { authorization: `Bearer ${key}`, "mcp-protocol-version": "2025-11-25" },
    );
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const stream = await response.text();
    expect(stream).not.toContain("notifications/progress");
    expect(stream.match(/notifications\/message/g)).toHaveLength(2);

    // A call that sends no notifications is answered with plain JSON.
    const plain = await rawPost(
      agent.id,
      {
        jsonrpc: "2.0",
        id: 4,
        method: "tools/call",
        params: { name: "echo", arguments: { text: "json" } },
      },
      { authorization: `Bearer ${key}`, "mcp-protocol-version": "2025-11-25" },
    );
    expect(plain.headers.get("content-type")).toBe("application/json");
    expect(await plain.json()).toEqual({
      jsonrpc: "2.0",
      id: 4,
      result: { content: [{ type: "text", text: "json" }] },
    });
  });

  it("aggregates prompts and resources of every connection, namespacing clashing prompt names", async () => {
    const { org, agent, key } = await setup();
    const twin = await connection(org, {
      transport: "streamable_http",
      url: upstream.url,
      name: "Twin Server",
    });
    await policy(org, { effect: "allow", agent_id: agent.id, target: "prompt", tool_pattern: "*" });
    await policy(org, {
      effect: "allow",
      agent_id: agent.id,
      target: "resource",
      tool_pattern: "*",
    });
    const client = await connect(agent.id, key);

    const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name);
    expect(prompts).toEqual(["greeting", `${twin.slug}__greeting`]);
    const plain = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
    expect(plain.messages[0]?.content).toEqual({ type: "text", text: "Please greet Ada warmly." });
    const namespaced = await client.getPrompt({
      name: `${twin.slug}__greeting`,
      arguments: { name: "Bob" },
    });
    expect(namespaced.messages[0]?.content).toEqual({
      type: "text",
      text: "Please greet Bob warmly.",
    });
    await expect(client.getPrompt({ name: "nope" })).rejects.toMatchObject({ code: -32602 });

    const { resources } = await client.listResources();
    expect(resources.map((resource) => resource.uri)).toEqual(["test://readme"]);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((template) => template.uriTemplate)).toEqual([
      "test://items/{id}",
    ]);
    const readme = await client.readResource({ uri: "test://readme" });
    expect(readme.contents).toEqual([
      { uri: "test://readme", mimeType: "text/plain", text: "This is the test server readme." },
    ]);
    // A URI of a template (e.g. a resource_link from a tool result) reaches the server that has it.
    const item = await client.readResource({ uri: "test://items/42" });
    expect(item.contents[0]).toMatchObject({
      uri: "test://items/42",
      text: JSON.stringify({ id: "42" }),
    });
    await expect(client.readResource({ uri: "test://missing" })).rejects.toMatchObject({
      code: -32002,
    });
  });

  it("governs prompts and resources like tools: default deny, deny wins, reads recorded and audited", async () => {
    const { org, agent, key } = await setup({ allowAll: false });
    await policy(org, { effect: "deny", agent_id: agent.id, tool_pattern: "*" });
    const client = await connect(agent.id, key);

    // Nothing allows this agent any prompt or resource: it sees nothing and reads nothing.
    expect((await client.listPrompts()).prompts).toEqual([]);
    expect((await client.listResources()).resources).toEqual([]);
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([]);
    await expect(
      client.getPrompt({ name: "greeting", arguments: { name: "Ada" } }),
    ).rejects.toMatchObject({
      code: -32600,
      message: expect.stringMatching(/No allow policy matches prompt 'greeting'/),
    });
    await expect(client.readResource({ uri: "test://readme" })).rejects.toMatchObject({
      code: -32600,
      message: expect.stringMatching(/No allow policy matches resource 'test:\/\/readme'/),
    });

    // One allow opens exactly one prompt and one resource.
    await policy(org, {
      effect: "allow",
      agent_id: agent.id,
      target: "prompt",
      tool_pattern: "greet*",
      rate_limit: { max_calls: 1, per_seconds: 3600 },
    });
    await policy(org, {
      effect: "allow",
      agent_id: agent.id,
      target: "resource",
      tool_pattern: "test://readme",
    });
    expect((await client.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(["greeting"]);
    expect((await client.listResources()).resources.map((resource) => resource.uri)).toEqual([
      "test://readme",
    ]);
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([]);
    const greeting = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
    expect(greeting.messages[0]?.content).toEqual({
      type: "text",
      text: "Please greet Ada warmly.",
    });
    await expect(
      client.getPrompt({ name: "greeting", arguments: { name: "Bob" } }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/Rate limited by policy/) });
    const readme = await client.readResource({ uri: "test://readme" });
    expect(readme.contents[0]).toMatchObject({ text: "This is the test server readme." });
    await expect(client.readResource({ uri: "test://items/42" })).rejects.toMatchObject({
      code: -32600,
    });

    // Deny wins over the allow.
    await policy(org, {
      effect: "deny",
      agent_id: agent.id,
      target: "resource",
      tool_pattern: "test://*",
    });
    expect((await client.listResources()).resources).toEqual([]);
    await expect(client.readResource({ uri: "test://readme" })).rejects.toMatchObject({
      message: expect.stringMatching(/Denied by policy/),
    });

    // The gateway answers before its records are written: they follow within a write.
    const auditOf = async (action: string) =>
      (
        await server.request("GET", `/orgs/${org.id}/audit-events/?action=${action}`, {
          token: org.owner.token,
        })
      ).body.results as Record<string, unknown>[];
    await expect.poll(() => auditOf("prompt.get")).toHaveLength(3);
    await expect.poll(() => auditOf("resource.read")).toHaveLength(4);
    const runsOf = async (kind: string) =>
      (
        await server.request("GET", `/orgs/${org.id}/runs/?kind=${kind}`, {
          token: org.owner.token,
        })
      ).body.results as Record<string, unknown>[];
    const prompts = await runsOf("prompt");
    expect(prompts.map((run) => run.status)).toEqual(["rate_limited", "succeeded", "denied"]);
    expect(prompts[1]).toMatchObject({
      kind: "prompt",
      tool_id: null,
      tool_name: "greeting",
      agent_id: agent.id,
      user_id: null,
      input: { name: "Ada" },
      output: { messages: [{ content: { text: "Please greet Ada warmly." } }] },
      decision: { allowed: true },
      triggered_by: { type: "agent", id: agent.id, surface: "mcp" },
    });
    const resources = await runsOf("resource");
    expect(resources.map((run) => [run.tool_name, run.status])).toEqual([
      ["test://readme", "denied"],
      ["test://items/42", "denied"],
      ["test://readme", "succeeded"],
      ["test://readme", "denied"],
    ]);
    expect(resources[2]).toMatchObject({ input: { uri: "test://readme" } });
    expect((await auditOf("resource.read"))[1]).toMatchObject({
      actor_type: "agent",
      actor_id: agent.id,
      target_type: "run",
      metadata: { kind: "resource", tool_name: "test://items/42", status: "denied" },
    });

    // The evaluate endpoint decides prompts and resources the same way.
    const evaluated = await server.request("POST", `/orgs/${org.id}/policies/evaluate/`, {
      token: org.owner.token,
      body: { agent_id: agent.id, target: "prompt", name: "greeting" },
    });
    expect(evaluated.body).toMatchObject({ allowed: true });
    const missingName = await server.request("POST", `/orgs/${org.id}/policies/evaluate/`, {
      token: org.owner.token,
      body: { target: "resource" },
    });
    expect(missingName.status).toBe(400);
    expect(missingName.body.issues[0].path).toBe("name");
  });

  it("advertises prompts and resources only when a connection offers them; skips broken connections", async () => {
    const org = await createOrg(server);
    await connection(org, { transport: "stdio", stdio_server: "test-server" });
    // A connection that is down must not break the endpoint.
    await created(org, `/orgs/${org.id}/connections/`, {
      name: "down",
      transport: "streamable_http",
      url: "http://127.0.0.1:9/mcp",
      timeout_ms: 500,
    });
    const agent = (await created(org, `/orgs/${org.id}/agents/`, { name: "stdio only" })) as Agent;
    const { key } = (await created(org, `/agents/${agent.id}/keys/`, {})) as { key: string };
    await policy(org, { effect: "allow", tool_pattern: "*" });
    const client = await connect(agent.id, key);
    const capabilities = client.getServerCapabilities();
    expect(capabilities).toMatchObject({ tools: {}, logging: {} });
    expect(capabilities?.prompts).toBeUndefined();
    expect(capabilities?.resources).toBeUndefined();
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("echo");
  });

  it("refuses at once a disabled agent and a revoked key", async () => {
    const { org, agent, key, keyId } = await setup();
    const client = await connect(agent.id, key);
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "before" } }))).toBe(
      "before",
    );

    const disabled = await server.request("PATCH", `/agents/${agent.id}/`, {
      token: org.owner.token,
      body: { status: "disabled" },
    });
    expect(disabled.status).toBe(200);
    await expect(
      client.callTool({ name: "echo", arguments: { text: "after" } }),
    ).rejects.toMatchObject({ code: 401 });
    await expect(connect(agent.id, key)).rejects.toMatchObject({ code: 401 });

    await server.request("PATCH", `/agents/${agent.id}/`, {
      token: org.owner.token,
      body: { status: "active" },
    });
    const again = await connect(agent.id, key);
    expect(textOf(await again.callTool({ name: "echo", arguments: { text: "enabled" } }))).toBe(
      "enabled",
    );
    const revoked = await server.request("DELETE", `/agents/${agent.id}/keys/${keyId}/`, {
      token: org.owner.token,
    });
    expect(revoked.status).toBe(204);
    await expect(
      again.callTool({ name: "echo", arguments: { text: "revoked" } }),
    ).rejects.toMatchObject({ code: 401 });
    const response = await rawPost(agent.id, initialize("2025-11-25"), {
      authorization: `Bearer ${key}`,
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it("refuses missing and wrong keys with 401 + WWW-Authenticate, other agents' ids, bad origins and GET/DELETE", async () => {
    const { org, agent, key } = await setup();
    const missing = await rawPost(agent.id, initialize("2025-11-25"));
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    const wrong = await rawPost(agent.id, initialize("2025-11-25"), {
      authorization: "Bearer mcpa_not-a-real-key",
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    const userToken = await rawPost(agent.id, initialize("2025-11-25"), {
      authorization: `Bearer ${org.owner.token}`,
    });
    expect(userToken.status).toBe(401);

    // Another agent of the same org, and an agent of another org: the key opens neither.
    const sibling = (await created(org, `/orgs/${org.id}/agents/`, { name: "sibling" })) as Agent;
    const foreign = await setup();
    for (const otherId of [sibling.id, foreign.agent.id]) {
      const response = await rawPost(otherId, initialize("2025-11-25"), {
        authorization: `Bearer ${key}`,
      });
      expect([401, 404]).toContain(response.status);
      expect(response.headers.get("www-authenticate")).toBeTruthy();
    }

    const evil = await rawPost(agent.id, initialize("2025-11-25"), {
      authorization: `Bearer ${key}`,
      origin: "http://evil.example",
    });
    expect(evil.status).toBe(403);
    const own = await rawPost(agent.id, initialize("2025-11-25"), {
      authorization: `Bearer ${key}`,
      origin: server.url,
    });
    expect(own.status).toBe(200);

    for (const method of ["GET", "DELETE"]) {
      const response = await fetch(gatewayUrl(agent.id), {
        method,
        headers: { authorization: `Bearer ${key}`, accept: "text/event-stream" },
      });
      expect(response.status).toBe(405);
    }
  });

  it("shows tools added upstream after a sync and hides a disabled tool", async () => {
    const changing = await startTestMcpServer();
    try {
      const org = await createOrg(server);
      const conn = await connection(org, { transport: "streamable_http", url: changing.url });
      const agent = (await created(org, `/orgs/${org.id}/agents/`, { name: "watcher" })) as Agent;
      const { key } = (await created(org, `/agents/${agent.id}/keys/`, {})) as { key: string };
      await policy(org, { effect: "allow", tool_pattern: "*" });
      const client = await connect(agent.id, key);
      const names = async () => (await client.listTools()).tools.map((tool) => tool.name);
      expect(await names()).not.toContain("added_in_v2");

      changing.setToolsVersion(2);
      await server.request("POST", `/connections/${conn.id}/sync/`, { token: org.owner.token });
      expect(await names()).toContain("added_in_v2");
      expect(textOf(await client.callTool({ name: "added_in_v2", arguments: {} }))).toBe(
        "added_in_v2",
      );

      const patched = await server.request("PATCH", `/tools/${conn.tools.echo}/`, {
        token: org.owner.token,
        body: { enabled: false },
      });
      expect(patched.status).toBe(200);
      expect(await names()).not.toContain("echo");
      const call = await client.callTool({ name: "echo", arguments: { text: "x" } });
      expect(call.isError).toBe(true);
      expect(textOf(call)).toMatch(/Tool 'echo' is disabled/);
    } finally {
      await changing.close();
    }
  });

  it("paginates a long tool list with an opaque cursor", async () => {
    const big = await startTestMcpServer({ builtinTools: false, generatedTools: 1250 });
    try {
      const org = await createOrg(server);
      await connection(org, { transport: "streamable_http", url: big.url });
      const agent = (await created(org, `/orgs/${org.id}/agents/`, { name: "pager" })) as Agent;
      const { key } = (await created(org, `/agents/${agent.id}/keys/`, {})) as { key: string };
      await policy(org, { effect: "allow", tool_pattern: "generated_*" });
      await policy(org, { effect: "deny", tool_pattern: "generated_01*" });
      const client = await connect(agent.id, key);
      const pages: number[] = [];
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor });
        pages.push(page.tools.length);
        seen.push(...page.tools.map((tool) => tool.name));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      // 1,250 tools minus generated_0100 … generated_0199, 1,000 a page.
      expect(pages).toEqual([1000, 150]);
      expect(new Set(seen).size).toBe(1150);
      expect(seen.some((name) => name.startsWith("generated_01"))).toBe(false);
      await expect(client.listTools({ cursor: "garbage" })).rejects.toMatchObject({ code: -32602 });
    } finally {
      await big.close();
    }
  });

  it("records a run and an audit event for every call, whatever its outcome", async () => {
    const { org, agent, key } = await setup();
    await policy(org, { effect: "deny", agent_id: agent.id, tool_pattern: "fail" });
    const client = await connect(agent.id, key);
    await client.callTool({ name: "echo", arguments: { text: "ok" } });
    await client.callTool({ name: "fail", arguments: {} });
    await client.callTool({ name: "echo", arguments: { text: 1 } });

    // The gateway answers before its records are written: they follow within a write.
    const list = (path: string) => server.request("GET", path, { token: org.owner.token });
    await expect
      .poll(async () => (await list(`/orgs/${org.id}/audit-events/?action=tool.run`)).body.results)
      .toHaveLength(3);
    const runs = await list(`/orgs/${org.id}/runs/?agent_id=${agent.id}`);
    expect(runs.status).toBe(200);
    const results = runs.body.results as {
      status: string;
      tool_name: string;
      triggered_by: unknown;
      agent_id: string;
      request_id: string | null;
    }[];
    expect(results.map((run) => [run.tool_name, run.status]).sort()).toEqual([
      ["echo", "failed"],
      ["echo", "succeeded"],
      ["fail", "denied"],
    ]);
    for (const run of results) {
      expect(run.triggered_by).toEqual({ type: "agent", id: agent.id, surface: "mcp" });
      expect(run.agent_id).toBe(agent.id);
    }
    // Each call's HTTP request id is on its run, as in the logs.
    expect(new Set(results.map((run) => run.request_id)).size).toBe(3);
    for (const run of results) expect(run.request_id).toMatch(/^[\w-]{8,}$/);
    const audit = await list(`/orgs/${org.id}/audit-events/?action=tool.run`);
    const events = audit.body.results as {
      actor_type: string;
      actor_id: string;
      metadata: { surface: string };
    }[];
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event).toMatchObject({
        actor_type: "agent",
        actor_id: agent.id,
        metadata: { surface: "mcp" },
      });
    }
  });

  it("answers tools/call in a batch, with a wrong Accept or an unknown protocol version as the SDK transport does", async () => {
    const { agent, key } = await setup();
    const auth = { authorization: `Bearer ${key}` };
    const call = (id: number, text: string) => ({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name: "echo", arguments: { text } },
    });

    const batch = await rawPost(agent.id, [call(1, "a"), call(2, "b")], auth);
    expect(batch.status).toBe(200);
    const events = (await batch.text())
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)) as { id: number; result: unknown });
    expect(events.map((event) => event.id).sort()).toEqual([1, 2]);

    const notAcceptable = await rawPost(agent.id, call(3, "c"), {
      ...auth,
      accept: "application/json",
    });
    expect(notAcceptable.status).toBe(406);
    const unknownVersion = await rawPost(agent.id, call(4, "d"), {
      ...auth,
      "mcp-protocol-version": "1999-01-01",
    });
    expect(unknownVersion.status).toBe(400);
    const invalidParams = await rawPost(
      agent.id,
      { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: 42 } },
      auth,
    );
    expect(invalidParams.headers.get("content-type")).toBe("application/json");
    expect(await invalidParams.json()).toEqual({
      jsonrpc: "2.0",
      id: 5,
      error: {
        code: -32602,
        message: "Invalid params: params.name: Invalid input: expected string, received number",
      },
    });
  });

  it("refuses arguments nested deeper than the API allows; recording goes on for everyone", async () => {
    const denied = await setup({ allowAll: false });
    const other = await setup();
    // ~36 KB nesting 6,000 levels: written by hand, JSON.stringify itself would overflow.
    const deep = `${'{"a":'.repeat(6_000)}{}${"}".repeat(6_000)}`;
    const response = await fetch(gatewayUrl(denied.agent.id), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${denied.key}`,
      },
      body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":${deep}}}`,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      jsonrpc: "2.0",
      id: 7,
      error: {
        code: -32602,
        message: "Invalid params: params.arguments: Nested deeper than 100 levels",
      },
    });
    // The REST API refuses the same input by the same rule, naming the field.
    const rest = await server.request("POST", `/tools/${denied.http.tools.echo}/run/`, {
      token: denied.org.owner.token,
      body: `{"input":${deep}}`,
    });
    expect(rest.status).toBe(400);
    expect(rest.body.issues).toEqual([{ path: "input", message: "Nested deeper than 100 levels" }]);

    // Another org's calls are still recorded, and its runs and audit events read.
    const client = await connect(other.agent.id, other.key);
    await client.callTool({ name: "echo", arguments: { text: "still recorded" } });
    const read = (path: string) => server.request("GET", path, { token: other.org.owner.token });
    await expect
      .poll(async () => (await read(`/orgs/${other.org.id}/runs/?limit=1`)).body.results)
      .toMatchObject([{ status: "succeeded", input: { text: "still recorded" } }]);
    await expect
      .poll(async () => (await read(`/orgs/${other.org.id}/audit-events/?action=tool.run`)).body)
      .toMatchObject({ results: [{ action: "tool.run" }] });
    const deniedRuns = await server.request("GET", `/orgs/${denied.org.id}/runs/`, {
      token: denied.org.owner.token,
    });
    expect(deniedRuns.body.results).toEqual([]);
  });

  it("cancels the upstream call when the client hangs up, and records it", async () => {
    const { org, agent, key } = await setup();
    const aborted = new AbortController();
    const started = upstream.nextCall("started", "slow");
    const pending = gatewayPost(
      server.url,
      agent.id,
      key,
      toolCall("slow", { ms: 30_000 }),
      aborted.signal,
    );
    await started;
    aborted.abort();
    await expect(pending).rejects.toThrow();
    const ended = async () => {
      const runs = await server.request("GET", `/orgs/${org.id}/runs/?agent_id=${agent.id}`, {
        token: org.owner.token,
      });
      return (runs.body.results as { tool_name: string; status: string; error: string | null }[])
        .filter((run) => run.tool_name === "slow")
        .map((run) => [run.status, run.error]);
    };
    await expect
      .poll(ended, { timeout: 10_000 })
      .toEqual([["failed", expect.stringMatching(/cancel/i)]]);
  });

  it("gives the agent's endpoint and a ready client configuration", async () => {
    const { agent, org } = await setup();
    const response = await server.request("GET", `/agents/${agent.id}/`, {
      token: org.owner.token,
    });
    expect(response.body.mcp_url).toBe(`${server.url}/mcp/${agent.id}`);
    const config = response.body.mcp_client_config as {
      mcpServers: Record<string, { type: string; url: string; headers: Record<string, string> }>;
    };
    const entries = Object.values(config.mcpServers);
    expect(entries).toEqual([
      {
        type: "http",
        url: `${server.url}/mcp/${agent.id}`,
        headers: { Authorization: "Bearer <YOUR_AGENT_KEY>" },
      },
    ]);
  });
});
