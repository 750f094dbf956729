/**
 * What routing an upstream's request to the client (and the client's answer back) costs across
 * replicas (issue 14), part `relay` of `pnpm bench` (see run.ts):
 *
 *   - `confirm_delete` of the protocol upstream elicits once from the caller, then answers. An SDK
 *     client that declared elicitation and accepts at once calls it (1) on the upstream itself,
 *     (2) through the gateway of one replica, and (3) through a round-robin balancer in front of
 *     two replicas on one PostgreSQL, where each answer POST reaches the replica that does not
 *     hold the call: it is stored in `relay_requests` and NOTIFYed to the holder. (2) goes through
 *     a balancer with that one replica behind it, so (3) − (2) is the cross-replica hop alone.
 *   - for reference, PostgreSQL's part of that hop alone: the statement the answering replica runs
 *     (UPDATE … RETURNING with pg_notify, on a scratch table), until a LISTENing connection, as
 *     the holder's change feed, hears the notification;
 *   - `echo` through one replica, session-less and in a session (`Mcp-Session-Id`), by the same
 *     raw JSON-RPC client, to show what the session costs a plain call.
 *
 * Every path has one client calling in a closed loop (concurrency 1: with two replicas and
 * nothing else through the balancer, a call and its answer are consecutive requests, so the
 * answer always reaches the other replica; each round checks that it did).
 */
import os from "node:os";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema, LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import pg from "pg";
import { startBalancer, type Balancer } from "../test/round-robin";
import { drive, percentile, ROUNDS, type Worker } from "./load";

/** Measured calls per path (spread over the rounds), and unmeasured ones before. */
const RELAY_CALLS = Number(process.env.BENCH_RELAY_CALLS ?? 400);
const RELAY_WARMUP = Number(process.env.BENCH_RELAY_WARMUP ?? 100);
/** The paths take turns as in the other parts; an even count, as every other round is reversed. */
const RELAY_ROUNDS = 2 * Math.ceil(ROUNDS / 2);

export type RelayPath =
  "direct" | "one_replica" | "cross_replica" | "postgres_hop" | "sessionless" | "session";

export interface RelayPathResult {
  path: RelayPath;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  calls_per_s: number;
}

export interface RelayResult {
  warmup: number;
  rounds: number;
  paths: RelayPathResult[];
  /** Measured calls of the cross-replica path whose answer reached the other replica. */
  answers_on_other_replica: number;
  /** Load average (1, 5, 15 min) when the part started and ended. */
  load_start: string;
  load_end: string;
}

export interface RelaySetup {
  /** The replicas' database (the PostgreSQL-alone path uses a temporary table of its own). */
  databaseUrl: string;
  /** The upstream serving `confirm_delete` (bench/upstream.ts protocol). */
  elicitingUpstream: string;
  /** Two replicas on one PostgreSQL; the first alone serves the one-replica paths. */
  replicas: [string, string];
  /** An agent allowed `confirm_delete` and `echo` (served by another connection of its org). */
  agentId: string;
  key: string;
}

/** An SDK client that declared elicitation and accepts every request at once. */
async function elicitingWorker(url: string, headers: Record<string, string>): Promise<Worker> {
  const client = new Client(
    { name: "bench-relay", version: "1.0.0" },
    { capabilities: { elicitation: { form: {} } } },
  );
  let asked = 0;
  client.setRequestHandler(ElicitRequestSchema, () => {
    asked += 1;
    return { action: "accept", content: { confirm: true } };
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
  );
  return {
    call: async (index) => {
      const before = asked;
      const result = await client.callTool({
        name: "confirm_delete",
        arguments: { item: `item ${index}` },
      });
      const answer = result.structuredContent as { action?: unknown } | undefined;
      if (result.isError || answer?.action !== "accept" || asked !== before + 1)
        throw new Error(
          `unexpected result ${JSON.stringify(result)} after ${asked - before} elicitations`,
        );
    },
    close: () => client.close(),
  };
}

/**
 * One "answer" through PostgreSQL as runs/relay.ts sends it from the replica the client's POST
 * reached: one statement storing the answer and notifying with it inline, timed until another
 * connection LISTENing on the channel (the holder's change feed) hears it.
 */
async function postgresHopWorker(databaseUrl: string): Promise<Worker> {
  const writer = new pg.Client({ connectionString: databaseUrl });
  const listener = new pg.Client({ connectionString: databaseUrl });
  await Promise.all([writer.connect(), listener.connect()]);
  await writer.query(
    "create temporary table bench_relay_hop (id text primary key, answer jsonb, answered_at timestamptz)",
  );
  await writer.query("insert into bench_relay_hop (id) values ('relay-bench')");
  await listener.query("listen bench_relay_hop");
  let heard = (): void => undefined;
  listener.on("notification", () => {
    heard();
  });
  const answer = JSON.stringify({ result: { action: "accept", content: { confirm: true } } });
  const payload = `{"id":"relay-bench","answer":${answer}}`;
  return {
    call: async () => {
      const notified = new Promise<void>((resolve) => {
        heard = resolve;
      });
      const stored = await writer.query(
        `with answered as (
           update bench_relay_hop set answer = $1::jsonb, answered_at = now()
           where id = 'relay-bench' returning id
         )
         select pg_notify('bench_relay_hop', $2), answered.id from answered`,
        [answer, payload],
      );
      if (stored.rowCount !== 1) throw new Error("the scratch row was not updated");
      await notified;
    },
    close: async () => {
      await Promise.all([writer.end(), listener.end()]);
    },
  };
}

const JSON_RPC_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
};

