import { schema } from "@mcp/core/db";
import { expireApprovals, sweepInterruptedRuns } from "@mcp/core";
import { startTestMcpServer, waitUntil, type RunningTestMcpServer } from "@mcp/core/testing";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  type Progress,
} from "@modelcontextprotocol/sdk/types.js";
import { eq, sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startBalancer } from "./balancer";
import {
  addMember,
  createAgentWithConnection,
  createOrg,
  databaseUnavailable,
  gatewayPost,
  startTestServer,
  toolCall,
  TEST_DB,
  type TestAgent,
  type TestServer,
  type TestUser,
} from "./harness";

/*
 * Human approval of tool calls (require_approval policies) on two servers sharing one
 * PostgreSQL: a REST call is answered 202 with its run awaiting approval and runs once approved
 * on whichever server claims it; a gateway call (the SDK Client) is held on the server it reached,
 * with progress notifications, or runs as a task, and is released by a decision taken on the
 * other server. Expiry is brought forward in the database instead of waited for.
 */

interface Run {
  id: string;
  status: string;
  error: string | null;
  output: { content?: { type: string; text: string }[] } | null;
  decision: { approval?: { name: string } | null } | null;
}

interface Approval {
  id: string;
  run_id: string;
  run_status: string;
  status: string;
  mode: string;
  policy_name: string;
  approver_role: string;
  tool_name: string;
  agent_id: string | null;
  agent_name: string | null;
  user_id: string | null;
  input: unknown;
  decided_by: string | null;
  comment: string | null;
}

