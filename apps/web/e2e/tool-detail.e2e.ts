import { describe, expect, it } from "vitest";
import { lookupUpstream, POISONED_LOOKUP_DESCRIPTION } from "./lookup-upstream";
import { api, browserSuite, demoOrg, newUser } from "./session";

/*
 * A tool's page (issue 17): its definition, the history of its approved definitions with the
 * changes between them, who may call it as the policy engine decides, and its recent runs; an
 * unknown tool is not found.
 */

const OWNER = newUser("Tess", "Toolpage");
const suite = browserSuite();
const upstream = lookupUpstream();

describe("the tool page", () => {
  let orgId = "";

  it("shows the definition's history with the diff of a change, and who may call the tool", async () => {
    const { page } = suite;
    ({ orgId } = await demoOrg(suite, OWNER, "Tool Page Co"));
    const connection = await api<{ id: string }>(page, "connections.create", {
      org_id: orgId,
      name: "Dictionary",
      transport: "streamable_http",
      url: upstream.url,
    });
    await api(page, "connections.sync", { id: connection.id });
    const reader = await api<{ id: string }>(page, "agents.create", {
      org_id: orgId,
      name: "Reader",
    });
    const blocked = await api<{ id: string }>(page, "agents.create", {
      org_id: orgId,
      name: "Blocked",
    });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "reader looks up",
      effect: "allow",
      agent_id: reader.id,
      tool_pattern: "lookup",
    });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "no lookups",
      effect: "deny",
      agent_id: blocked.id,
      tool_pattern: "look*",
    });
    upstream.poison();
    await api(page, "connections.sync", { id: connection.id });

    await page.goto(`/orgs/${orgId}/tools`);
    await page.getByRole("link", { name: "lookup", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: /lookup/ }).waitFor();
    await page.getByText(/Quarantined: The server changed its definition/).waitFor();

    // The change under review heads the history, compared with the approved definition.
    const history = page.getByRole("list", { name: "Definitions, newest first" });
    const pending = history.getByRole("listitem").first();
    await pending.getByText("The server's changed definition, waiting for review").waitFor();
    const diff = pending.getByRole("region", { name: "Changes to description" });
    await expect(diff.locator(".diff__removed").innerText()).resolves.toBe("- Looks a word up\n");
    await expect(diff.locator(".diff__added").innerText()).resolves.toBe(
      `+ ${POISONED_LOOKUP_DESCRIPTION}\n`,
    );

    await page.getByRole("button", { name: "Review the definition" }).click();
    const dialog = page.getByRole("dialog", { name: "Review lookup" });
    await dialog.getByRole("button", { name: "Approve" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByText(/Quarantined:/).waitFor({ state: "detached" });

    // Approved, it is the current definition; the first sync's is kept below it.
    const entries = history.getByRole("listitem");
    await entries
      .nth(1)
      .getByText(/First sync/)
      .waitFor();
    await expect(entries.count()).resolves.toBe(2);
    const current = entries.first();
    await current.getByText(/Approved on review by Tess Toolpage/).waitFor();
    await expect(
      current
        .getByRole("region", { name: "Changes to description" })
        .locator(".diff__added")
        .innerText(),
    ).resolves.toBe(`+ ${POISONED_LOOKUP_DESCRIPTION}\n`);

    // Who may call it: each agent as the policy engine decides.
    const agents = page.getByRole("table", { name: "Agents' access" });
    const readerRow = agents.getByRole("row", { name: /Reader/ });
    await readerRow.getByText("allow", { exact: true }).waitFor();
    await readerRow.getByText("reader looks up").waitFor();
    const blockedRow = agents.getByRole("row", { name: /Blocked/ });
    await blockedRow.getByText("deny", { exact: true }).waitFor();
    await blockedRow.getByText("no lookups").waitFor();

    // A run appears among the recent runs and leads to its page.
    const tool = await api<{ results: { id: string; name: string }[] }>(
      page,
      "tools.list",
      { org_id: orgId, q: "lookup" },
      "query",
    );
    const toolId = tool.results.find((entry) => entry.name === "lookup")?.id ?? "";
    const run = await api<{ id: string; status: string }>(page, "tools.run", {
      id: toolId,
      agent_id: reader.id,
      input: { word: "x" },
    });
    expect(run.status).toBe("succeeded");
    await page.reload();
    const runs = page.getByRole("table", { name: "Recent runs" });
    await runs.getByText("succeeded").waitFor();
    await runs.getByRole("link").first().click();
    await page.waitForURL(new RegExp(`/runs/${run.id}$`));
    expect(suite.errors).toEqual([]);
  });

  it("says an unknown tool is not found", async () => {
    const { page } = suite;
    await page.goto(`/orgs/${orgId}/tools/0190a3b2-0000-7000-8000-000000000000`);
    await page.getByRole("heading", { name: "Tool not found" }).waitFor();
    await page.goto(`/orgs/${orgId}/tools/not-a-tool`);
    await page.getByRole("heading", { name: "Tool not found" }).waitFor();
    await page.getByRole("link", { name: "Back to tools" }).click();
    await page.waitForURL(new RegExp(`/orgs/${orgId}/tools$`));
    expect(suite.errors).toEqual([]);
  });
});