/**
 * `tools/call echo` as bare JSON-RPC POSTs, with or without a session: the same code either way
 * but for the `Mcp-Session-Id` header (and the `initialize` that opened the session).
 */
async function plainWorker(url: string, key: string, inSession: boolean): Promise<Worker> {
  const headers: Record<string, string> = { ...JSON_RPC_HEADERS, authorization: `Bearer ${key}` };
  const post = (message: unknown) =>
    fetch(url, { method: "POST", headers, body: JSON.stringify(message) });
  if (inSession) {
    const opened = await post({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "bench-relay", version: "1.0.0" },
      },
    });
    await opened.text();
    const sessionId = opened.headers.get("mcp-session-id");
    if (!opened.ok || sessionId === null)
      throw new Error(`initialize answered ${opened.status} without a session`);
    headers["mcp-session-id"] = sessionId;
    const initialized = await post({ jsonrpc: "2.0", method: "notifications/initialized" });
    if (initialized.status !== 202)
      throw new Error(`notifications/initialized answered ${initialized.status}`);
  }
  return {
    call: async (index) => {
      const text = `hello ${index}`;
      const response = await post({
        jsonrpc: "2.0",
        id: index + 1,
        method: "tools/call",
        params: { name: "echo", arguments: { text } },
      });
      const body = await response.text();
      const result = (
        response.headers.get("content-type")?.startsWith("application/json")
          ? JSON.parse(body)
          : null
      ) as { result?: { content?: { text?: string }[] } } | null;
      if (response.status !== 200 || result?.result?.content?.[0]?.text !== text)
        throw new Error(`unexpected answer ${response.status} ${body}`);
    },
    close: async () => {
      if (inSession) await fetch(url, { method: "DELETE", headers });
    },
  };
}

/**
 * The requests the cross-replica balancer routed during a round: each call's POST and then its
 * answer's, nothing else. Returns how many answers reached another replica than their call.
 */
function answersElsewhere(balancer: Balancer, from: number, calls: number): number {
  const routed = balancer.routed.slice(from);
  if (routed.length !== 2 * calls || routed.some((request) => request.method !== "POST"))
    throw new Error(
      `expected ${calls} calls and their answers through the balancer, got ${JSON.stringify(routed)}`,
    );
  let elsewhere = 0;
  for (let call = 0; call < calls; call++)
    if (routed[2 * call]?.replica !== routed[2 * call + 1]?.replica) elsewhere += 1;
  return elsewhere;
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(" ");
}

