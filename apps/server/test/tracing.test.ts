import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { startTestMcpServer, waitUntil, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  toolCall,
  type TestServer,
} from "./harness";

/** A span as OTLP/HTTP's JSON encoding carries it (ids in hex). */
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** An OTLP/HTTP trace receiver: what a collector at OTEL_EXPORTER_OTLP_ENDPOINT would get. */
async function startOtlpReceiver(): Promise<{
  url: string;
  spans: ExportedSpan[];
  paths: string[];
  close(): Promise<void>;
}> {
  const spans: ExportedSpan[] = [];
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      paths.push(`${req.method ?? ""} ${req.url ?? ""} ${req.headers["content-type"] ?? ""}`);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: { scopeSpans: { spans: ExportedSpan[] }[] }[];
      };
      for (const resource of body.resourceSpans)
        for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

class CapturedLogs extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    done();
  }
}

const GOVERNED_CALL_SPANS = [
  "mcp.authenticate",
  "mcp.policy",
  "mcp.rate_limit",
  "mcp.upstream",
  "mcp.record",
];

describe.skipIf(databaseUnavailable)("OpenTelemetry traces", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  const logs = new CapturedLogs();

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    server = await startTestServer(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
        OTEL_BSP_SCHEDULE_DELAY: "10",
        LOG_LEVEL: "info",
      },
      { logDestination: logs },
    );
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
    await receiver.close();
  });

  async function agentWithTools() {
    const org = await createOrg(server);
    const gov = governance(server, org);
    await gov.syncedConnection({ transport: "streamable_http", url: upstream.url });
    const agent = await gov.agent();
    const { key } = await gov.key(agent.id);
    await gov.policy({
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "*",
      rate_limit: { max_calls: 100, per_seconds: 3600 },
    });
    return { org, agent, key: key as string };
  }

  it("continues the caller's trace through the governed call and on to the upstream", async () => {
    const { org, agent, key } = await agentWithTools();
    const callerTrace = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const response = await fetch(`${server.url}/mcp/${agent.id}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        traceparent: `00-${callerTrace}-${callerSpan}-01`,
      },
      body: JSON.stringify(toolCall("echo_headers", {})),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { result: { content: { text: string }[] } };
    const upstreamHeaders = JSON.parse(answer.result.content[0]?.text ?? "{}") as Record<
      string,
      string
    >;

    await waitUntil(() =>
      GOVERNED_CALL_SPANS.every((name) =>
        receiver.spans.some((span) => span.traceId === callerTrace && span.name === name),
      ),
    );
    expect(receiver.paths[0]).toMatch(/^POST \/v1\/traces application\/json/);
    const trace = receiver.spans.filter((span) => span.traceId === callerTrace);
    const root = trace.find((span) => span.name === "POST /mcp/{agent_id}");
    expect(root?.parentSpanId).toBe(callerSpan);
    expect(root?.kind).toBe(2); // SERVER
    const byName = new Map(trace.map((span) => [span.name, span]));
    for (const name of GOVERNED_CALL_SPANS)
      expect(byName.get(name)?.parentSpanId, name).toBe(root?.spanId);

    // The upstream saw the trace, with the upstream span as its parent.
    expect(upstreamHeaders.traceparent).toBe(
      `00-${callerTrace}-${byName.get("mcp.upstream")?.spanId ?? ""}-01`,
    );

    // The run record carries the trace id, in the REST API too.
    let runs: { trace_id: string | null; tool_name: string }[] = [];
    await waitUntil(async () => {
      const listed = await server.request("GET", `/orgs/${org.id}/runs/`, {
        token: org.owner.token,
      });
      runs = listed.body.results;
      return runs.length === 1;
    });
    expect(runs[0]).toMatchObject({ tool_name: "echo_headers", trace_id: callerTrace });

    // And so does the request's log line.
    const logged = logs.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === "request" && line.trace_id === callerTrace);
    expect(logged).toMatchObject({ path: `/mcp/${agent.id}`, status: 200 });
  });

  it("starts a trace of its own for a caller that sends none, and for REST requests", async () => {
    const { org, agent, key } = await agentWithTools();
    const response = await gatewayPost(server.url, agent.id, key, toolCall("echo", { text: "x" }));
    expect(response.status).toBe(200);
    let traceId: string | null = null;
    await waitUntil(async () => {
      const listed = await server.request("GET", `/orgs/${org.id}/runs/`, {
        token: org.owner.token,
      });
      traceId = (listed.body.results as { trace_id: string | null }[])[0]?.trace_id ?? null;
      return traceId !== null;
    });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await waitUntil(() =>
      receiver.spans.some((span) => span.traceId === traceId && span.name === "mcp.record"),
    );
    const root = receiver.spans.find(
      (span) => span.traceId === traceId && span.name === "POST /mcp/{agent_id}",
    );
    expect(root?.parentSpanId ?? "").toBe("");

    await waitUntil(() =>
      receiver.spans.some((span) => span.name === "GET /api/v1/orgs/{org_id}/runs"),
    );
  });

  it("a malformed traceparent is ignored: the call gets a fresh trace", async () => {
    const { org, agent, key } = await agentWithTools();
    const response = await fetch(`${server.url}/mcp/${agent.id}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        traceparent: "00-00000000000000000000000000000000-0000000000000000-01",
      },
      body: JSON.stringify(toolCall("echo", { text: "x" })),
    });
    expect(response.status).toBe(200);
    let traceId: string | null = null;
    await waitUntil(async () => {
      const listed = await server.request("GET", `/orgs/${org.id}/runs/`, {
        token: org.owner.token,
      });
      traceId = (listed.body.results as { trace_id: string | null }[])[0]?.trace_id ?? null;
      return traceId !== null;
    });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe("00000000000000000000000000000000");
  });
});

describe.skipIf(databaseUnavailable)("tracing off", () => {
  it("records no trace id and sends no traceparent upstream", async () => {
    const server = await startTestServer();
    const upstream = await startTestMcpServer();
    try {
      const org = await createOrg(server);
      const gov = governance(server, org);
      await gov.syncedConnection({ transport: "streamable_http", url: upstream.url });
      const agent = await gov.agent();
      const { key } = await gov.key(agent.id);
      await gov.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
      const response = await fetch(`${server.url}/mcp/${agent.id}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          traceparent: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`,
        },
        body: JSON.stringify(toolCall("echo_headers", {})),
      });
      const answer = (await response.json()) as { result: { content: { text: string }[] } };
      const headers = JSON.parse(answer.result.content[0]?.text ?? "{}") as Record<string, string>;
      expect(headers.traceparent).toBeUndefined();
      let runs: { trace_id: string | null }[] = [];
      await waitUntil(async () => {
        const listed = await server.request("GET", `/orgs/${org.id}/runs/`, {
          token: org.owner.token,
        });
        runs = listed.body.results;
        return runs.length === 1;
      });
      expect(runs[0]?.trace_id).toBeNull();
    } finally {
      await upstream.close();
      await server.close();
    }
  });
});
