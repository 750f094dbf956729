import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import { consumeRateLimit, createDatabase } from "@mcp/core";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { replicaEnv, startReplica, type Replica } from "./balancer";
import { databaseUnavailable, TEST_DB } from "./harness";

/*
 * Three real server processes (balancer.ts's replicas) on one PostgreSQL database, behind this
 * file's own round-robin client: what a deployment behind a load
 * balancer looks like, without sticky sessions.
 */

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request through `agent`; a failure carries whether it went out on a reused socket. */
function send(
  agent: http.Agent,
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
      });
      response.on("error", (error) => {
        reject(Object.assign(error, { responded: true }));
      });
    });
    request.on("error", (error) => {
      reject(Object.assign(error, { reusedSocket: request.reusedSocket, responded: false }));
    });
    request.end(body);
  });
}

const echoCall = (text: string) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "echo", arguments: { text } },
  });

function gatewayHeaders(key: string, requestId: string): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${key}`,
    "x-request-id": requestId,
  };
}

describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")(
  "three replicas on one PostgreSQL",
  () => {
    const replicas: Replica[] = [];
    let upstream: RunningTestMcpServer;
    let next = 0;

    /** REST through the round robin: each call goes to the next replica. */
    async function api(method: string, path: string, token?: string, body?: unknown) {
      const replica = replicas[next++ % replicas.length];
      if (!replica) throw new Error("no replicas");
      const answer = await send(
        replica.agent,
        `${replica.url}/api/v1${path}`,
        method,
        {
          "content-type": "application/json",
          ...(token ? { authorization: `Token ${token}` } : {}),
        },
        body === undefined ? undefined : JSON.stringify(body),
      );
      return {
        status: answer.status,
        body: (answer.body ? JSON.parse(answer.body) : {}) as unknown,
      };
    }

    async function created<T = { id: string }>(path: string, token: string, body: unknown) {
      const response = await api("POST", path, token, body);
      expect(response.status, `${path}: ${JSON.stringify(response.body)}`).toBe(201);
      return response.body as T;
    }

    /** An org with a synced connection, an agent, its key and an allow-all policy. */
    async function setUp() {
      const password = `pw-${randomBytes(8).toString("hex")}`;
      const { token } = await created<{ token: string }>("/auth/register/", "", {
        email: `replicas-${randomBytes(6).toString("hex")}@example.com`,
        password,
        password_confirm: password,
      });
      const org = await created(`/orgs/`, token, { name: `Replicas ${randomUUID()}` });
      const connection = await created(`/orgs/${org.id}/connections/`, token, {
        name: "upstream",
        transport: "streamable_http",
        url: upstream.url,
      });
      const sync = await api("POST", `/connections/${connection.id}/sync/`, token);
      expect(sync.status).toBe(200);
      const tools = await api(
        "GET",
        `/orgs/${org.id}/tools/?connection_id=${connection.id}`,
        token,
      );
      const listed = tools.body as { results: { id: string; upstream_name: string }[] };
      const echo = listed.results.find((tool) => tool.upstream_name === "echo");
      if (!echo) throw new Error("echo was not synced");
      const agent = await created(`/orgs/${org.id}/agents/`, token, { name: "replicated" });
      const key = await created<{ id: string; key: string }>(`/agents/${agent.id}/keys/`, token, {
        name: "k",
      });
      await created(`/orgs/${org.id}/policies/`, token, {
        name: "all",
        effect: "allow",
        agent_id: agent.id,
        tool_pattern: "*",
      });
      return { token, orgId: org.id, agentId: agent.id, key, echoId: echo.id };
    }

    beforeAll(async () => {
      upstream = await startTestMcpServer();
      const env = replicaEnv({
        // Far longer than the drain needs: a stop that does not drain shows up as the timeout's log line.
        SHUTDOWN_TIMEOUT_MS: "30000",
      });
      replicas.push(...(await Promise.all([0, 1, 2].map(() => startReplica(env)))));
    }, 180_000);

    afterAll(async () => {
      for (const replica of replicas) {
        replica.agent.destroy();
        replica.child.kill("SIGKILL");
      }
      await upstream.close();
    });

    /*
     * The replica that made a change refuses on the very next call (its API answers only once its
     * own cache has heard of the change). Another replica refuses once PostgreSQL's notification
     * reached it, which is not ordered with the client's next request to it: under load here a
     * probe sent right after the answer was served from a stale entry in about 3% of cases. So
     * each other replica is probed after an event that proves the notification arrived: a
     * mutation through it, which answers only after its own feed delivered every earlier commit.
     */
    it("refuses a disabled agent, a disabled tool and a revoked key on every replica", async () => {
      const { token, orgId, agentId, key, echoId } = await setUp();
      const probe = async (replica: Replica) => {
        const answer = await send(
          replica.agent,
          `${replica.url}/mcp/${agentId}`,
          "POST",
          gatewayHeaders(key.key, randomUUID()),
          echoCall("probe"),
        );
        const result =
          answer.status === 200
            ? (
                JSON.parse(answer.body) as {
                  result?: { isError?: boolean; content: { text: string }[] };
                }
              ).result
            : undefined;
        return {
          status: answer.status,
          isError: result?.isError ?? false,
          text: result?.content[0]?.text,
        };
      };
      const on = async (replica: Replica, method: string, path: string, body?: unknown) => {
        const answer = await send(
          replica.agent,
          `${replica.url}/api/v1${path}`,
          method,
          { "content-type": "application/json", authorization: `Token ${token}` },
          body === undefined ? undefined : JSON.stringify(body),
        );
        expect(answer.status, `${method} ${path}: ${answer.body}`).toBeLessThan(300);
      };
      /** Makes a change on replica `by`, then probes it at once and every other after the event. */
      const changeThenProbe = async (
        by: number,
        change: [method: string, path: string, body?: unknown],
      ) => {
        const maker = replicas[by];
        if (!maker) throw new Error("no such replica");
        await on(maker, ...change);
        const answers = [await probe(maker)];
        for (const other of replicas.filter((replica) => replica !== maker)) {
          await on(other, "PATCH", `/orgs/${orgId}/`, { name: `Replicas ${randomUUID()}` });
          answers.push(await probe(other));
        }
        return answers;
      };
      const served = { status: 200, isError: false, text: "probe" };
      // Every replica has the agent, its key and the tool in its cache.
      expect(await Promise.all(replicas.map(probe))).toEqual([served, served, served]);

      const disabledAgent = await changeThenProbe(0, [
        "PATCH",
        `/agents/${agentId}/`,
        { status: "disabled" },
      ]);
      expect(disabledAgent.map((answer) => answer.status)).toEqual([401, 401, 401]);
      expect(
        await changeThenProbe(1, ["PATCH", `/agents/${agentId}/`, { status: "active" }]),
      ).toEqual([served, served, served]);

      const disabledTool = await changeThenProbe(2, [
        "PATCH",
        `/tools/${echoId}/`,
        { enabled: false },
      ]);
      for (const answer of disabledTool) {
        expect(answer).toEqual({ status: 200, isError: true, text: "Tool 'echo' is disabled" });
      }
      expect(await changeThenProbe(0, ["PATCH", `/tools/${echoId}/`, { enabled: true }])).toEqual([
        served,
        served,
        served,
      ]);

      const revoked = await changeThenProbe(1, ["DELETE", `/agents/${agentId}/keys/${key.id}/`]);
      expect(revoked.map((answer) => answer.status)).toEqual([401, 401, 401]);
    });

    it("counts rate limits in windows of the database's clock, whatever a replica's clock says", async () => {
      const { token, orgId } = await setUp();
      const policy = await created(`/orgs/${orgId}/policies/`, token, {
        name: "limited",
        effect: "allow",
        tool_pattern: "*",
        rate_limit: { max_calls: 1, per_seconds: 3600 },
      });
      const database = await createDatabase({ databaseUrl: inject("postgresUrl"), poolSize: 1 });
      const consume = () =>
        consumeRateLimit(database.db, {
          policyId: policy.id,
          subject: "agent:skewed",
          maxCalls: 1,
          perSeconds: 3600,
        });
      try {
        // One replica's clock is a day ahead: the window is still the database's current hour.
        vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 24 * 3_600_000 });
        const ahead = await consume();
        vi.useRealTimers();
        const inTime = await consume();
        expect(ahead).toMatchObject({ allowed: true, count: 1 });
        expect(inTime).toMatchObject({ allowed: false, count: 2 });
        expect(inTime.retry_after_seconds).toBeGreaterThanOrEqual(1);
        expect(inTime.retry_after_seconds).toBeLessThanOrEqual(3600);
      } finally {
        vi.useRealTimers();
        await database.close();
      }
    });

    it("stops a replica on SIGTERM under keep-alive load without losing or resetting an accepted call", async () => {
      const { orgId, agentId, key } = await setUp();
      const [survivorA, victim, survivorB] = replicas;
      if (!survivorA || !victim || !survivorB) throw new Error("three replicas expected");

      type Outcome =
        | { kind: "ok"; replica: Replica; closed: boolean }
        | {
            kind: "failed";
            replica: Replica;
            code: string;
            reusedSocket: boolean;
            responded: boolean;
          };
      const attempts = new Map<string, Outcome>();
      let victimServed = 0;
      let servedAfterExit = 0;
      let victimGone = false;
      let sigtermSent = false;
      let signalled: () => void = () => undefined;
      const enoughOnVictim = new Promise<void>((resolve) => (signalled = resolve));
      let drained: () => void = () => undefined;
      const enoughAfterExit = new Promise<void>((resolve) => (drained = resolve));
      void victim.exited.then(() => {
        victimGone = true;
      });

      /** A gateway caller: calls echo with a fresh marker, round robin, until told to stop. */
      let turn = 0;
      let stop = false;
      const caller = async () => {
        try {
          await callUntilStopped();
        } catch (error) {
          stop = true;
          throw error;
        }
      };
      const callUntilStopped = async () => {
        while (!stop) {
          const replica = replicas[turn++ % replicas.length];
          if (!replica) continue;
          const marker = randomUUID();
          try {
            const answer = await send(
              replica.agent,
              `${replica.url}/mcp/${agentId}`,
              "POST",
              gatewayHeaders(key.key, marker),
              echoCall(marker),
            );
            expect(answer.status).toBe(200);
            expect(JSON.parse(answer.body)).toEqual({
              jsonrpc: "2.0",
              id: 1,
              result: { content: [{ type: "text", text: marker }] },
            });
            attempts.set(marker, {
              kind: "ok",
              replica,
              closed: answer.headers.connection === "close",
            });
            if (replica === victim && ++victimServed === 150) signalled();
            if (victimGone && ++servedAfterExit === 150) drained();
          } catch (error) {
            const failure = error as NodeJS.ErrnoException & {
              reusedSocket: boolean;
              responded: boolean;
            };
            if (!failure.code) throw error;
            // Refused (the replica stopped listening) or closed before an answer: the caller tries
            // the next replica on a fresh connection, as an HTTP client behind a balancer would.
            attempts.set(marker, {
              kind: "failed",
              replica,
              code: failure.code,
              reusedSocket: failure.reusedSocket,
              responded: failure.responded,
            });
          }
        }
      };
      const callers = Array.from({ length: 12 }, () => caller());

      await enoughOnVictim;
      // A call certain to be in flight on the victim when the stop begins: it must still be
      // answered (and told to close its connection), the stop waiting for it.
      const slowAgent = new http.Agent({ keepAlive: true });
      const slowStarted = upstream.nextCall("started", "slow");
      const slow = send(
        slowAgent,
        `${victim.url}/mcp/${agentId}`,
        "POST",
        gatewayHeaders(key.key, randomUUID()),
        JSON.stringify({
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "slow", arguments: { ms: 5000 } },
        }),
      );
      await slowStarted;
      const stopping = victim.logged("shutting down");
      victim.child.kill("SIGTERM");
      sigtermSent = true;
      await stopping;
      const exit = await victim.exited;
      await enoughAfterExit;
      stop = true;
      await Promise.all(callers);
      expect(sigtermSent).toBe(true);

      // The stop drained: exit 0, and never the shutdown timeout's "cutting connections".
      expect(exit).toEqual({ code: 0, signal: null });
      expect(victim.log.map((entry) => entry.msg)).not.toContain(
        "requests still running at the shutdown timeout; closing their connections",
      );
      // The call in flight when the stop began was answered, and its connection closed after it.
      const slowAnswer = await slow;
      slowAgent.destroy();
      expect(slowAnswer.status).toBe(200);
      expect(slowAnswer.headers.connection).toBe("close");
      expect(slowAnswer.body).toContain("slept 5000 ms");

      // The survivors write what they still hold on their own graceful stop.
      for (const survivor of [survivorA, survivorB]) survivor.child.kill("SIGTERM");
      for (const survivor of [survivorA, survivorB])
        expect(await survivor.exited).toEqual({ code: 0, signal: null });

      const db = new pg.Client({ connectionString: inject("postgresUrl") });
      await db.connect();
      try {
        const runs = await db.query<{ id: string; text: string; status: string }>(
          "select id, input->>'text' as text, status from runs where org_id = $1",
          [orgId],
        );
        const audited = new Set(
          (
            await db.query<{ target_id: string }>(
              "select target_id from audit_events where org_id = $1 and action = 'tool.run'",
              [orgId],
            )
          ).rows.map((row) => row.target_id),
        );
        const runByMarker = new Map(runs.rows.map((row) => [row.text, row]));
        const ok = [...attempts].filter(([, attempt]) => attempt.kind === "ok");
        const failed = [...attempts].filter(([, attempt]) => attempt.kind === "failed");
        expect(ok.length).toBeGreaterThan(300);

        // Every call a client saw succeed has its run and audit event.
        const withoutRecord = ok.filter(([marker]) => {
          const run = runByMarker.get(marker);
          return run?.status !== "succeeded" || !audited.has(run.id);
        });
        expect(withoutRecord).toEqual([]);

        // No request the server accepted was reset: a failed attempt never reached a handler (no
        // access-log line on any replica, no run), and nothing failed after an answer began.
        const logged = new Set(
          replicas.flatMap((replica) =>
            replica.log.filter((entry) => entry.msg === "request").map((entry) => entry.request_id),
          ),
        );
        for (const [marker, attempt] of failed) {
          expect(attempt).toMatchObject({ kind: "failed", replica: victim, responded: false });
          expect(logged.has(marker)).toBe(false);
          expect(runByMarker.has(marker)).toBe(false);
        }
        // The slow call's run is the one more.
        expect(runs.rows).toHaveLength(ok.length + 1);
      } finally {
        await db.end();
      }
    }, 180_000);
  },
);
