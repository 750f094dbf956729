import { describe, expect, it } from "vitest";
import { api, browserSuite, demoOrg, nav, newUser } from "./session";

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
    const { orgId, toolId } = await demoOrg(suite, OWNER, "Approvals Co");
    const textStatsId = toolId("text_stats");
    const agent = await api<{ id: string }>(page, "agents.create", {
      org_id: orgId,
      name: "Report bot",
    });
    const key = await api<{ key: string }>(page, "agents.keys.create", {
      id: agent.id,
      name: "e2e",
    });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "Stats need a human",
      effect: "require_approval",
      agent_id: agent.id,
      tool_pattern: "text_stats",
      approver_role: "owner",
    });

    await page.goto(`/orgs/${orgId}/overview`);
    await nav(page, "Approvals");
    await page.getByText("Nothing waits for approval").waitFor();

    // The agent calls over REST; the queue shows it without a reload.
    const called = await fetch(`${suite.baseUrl}/api/v1/tools/${textStatsId}/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
      body: JSON.stringify({ input: { text: "quarterly numbers" } }),
    });
    expect(called.status).toBe(202);
    const run = (await called.json()) as { id: string; status: string };
    expect(run.status).toBe("awaiting_approval");

    const card = page.getByRole("listitem", { name: "Approval of text_stats" });
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
