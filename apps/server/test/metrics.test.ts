import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestMcpServer, waitUntil, type RunningTestMcpServer } from "@mcp/core/testing";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
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

interface Sample {
  labels?: Record<string, string>;
  value: string;
}
interface Family {
  name: string;
  metrics: Sample[];
}

const TOKEN = randomBytes(24).toString("hex");

async function scrape(url: string, token: string | null = TOKEN): Promise<Response> {
  return fetch(url, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
}

/**
 * The exposition parsed by a Prometheus text-format parser into series by name, as PromQL sees
 * them: a histogram `h` is its `h_bucket`, `h_sum` and `h_count` series. (The parser folds a
 * histogram's series into one sample without labels when told its type, so types are left out.)
 */
function seriesOf(text: string): Map<string, Family> {
  const untyped = text
    .split("\n")
    .filter((line) => !line.startsWith("# TYPE "))
    .join("\n");
  const families = parsePrometheusTextFormat(untyped) as Family[];
  return new Map(families.map((family) => [family.name, family]));
}

async function metricsAt(url: string, token: string | null = TOKEN): Promise<Map<string, Family>> {
  const response = await scrape(url, token);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return seriesOf(await response.text());
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([name, value]) => sample.labels?.[name] === value);
}

/** A series' value for the labels (summed over samples that match); 0 when absent. */
function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  return (families.get(name)?.metrics ?? [])
    .filter((sample) => matches(sample, labels))
    .reduce((sum, sample) => sum + Number(sample.value), 0);
}

/** A histogram's observation count for the labels. */
function countOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  return valueOf(families, `${name}_count`, labels);
}

