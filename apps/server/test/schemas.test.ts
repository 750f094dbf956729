import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { AppRouter } from "@mcp/api";
import {
  hostileJsonSchema,
  startTestMcpServer,
  watchEventLoop,
  type RunningTestMcpServer,
  type TestTool,
} from "@mcp/core/testing";
import { createTRPCClient, httpLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import { createOrg, databaseUnavailable, startTestServer, type TestServer } from "./harness";

const text = (value: string) => ({ content: [{ type: "text" as const, text: value }] });

/** Declared z, a, m: jsonb would hand them back as a, m, z. */
const orderedSchema = {
  type: "object",
  properties: { z: { type: "string" }, a: { type: "number" }, m: { type: "boolean" } },
  required: ["z", "a"],
};

/** 40 levels of `allOf` over two `$ref`s to the next level: 2^40 subschema applications. */
function fanOutSchema(levels: number) {
  const $defs: Record<string, object> = { [`d${levels}`]: { type: "string" } };
  for (let i = 0; i < levels; i++) {
    const next = { $ref: `#/$defs/d${i + 1}` };
    $defs[`d${i}`] = { allOf: [next, next] };
  }
  return {
    type: "object",
    $defs,
    properties: { s: { $ref: "#/$defs/d0" } },
  };
}

// Tools of a hostile upstream server: their schemas are whatever it says.
const LONG_NAME = "a".repeat(38);
const hostileTools: TestTool[] = [
  { name: "ordered", inputSchema: orderedSchema, handler: () => text("ok") },
  {
    name: "redos",
    inputSchema: { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } },
    handler: () => text("ok"),
  },
  {
    name: "lookahead",
    inputSchema: { type: "object", properties: { s: { type: "string", pattern: "^(?=a)a" } } },
    handler: () => text("ok"),
  },
  { name: "fanout", inputSchema: fanOutSchema(40), handler: () => text("ok") },
  { name: LONG_NAME, inputSchema: { type: "object" }, handler: () => text("ok") },
];

