import { startTestMcpServer, waitUntil, type RunningTestMcpServer } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createAgentWithConnection,
  databaseUnavailable,
  platformAdmin,
  setDisabled,
  startTestServer,
  type TestAgent,
  type TestServer,
} from "./harness";
import { startTestMailServer, type TestMailServer } from "./mail-server";

/*
 * The people who may decide a call held for approval are e-mailed when it starts waiting: members
 * with at least the policy's approver role, except the caller and locked-out accounts; never the
 * call's input. An org can turn the mails off.
 */

const PUBLIC_URL = "https://platform.example.test";

interface Approval {
  id: string;
  run_id: string;
  approvers_notified_at: string | null;
}

describe.skipIf(databaseUnavailable)("e-mail to approvers", () => {
  let server: TestServer;
  let mail: TestMailServer;
  let upstream: RunningTestMcpServer;

  beforeAll(async () => {
    mail = await startTestMailServer();
    upstream = await startTestMcpServer();
    server = await startTestServer({
      SMTP_URL: mail.url,
      SMTP_FROM: "Platform <noreply@platform.test>",
      PUBLIC_URL,
      APPROVAL_EMAILS: "true",
    });
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
    await mail.close();
  });

  /** An org whose `echo` calls need an admin's approval. */
  async function approvalOrg(): Promise<TestAgent & { policyName: string }> {
    const agent = await createAgentWithConnection(server, upstream.url);
    const policyName = `approve-echo-${Math.random().toString(36).slice(2, 8)}`;
    const created = await server.request("POST", `/orgs/${agent.org.id}/policies/`, {
      token: agent.org.owner.token,
      body: {
        name: policyName,
        effect: "require_approval",
        tool_pattern: "echo",
        approver_role: "admin",
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return { ...agent, policyName };
  }

  /** The owner calls `echo` over REST: the run waits for approval. Its approval. */
  async function heldCall(agent: TestAgent, text: string): Promise<Approval> {
    const run = await server.request<{ id: string; status: string }>(
      "POST",
      `/tools/${agent.tools.echo}/run/`,
      { token: agent.org.owner.token, body: { input: { text } } },
    );
    expect(run.status, JSON.stringify(run.body)).toBe(202);
    const listed = await server.request<{ results: Approval[] }>(
      "GET",
      `/orgs/${agent.org.id}/approvals/?run_id=${run.body.id}`,
      { token: agent.org.owner.token },
    );
    const [approval] = listed.body.results;
    if (!approval) throw new Error("no approval");
    return approval;
  }

  async function approvalNow(agent: TestAgent, id: string): Promise<Approval> {
    const response = await server.request<Approval>("GET", `/approvals/${id}/`, {
      token: agent.org.owner.token,
    });
    expect(response.status).toBe(200);
    return response.body;
  }

  it("mails each member who may decide, once, with a link and without the input", async () => {
    const agent = await approvalOrg();
    const admin = await addMember(server, agent.org, "admin");
    const member = await addMember(server, agent.org, "member");
    const locked = await addMember(server, agent.org, "admin");
    expect((await setDisabled(server, await platformAdmin(server), locked.id, true)).status).toBe(
      200,
    );
    const secret = `do-not-mail-${Math.random().toString(36).slice(2)}`;

    const approval = await heldCall(agent, secret);
    const received = await mail.next(admin.email, `Approval needed: echo in ${agent.org.name}`);
    expect(received.text).toContain(`The policy '${agent.policyName}'`);
    expect(received.text).toContain(agent.org.owner.email);
    expect(received.text).toContain(`${PUBLIC_URL}/orgs/${agent.org.id}/approvals`);
    expect(received.text).not.toContain(secret);

    await waitUntil(
      async () => (await approvalNow(agent, approval.id)).approvers_notified_at !== null,
    );
    // The caller cannot approve their own call, a member may not decide, a locked-out admin
    // cannot sign in: none of them is mailed.
    const about = mail.all().filter((message) => message.subject.startsWith("Approval needed"));
    for (const person of [agent.org.owner, member, locked])
      expect(about.filter((message) => message.to.includes(person.email))).toEqual([]);
    expect(about.filter((message) => message.to.includes(admin.email))).toHaveLength(1);

    const audit = await server.request<{ results: { metadata: Record<string, unknown> }[] }>(
      "GET",
      `/orgs/${agent.org.id}/audit-events/?target_id=${approval.id}&action=approval.notify`,
      { token: agent.org.owner.token },
    );
    expect(audit.body.results.map((event) => event.metadata)).toEqual([
      expect.objectContaining({ run_id: approval.run_id, recipients: 1, failed: 0 }),
    ]);
  });

  it("mails nobody in an org that turned the mails off", async () => {
    const quiet = await approvalOrg();
    const quietAdmin = await addMember(server, quiet.org, "admin");
    const turnedOff = await server.request("PATCH", `/orgs/${quiet.org.id}/`, {
      token: quiet.org.owner.token,
      body: { email_approvers: false },
    });
    expect(turnedOff.status, JSON.stringify(turnedOff.body)).toBe(200);
    expect(turnedOff.body.email_approvers).toBe(false);
    const unmailed = await heldCall(quiet, "quiet");

    // A later approval in an org that mails: approvals are mailed about in the order they were
    // made, so once its mail is out, the quiet org's approval was passed over.
    const loud = await approvalOrg();
    const loudAdmin = await addMember(server, loud.org, "admin");
    await heldCall(loud, "loud");
    await mail.next(loudAdmin.email, `Approval needed: echo in ${loud.org.name}`);

    expect((await approvalNow(quiet, unmailed.id)).approvers_notified_at).toBeNull();
    const toQuietAdmin = mail.all().filter((message) => message.to.includes(quietAdmin.email));
    expect(toQuietAdmin.length).toBeGreaterThan(0);
    expect(toQuietAdmin.filter((message) => message.subject.startsWith("Approval needed"))).toEqual(
      [],
    );
  });
});
