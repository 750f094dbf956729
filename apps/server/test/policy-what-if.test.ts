import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

/*
 * Policy what-if: a proposed change replayed against the org's newest runs, through the REST API.
 * The runs are real (REST runs with agent keys, recorded before the response returns).
 */
describe.skipIf(databaseUnavailable)("policy what-if", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  /** Agents A and B; A may call echo, B anything; then 9 runs of known outcome. */
  async function history() {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const echo = connection.tools.echo ?? "";
    const add = connection.tools.add ?? "";
    const agentA = await g.agent({ name: "Agent A" });
    const agentB = await g.agent({ name: "Agent B" });
    const keyA = (await g.key(agentA.id)).key as string;
    const keyB = (await g.key(agentB.id)).key as string;
    const echoForA = await g.policy({ effect: "allow", agent_id: agentA.id, tool_pattern: "echo" });
    await g.policy({ effect: "allow", agent_id: agentB.id, tool_pattern: "*" });
    const runs: [string, Record<string, unknown>, string, string][] = [
      [echo, { text: "a1" }, keyA, "succeeded"],
      [echo, { text: "a2" }, keyA, "succeeded"],
      [echo, { text: "a3" }, keyA, "succeeded"],
      [add, { a: 1, b: 2 }, keyA, "denied"],
      [add, { a: 3, b: 4 }, keyA, "denied"],
      [echo, { text: "b1" }, keyB, "succeeded"],
      [echo, { text: "b2" }, keyB, "succeeded"],
      [add, { a: 1, b: 2 }, keyB, "succeeded"],
      [add, { a: 500, b: 1 }, keyB, "succeeded"],
    ];
    for (const [tool, input, key, status] of runs) {
      const response = await g.run(tool, { input }, key);
      expect(response.body).toMatchObject({ status });
    }
    return { org, g, echo, add, agentA, agentB, echoForA };
  }

  const whatIf = (org: TestOrg, body: unknown, token = org.owner.token) =>
    server.request("POST", `/orgs/${org.id}/policies/what-if/`, { token, body });

  it("shows the runs a deletion would deny, per tool and agent, with examples", async () => {
    const { org, echo, agentA, echoForA } = await history();
    const response = await whatIf(org, { policy_id: echoForA.id, delete: true });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({
      runs_considered: 9,
      unchanged: 6,
      to_allowed: 0,
      to_denied: 3,
      undetermined: 0,
      groups: [
        {
          kind: "tool",
          tool_id: echo,
          tool_name: "echo",
          agent_id: agentA.id,
          agent_name: "Agent A",
          runs: 3,
          to_allowed: 0,
          to_denied: 3,
        },
      ],
    });
    expect(response.body.examples).toHaveLength(3);
    expect(response.body.examples[0]).toMatchObject({
      tool_name: "echo",
      agent_id: agentA.id,
      before: { allowed: true },
      after: { allowed: false, reason: expect.stringMatching(/No allow policy/i) },
    });
  });

  it("replays inputs against a new policy's input schema", async () => {
    const { org, add, agentB } = await history();
    const response = await whatIf(org, {
      changes: {
        effect: "deny",
        tool_pattern: "add",
        input_schema: {
          type: "object",
          properties: { a: { type: "number", minimum: 100 } },
          required: ["a"],
        },
      },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({
      runs_considered: 9,
      to_denied: 1,
      to_allowed: 0,
      groups: [{ tool_id: add, agent_id: agentB.id, runs: 2, to_denied: 1 }],
    });
  });

  it("shows what an edit would allow, and replays only the newest runs asked for", async () => {
    const { org, echoForA } = await history();
    const widened = await whatIf(org, { policy_id: echoForA.id, changes: { tool_pattern: "*" } });
    expect(widened.status).toBe(200);
    expect(widened.body).toMatchObject({ runs_considered: 9, to_allowed: 2, to_denied: 0 });
    // The two newest runs are B's: the edit of A's policy changes neither.
    const newest = await whatIf(org, {
      policy_id: echoForA.id,
      changes: { tool_pattern: "*" },
      runs: 2,
    });
    expect(newest.body).toMatchObject({ runs_considered: 2, unchanged: 2, to_allowed: 0 });
  });

  it("changes nothing: no policy, no audit event", async () => {
    const { org, echoForA } = await history();
    const token = org.owner.token;
    const policiesBefore = await server.request("GET", `/orgs/${org.id}/policies/`, { token });
    const auditBefore = await server.request("GET", `/orgs/${org.id}/audit-events/?limit=200`, {
      token,
    });
    expect((await whatIf(org, { policy_id: echoForA.id, delete: true })).status).toBe(200);
    expect((await whatIf(org, { changes: { effect: "deny", tool_pattern: "*" } })).status).toBe(
      200,
    );
    expect(await server.request("GET", `/orgs/${org.id}/policies/`, { token })).toMatchObject({
      body: policiesBefore.body,
    });
    const auditAfter = await server.request("GET", `/orgs/${org.id}/audit-events/?limit=200`, {
      token,
    });
    expect(auditAfter.body.results).toHaveLength(auditBefore.body.results.length);
  });

  it("sees only its own org: another tenant's policy is not found, its runs never replayed", async () => {
    const mine = await history();
    const theirs = await history();
    const foreign = await whatIf(mine.org, { policy_id: theirs.echoForA.id, delete: true });
    expect(foreign.status).toBe(404);
    const everything = await whatIf(mine.org, { changes: { effect: "deny", tool_pattern: "*" } });
    expect(everything.body).toMatchObject({ runs_considered: 9, to_denied: 7 });
  });

  it("refuses bad input with the field at fault, and members below admin", async () => {
    const { org, echoForA } = await history();
    const cases: [unknown, string][] = [
      [{ delete: true }, "policy_id"],
      [{ policy_id: echoForA.id, delete: true, changes: { enabled: false } }, "changes"],
      [{ policy_id: echoForA.id }, "changes"],
      [{ changes: { effect: "deny" } }, "changes.tool_pattern"],
      [{ changes: { tool_pattern: "*" } }, "changes.effect"],
      [{ changes: { effect: "allow", tool_pattern: "*" }, runs: 10_001 }, "runs"],
      [{ changes: { effect: "allow", tool_pattern: "*" }, runs: 0 }, "runs"],
      [{ changes: { effect: "allow", tool_pattern: "  " } }, "changes.tool_pattern"],
      [
        { changes: { effect: "allow", tool_pattern: "*", input_schema: { type: 12 } } },
        "input_schema",
      ],
      [
        { changes: { effect: "allow", tool_pattern: "*", agent_id: crypto.randomUUID() } },
        "agent_id",
      ],
      [{ policy_id: "not-a-uuid", delete: true }, "policy_id"],
    ];
    for (const [body, field] of cases) {
      const response = await whatIf(org, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(response.body), JSON.stringify(body)).toContain(field);
    }
    const viewer = await addMember(server, org, "viewer");
    const refused = await whatIf(org, { policy_id: echoForA.id, delete: true }, viewer.token);
    expect(refused.status).toBe(403);
  });
});
