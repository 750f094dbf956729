import { describe, expect, it } from "vitest";
import { api, browserSuite, nav, newUser, register, RUN } from "./session";

/*
 * The live approval queue (issue 17): an agent's call that a require_approval policy holds shows
 * up on the Approvals page while it is open, with its input, agent and policy; the owner approves
 * it with a comment, and the call runs.
 */

const OWNER = newUser("Abby", "Approver");
const suite = browserSuite();

describe("approvals", () => {
  it("shows a held call live and approves it with a comment; the run succeeds", async () => {
    const { page } = suite;
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Approvals Co",
      slug: `approvals-${RUN}`,
    });
    const connection = await api<{ id: string }>(page, "connections.create", {
      org_id: org.id,
      name: "Demo",
      transport: "streamable_http",
      url: `${suite.baseUrl}/demo/mcp`,
    });
    await api(page, "connections.sync", { id: connection.id });
    const tools = await api<{ results: { id: string; name: string }[] }>(
      page,
      "tools.list",
      { org_id: org.id, limit: 50 },
      "query",
    );
    const tool = tools.results.find((candidate) => candidate.name.endsWith("text_stats"));
    if (!tool) throw new Error("no text_stats tool");
    const agent = await api<{ id: string }>(page, "agents.create", {
      org_id: org.id,
      name: "Report bot",
    });
    const key = await api<{ key: string }>(page, "agents.keys.create", {
      id: agent.id,
      name: "e2e",
    });
    await api(page, "policies.create", {
      org_id: org.id,
      name: "Stats need a human",
      effect: "require_approval",
      agent_id: agent.id,
      tool_pattern: tool.name,
      approver_role: "owner",
    });

    await page.goto(`/orgs/${org.id}/overview`);
    await nav(page, "Approvals");
    await page.getByText("Nothing waits for approval").waitFor();

    // The agent calls over REST; the queue shows it without a reload.
    const called = await fetch(`${suite.baseUrl}/api/v1/tools/${tool.id}/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { text: "quarterly numbers" } }),
    });
    expect(called.status).toBe(202);
    const run = (await called.json()) as { id: string; status: string };
    expect(run.status).toBe("awaiting_approval");

    const card = page.getByRole("listitem", { name: `Approval of ${tool.name}` });
    await card.waitFor();
    await card.getByText("agent Report bot").waitFor();
    await card.getByText("Stats need a human (approver: owner or higher)").waitFor();
    await expect(card.locator("pre").innerText()).resolves.toContain('"text": "quarterly numbers"');
    await card.getByLabel("Comment").fill("fine for the board deck");
    await card.getByRole("button", { name: "Approve" }).click();
    await card.waitFor({ state: "detached" });
    const decided = page.getByRole("region", { name: "Recent decisions" });
    await decided.getByText("fine for the board deck").waitFor();
    await decided.getByRole("link", { name: "succeeded" }).waitFor();
    expect(suite.errors).toEqual([]);
  });
});