describe.skipIf(databaseUnavailable || TEST_DB !== "postgres")(
  "human approval of tool calls",
  () => {
    let first: TestServer;
    let second: TestServer;
    let upstream: RunningTestMcpServer;
    const clients: Client[] = [];

    beforeAll(async () => {
      first = await startTestServer();
      second = await startTestServer();
      upstream = await startTestMcpServer();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
    });
    afterAll(async () => {
      await first.close();
      await second.close();
      await upstream.close();
    });

    /** An org with the test server's tools, an agent, and a policy requiring approval of `echo`. */
    async function approvalSetup(
      policy: Record<string, unknown> = {},
    ): Promise<TestAgent & { policyId: string }> {
      const agent = await createAgentWithConnection(first, upstream.url);
      const created = await first.request("POST", `/orgs/${agent.org.id}/policies/`, {
        token: agent.org.owner.token,
        body: {
          name: `approve-echo-${Math.random().toString(36).slice(2, 8)}`,
          effect: "require_approval",
          tool_pattern: "echo",
          ...policy,
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return { ...agent, policyId: created.body.id };
    }

    async function runEcho(server: TestServer, agent: TestAgent, token: string, text: string) {
      return server.request<Run>("POST", `/tools/${agent.tools.echo}/run/`, {
        token,
        body: { input: { text } },
      });
    }

    async function approvalOf(server: TestServer, agent: TestAgent, runId: string) {
      const listed = await server.request<{ results: Approval[] }>(
        "GET",
        `/orgs/${agent.org.id}/approvals/?run_id=${runId}`,
        { token: agent.org.owner.token },
      );
      expect(listed.status).toBe(200);
      const [approval] = listed.body.results;
      if (!approval) throw new Error(`no approval for run ${runId}`);
      return approval;
    }

    function decide(
      server: TestServer,
      approvalId: string,
      token: string,
      body: { decision: "approve" | "deny"; comment?: string },
    ) {
      return server.request<Approval & { message?: string }>(
        "POST",
        `/approvals/${approvalId}/decide/`,
        { token, body },
      );
    }

    async function runOf(agent: TestAgent, runId: string): Promise<Run> {
      const response = await first.request<Run>("GET", `/runs/${runId}/`, {
        token: agent.org.owner.token,
      });
      expect(response.status).toBe(200);
      return response.body;
    }

    async function runEnded(agent: TestAgent, runId: string): Promise<Run> {
      let run = await runOf(agent, runId);
      await waitUntil(async () => {
        run = await runOf(agent, runId);
        return run.status !== "awaiting_approval" && run.status !== "running";
      });
      return run;
    }

    async function auditActions(agent: TestAgent, targetId: string): Promise<string[]> {
      const events = await first.request<{ results: { action: string }[] }>(
        "GET",
        `/orgs/${agent.org.id}/audit-events/?target_id=${targetId}`,
        { token: agent.org.owner.token },
      );
      return events.body.results.map((event) => event.action).reverse();
    }

    async function connect(agent: TestAgent, server: { url: string }): Promise<Client> {
      const client = new Client({ name: "approvals-test", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${agent.agentId}`), {
          requestInit: { headers: { authorization: `Bearer ${agent.key}` } },
        }),
      );
      clients.push(client);
      return client;
    }

    /** The pending approval of the agent's call, once the call has made it. */
    async function pendingApproval(agent: TestAgent): Promise<Approval> {
      let found: Approval | undefined;
      await waitUntil(async () => {
        const listed = await second.request<{ results: Approval[] }>(
          "GET",
          `/orgs/${agent.org.id}/approvals/?status=pending`,
          { token: agent.org.owner.token },
        );
        found = listed.body.results[0];
        return found !== undefined;
      });
      if (!found) throw new Error("no pending approval");
      return found;
    }

    describe("policies", () => {
      it("fills in the approver role and timeout, and refuses them where they do not belong", async () => {
        const agent = await approvalSetup();
        const policy = await first.request("GET", `/policies/${agent.policyId}/`, {
          token: agent.org.owner.token,
        });
        expect(policy.body).toMatchObject({
          effect: "require_approval",
          approver_role: "admin",
          approval_timeout_seconds: 3600,
        });
        const onAllow = await first.request("POST", `/orgs/${agent.org.id}/policies/`, {
          token: agent.org.owner.token,
          body: {
            name: "allow-with-role",
            effect: "allow",
            tool_pattern: "*",
            approver_role: "owner",
          },
        });
        expect(onAllow.status).toBe(400);
        expect(onAllow.body.issues).toEqual([
          { path: "approver_role", message: "Only a require_approval policy has approver_role" },
        ]);
        const onPrompt = await first.request("POST", `/orgs/${agent.org.id}/policies/`, {
          token: agent.org.owner.token,
          body: {
            name: "approve-prompts",
            effect: "require_approval",
            target: "prompt",
            tool_pattern: "*",
          },
        });
        expect(onPrompt.status).toBe(400);
        expect(onPrompt.body.issues?.[0]?.path).toBe("target");
        const tooShort = await first.request("PATCH", `/policies/${agent.policyId}/`, {
          token: agent.org.owner.token,
          body: { approval_timeout_seconds: 1 },
        });
        expect(tooShort.status).toBe(400);
        expect(tooShort.body.issues?.[0]?.path).toBe("approval_timeout_seconds");
        // Made an allow policy again, it forgets who approved its calls.
        const relaxed = await first.request("PATCH", `/policies/${agent.policyId}/`, {
          token: agent.org.owner.token,
          body: { effect: "allow" },
        });
        expect(relaxed.body).toMatchObject({ approver_role: null, approval_timeout_seconds: null });
      });

      it("what-if counts the runs a require_approval policy would hold", async () => {
        const agent = await createAgentWithConnection(first, upstream.url);
        const ran = await runEcho(first, agent, agent.org.owner.token, "before");
        expect(ran.status).toBe(201);
        const preview = await first.request("POST", `/orgs/${agent.org.id}/policies/what-if/`, {
          token: agent.org.owner.token,
          body: { changes: { effect: "require_approval", tool_pattern: "echo" } },
        });
        expect(preview.status, JSON.stringify(preview.body)).toBe(200);
        expect(preview.body).toMatchObject({ to_approval: 1, to_allowed: 0, to_denied: 0 });
        expect(preview.body.examples[0].after).toMatchObject({
          allowed: true,
          approval_required: true,
        });
      });
    });

    describe("REST", () => {
      let member: TestUser;
      let agent: TestAgent & { policyId: string };

      beforeAll(async () => {
        agent = await approvalSetup();
        member = await addMember(first, agent.org, "member");
      });

      it("answers 202 with the waiting run; approved on the other server, the call runs there or here", async () => {
        const pending = await runEcho(first, agent, member.token, "deploy please");
        expect(pending.status, JSON.stringify(pending.body)).toBe(202);
        expect(pending.body).toMatchObject({ status: "awaiting_approval", error: null });
        expect(pending.body.decision?.approval?.name).toMatch(/^approve-echo-/);

        const approval = await approvalOf(second, agent, pending.body.id);
        expect(approval).toMatchObject({
          status: "pending",
          mode: "detached",
          run_status: "awaiting_approval",
          approver_role: "admin",
          tool_name: "echo",
          agent_id: null,
          user_id: member.id,
          input: { text: "deploy please" },
        });
        expect((await runOf(agent, pending.body.id)).status).toBe("awaiting_approval");

        // A member is below the policy's approver role; the owner approves, on the other server.
        const refused = await decide(second, approval.id, member.token, { decision: "approve" });
        expect(refused.status).toBe(403);
        expect(refused.body.message).toContain("needs the admin role or higher");
        const approved = await decide(second, approval.id, agent.org.owner.token, {
          decision: "approve",
          comment: "looks fine",
        });
        expect(approved.status, JSON.stringify(approved.body)).toBe(200);
        expect(approved.body).toMatchObject({
          status: "approved",
          decided_by: agent.org.owner.id,
          comment: "looks fine",
        });

        const run = await runEnded(agent, pending.body.id);
        expect(run.status).toBe("succeeded");
        expect(run.output?.content).toEqual([{ type: "text", text: "deploy please" }]);

        // Decided once only.
        const again = await decide(first, approval.id, agent.org.owner.token, { decision: "deny" });
        expect(again.status).toBe(409);
        expect(again.body.message).toContain("already decided: it is approved");

        expect(await auditActions(agent, approval.id)).toEqual([
          "approval.request",
          "approval.approve",
        ]);
        expect(await auditActions(agent, pending.body.id)).toEqual(["tool.run"]);
      });

      it("a denial ends the run as denied with the approver's comment", async () => {
        const pending = await runEcho(first, agent, member.token, "drop the table");
        expect(pending.status).toBe(202);
        const approval = await approvalOf(first, agent, pending.body.id);
        const denied = await decide(second, approval.id, agent.org.owner.token, {
          decision: "deny",
          comment: "not on a Friday",
        });
        expect(denied.status).toBe(200);
        expect(denied.body).toMatchObject({ status: "denied", run_status: "denied" });
        const run = await runOf(agent, pending.body.id);
        expect(run).toMatchObject({
          status: "denied",
          error: "Denied by an approver: not on a Friday",
          output: null,
        });
        expect(await auditActions(agent, approval.id)).toEqual([
          "approval.request",
          "approval.deny",
        ]);
      });

      it("nobody approves their own call; an API token cannot decide; another org sees nothing", async () => {
        const pending = await runEcho(first, agent, agent.org.owner.token, "my own");
        expect(pending.status).toBe(202);
        const approval = await approvalOf(first, agent, pending.body.id);
        const own = await decide(first, approval.id, agent.org.owner.token, {
          decision: "approve",
        });
        expect(own.status).toBe(403);
        expect(own.body.message).toBe("You cannot approve your own call; another approver must");

        const token = await first.request("POST", `/orgs/${agent.org.id}/api-tokens/`, {
          token: agent.org.owner.token,
          body: { name: "automation", role: "admin" },
        });
        expect(token.status, JSON.stringify(token.body)).toBe(201);
        const byToken = await decide(first, approval.id, token.body.token, { decision: "approve" });
        expect(byToken.status).toBe(403);

        const stranger = await createOrg(first);
        const seen = await first.request("GET", `/approvals/${approval.id}/`, {
          token: stranger.owner.token,
        });
        expect(seen.status).toBe(404);
        const decided = await decide(first, approval.id, stranger.owner.token, {
          decision: "approve",
        });
        expect(decided.status).toBe(404);
        expect(decided.body.message).toBe("Approval not found");

        // Another admin of the org may approve it.
        const admin = await addMember(first, agent.org, "admin");
        const approved = await decide(second, approval.id, admin.token, { decision: "approve" });
        expect(approved.status).toBe(200);
        expect((await runEnded(agent, pending.body.id)).status).toBe("succeeded");
        // Still pending for nobody: the decided approval is not in the pending list.
        const pendingList = await first.request<{ results: Approval[] }>(
          "GET",
          `/orgs/${agent.org.id}/approvals/?status=pending`,
          { token: agent.org.owner.token },
        );
        expect(pendingList.body.results.map((row) => row.id)).not.toContain(approval.id);
      });

      it("an approval nobody decides in time expires: the run is denied and deciding it is a conflict", async () => {
        const late = await runEcho(first, agent, member.token, "too late");
        const swept = await runEcho(first, agent, member.token, "swept");
        const lateApproval = await approvalOf(first, agent, late.body.id);
        const sweptApproval = await approvalOf(first, agent, swept.body.id);
        // As if the policy's timeout had passed.
        await first.database.db
          .update(schema.approvals)
          .set({ expires_at: sql`now() - interval '1 second'` })
          .where(eq(schema.approvals.org_id, agent.org.id));

        const decided = await decide(second, lateApproval.id, agent.org.owner.token, {
          decision: "approve",
        });
        expect(decided.status).toBe(409);
        expect(decided.body.message).toContain("expired");
        // The replicas' sweep ends the others (here called directly rather than waited for).
        await sweepInterruptedRuns(first.database.db);
        for (const [runId, approvalId] of [
          [late.body.id, lateApproval.id],
          [swept.body.id, sweptApproval.id],
        ] as const) {
          const run = await runOf(agent, runId);
          expect(run.status).toBe("denied");
          expect(run.error).toMatch(/^Approval timed out: no admin \(or higher\) decided in time/);
          expect((await approvalOf(first, agent, runId)).status).toBe("expired");
          expect(await auditActions(agent, approvalId)).toEqual([
            "approval.request",
            "approval.expire",
          ]);
        }
      });
    });

    describe("the gateway", () => {
      it("holds a call with progress notifications until another server approves it", async () => {
        const agent = await approvalSetup({ approver_role: "owner" });
        const client = await connect(agent, first);
        const progress: Progress[] = [];
        let waiting: () => void = () => undefined;
        const firstProgress = new Promise<void>((resolve) => {
          waiting = resolve;
        });
        const call = client.callTool({ name: "echo", arguments: { text: "held" } }, undefined, {
          onprogress: (update) => {
            progress.push(update);
            waiting();
          },
          resetTimeoutOnProgress: true,
        });
        await firstProgress;
        expect(progress[0]?.message).toMatch(
          /^Waiting for approval by an owner \(or higher\): policy 'approve-echo-\w+' requires it; denied unless decided by /,
        );
        const approval = await pendingApproval(agent);
        expect(approval).toMatchObject({
          mode: "held",
          agent_id: agent.agentId,
          agent_name: expect.stringMatching(/^Agent /),
          input: { text: "held" },
          approver_role: "owner",
        });
        const approved = await decide(second, approval.id, agent.org.owner.token, {
          decision: "approve",
        });
        expect(approved.status).toBe(200);
        const result = await call;
        expect(result.content).toEqual([{ type: "text", text: "held" }]);
        expect(result.isError).toBeFalsy();
        expect((await runEnded(agent, approval.run_id)).status).toBe("succeeded");
      });

      it("a denied held call returns the denial as a tool error", async () => {
        const agent = await approvalSetup();
        const client = await connect(agent, second);
        const call = client.callTool({ name: "echo", arguments: { text: "no" } });
        const approval = await pendingApproval(agent);
        await decide(first, approval.id, agent.org.owner.token, {
          decision: "deny",
          comment: "wrong channel",
        });
        const result = await call;
        expect(result).toMatchObject({
          isError: true,
          content: [{ type: "text", text: "Denied by an approver: wrong channel" }],
        });
      });

      it("an expired held call is denied", async () => {
        const agent = await approvalSetup();
        const client = await connect(agent, first);
        const call = client.callTool({ name: "echo", arguments: { text: "slow approvers" } });
        const approval = await pendingApproval(agent);
        await first.database.db
          .update(schema.approvals)
          .set({ expires_at: sql`now() - interval '1 second'` })
          .where(eq(schema.approvals.id, approval.id));
        // Any replica's sweep expires it; the holder hears of it on the change feed.
        await expireApprovals(second.database.db);
        const result = await call;
        expect(result.isError).toBe(true);
        expect(result.content).toEqual([
          { type: "text", text: expect.stringMatching(/^Approval timed out/) },
        ]);
      });

      it("a client that hangs up while its call is held cancels the approval", async () => {
        const agent = await approvalSetup();
        const hungUp = new AbortController();
        const held = gatewayPost(
          first.url,
          agent.agentId,
          agent.key,
          toolCall("echo", { text: "never mind" }),
          hungUp.signal,
        ).catch(() => "hung up");
        const approval = await pendingApproval(agent);
        hungUp.abort();
        expect(await held).toBe("hung up");
        await waitUntil(
          async () => (await approvalOf(first, agent, approval.run_id)).status !== "pending",
        );
        expect(await approvalOf(first, agent, approval.run_id)).toMatchObject({
          status: "cancelled",
          run_status: "failed",
          comment: "Cancelled: the caller went away before the call was approved",
        });
        const late = await decide(second, approval.id, agent.org.owner.token, {
          decision: "approve",
        });
        expect(late.status).toBe(409);
      });

      it("an SDK client's cancellation of a held call, reaching the other server, cancels its approval", async () => {
        const agent = await approvalSetup();
        // Each HTTP request to the next server: the call and its cancellation are made to land
        // on different ones.
        const balancer = await startBalancer([first.url, second.url]);
        try {
          const client = await connect(agent, balancer);
          const before = balancer.routed.length;
          const abandon = new AbortController();
          const held = client
            .callTool({ name: "echo", arguments: { text: "changed my mind" } }, undefined, {
              signal: abandon.signal,
            })
            .then(
              () => "answered",
              () => "cancelled",
            );
          const approval = await pendingApproval(agent);
          const callRoute = balancer.routed.slice(before).find((route) => route.method === "POST");
          if (!callRoute) throw new Error("the call did not go through the balancer");
          if (balancer.routed.length % 2 === callRoute.replica)
            await fetch(`${balancer.url}/healthz`);
          const cancelAt = balancer.routed.length;
          abandon.abort("no longer needed");
          expect(await held).toBe("cancelled");
          await waitUntil(
            async () => (await approvalOf(first, agent, approval.run_id)).status !== "pending",
          );
          expect(await approvalOf(second, agent, approval.run_id)).toMatchObject({
            status: "cancelled",
            run_status: "failed",
            comment: "Cancelled by the caller: no longer needed",
          });
          expect(balancer.routed[cancelAt]).toMatchObject({
            method: "POST",
            replica: 1 - callRoute.replica,
          });
        } finally {
          await balancer.close();
        }
      });

      it("a task-augmented call is answered with a task that completes once approved", async () => {
        const agent = await approvalSetup();
        const client = await connect(agent, first);
        const created = await client.request(
          {
            method: "tools/call",
            params: { name: "echo", arguments: { text: "as a task" }, task: { ttl: 60_000 } },
          },
          CreateTaskResultSchema,
        );
        const { taskId } = created.task;
        expect(created.task.status).toBe("working");
        const approval = await pendingApproval(agent);
        await waitUntil(
          async () =>
            (await client.experimental.tasks.getTask(taskId)).statusMessage?.startsWith(
              "Waiting for approval",
            ) === true,
        );
        expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({
          status: "working",
        });
        await decide(second, approval.id, agent.org.owner.token, { decision: "approve" });
        const payload = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
        expect(payload.content).toEqual([{ type: "text", text: "as a task" }]);
        expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({
          status: "completed",
        });
      });
    });
  },
);
