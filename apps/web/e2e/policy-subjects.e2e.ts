import { describe, expect, it } from "vitest";
import { api, browserSuite, demoOrg, nav, newUser } from "./session";

/*
 * Policy subjects in the console (issue 17): an admin opens a tool to people with a role, not to
 * agents, with the subject picker; the list and the Evaluate panel say whom it covers.
 */

const OWNER = newUser("Sabine", "Subject");
const suite = browserSuite();

describe("policy subjects", () => {
  it("creates a role policy with the subject picker: people with the role may run the tool, agents may not", async () => {
    const { page } = suite;
    const { orgId, toolId } = await demoOrg(suite, OWNER, "Subjects Co");
    const calculateId = toolId("calculate");
    const agent = await api<{ id: string }>(page, "agents.create", {
      org_id: orgId,
      name: "Math bot",
    });

    await page.goto(`/orgs/${orgId}/overview`);
    await nav(page, "Policies");
    await page.getByRole("button", { name: "New policy" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New policy" });
    await dialog.getByLabel("Name").fill("Admins may calculate");
    const subject = dialog.getByLabel("Subject");
    // A new policy is for everyone (as before subjects) until the subject says otherwise.
    await expect(subject.inputValue()).resolves.toBe("everyone");
    await subject.selectOption({ label: "Agents" });
    await dialog.getByLabel("Agent").waitFor();
    await subject.selectOption({ label: "Members with a role" });
    await dialog.getByLabel("Agent").waitFor({ state: "detached" });
    await dialog.getByLabel("At least the role").selectOption("admin");
    await dialog.getByLabel("Tool pattern").fill("calculate");
    await dialog.getByRole("button", { name: "Create policy" }).click();
    await dialog.waitFor({ state: "detached" });
    const row = page.getByRole("row", { name: /Admins may calculate/ });
    await row.getByTestId("policy-subject").getByText("Members with admin or higher").waitFor();

    // A member's policy: the picker lists the org's members.
    await page.getByRole("button", { name: "New policy" }).first().click();
    const second = page.getByRole("dialog", { name: "New policy" });
    await second.getByLabel("Name").fill("Sabine may do anything");
    await second.getByLabel("Subject").selectOption({ label: "A member" });
    await second.getByLabel("Member").selectOption({ label: "Sabine Subject (owner)" });
    await second.getByLabel("Tool pattern").fill("*");
    await second.getByRole("button", { name: "Create policy" }).click();
    await second.waitFor({ state: "detached" });
    await page
      .getByRole("row", { name: /Sabine may do anything/ })
      .getByTestId("policy-subject")
      .getByText("Member Sabine Subject")
      .waitFor();

    const saved = await api<{
      results: { name: string; subject: string; min_role: string | null }[];
    }>(page, "policies.list", { org_id: orgId, subject: "role" }, "query");
    expect(saved.results).toMatchObject([
      { name: "Admins may calculate", subject: "role", min_role: "admin" },
    ]);

    // The Evaluate panel asks for an agent, a member or a role.
    const evaluate = page.getByRole("region", { name: "Evaluate" });
    await evaluate.getByLabel("Tool").selectOption({ label: "calculate" });
    await evaluate.getByLabel("Input (JSON)").fill('{"expression": "1 + 1"}');
    await evaluate.getByLabel("Caller").selectOption({ label: "Math bot" });
    await evaluate.getByRole("button", { name: "Evaluate" }).click();
    await evaluate.getByTestId("decision").getByText("Denied", { exact: true }).waitFor();
    await evaluate.getByLabel("Caller").selectOption({ label: "admin" });
    await evaluate.getByRole("button", { name: "Evaluate" }).click();
    await evaluate.getByTestId("decision").getByText("Allowed", { exact: true }).waitFor();
    await evaluate
      .getByTestId("decision")
      .getByText("Allowed by policy 'Admins may calculate'")
      .waitFor();

    // And so it runs: the owner's own call is allowed, the agent's is not.
    const mine = await api<{ status: string }>(page, "tools.run", {
      id: calculateId,
      input: { expression: "2 * 3" },
    });
    expect(mine.status).toBe("succeeded");
    const agents = await api<{ status: string }>(page, "tools.run", {
      id: calculateId,
      agent_id: agent.id,
      input: { expression: "2 * 3" },
    });
    expect(agents.status).toBe("denied");
    expect(suite.errors).toEqual([]);
  });
});
