import { createHmac, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  toolCall,
  type TestOrg,
  type TestServer,
} from "./harness";

/*
 * Guardrail hooks against a real HTTP hook server: each test registers what its hook path
 * answers (or that it never answers), and reads back what the hook received.
 */

const SECRET = "guarded-upstream-token-0123456789";

interface HookRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

/** `hold`: the hook never answers (the request waits on an event that never fires). */
type HookAnswer = { status?: number; body: unknown } | "hold";

class HookServer {
  private readonly answers = new Map<string, (request: HookRequest) => HookAnswer>();
  readonly received = new Map<string, HookRequest[]>();
  private readonly server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = request.url ?? "";
      const body = Buffer.concat(chunks).toString("utf8");
      const hookRequest = {
        headers: request.headers,
        body,
        json: JSON.parse(body) as Record<string, unknown>,
      };
      this.received.set(path, [...(this.received.get(path) ?? []), hookRequest]);
      const answer = this.answers.get(path)?.(hookRequest) ?? { status: 404, body: {} };
      if (answer === "hold") return;
      response.writeHead(answer.status ?? 200, { "content-type": "application/json" });
      response.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
    });
  });
  private next = 0;
  url = "";

  async start(): Promise<void> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A new hook URL answering with `answer`. */
  hook(answer: (request: HookRequest) => HookAnswer): { url: string; path: string } {
    const path = `/hook/${this.next++}`;
    this.answers.set(path, answer);
    return { url: `${this.url}${path}`, path };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

function signatureValid(request: HookRequest, secret: string, body = request.body): boolean {
  const timestamp = String(request.headers["x-guardrail-timestamp"]);
  const signature = String(request.headers["x-guardrail-signature"]);
  const expected = `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
  return (
    signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  );
}

interface Run {
  id: string;
  status: string;
  error: string | null;
  input: unknown;
  output: unknown;
  guardrails: {
    hooks: { policy_name: string; stage: string; outcome: string; reason?: string }[];
    redacted: { secrets: number; patterns: number };
  } | null;
}

describe.skipIf(databaseUnavailable)("guardrail hooks and redaction", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  const hooks = new HookServer();

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer({ bearerToken: SECRET });
    await hooks.start();
  });
  afterAll(async () => {
    await hooks.close();
    await upstream.close();
    await server.close();
  });

  /** An org with the secret-protected upstream synced, an agent with a key, and `policy`. */
  async function setup(policy: Record<string, unknown>) {
    const org = await createOrg(server);
    const gov = governance(server, org);
    const { tools } = await gov.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
      secret: { headers: { Authorization: `Bearer ${SECRET}` } },
    });
    const agent = (await gov.agent()) as { id: string };
    const { key } = (await gov.key(agent.id)) as { key: string };
    const created = (await gov.policy({
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "*",
      ...policy,
    })) as { id: string; name: string; hook_secret?: string };
    return { org, gov, tools, agent, key, policy: created };
  }

  async function run(
    context: {
      gov: ReturnType<typeof governance>;
      tools: Record<string, string>;
      agent: { id: string };
    },
    tool: string,
    input: Record<string, unknown>,
  ): Promise<Run> {
    const response = await context.gov.run(context.tools[tool] ?? "", {
      agent_id: context.agent.id,
      input,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as Run;
  }

  /** A gateway `tools/call`; its run is read once recorded (the gateway answers first). */
  async function gatewayCall(
    context: { org: TestOrg; agent: { id: string }; key: string; tools: Record<string, string> },
    tool: string,
    input: Record<string, unknown>,
  ): Promise<{
    result: { content: { type: string; text?: string }[]; isError?: boolean };
    run: Run;
  }> {
    const runsOfAgent = async () =>
      (
        await server.request("GET", `/orgs/${context.org.id}/runs/?agent_id=${context.agent.id}`, {
          token: context.org.owner.token,
        })
      ).body.results as Run[];
    const before = (await runsOfAgent())[0]?.id;
    const response = await gatewayPost(
      server.url,
      context.agent.id,
      context.key,
      toolCall(tool, input),
    );
    expect(response.status).toBe(200);
    const text = await response.text();
    const message = text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "");
    const { result } = JSON.parse(message) as {
      result: { content: { type: string; text?: string }[]; isError?: boolean };
    };
    for (;;) {
      const [latest] = await runsOfAgent();
      if (latest && latest.id !== before && latest.status !== "running")
        return { result, run: latest };
      await server.runtime.recorder.idle();
    }
  }

  it("allows through both hooks, which receive the call signed with the policy's secret", async () => {
    const pre = hooks.hook(() => ({ body: { decision: "allow" } }));
    const post = hooks.hook(() => ({ body: { decision: "allow" } }));
    const context = await setup({
      pre_call_hook: { url: pre.url, timeout_ms: 5000 },
      post_call_hook: { url: post.url, timeout_ms: 5000, fail_mode: "open" },
    });
    const secret = context.policy.hook_secret ?? "";
    expect(secret).toMatch(/^whsec_/);

    const ran = await run(context, "echo", { text: "hello" });
    expect(ran.status).toBe("succeeded");
    expect(ran.output).toMatchObject({ content: [{ type: "text", text: "hello" }] });
    expect(ran.guardrails?.hooks.map((hook) => [hook.stage, hook.outcome])).toEqual([
      ["pre_call", "allowed"],
      ["post_call", "allowed"],
    ]);

    const [preRequest] = hooks.received.get(pre.path) ?? [];
    const [postRequest] = hooks.received.get(post.path) ?? [];
    if (!preRequest || !postRequest) throw new Error("the hooks were not called");
    expect(preRequest.json).toMatchObject({
      stage: "pre_call",
      run_id: ran.id,
      org_id: context.org.id,
      agent_id: context.agent.id,
      policy: { id: context.policy.id },
      input: { text: "hello" },
    });
    expect(postRequest.json).toMatchObject({
      stage: "post_call",
      run_id: ran.id,
      input: { text: "hello" },
      output: { content: [{ type: "text", text: "hello" }] },
    });
    // The receiver can verify both, and a changed body or another secret fails verification.
    expect(signatureValid(preRequest, secret)).toBe(true);
    expect(signatureValid(postRequest, secret)).toBe(true);
    expect(signatureValid(preRequest, secret, preRequest.body.replace("hello", "hellO"))).toBe(
      false,
    );
    expect(signatureValid(preRequest, "whsec_other")).toBe(false);

    // The secret is never shown again; a rotation returns a new one, which signs from then on.
    const read = await server.request("GET", `/policies/${context.policy.id}/`, {
      token: context.org.owner.token,
    });
    expect(read.body.has_hook_secret).toBe(true);
    expect(JSON.stringify(read.body)).not.toContain(secret);
    const rotated = await server.request(
      "POST",
      `/policies/${context.policy.id}/rotate-hook-secret/`,
      { token: context.org.owner.token },
    );
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const newSecret = rotated.body.hook_secret as string;
    expect(newSecret).not.toBe(secret);
    await run(context, "echo", { text: "again" });
    const second = hooks.received.get(pre.path)?.[1];
    if (!second) throw new Error("the hook was not called again");
    expect(signatureValid(second, newSecret)).toBe(true);
    expect(signatureValid(second, secret)).toBe(false);
  });

  it("a pre_call denial stops the call before it goes upstream, with the hook's reason", async () => {
    const pre = hooks.hook(() => ({ body: { decision: "deny", reason: "no echoing today" } }));
    const post = hooks.hook(() => ({ body: { decision: "allow" } }));
    const context = await setup({
      pre_call_hook: { url: pre.url },
      post_call_hook: { url: post.url },
    });
    const ran = await run(context, "echo", { text: "hello" });
    expect(ran.status).toBe("denied");
    expect(ran.error).toContain("no echoing today");
    expect(ran.output).toBeNull();
    expect(ran.guardrails?.hooks).toEqual([
      expect.objectContaining({ stage: "pre_call", outcome: "denied", reason: "no echoing today" }),
    ]);
    expect(hooks.received.get(post.path)).toBeUndefined();
  });

  it("a pre_call rewrite replaces the input, which the tool's schema then checks", async () => {
    const pre = hooks.hook((request) => {
      const text = (request.json.input as { text: unknown }).text;
      return {
        body: { decision: "allow", input: { text: text === "bad" ? 42 : "scrubbed" } },
      };
    });
    const context = await setup({ pre_call_hook: { url: pre.url } });
    const ran = await run(context, "echo", { text: "my card is 4111" });
    expect(ran.status).toBe("succeeded");
    expect(ran.output).toMatchObject({ content: [{ text: "scrubbed" }] });
    // The record keeps the input the call was made with, not the one the hook scrubbed.
    expect(ran.input).toEqual({ text: "scrubbed" });
    expect(ran.guardrails?.hooks[0]?.outcome).toBe("rewrote");

    const invalid = await run(context, "echo", { text: "bad" });
    expect(invalid.status).toBe("failed");
    expect(invalid.error).toContain("Invalid input");
  });

  it("a post_call rewrite replaces the result the gateway returns and the run stores; a denial withholds it", async () => {
    const post = hooks.hook((request) => {
      const input = request.json.input as { text: string };
      return input.text === "deny me"
        ? { body: { decision: "deny", reason: "leaks too much" } }
        : {
            body: {
              decision: "allow",
              output: { content: [{ type: "text", text: `checked: ${input.text}` }] },
            },
          };
    });
    const context = await setup({ post_call_hook: { url: post.url } });

    const rewritten = await gatewayCall(context, "echo", { text: "hi" });
    expect(rewritten.result.content).toEqual([{ type: "text", text: "checked: hi" }]);
    expect(rewritten.run.output).toMatchObject({
      content: [{ type: "text", text: "checked: hi" }],
    });
    expect(rewritten.run.guardrails?.hooks[0]?.outcome).toBe("rewrote");

    const denied = await gatewayCall(context, "echo", { text: "deny me" });
    expect(denied.result.isError).toBe(true);
    expect(denied.result.content[0]?.text).toContain("leaks too much");
    expect(denied.run.status).toBe("denied");
    expect(denied.run.output).toBeNull();
  });

  it("a hook that never answers is decided by its fail mode: open allows, closed denies", async () => {
    const silent = hooks.hook(() => "hold");
    const open = await setup({
      pre_call_hook: { url: silent.url, timeout_ms: 50, fail_mode: "open" },
    });
    const allowed = await run(open, "echo", { text: "hello" });
    expect(allowed.status).toBe("succeeded");
    expect(allowed.guardrails?.hooks[0]).toMatchObject({
      outcome: "failed_open",
      reason: "The hook did not answer within 50 ms",
    });

    const closed = await setup({
      pre_call_hook: { url: silent.url, timeout_ms: 50, fail_mode: "closed" },
    });
    const denied = await run(closed, "echo", { text: "hello" });
    expect(denied.status).toBe("denied");
    expect(denied.error).toContain("did not answer within 50 ms");
    expect(denied.guardrails?.hooks[0]?.outcome).toBe("failed_closed");
  });

  it("a malformed answer is a failed hook, its reason recorded", async () => {
    const notJson = hooks.hook(() => ({ body: "<html>oops</html>" }));
    const closed = await setup({ pre_call_hook: { url: notJson.url } });
    const denied = await run(closed, "echo", { text: "hello" });
    expect(denied.status).toBe("denied");
    expect(denied.guardrails?.hooks[0]).toMatchObject({
      outcome: "failed_closed",
      reason: "The hook's answer is not JSON",
    });

    const badOutput = hooks.hook(() => ({ body: { decision: "allow", output: { text: "x" } } }));
    const open = await setup({ post_call_hook: { url: badOutput.url, fail_mode: "open" } });
    const allowed = await run(open, "echo", { text: "hello" });
    expect(allowed.status).toBe("succeeded");
    expect(allowed.output).toMatchObject({ content: [{ text: "hello" }] });
    expect(allowed.guardrails?.hooks[0]?.outcome).toBe("failed_open");
    expect(allowed.guardrails?.hooks[0]?.reason).toContain('"content" array');

    const maybe = hooks.hook(() => ({ body: { decision: "maybe" } }));
    const failing = await setup({ pre_call_hook: { url: maybe.url } });
    const refused = await run(failing, "echo", { text: "hello" });
    expect(refused.guardrails?.hooks[0]?.reason).toContain('"decision"');

    const error = hooks.hook(() => ({ status: 500, body: {} }));
    const erroring = await setup({ pre_call_hook: { url: error.url } });
    expect((await run(erroring, "echo", { text: "hello" })).guardrails?.hooks[0]?.reason).toBe(
      "The hook answered HTTP 500",
    );
  });

  it("redacts the connection's secret from gateway results and stored runs, and configured patterns", async () => {
    const context = await setup({ redact_patterns: ["card-[0-9]{4}"] });
    const viaGateway = await gatewayCall(context, "echo_headers", {});
    const text = viaGateway.result.content[0]?.text ?? "";
    expect(text).toContain("[REDACTED]");
    expect(text).not.toContain(SECRET);
    expect(JSON.stringify(viaGateway.run.output)).not.toContain(SECRET);
    expect(viaGateway.run.guardrails?.redacted.secrets).toBeGreaterThan(0);

    const viaRest = await run(context, "echo", { text: `token ${SECRET} and card-1234` });
    expect(viaRest.output).toMatchObject({
      content: [{ type: "text", text: "token [REDACTED] and [REDACTED]" }],
    });
    expect(viaRest.guardrails?.redacted).toEqual({ secrets: 1, patterns: 1 });
    // What is stored is what was returned.
    const [stored] = await server.database.db
      .select({ output: schema.runs.output })
      .from(schema.runs)
      .where(eq(schema.runs.id, viaRest.id));
    expect(JSON.stringify(stored?.output)).not.toContain(SECRET);
    expect(JSON.stringify(stored?.output)).not.toContain("card-1234");
  });

  it("refuses patterns the linear-time engine cannot run, or that match nothing but the empty string", async () => {
    const org = await createOrg(server);
    for (const [pattern, message] of [
      ["(?=x)secret", "lookahead"],
      ["(a", "not a valid regular expression"],
      ["x*", "empty string"],
    ] as const) {
      const response = await server.request("POST", `/orgs/${org.id}/policies/`, {
        token: org.owner.token,
        body: {
          name: `p-${Math.random().toString(36).slice(2, 8)}`,
          effect: "allow",
          tool_pattern: "*",
          redact_patterns: ["fine", pattern],
        },
      });
      expect(response.status).toBe(400);
      expect(response.body.issues[0].path).toBe("redact_patterns.1");
      expect(response.body.issues[0].message).toContain(message);
    }
    // A deny policy's calls never run, so guardrails on it would never act.
    const onDeny = await server.request("POST", `/orgs/${org.id}/policies/`, {
      token: org.owner.token,
      body: { name: "deny-with-hook", effect: "deny", tool_pattern: "*", redact_patterns: ["x"] },
    });
    expect(onDeny.status).toBe(400);
    expect(onDeny.body.issues[0].path).toBe("redact_patterns");
  });
});

describe.skipIf(databaseUnavailable)("guardrail hooks under the private-network rules", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MCP_BLOCK_PRIVATE_NETWORKS: "true" });
  });
  afterAll(async () => {
    await server.close();
  });

  it("refuses a hook at a private or loopback address, naming the field", async () => {
    const org = await createOrg(server);
    for (const [field, url] of [
      ["pre_call_hook", "http://127.0.0.1:9/hook"],
      ["post_call_hook", "http://169.254.169.254/latest"],
    ] as const) {
      const response = await server.request("POST", `/orgs/${org.id}/policies/`, {
        token: org.owner.token,
        body: { name: `p-${field}`, effect: "allow", tool_pattern: "*", [field]: { url } },
      });
      expect(response.status).toBe(400);
      expect(response.body.issues[0].path).toBe(`${field}.url`);
      expect(response.body.issues[0].message).toContain("private");
    }
  });
});
