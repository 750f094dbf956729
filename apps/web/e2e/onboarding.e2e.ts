import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { api, browserSuite, register, RUN, newUser } from "./session";

/*
 * The first-steps checklist on an empty org's Overview (issue 19): every step is read from the
 * org's real data, ticks itself once done (seen after a reload), and the list goes away when the
 * org is set up.
 */

const OWNER = newUser("Olive", "Onboard");
const suite = browserSuite();

/** Reloads and waits for the answer the checklist's last step is read from. */
async function reloadUntilRunsRead(page: Page): Promise<void> {
  const runsRead = page.waitForResponse((response) => response.url().includes("runs.list"));
  await page.reload();
  await runsRead;
}

function checklist(page: Page) {
  return page.getByRole("region", { name: /Get started/ });
}

function doneSteps(page: Page): Promise<string[]> {
  return checklist(page)
    .getByRole("listitem")
    .filter({ hasText: "(done)" })
    .getByRole("link")
    .allInnerTexts();
}

describe("onboarding checklist", () => {
  it("starts at 0/5, ticks the steps done through the API, and disappears when all are", async () => {
    const { page } = suite;
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Onboard Co",
      slug: `onboard-${RUN}`,
    });
    await page.goto(`/orgs/${org.id}/overview`);
    await checklist(page).getByText("0/5 done").waitFor();
    await checklist(page).getByRole("link", { name: "Connect an MCP server" }).click();
    await page.getByRole("heading", { level: 1, name: "Connections" }).waitFor();

    const connection = await api<{ id: string }>(page, "connections.create", {
      org_id: org.id,
      name: "Demo",
      transport: "streamable_http",
      url: `${suite.baseUrl}/demo/mcp`,
    });
    await api(page, "connections.sync", { id: connection.id });
    const agent = await api<{ id: string }>(page, "agents.create", {
      org_id: org.id,
      name: "Helper bot",
    });
    await page.goto(`/orgs/${org.id}/overview`);
    await checklist(page).getByText("3/5 done").waitFor();
    await expect(doneSteps(page)).resolves.toEqual([
      "Connect an MCP server",
      "Sync its tools",
      "Create an agent",
    ]);

    await api(page, "policies.create", {
      org_id: org.id,
      name: "Helper bot may calculate",
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: "calculate",
    });
    await page.reload();
    await checklist(page).getByText("4/5 done").waitFor();

    const tools = await api<{ results: { id: string; name: string }[] }>(
      page,
      "tools.list",
      { org_id: org.id, limit: 200 },
      "query",
    );
    const calculate = tools.results.find((tool) => tool.name === "calculate");
    if (!calculate) throw new Error("the demo server has no calculate tool");
    await api(page, "tools.run", {
      id: calculate.id,
      agent_id: agent.id,
      input: { expression: "1 + 1" },
    });
    await reloadUntilRunsRead(page);
    await page.getByRole("heading", { name: "Connection health" }).waitFor();
    await page.getByRole("link", { name: "Demo" }).waitFor();
    expect(await checklist(page).count()).toBe(0);
  });

  it("can be dismissed for the org before it is done", async () => {
    const { page } = suite;
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Dismiss Co",
      slug: `dismiss-${RUN}`,
    });
    await page.goto(`/orgs/${org.id}/overview`);
    await checklist(page).getByText("0/5 done").waitFor();
    await checklist(page).getByRole("button", { name: "Dismiss" }).click();
    await checklist(page).waitFor({ state: "detached" });
    await page.reload();
    await page.getByText("No connections yet").waitFor();
    expect(await checklist(page).count()).toBe(0);
  });
});