describe.skipIf(databaseUnavailable)("tool and policy schemas", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  const clients: Client[] = [];
  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer({ builtinTools: false, tools: hostileTools });
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    await server.close();
    await upstream.close();
  });

  async function setup() {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const agent = (await g.agent()) as { id: string };
    const { key } = (await g.key(agent.id)) as { key: string };
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const client = new Client({ name: "schemas-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${agent.id}`), {
        requestInit: { headers: { Authorization: `Bearer ${key}` } },
      }),
    );
    clients.push(client);
    const tools = (id: string | undefined) => id ?? "";
    return {
      org,
      g,
      connection,
      agent,
      client,
      toolId: (name: string) => tools(connection.tools[name]),
    };
  }

  it("keeps the key order of tool schemas through REST, tRPC and the gateway's tools/list", async () => {
    const { org, connection, client, toolId } = await setup();
    const token = org.owner.token;
    const rest = await server.request("GET", `/tools/${toolId("ordered")}/`, { token });
    expect(rest.status).toBe(200);
    expect(Object.keys(rest.body.input_schema)).toEqual(["type", "properties", "required"]);
    expect(Object.keys(rest.body.input_schema.properties)).toEqual(["z", "a", "m"]);

    const listed = await server.request(
      "GET",
      `/orgs/${org.id}/tools/?connection_id=${connection.id}&q=ordered`,
      { token },
    );
    expect(Object.keys(listed.body.results[0].input_schema.properties)).toEqual(["z", "a", "m"]);

    const trpc = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Token ${token}` } }),
      ],
    });
    const typed = await trpc.tools.get.query({ id: toolId("ordered") });
    expect(Object.keys(typed.input_schema.properties as object)).toEqual(["z", "a", "m"]);

    const { tools } = await client.listTools();
    const ordered = tools.find((tool) => tool.name === "ordered");
    expect(Object.keys(ordered?.inputSchema.properties ?? {})).toEqual(["z", "a", "m"]);
  });

  it("keeps the key order of hand-registered tool schemas and policy input schemas", async () => {
    const { org, g, connection } = await setup();
    const token = org.owner.token;
    const manual = await server.request("POST", `/orgs/${org.id}/tools/`, {
      token,
      body: {
        connection_id: connection.id,
        upstream_name: "manual",
        input_schema: orderedSchema,
        output_schema: { type: "object", properties: { y: {}, b: {} } },
      },
    });
    expect(manual.status).toBe(201);
    const tool = await server.request("GET", `/tools/${manual.body.id}/`, { token });
    expect(Object.keys(tool.body.input_schema.properties)).toEqual(["z", "a", "m"]);
    expect(Object.keys(tool.body.output_schema.properties)).toEqual(["y", "b"]);

    const policy = (await g.policy({
      effect: "allow",
      tool_pattern: "*",
      input_schema: orderedSchema,
    })) as { id: string };
    const read = await server.request("GET", `/policies/${policy.id}/`, { token });
    expect(Object.keys(read.body.input_schema.properties)).toEqual(["z", "a", "m"]);
  });

  it("never blocks the event loop on hostile upstream schemas, patterns and globs", async () => {
    const { org, g, agent, client, toolId } = await setup();
    // Every schema here is compiled for the first time inside the measured stretch.
    const blocked = watchEventLoop();
    const first = await g.run(toolId("ordered"), { input: { z: "x", a: 1 } });
    expect(first.body.status).toBe("succeeded");
    // ^(a+)+$ against 28 characters blocked for 5 s on a backtracking engine, doubling per character.
    const redos = await g.run(toolId("redos"), { input: { s: `${"a".repeat(28)}b` } });
    expect(redos.body.status).toBe("failed");
    expect(redos.body.error).toMatch(/Invalid input: \/s must match pattern/);
    const viaGateway = await client.callTool({
      name: "redos",
      arguments: { s: `${"a".repeat(60)}b` },
    });
    expect(viaGateway.isError).toBe(true);
    expect(JSON.stringify(viaGateway.content)).toMatch(/must match pattern/);
    expect((await g.run(toolId("redos"), { input: { s: "a".repeat(60) } })).body.status).toBe(
      "succeeded",
    );

    // A pattern RE2 cannot run is refused with the reason, not run by a backtracking engine.
    const lookahead = await g.run(toolId("lookahead"), { input: { s: "a" } });
    expect(lookahead.body.status).toBe("failed");
    expect(lookahead.body.error).toMatch(/not a valid JSON Schema.*lookahead \(\?=.*RE2/);

    // $ref fan-out stops at the step budget.
    const fanout = await g.run(toolId("fanout"), { input: { s: "x" } });
    expect(fanout.body.status).toBe("failed");
    expect(fanout.body.error).toMatch(/Value too large to check/);

    // A policy glob that made picomatch take 1.4 s on a 38-character name, growing as n^8.
    await g.policy({ effect: "deny", agent_id: agent.id, tool_pattern: "*a*a*a*a*a*a*a*a*b" });
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain(LONG_NAME);
    const evaluated = await server.request("POST", `/orgs/${org.id}/policies/evaluate/`, {
      token: org.owner.token,
      body: { agent_id: agent.id, tool_id: toolId(LONG_NAME), input: {} },
    });
    expect(evaluated.body.allowed).toBe(true);

    expect(blocked()).toBeLessThan(50);
  });

  it("never blocks the event loop compiling a schema at the limits, from upstream or from people", async () => {
    // Each compile of this schema held the event loop for seconds (~1,000 RE2 programs, ajv's
    // code generation, V8 compiling the result): synced, called, registered and used as a
    // policy's input schema, it is compiled for the first time inside the measured stretch.
    const schema = hostileJsonSchema("limits");
    const letters = "q".repeat(1000);
    const hostile = await startTestMcpServer({
      builtinTools: false,
      tools: [{ name: "hostile", inputSchema: schema, handler: () => text("ran") }],
    });
    try {
      const org = await createOrg(server);
      const token = org.owner.token;
      const g = governance(server, org);
      const blocked = watchEventLoop();
      const connection = await g.syncedConnection({
        transport: "streamable_http",
        url: hostile.url,
      });
      const toolId = connection.tools.hostile ?? "";
      const agent = (await g.agent()) as { id: string };
      const { key } = (await g.key(agent.id)) as { key: string };
      await g.policy({ effect: "allow", tool_pattern: "*" });
      const denyLong = (await g.policy({
        effect: "deny",
        tool_pattern: "hostile",
        input_schema: { ...hostileJsonSchema("policy"), required: ["p0"] },
      })) as { id: string };

      const ok = await g.run(toolId, { input: { p0: `${letters}limits0` } });
      expect(ok.body.status, JSON.stringify(ok.body)).toBe("succeeded");
      const bad = await g.run(toolId, {
        input: { p0: `${letters}limits1`, p1: `${"a".repeat(40)}!` },
      });
      expect(bad.body.status).toBe("failed");
      expect(bad.body.error).toBe(
        'Invalid input: /p0 must match pattern "^[a-z]{1000}limits0$"; /p1 must match pattern "^(a+)+limits1$"; /p1 must match format "email"',
      );
      const denied = await g.run(toolId, { input: { p0: `${letters}policy0` } });
      expect(denied.body.status).toBe("denied");
      expect(denied.body.error).toContain("Denied by policy");

      const client = new Client({ name: "schemas-test", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${agent.id}`), {
          requestInit: { headers: { Authorization: `Bearer ${key}` } },
        }),
      );
      clients.push(client);
      const viaGateway = await client.callTool({ name: "hostile", arguments: { p2: 3 } });
      expect(viaGateway.isError).toBe(true);
      expect(JSON.stringify(viaGateway.content)).toContain("/p2 must be string");

      const evaluated = await server.request("POST", `/orgs/${org.id}/policies/evaluate/`, {
        token,
        body: { agent_id: agent.id, tool_id: toolId, input: { p0: `${letters}policy0` } },
      });
      expect(evaluated.body.deny_policies).toEqual([denyLong.id]);

      const manual = await server.request("POST", `/orgs/${org.id}/tools/`, {
        token,
        body: {
          connection_id: connection.id,
          upstream_name: "manual",
          input_schema: hostileJsonSchema("manual"),
        },
      });
      expect(manual.status).toBe(201);
      const broken = await server.request("POST", `/orgs/${org.id}/policies/`, {
        token,
        body: {
          name: "broken",
          effect: "deny",
          tool_pattern: "*",
          input_schema: {
            type: "object",
            properties: {
              ...(hostileJsonSchema("broken").properties as object),
              p0: { pattern: "(?=x)" },
            },
          },
        },
      });
      expect(broken.status).toBe(400);
      expect(broken.body.issues[0].message).toMatch(/\/properties\/p0\/pattern .*lookahead/);

      expect(blocked()).toBeLessThan(50);
    } finally {
      await hostile.close();
    }
  }, 600_000);

  it("refuses unsupported patterns in schemas people submit, naming the field", async () => {
    const { org, connection } = await setup();
    const token = org.owner.token;
    const policy = await server.request("POST", `/orgs/${org.id}/policies/`, {
      token,
      body: {
        name: "lookbehind",
        effect: "deny",
        tool_pattern: "*",
        input_schema: { properties: { s: { pattern: "(?<!x)y" } } },
      },
    });
    expect(policy.status).toBe(400);
    expect(policy.body.issues[0].path).toBe("input_schema");
    expect(policy.body.issues[0].message).toMatch(
      /\/properties\/s\/pattern pattern "\(\?<!x\)y" uses the lookbehind/,
    );
    const tool = await server.request("POST", `/orgs/${org.id}/tools/`, {
      token,
      body: {
        connection_id: connection.id,
        upstream_name: "backref",
        input_schema: { patternProperties: { "(a)\\1": {} } },
      },
    });
    expect(tool.status).toBe(400);
    expect(tool.body.issues[0].path).toBe("input_schema");
    expect(tool.body.issues[0].message).toMatch(/backreference \\1/);
    const huge = await server.request("POST", `/orgs/${org.id}/tools/`, {
      token,
      body: {
        connection_id: connection.id,
        upstream_name: "huge_enum",
        input_schema: { properties: { s: { enum: Array.from({ length: 1001 }, (_, i) => i) } } },
      },
    });
    expect(huge.status).toBe(400);
    expect(huge.body.issues[0].message).toMatch(/\/properties\/s\/enum has 1001 values/);
  });
});
