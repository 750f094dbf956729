import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOAuthUpstream, type OAuthUpstream } from "../../server/test/oauth-upstream";
import { api, browserSuite, nav, newUser, register, RUN } from "./session";

/*
 * Outbound OAuth in the SPA (issue 15): an admin registers an OAuth-protected MCP server, clicks
 * Connect, signs in at the server's own authorization server (oidc-provider, in this process) and
 * lands back on My connections; an agent runs as the member who chose it; a callback that connected
 * nothing says why.
 */

const OWNER = newUser("Olga", "Outbound");
const suite = browserSuite();
let upstream: OAuthUpstream;

beforeAll(async () => {
  upstream = await startOAuthUpstream();
});
afterAll(async () => {
  await upstream.close();
});

describe("outbound OAuth connections", () => {
  let orgId = "";

  it("creates an OAuth connection in the form and connects the organization's account", async () => {
    const { page } = suite;
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    orgId = (
      await api<{ id: string }>(page, "orgs.create", { name: "Outbound Co", slug: `out-${RUN}` })
    ).id;
    await page.goto(`/orgs/${orgId}/overview`);
    await nav(page, "Connections");
    await page.getByRole("button", { name: "New connection" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New connection" });
    await dialog.getByLabel("Name").fill("Upstream");
    await dialog.getByLabel("Server URL").fill(upstream.url);
    await dialog.getByLabel("Authentication").selectOption("oauth");
    await dialog.getByLabel("Credential").selectOption("shared");
    await dialog.getByRole("button", { name: "Create connection" }).click();
    await dialog.waitFor({ state: "hidden" });

    await page.getByRole("link", { name: "Upstream", exact: true }).click();
    await page.getByText("one account for the organization").waitFor();

    upstream.nextAccount = "olga-at-upstream";
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    // Through the authorization server and the platform's callback, back into the SPA.
    await page.waitForURL(/\/orgs\/[^/]+\/my-connections\?oauth=connected/);
    await page.getByRole("status").getByText("Connected Upstream.").waitFor();
    const row = page.getByRole("row", { name: /Upstream/ });
    await row.getByText("Connected", { exact: true }).waitFor();
    expect(await row.getByText("The organization's (shared)").count()).toBe(1);
  });

  it("lets a member choose that an agent runs as them", async () => {
    const { page } = suite;
    const agent = await api<{ id: string }>(page, "agents.create", {
      org_id: orgId,
      name: "Helper",
    });
    await page.goto(`/orgs/${orgId}/agents/${agent.id}`);
    await page.getByRole("button", { name: "Run as me" }).click();
    await page.getByRole("definition").getByText("You", { exact: true }).waitFor();
    const saved = await api<{ runs_as_user_id: string | null }>(
      page,
      "agents.get",
      { id: agent.id },
      "query",
    );
    expect(saved.runs_as_user_id).not.toBeNull();
    await page.getByRole("button", { name: "Run as nobody" }).click();
    await page.getByRole("button", { name: "Run as me" }).waitFor();
  });

  it("marks a connection whose tokens were revoked upstream, and clears it once connected again", async () => {
    const { page } = suite;
    const [connection] = (
      await api<{ results: { id: string }[] }>(page, "connections.list", { org_id: orgId }, "query")
    ).results;
    if (!connection) throw new Error("the connection made above is gone");
    await api(page, "connections.sync", { id: connection.id });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "people-run-all",
      effect: "allow",
      agent_id: null,
      tool_pattern: "*",
    });
    const [tool] = (
      await api<{ results: { id: string }[] }>(
        page,
        "tools.list",
        { org_id: orgId, connection_id: connection.id },
        "query",
      )
    ).results;
    if (!tool) throw new Error("whoami was not synced");
    // The account removes the app at the authorization server: the next call's refresh is refused.
    await upstream.revokeGrant("olga-at-upstream");
    const refused = await api(page, "tools.run", { id: tool.id, input: {} }).catch(
      (error: unknown) => String(error),
    );
    expect(refused).toContain("must connect it again");

    await nav(page, "Connections");
    const row = page.getByRole("row", { name: /Upstream/ });
    await row.getByText("Needs re-authorization").waitFor();
    await row.getByRole("link", { name: "Upstream", exact: true }).click();
    await page.getByText("could not be refreshed: an admin must Connect again").waitFor();
    await page.getByRole("button", { name: "Connect", exact: true }).click();
    await page.waitForURL(/\/orgs\/[^/]+\/my-connections\?oauth=connected/);
    await page
      .getByRole("row", { name: /Upstream/ })
      .getByText("Connected", { exact: true })
      .waitFor();
    await nav(page, "Connections");
    await page.getByRole("link", { name: "Upstream", exact: true }).waitFor();
    expect(await page.getByText("Needs re-authorization").count()).toBe(0);
  });

  it("shows why a callback connected nothing", async () => {
    const { page } = suite;
    await page.goto("/oauth/connections/callback?error=access_denied&state=unknown");
    await page.waitForURL(/\/my-connections\?oauth=error/);
    await page
      .getByRole("alert")
      .getByText(/The authorization server answered access_denied; nothing was connected/)
      .waitFor();
    expect(suite.errors).toEqual([]);
  });
});