export async function benchRelay(setup: RelaySetup): Promise<RelayResult> {
  const loadStart = loadAverage();
  const [first, second] = setup.replicas;
  // The one-replica path takes the same extra hop through a balancer as the cross-replica one.
  const alone = await startBalancer([first]);
  const pair = await startBalancer([first, second]);
  const endpoint = (base: string) => `${base}/mcp/${setup.agentId}`;
  const auth = { authorization: `Bearer ${setup.key}` };
  const workers = new Map<RelayPath, Worker>();
  try {
    workers.set("direct", await elicitingWorker(setup.elicitingUpstream, {}));
    workers.set("one_replica", await elicitingWorker(endpoint(alone.url), auth));
    workers.set("cross_replica", await elicitingWorker(endpoint(pair.url), auth));
    workers.set("postgres_hop", await postgresHopWorker(setup.databaseUrl));
    workers.set("sessionless", await plainWorker(endpoint(first), setup.key, false));
    workers.set("session", await plainWorker(endpoint(first), setup.key, true));
    const totals = new Map(
      [...workers.keys()].map((path) => [path, { latencies: [] as number[], wallMs: 0 }]),
    );
    for (const worker of workers.values()) await drive([worker], RELAY_WARMUP);
    const perRound = Math.ceil(RELAY_CALLS / RELAY_ROUNDS);
    let answersOnOtherReplica = 0;
    const order = [...workers];
    for (let round = 0; round < RELAY_ROUNDS; round++) {
      // Every other round runs backwards, so no path always follows the heavy ones (whose runs
      // and audit events are still being written as the next path starts).
      for (const [path, worker] of round % 2 === 0 ? order : [...order].reverse()) {
        const total = totals.get(path);
        if (!total) continue;
        const routedBefore = pair.routed.length;
        const { latencies, wallMs } = await drive([worker], perRound);
        if (path === "cross_replica")
          answersOnOtherReplica += answersElsewhere(pair, routedBefore, latencies.length);
        total.latencies.push(...latencies);
        total.wallMs += wallMs;
      }
    }
    const round = (value: number) => Math.round(value * 1000) / 1000;
    const paths = [...totals].map(([path, { latencies, wallMs }]): RelayPathResult => {
      latencies.sort((a, b) => a - b);
      return {
        path,
        requests: latencies.length,
        p50_ms: round(percentile(latencies, 50)),
        p99_ms: round(percentile(latencies, 99)),
        calls_per_s: Math.round((latencies.length / wallMs) * 1000),
      };
    });
    for (const result of paths)
      console.log(
        `  relay ${result.path.padEnd(13)} p50 ${result.p50_ms.toFixed(2)} ms  p99 ${result.p99_ms.toFixed(2)} ms  ${result.calls_per_s} calls/s`,
      );
    const result: RelayResult = {
      warmup: RELAY_WARMUP,
      rounds: RELAY_ROUNDS,
      paths,
      answers_on_other_replica: answersOnOtherReplica,
      load_start: loadStart,
      load_end: loadAverage(),
    };
    console.log(
      `  relay: ${result.answers_on_other_replica} cross-replica answers on the other replica; load average ${result.load_start} → ${result.load_end}`,
    );
    return result;
  } finally {
    for (const worker of workers.values()) await worker.close();
    await alone.close();
    await pair.close();
  }
}

const LABELS: Record<RelayPath, string> = {
  direct: "direct: the client on the upstream",
  one_replica: "gateway, one replica (the answer reaches the replica holding the call)",
  cross_replica:
    "gateway, two replicas: the answer reaches the other replica (relayed through PostgreSQL)",
  postgres_hop:
    "(reference) PostgreSQL alone: the answering replica's `UPDATE … RETURNING` + `pg_notify`, until a `LISTEN`ing connection hears it",
  sessionless: "`echo`, session-less",
  session: "`echo`, in a session (`Mcp-Session-Id`)",
};

export function formatRelay(result: RelayResult): string[] {
  const find = (path: RelayPath) => result.paths.find((entry) => entry.path === path);
  const row = (entry: RelayPathResult) =>
    `| ${LABELS[entry.path]} | ${entry.requests} | ${entry.p50_ms.toFixed(2)} | ${entry.p99_ms.toFixed(2)} | ${entry.calls_per_s} |`;
  const difference = (label: string, from: RelayPath, to: RelayPath): string[] => {
    const a = find(from);
    const b = find(to);
    if (!a || !b) return [];
    const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(2)}`;
    return [
      `| ${label} | | ${signed(b.p50_ms - a.p50_ms)} | ${signed(b.p99_ms - a.p99_ms)} | ${(b.calls_per_s / a.calls_per_s).toFixed(2)}× |`,
    ];
  };
  const cross = find("cross_replica");
  const elicitingPaths: RelayPath[] = ["direct", "one_replica", "cross_replica"];
  const plainPaths: RelayPath[] = ["sessionless", "session"];
  const rows = (paths: RelayPath[]) =>
    paths.flatMap((path) => {
      const entry = find(path);
      return entry ? [row(entry)] : [];
    });
  return [
    "### Server→client requests across replicas (issue 14, PostgreSQL)",
    "",
    `One client per path, calling in a closed loop (concurrency 1), ${result.warmup} warm-up calls per path, then the paths take turns in ${result.rounds} interleaved rounds, every other one in reverse order. Load average ${result.load_start} at the start of this part, ${result.load_end} at its end. \`confirm_delete\` (test/protocol-upstream.ts) sends \`elicitation/create\` to the caller once, then answers; the SDK client declared elicitation and accepts at once. Both gateway paths go through a round-robin balancer in the bench process (one replica behind it, or two on one PostgreSQL); on the second, ${result.answers_on_other_replica} of ${cross?.requests ?? 0} answers reached the replica not holding their call (checked per round from the balancer's routing).`,
    "",
    "| Path | Calls | p50 ms | p99 ms | calls/s |",
    "|---|---|---|---|---|",
    ...rows(elicitingPaths),
    ...difference("cross-replica hop (two replicas − one)", "one_replica", "cross_replica"),
    ...rows(["postgres_hop"]),
    "",
    "`echo` through one replica (no balancer), by the same bare JSON-RPC client with and without `Mcp-Session-Id`:",
    "",
    "| Path | Calls | p50 ms | p99 ms | calls/s |",
    "|---|---|---|---|---|",
    ...rows(plainPaths),
    ...difference("session − session-less", "sessionless", "session"),
    "",
  ];
}