describe.skipIf(databaseUnavailable)("Prometheus metrics", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let metricsUrl: string;

  beforeAll(async () => {
    server = await startTestServer({ METRICS_TOKEN: TOKEN });
    upstream = await startTestMcpServer();
    metricsUrl = `${server.url}/metrics`;
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  it("refuses a scrape without the token or with a wrong one", async () => {
    const missing = await scrape(metricsUrl, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await missing.text()).not.toMatch(/mcp_http_requests_total/);
    expect((await scrape(metricsUrl, `${TOKEN}x`)).status).toBe(401);
    expect((await scrape(metricsUrl, TOKEN.slice(1))).status).toBe(401);
    const basic = await fetch(metricsUrl, {
      headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` },
    });
    expect(basic.status).toBe(401);
  });

  it("counts and times gateway calls, upstream errors and rate-limit refusals after real calls", async () => {
    const org = await createOrg(server);
    const gov = governance(server, org);
    const connection = await gov.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const doomed = await startTestMcpServer();
    const dead = await gov.syncedConnection({ transport: "streamable_http", url: doomed.url });
    const agent = await gov.agent();
    const { key } = await gov.key(agent.id);
    await gov.policy({ effect: "allow", agent_id: agent.id, tool_pattern: "*" });
    await gov.policy({
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "echo",
      rate_limit: { max_calls: 3, per_seconds: 3600 },
    });
    const tools = await server.request("GET", `/orgs/${org.id}/tools/?connection_id=${dead.id}`, {
      token: org.owner.token,
    });
    const deadTool = (tools.body.results as { id: string; name: string }[]).find(
      (tool) => tool.id === dead.tools.add,
    )?.name;
    expect(deadTool).toBeDefined();
    expect(connection.tools.echo).toBeDefined();
    await doomed.close();

    const before = await metricsAt(metricsUrl);
    const gatewayLabels = { surface: "gateway", route: "/mcp/{agent_id}", method: "POST" };
    for (let call = 1; call <= 4; call++) {
      const response = await gatewayPost(
        server.url,
        agent.id,
        key,
        toolCall("echo", { text: `${call}` }),
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as { result: { isError?: boolean } };
      expect(body.result.isError ?? false).toBe(call === 4);
    }
    const unreachable = await gatewayPost(
      server.url,
      agent.id,
      key,
      toolCall(deadTool ?? "", { a: 1, b: 2 }),
    );
    expect(unreachable.status).toBe(200);
    expect(
      (await gatewayPost(server.url, agent.id, "mcpa_wrong", toolCall("echo", { text: "x" })))
        .status,
    ).toBe(401);
    // Records of gateway calls are written after the answer: wait until the recorder is idle.
    await waitUntil(
      async () => valueOf(await metricsAt(metricsUrl), "mcp_recorder_queue_depth") === 0,
    );
    const after = await metricsAt(metricsUrl);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    const countDelta = (name: string, labels: Record<string, string> = {}) =>
      countOf(after, name, labels) - countOf(before, name, labels);

    expect(delta("mcp_http_requests_total", { ...gatewayLabels, status: "200" })).toBe(5);
    expect(delta("mcp_http_requests_total", { ...gatewayLabels, status: "401" })).toBe(1);
    expect(countDelta("mcp_http_request_duration_seconds", { surface: "gateway" })).toBe(6);
    const run = { kind: "tool", surface: "mcp" };
    expect(delta("mcp_governed_calls_total", { ...run, status: "succeeded" })).toBe(3);
    expect(delta("mcp_governed_calls_total", { ...run, status: "rate_limited" })).toBe(1);
    expect(delta("mcp_governed_calls_total", { ...run, status: "failed" })).toBe(1);
    expect(delta("mcp_rate_limit_refusals_total", { surface: "mcp" })).toBe(1);
    expect(delta("mcp_upstream_errors_total", { kind: "unreachable" })).toBe(1);
    // Four calls went upstream: three answered, one found nobody there.
    expect(countDelta("mcp_upstream_call_duration_seconds", { kind: "tool" })).toBe(4);
    expect(delta("mcp_recorder_records_written_total")).toBeGreaterThanOrEqual(5);
    expect(countDelta("mcp_recorder_flush_duration_seconds")).toBeGreaterThanOrEqual(1);
    // The key, agent, tool and policies of the later calls came from the cache.
    expect(delta("mcp_call_cache_requests_total", { result: "hit" })).toBeGreaterThan(0);
    expect(valueOf(after, "mcp_pool_sessions", { state: "open" })).toBeGreaterThanOrEqual(1);

    // Buckets are cumulative and end with every observation.
    const gateway = { surface: "gateway", route: "/mcp/{agent_id}" };
    expect(
      valueOf(after, "mcp_http_request_duration_seconds_bucket", { ...gateway, le: "+Inf" }),
    ).toBe(countOf(after, "mcp_http_request_duration_seconds", gateway));

    // Node's and the process's own metrics.
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
    ])
      expect(after.has(name), name).toBe(true);
  });

  it("names REST routes by their template and never by ids", async () => {
    const org = await createOrg(server);
    const gov = governance(server, org);
    const agent = await gov.agent();
    const fetched = await server.request("GET", `/agents/${agent.id}/`, { token: org.owner.token });
    expect(fetched.status).toBe(200);
    expect(
      (await server.request("GET", `/agents/${randomBytes(4).toString("hex")}/`, {})).status,
    ).toBe(401);
    expect((await server.request("GET", `/no-such-${agent.id}`, {})).status).toBe(404);

    const response = await scrape(metricsUrl);
    const text = await response.text();
    // No label anywhere carries an id a tenant chose or was given.
    expect(text).not.toContain(agent.id);
    expect(text).not.toContain(org.id);
    const requests = seriesOf(text).get("mcp_http_requests_total");
    const routes = new Set(requests?.metrics.map((sample) => sample.labels?.route));
    expect([...routes]).toContain("/api/v1/agents/{id}");
    expect(routes).toContain("unmatched");
    for (const route of routes) expect(route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/);
  });

  it("ships a Grafana dashboard that queries only metrics the server exports", async () => {
    const dashboard = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../../deploy/grafana-dashboard.json"), "utf8"),
    ) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const series = await metricsAt(metricsUrl);
    const exported = new Set(
      [...series.values()]
        .filter((family) => family.metrics.length > 0)
        .map((family) => family.name),
    );
    const queried = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((target) =>
        [...target.expr.matchAll(/\b(mcp_\w+|process_\w+|nodejs_\w+)\b/g)].map(
          (match) => match[1] ?? "",
        ),
      ),
    );
    expect(queried.length).toBeGreaterThan(10);
    for (const name of queried) expect(exported.has(name), name).toBe(true);
  });
});

describe.skipIf(databaseUnavailable)("metrics exposure", () => {
  it("METRICS_PORT serves /metrics on its own port (token enforced there) and not on the main one", async () => {
    const server = await startTestServer({ METRICS_PORT: "0", METRICS_TOKEN: TOKEN });
    try {
      expect(server.metricsUrl).not.toBeNull();
      const metricsUrl = server.metricsUrl ?? "";
      expect((await scrape(`${server.url}/metrics`)).status).toBe(404);
      expect((await scrape(metricsUrl, null)).status).toBe(401);
      const families = await metricsAt(metricsUrl);
      expect(families.has("mcp_http_requests_total")).toBe(true);
      expect((await scrape(metricsUrl.replace("/metrics", "/other"))).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("is not served on the main port in production without METRICS_TOKEN or METRICS_PORT", async () => {
    const server = await startTestServer({
      NODE_ENV: "production",
      SECRET_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    });
    try {
      expect((await scrape(`${server.url}/metrics`, null)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("is open on the main port outside production when no token is set", async () => {
    const server = await startTestServer();
    try {
      const families = await metricsAt(`${server.url}/metrics`, null);
      expect(families.has("mcp_recorder_queue_depth")).toBe(true);
    } finally {
      await server.close();
    }
  });
});
