import { describe, expect, it } from "vitest";
import { api, browserSuite, demoOrg, nav, newUser } from "./session";

/*
 * Policy what-if in the policy form (issue 17): before saving, an admin sees which of the org's
 * recent decisions the edit would flip, and a preview never outlives the fields it answered for.
 */

const OWNER = newUser("Wanda", "Whatif");
const suite = browserSuite();

describe("policy what-if", () => {
  it("previews the runs an edit would deny, and hides the preview once a field changes", async () => {
    const { page } = suite;
    const { orgId, toolId } = await demoOrg(suite, OWNER, "What If Co");
    const calculateId = toolId("calculate");
    const agent = await api<{ id: string }>(page, "agents.create", {
      org_id: orgId,
      name: "Math bot",
    });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "Math bot may calculate",
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "calculate",
    });
    for (const expression of ["1 + 1", "2 * 3", "10 / 4"])
      await api(page, "tools.run", {
        id: calculateId,
        agent_id: agent.id,
        input: { expression },
      });

    await page.goto(`/orgs/${orgId}/overview`);
    await nav(page, "Policies");
    await page.getByRole("button", { name: "Edit Math bot may calculate" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit Math bot may calculate" });
    const pattern = dialog.getByLabel("Tool pattern");
    await pattern.fill("current_time");
    await dialog.getByRole("button", { name: "Preview impact on recent runs" }).click();
    const impact = dialog.getByRole("status", { name: "Impact of this change" });
    await impact.getByText("3 would be denied").waitFor();
    const row = impact.getByRole("row", { name: /calculate/ });
    await expect(row.getByRole("cell").allInnerTexts()).resolves.toEqual([
      "calculate",
      "Math bot",
      "3",
      "3",
      "0",
    ]);

    await pattern.fill("calc*");
    await impact.waitFor({ state: "detached" });
    await dialog.getByRole("button", { name: "Preview impact on recent runs" }).click();
    await dialog.getByText("no decision would change.").waitFor();

    // Previewing saved nothing.
    const policies = await api<{ results: { tool_pattern: string }[] }>(
      page,
      "policies.list",
      { org_id: orgId },
      "query",
    );
    expect(policies.results.map((policy) => policy.tool_pattern)).toEqual(["calculate"]);
    expect(suite.errors).toEqual([]);
  });
});
