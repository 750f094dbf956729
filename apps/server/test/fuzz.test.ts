import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ERROR_CODES } from "@mcp/api/contracts";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  CONTENT_TYPES,
  HOSTILE_STRINGS,
  hostileSegment,
  hostileValue,
  percentEncode,
  RAW_BODIES,
  SchemaArbitraries,
  type JsonSchema,
} from "./fuzz-inputs";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  registerUser,
  startTestServer,
  type TestOrg,
  type TestServer,
  type TestUser,
} from "./harness";

/*
 * Property-based fuzzing of the whole HTTP surface: every REST operation of the served OpenAPI
 * document, and the MCP gateway's JSON-RPC. Whatever arrives, the answer is never a 5xx, every
 * failure has the one documented error shape, and the server is healthy afterwards.
 *
 * The seed is fixed so a run is reproducible; FUZZ_SEED=<n> explores others, and a failure prints
 * the seed and the shrunk request that reproduces it.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_201);
/** FUZZ_SCALE=<n> multiplies every run count, to explore longer than the suite does. */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const RUNS_PER_OPERATION = 8 * SCALE;
const TRPC_RUNS_PER_OPERATION = 4 * SCALE;
const OTHER_RUNS = 60 * SCALE;
const GATEWAY_RUNS = 150 * SCALE;

const errorShape = z.strictObject({
  code: z.enum(ERROR_CODES).exclude(["INTERNAL_SERVER_ERROR"]),
  message: z.string().min(1),
  issues: z.array(z.strictObject({ path: z.string(), message: z.string().min(1) })).optional(),
  request_id: z.string().min(1),
});

interface Operation {
  method: string;
  path: string;
  procedure: string;
  parameters: { in: string; name: string; schema: JsonSchema }[];
  body: JsonSchema | undefined;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, JsonSchema> };
}

interface FuzzRequest {
  method: string;
  /** Under /api/v1, exactly as sent (path segments are not re-encoded). */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

interface FuzzResponse {
  status: number;
  contentType: string;
  text: string;
}

function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => {
      const content = (
        operation.requestBody as { content?: Record<string, { schema?: JsonSchema }> } | undefined
      )?.content;
      return {
        method: method.toUpperCase(),
        path,
        procedure: String(operation["x-trpc-procedure"]),
        parameters: (operation.parameters ?? []) as Operation["parameters"],
        body: content?.["application/json"]?.schema,
      };
    }),
  );
}

async function send(server: TestServer, request: FuzzRequest): Promise<FuzzResponse> {
  const response = await fetch(`${server.url}${request.url}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}

function describeExchange(request: FuzzRequest, response: FuzzResponse): string {
  const body = request.body === undefined ? "" : ` body ${request.body.slice(0, 300)}`;
  return `${request.method} ${request.url.slice(0, 300)}${body} -> ${response.status} ${response.text.slice(0, 500)}`;
}

/** A gateway answer's last JSON-RPC message, whether sent as JSON or as a server-sent event. */
async function lastJsonRpcMessage(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!response.headers.get("content-type")?.startsWith("text/event-stream"))
    return JSON.parse(text);
  const events = text.split("\n").filter((line) => line.startsWith("data: "));
  return JSON.parse(events.at(-1)?.slice("data: ".length) ?? "null");
}

/** The REST contract for any request at all: no 5xx, and every failure in the error shape. */
function expectWellFormed(request: FuzzRequest, response: FuzzResponse): void {
  const exchange = describeExchange(request, response);
  expect(response.status, exchange).toBeLessThan(500);
  if (response.status < 400) return;
  expect(response.contentType, exchange).toMatch(/^application\/json/);
  const parsed = errorShape.safeParse(JSON.parse(response.text));
  expect(parsed.error?.issues, exchange).toBeUndefined();
}

describe.skipIf(databaseUnavailable)("fuzzing every REST operation and the MCP gateway", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let owner: TestUser;
  let org: TestOrg;
  let arbitraries: SchemaArbitraries;
  let operations: Operation[];
  let agentKey: string;

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
    org = await createOrg(server);
    owner = org.owner;
    const viewer = await addMember(server, org, "viewer");
    const setup = governance(server, org);
    const connection = await setup.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const environment = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: owner.token,
      body: { name: "Fuzz" },
    });
    const agent = await setup.agent();
    agentKey = (await setup.key(agent.id)).key;
    const policy = await setup.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
    const toolIds = ["echo", "add", "fail"].map((name) => connection.tools[name] ?? "");
    const ran = await setup.run(toolIds[0] ?? "", { input: { text: "hello" } });
    expect(ran.status).toBe(201);

    const document = (await server.request("GET", "/api/v1/openapi.json")).body as OpenApiDocument;
    operations = operationsOf(document);
    arbitraries = new SchemaArbitraries(
      document.components.schemas,
      {
        org_id: [org.id],
        user_id: [viewer.id],
        environment_id: [environment.body.id],
        connection_id: [connection.id],
        agent_id: [agent.id],
        tool_id: toolIds,
        // Not the owner's: failed sign-ins would lock the account the runs use (throttling).
        email: [viewer.email],
        // `{id}` by the collection it is in: /connections/{id}, /tools/{id}, …
        connections: [connection.id],
        tools: toolIds,
        agents: [agent.id],
        policies: [policy.id],
        environments: [environment.body.id],
        runs: [ran.body.id],
      },
      [
        upstream.url,
        // Refused at once: no fuzzed connection waits for a timeout.
        "http://127.0.0.1:1/mcp",
        `${server.url}/healthz`,
        "http://[::1]:9/",
        "https://localhost:0/",
        "ftp://example.com/",
        "javascript:alert(1)",
        "http://user:pass@127.0.0.1:1/",
      ],
    );
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  function authorization(): fc.Arbitrary<Record<string, string>> {
    return fc.oneof(
      { weight: 12, arbitrary: fc.constant({ authorization: `Token ${owner.token}` }) },
      { weight: 1, arbitrary: fc.constant({ authorization: `Bearer ${agentKey}` }) },
      { weight: 1, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            "Token nope",
            "Bearer mcpa_nope",
            "Basic Zm9vOmJhcg==",
            "Token",
            "Bearer ",
            `Token ${"x".repeat(5000)}`,
            `Token ${owner.token} extra`,
          )
          .map((value) => ({ authorization: value })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom<Record<string, string>>(
          { cookie: `mcpa_session=${owner.token}`, origin: "https://evil.example" },
          { cookie: "mcpa_session=garbage" },
          { authorization: `Token ${owner.token}`, "x-request-id": "%00<script>" },
        ),
      },
    );
  }

  /** One request for `operation`: path, query and body from its schemas, mostly plausible. */
  function requestFor(operation: Operation): fc.Arbitrary<FuzzRequest> {
    const collection = operation.path.split("/")[1] ?? "";
    // Deleting the fixtures would leave the remaining runs nothing to reach: random ids only.
    const destructive = operation.method === "DELETE";
    const pathParams = operation.parameters.filter((parameter) => parameter.in === "path");
    const segments = fc.tuple(
      ...pathParams.map((parameter) => {
        const field = parameter.name === "id" ? collection : parameter.name;
        return fc.oneof(
          { weight: 6, arbitrary: destructive ? fc.uuid() : arbitraries.id(field) },
          { weight: 1, arbitrary: hostileSegment },
        );
      }),
    );
    const queryParams = operation.parameters.filter((parameter) => parameter.in === "query");
    const queryEntry = fc.oneof(
      ...queryParams.map((parameter) =>
        arbitraries
          .value(parameter.schema, parameter.name)
          .map(
            (value) =>
              [parameter.name, typeof value === "string" ? value : JSON.stringify(value)] as const,
          ),
      ),
      fc.constantFrom(...HOSTILE_STRINGS).map((value) => ["unknown", value] as const),
    );
    const query = fc
      .tuple(fc.array(queryEntry, { maxLength: 4 }), fc.constantFrom("", "&%zz=%", "&limit=%00"))
      .map(([entries, raw]) => {
        const encoded = entries
          .map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`)
          .join("&");
        const text = `${encoded}${raw}`;
        return text === "" ? "" : `?${text}`;
      });
    const body = operation.body
      ? fc.oneof(
          {
            weight: 8,
            arbitrary: arbitraries
              .value(operation.body, "")
              .map((value) => ({ contentType: "application/json", text: JSON.stringify(value) })),
          },
          {
            weight: 1,
            arbitrary: fc
              .constantFrom(...RAW_BODIES)
              .map((text) => ({ contentType: "application/json", text })),
          },
          {
            weight: 1,
            arbitrary: fc
              .tuple(fc.constantFrom(...CONTENT_TYPES), arbitraries.value(operation.body, ""))
              .map(([contentType, value]) => ({ contentType, text: JSON.stringify(value) })),
          },
        )
      : fc.constant(undefined);
    return fc
      .record({ segments, query, body, auth: authorization(), slash: fc.boolean() })
      .map(({ segments: values, query: search, body: payload, auth, slash }) => {
        let index = 0;
        const path = operation.path.replace(/\{\w+\}/g, () => values[index++] ?? "");
        return {
          method: operation.method,
          url: `/api/v1${path}${slash ? "/" : ""}${search}`,
          headers: {
            ...auth,
            ...(payload?.text !== undefined ? { "content-type": payload.contentType } : {}),
          },
          ...(payload?.text !== undefined ? { body: payload.text } : {}),
        };
      });
  }

  it("reads every operation from the OpenAPI document", () => {
    expect(operations.length).toBeGreaterThan(40);
    expect(operations.map((operation) => operation.procedure)).toContain("tools.run");
  });

  // Logging out ends the session every other run uses: it goes last.
  const order = (operation: Operation) => (operation.procedure === "auth.logout" ? 1 : 0);

  it("answers every REST operation without a 5xx and in the error shape", async () => {
    for (const operation of [...operations].sort((a, b) => order(a) - order(b))) {
      await fc.assert(
        fc.asyncProperty(requestFor(operation), async (request) => {
          expectWellFormed(request, await send(server, request));
        }),
        { seed: SEED, numRuns: RUNS_PER_OPERATION },
      );
    }
  });

  it("answers hostile requests outside the operations in the error shape", async () => {
    const paths = fc.oneof(
      fc.constantFrom(
        "/api/v1/",
        "/api/v1/nope",
        "/api/v1/orgs/%zz/nope",
        "/api/v1//orgs",
        "/api/v2/orgs",
        "/api",
        "/trpc/nope",
        "/nope",
        "/%zz",
        "/healthz/%00",
        "/mcp/",
        "/mcp/%zz",
      ),
      hostileSegment.map((segment) => `/api/v1/${segment}`),
    );
    const methods = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");
    await fc.assert(
      fc.asyncProperty(paths, methods, authorization(), async (url, method, headers) => {
        const request: FuzzRequest = { method, url, headers };
        const response = await send(server, request);
        const exchange = describeExchange(request, response);
        expect(response.status, exchange).toBeLessThan(500);
        // The gateway answers its own (MCP) errors; everything else uses the REST error shape.
        if (response.status >= 400 && !url.startsWith("/mcp/") && !url.startsWith("/trpc"))
          expectWellFormed(request, response);
      }),
      { seed: SEED, numRuns: OTHER_RUNS },
    );
  });

  /** The procedure's input as tRPC takes it: path parameters, query and body in one object. */
  function inputFor(operation: Operation): fc.Arbitrary<unknown> {
    const collection = operation.path.split("/")[1] ?? "";
    const destructive = operation.method === "DELETE";
    const fields = Object.fromEntries(
      operation.parameters.map((parameter) => {
        if (parameter.in !== "path")
          return [parameter.name, arbitraries.value(parameter.schema, parameter.name)];
        const field = parameter.name === "id" ? collection : parameter.name;
        const id = destructive ? fc.uuid() : arbitraries.id(field);
        return [parameter.name, fc.oneof({ weight: 6, arbitrary: id }, hostileValue)];
      }),
    );
    const required = operation.parameters
      .filter((parameter) => parameter.in === "path")
      .map((parameter) => parameter.name);
    const params = fc.record(fields, { requiredKeys: required });
    const body = operation.body ? arbitraries.value(operation.body, "") : fc.constant({});
    return fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .tuple(params, body)
          .map(([values, payload]) =>
            typeof payload === "object" && payload !== null && !Array.isArray(payload)
              ? { ...payload, ...values }
              : payload,
          ),
      },
      { weight: 1, arbitrary: hostileValue },
    );
  }

  /** tRPC's error envelope, one per call of a batch, carrying the wire code and request id. */
  function expectTrpcWellFormed(request: FuzzRequest, response: FuzzResponse): void {
    const exchange = describeExchange(request, response);
    expect(response.status, exchange).toBeLessThan(500);
    const envelope = z.object({
      error: z.object({
        message: z.string().min(1),
        data: z.object({
          code: z.enum(ERROR_CODES).exclude(["INTERNAL_SERVER_ERROR"]),
          httpStatus: z.number().int().min(400).max(499),
          request_id: z.string().min(1),
        }),
      }),
    });
    // What Node's HTTP parser refuses (an input too long for a URL) never reaches tRPC.
    const answer = z.union([envelope, z.object({ result: z.unknown() }), errorShape]);
    const parsed = z.union([answer, z.array(answer)]).safeParse(JSON.parse(response.text));
    expect(parsed.error?.issues, exchange).toBeUndefined();
  }

  it("answers every procedure over tRPC, single and batched, without a 5xx", async () => {
    // The REST run ended with logging out: a new session for the rest.
    const login = await server.request("POST", "/auth/login/", {
      body: { email: owner.email, password: owner.password },
    });
    expect(login.status).toBe(200);
    owner.token = login.body.token;
    // Logging out would end this session; the REST run covered it.
    for (const operation of operations.filter((item) => item.procedure !== "auth.logout")) {
      const query = operation.method === "GET";
      await fc.assert(
        fc.asyncProperty(
          fc.array(inputFor(operation), { minLength: 1, maxLength: 2 }),
          async (inputs) => {
            const batch = inputs.length > 1;
            const procedures = inputs.map(() => operation.procedure).join(",");
            const payload = JSON.stringify(
              batch ? Object.fromEntries(inputs.map((input, index) => [index, input])) : inputs[0],
            );
            const search = [
              ...(batch ? ["batch=1"] : []),
              ...(query ? [`input=${percentEncode(payload)}`] : []),
            ].join("&");
            const request: FuzzRequest = {
              method: query ? "GET" : "POST",
              url: `/trpc/${procedures}${search ? `?${search}` : ""}`,
              headers: {
                authorization: `Token ${owner.token}`,
                ...(query ? {} : { "content-type": "application/json" }),
              },
              ...(query ? {} : { body: payload }),
            };
            expectTrpcWellFormed(request, await send(server, request));
          },
        ),
        { seed: SEED, numRuns: TRPC_RUNS_PER_OPERATION },
      );
    }
  });

  describe("the MCP gateway", () => {
    let gatewayOrg: TestOrg;
    let agentId: string;
    let key: string;

    beforeAll(async () => {
      gatewayOrg = await createOrg(server);
      const setup = governance(server, gatewayOrg);
      await setup.syncedConnection({ transport: "streamable_http", url: upstream.url });
      const agent = await setup.agent();
      agentId = agent.id;
      key = (await setup.key(agent.id)).key;
      await setup.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
    });

    const METHODS = [
      "initialize",
      "ping",
      "tools/list",
      "tools/call",
      "prompts/list",
      "prompts/get",
      "resources/list",
      "resources/read",
      "resources/templates/list",
      "logging/setLevel",
      "completion/complete",
      "notifications/initialized",
      "notifications/cancelled",
      "nope/nope",
    ];
    // Tools that answer at once: `slow`, `huge` and `progress` would only measure the fuzzer.
    const TOOLS = ["echo", "add", "fail", "mixed", "echo_headers", "missing", "", "echo\u0000"];

    const id = fc.oneof(
      fc.integer(),
      fc.string({ maxLength: 10 }),
      fc.constantFrom(null, 1.5, 2 ** 53 + 2, -0, 1e308, true, {}, [], "", "\u0000", "\uD800"),
    );
    const params = fc.oneof(
      fc.record(
        {
          name: fc.oneof(fc.constantFrom(...TOOLS), hostileValue),
          arguments: fc.oneof(
            fc.record({ text: fc.string(), a: fc.double(), b: fc.integer() }, { requiredKeys: [] }),
            hostileValue,
          ),
          uri: fc.oneof(fc.constantFrom("test://readme", "file:///etc/passwd"), hostileValue),
          cursor: fc.oneof(fc.string({ maxLength: 20 }), hostileValue),
          level: fc.constantFrom("debug", "emergency", "nope"),
          protocolVersion: fc.constantFrom("2025-06-18", "2025-03-26", "2024-11-05", "1.0"),
          capabilities: fc.constantFrom({}, null, []),
          clientInfo: fc.constantFrom({ name: "fuzz", version: "1" }, {}, "x"),
          _meta: fc.record({ progressToken: id }, { requiredKeys: [] }),
        },
        { requiredKeys: [] },
      ),
      hostileValue,
    );
    const message = fc.record(
      {
        jsonrpc: fc.oneof({ weight: 8, arbitrary: fc.constant("2.0") }, hostileValue),
        id,
        method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...METHODS) }, hostileValue),
        params,
      },
      { requiredKeys: ["jsonrpc", "method"] },
    );
    const body = fc.oneof(
      { weight: 6, arbitrary: message.map((value) => JSON.stringify(value)) },
      {
        weight: 2,
        arbitrary: fc.array(message, { maxLength: 4 }).map((value) => JSON.stringify(value)),
      },
      { weight: 1, arbitrary: fc.constantFrom(...RAW_BODIES) },
      { weight: 1, arbitrary: hostileValue.map((value) => JSON.stringify(value)) },
    );
    const headers = fc.record(
      {
        accept: fc.constantFrom(
          "application/json, text/event-stream",
          "application/json",
          "text/event-stream",
          "*/*",
        ),
        "content-type": fc.constantFrom("application/json", "text/plain", "application/json; x=1"),
        "mcp-protocol-version": fc.constantFrom("2025-06-18", "2025-11-25", "1999-01-01", "x"),
      },
      { requiredKeys: ["accept", "content-type"] },
    );

    /** JSON-RPC 2.0 responses and notifications, and never an internal error. */
    function expectJsonRpc(value: unknown, exchange: string): void {
      for (const item of Array.isArray(value) ? value : [value]) {
        const shape = z.union([
          z.object({
            jsonrpc: z.literal("2.0"),
            id: z.union([z.string(), z.number(), z.null()]),
            result: z.record(z.string(), z.unknown()),
          }),
          z.object({
            jsonrpc: z.literal("2.0"),
            id: z.union([z.string(), z.number(), z.null()]),
            error: z.object({
              code: z
                .number()
                .int()
                .refine((code) => code !== -32603),
              message: z.string(),
            }),
          }),
          z.object({ jsonrpc: z.literal("2.0"), method: z.string() }),
          // The gateway's own refusals before JSON-RPC (401, 403), as OAuth resource servers answer.
          z.strictObject({ error: z.string(), error_description: z.string() }),
          // Paths that are not an agent's endpoint (`/mcp/`) are the REST API's 404.
          errorShape,
        ]);
        const parsed = shape.safeParse(item);
        expect(parsed.error?.issues, exchange).toBeUndefined();
      }
    }

    function expectGatewayWellFormed(request: FuzzRequest, response: FuzzResponse): void {
      const exchange = describeExchange(request, response);
      expect(response.status, exchange).toBeLessThan(500);
      if (response.text === "") {
        expect(response.status, exchange).toBe(202);
        return;
      }
      if (response.contentType.startsWith("text/event-stream")) {
        const events = response.text
          .split("\n")
          .filter((line) => line.startsWith("data: "))
          .map((line) => JSON.parse(line.slice("data: ".length)) as unknown);
        expect(events.length, exchange).toBeGreaterThan(0);
        for (const event of events) expectJsonRpc(event, exchange);
        return;
      }
      expect(response.contentType, exchange).toMatch(/^application\/json/);
      expectJsonRpc(JSON.parse(response.text), exchange);
    }

    it("answers any JSON-RPC (methods, params, batches, odd ids) without a 5xx or internal error", async () => {
      await fc.assert(
        fc.asyncProperty(body, headers, async (text, extra) => {
          const request: FuzzRequest = {
            method: "POST",
            url: `/mcp/${agentId}`,
            headers: { ...extra, authorization: `Bearer ${key}` },
            body: text,
          };
          expectGatewayWellFormed(request, await send(server, request));
        }),
        { seed: SEED, numRuns: GATEWAY_RUNS },
      );
    });

    it("answers hostile methods, paths and keys without a 5xx", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("GET", "POST", "DELETE", "PUT", "OPTIONS"),
          fc.oneof(fc.constant(agentId), fc.uuid(), hostileSegment),
          fc.constantFrom(`Bearer ${key}`, "Bearer mcpa_nope", "Bearer ", "Token x", ""),
          async (method, target, authorization) => {
            const request: FuzzRequest = {
              method,
              url: `/mcp/${target}`,
              headers: {
                accept: "application/json, text/event-stream",
                "content-type": "application/json",
                ...(authorization ? { authorization } : {}),
              },
              ...(method === "GET" ? {} : { body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' }),
            };
            expectGatewayWellFormed(request, await send(server, request));
          },
        ),
        { seed: SEED, numRuns: OTHER_RUNS },
      );
    });

    const post = (body: unknown) =>
      fetch(`${server.url}/mcp/${agentId}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify(body),
      });

    it("answers wrong params with invalid-params naming the field, one by one in a batch", async () => {
      const single = await post({ jsonrpc: "2.0", id: 1, method: "initialize" });
      expect(single.status).toBe(200);
      expect(await single.json()).toEqual({
        jsonrpc: "2.0",
        id: 1,
        error: { code: -32602, message: expect.stringMatching(/^Invalid params: params: /) },
      });
      const batch = await post([
        { jsonrpc: "2.0", id: "a", method: "ping" },
        { jsonrpc: "2.0", id: "b", method: "prompts/get", params: { name: 5 } },
        { jsonrpc: "2.0", id: "c", method: "logging/setLevel", params: { level: "loud" } },
      ]);
      expect(batch.status).toBe(200);
      const answers = (await batch.json()) as { id: string }[];
      expect(answers.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { jsonrpc: "2.0", id: "a", result: {} },
        {
          jsonrpc: "2.0",
          id: "b",
          error: { code: -32602, message: expect.stringContaining("params.name") },
        },
        {
          jsonrpc: "2.0",
          id: "c",
          error: { code: -32602, message: expect.stringContaining("params.level") },
        },
      ]);
    });

    it("refuses NUL characters and unpaired surrogates in a call, naming the field", async () => {
      for (const text of ["a\u0000b", "\uD800"]) {
        const response = await post({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "echo", arguments: { text } },
        });
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({
          jsonrpc: "2.0",
          id: 1,
          error: {
            code: -32602,
            message: expect.stringMatching(/^Invalid params: params\.arguments\.text: Must/),
          },
        });
      }
    });

    it("stays healthy afterwards: /healthz, a REST call and a gateway call work", async () => {
      expect((await server.request("GET", "/healthz")).status).toBe(200);
      const user = await registerUser(server, "after-fuzz");
      const me = await server.request("GET", "/auth/me/", { token: user.token });
      expect(me.status).toBe(200);

      const call = (request: Record<string, unknown>) =>
        post({ jsonrpc: "2.0", id: 1, ...request });
      const list = await call({ method: "tools/list" });
      expect(list.status).toBe(200);
      const tools = ((await list.json()) as { result: { tools: { name: string }[] } }).result.tools;
      expect(tools.map((tool) => tool.name)).toContain("echo");
      const echo = await call({
        method: "tools/call",
        params: { name: "echo", arguments: { text: "still here" } },
      });
      expect(await lastJsonRpcMessage(echo)).toMatchObject({
        result: { content: [{ type: "text", text: "still here" }] },
      });
      // The call is recorded: the recorder was not jammed by anything fuzzed before.
      await expect
        .poll(
          async () =>
            (
              await server.request("GET", `/orgs/${gatewayOrg.id}/runs/?limit=1`, {
                token: gatewayOrg.owner.token,
              })
            ).body.results,
        )
        .toMatchObject([{ tool_name: "echo", input: { text: "still here" } }]);
    });
  });
});

describe.skipIf(databaseUnavailable)("malformed input: 400 with the field at fault", () => {
  let server: TestServer;
  let org: TestOrg;
  beforeAll(async () => {
    // No SPA: its client-side routes would answer unknown paths with index.html.
    server = await startTestServer({ WEB_DIST_DIR: mkdtempSync(join(tmpdir(), "no-spa-")) });
    org = await createOrg(server);
  });
  afterAll(async () => {
    await server.close();
  });

  async function expectFieldError(
    method: string,
    path: string,
    field: string,
    options: { body?: unknown; token?: string } = {},
  ) {
    const response = await server.request(method, path, { token: org.owner.token, ...options });
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body).toMatchObject({
      code: "BAD_REQUEST",
      issues: [expect.objectContaining({ path: field })],
      request_id: expect.any(String),
    });
    return response.body as { message: string; issues: { path: string; message: string }[] };
  }

  it.each(["%E0%A4%A", "%zz", "%", "%ED%A0%80"])(
    "refuses bad percent-encoding in a path parameter (%s)",
    async (segment) => {
      await expectFieldError("GET", `/orgs/${segment}/`, "org_id");
      await expectFieldError("PATCH", `/connections/${segment}/`, "id", { body: {} });
      await expectFieldError("DELETE", `/orgs/${org.id}/members/${segment}/`, "user_id");
    },
  );

  it("refuses NUL characters in any string, login and register included", async () => {
    const nul = "pass\u0000word-long-enough";
    await expectFieldError("POST", "/auth/login/", "password", {
      body: { email: "someone@example.com", password: nul },
      token: "",
    });
    await expectFieldError("POST", "/auth/login/", "email", {
      body: { email: "some\u0000one@example.com", password: "whatever" },
      token: "",
    });
    await expectFieldError("POST", "/auth/register/", "first_name", {
      body: {
        email: "nul@example.com",
        password: "a-long-password-123",
        password_confirm: "a-long-password-123",
        first_name: "Ada\u0000",
      },
      token: "",
    });
    await expectFieldError("POST", "/orgs/", "name", { body: { name: "Acme\u0000" } });
    await expectFieldError("GET", `/orgs/${org.id}/tools/?q=%00`, "q");
    await expectFieldError("GET", `/orgs/${org.id}/audit-events/?action=a%00b`, "action");
    const nested = await expectFieldError("POST", `/orgs/${org.id}/policies/`, "input_schema.a", {
      body: { name: "p", effect: "allow", tool_pattern: "*", input_schema: { a: "\u0000" } },
    });
    expect(nested.message).toContain("input_schema.a");
  });

  it("refuses unpaired surrogates rather than storing replacement characters", async () => {
    await expectFieldError("POST", "/orgs/", "name", { body: { name: "Acme \uD800" } });
    await expectFieldError("POST", `/orgs/${org.id}/environments/`, "description", {
      body: { name: "env", description: "\uDC00" },
    });
  });

  it.each([
    ["runs", "since", "0000-01-01T00:00:00Z"],
    ["runs", "until", "0000-12-31T23:59:59Z"],
    ["runs", "since", "9999-12-31T23:59:59-23:59"],
    ["runs/stats", "since", "0000-01-01T00:00:00Z"],
    ["runs/stats", "until", "0000-06-01T00:00:00+01:00"],
    ["audit-events", "since", "0000-01-01T00:00:00Z"],
  ])("refuses out-of-range dates: /%s?%s=%s", async (collection, field, value) => {
    const body = await expectFieldError(
      "GET",
      `/orgs/${org.id}/${collection}/?${field}=${encodeURIComponent(value)}`,
      field,
    );
    expect(body.issues[0]?.message).toBe("Must be a date between the years 0001 and 9999");
  });

  it("accepts the first and last representable years", async () => {
    const response = await server.request(
      "GET",
      `/orgs/${org.id}/runs/?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z`,
      { token: org.owner.token },
    );
    expect(response.status).toBe(200);
    // The default window reaches back a day from `until`: not before year 1.
    const stats = await server.request(
      "GET",
      `/orgs/${org.id}/runs/stats/?until=0001-01-01T01:00:00Z&bucket=minute`,
      { token: org.owner.token },
    );
    expect(stats.status, JSON.stringify(stats.body)).toBe(200);
    expect(stats.body.since).toBe("0001-01-01T00:00:00.000Z");
  });

  it("refuses a query parameter given twice, by name", async () => {
    const body = await expectFieldError("GET", `/orgs/${org.id}/runs/?limit=1&limit=2`, "limit");
    expect(body.issues[0]?.message).toBe("Given 2 times; give it once");
  });

  it("refuses nesting deeper than 100 levels, naming the field", async () => {
    let schema: unknown = { type: "string" };
    for (let level = 0; level < 100; level++) schema = { not: schema };
    const body = await expectFieldError("POST", `/orgs/${org.id}/policies/`, "input_schema", {
      body: { name: "deep", effect: "allow", tool_pattern: "*", input_schema: schema },
    });
    expect(body.issues[0]?.message).toBe("Nested deeper than 100 levels");
  });

  it("answers a request line and headers over 16 KiB in the error shape", async () => {
    const response = await fetch(`${server.url}/api/v1/orgs/?q=${"x".repeat(20_000)}`);
    expect(response.status).toBe(431);
    expect(await response.json()).toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
      request_id: expect.any(String),
    });
  });

  it("answers unknown paths outside the API in the error shape", async () => {
    for (const path of ["/no/such/page", "/%zz", "/api/v2/orgs"]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({
        code: "NOT_FOUND",
        request_id: expect.any(String),
      });
    }
  });
});
