import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { api, browserSuite, nav, newUser, register, RUN } from "./session";
import { repoRoot, webDir } from "./server";

/*
 * The whole admin journey against the real server: nothing is mocked. The steps share one owner
 * session and build on each other, in the order an admin would set the platform up.
 */

// The README's screenshots are rewritten only when asked; otherwise they land beside the test output.
const screenshots =
  process.env.UPDATE_SCREENSHOTS === "1"
    ? join(repoRoot, "docs/screenshots")
    : join(webDir, "test-results/screenshots");
const OWNER = newUser("Olivia", "Owner");
const VIEWER = newUser("Victor", "Viewer", "another long password");

const suite = browserSuite();
let orgPath = "";
let page: Page;

beforeAll(() => {
  mkdirSync(screenshots, { recursive: true });
  page = suite.page;
});

async function shot(target: Page, name: string): Promise<void> {
  // Toasts from earlier steps would cover the page; charts and fonts need a moment to settle.
  for (const close of await target.getByRole("button", { name: "Dismiss" }).all())
    await close.click({ timeout: 1000 }).catch(() => undefined);
  await target.waitForTimeout(300);
  await target.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

describe("admin SPA against the real server", () => {
  it("sends visitors to sign in and validates the sign-up form with the contract's messages", async () => {
    await page.goto("/");
    await page.waitForURL(/\/signin/);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await shot(page, "01-sign-in");

    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("Must be a valid email address").waitFor();
    await page.getByText("At least 12 characters").first().waitFor();
  });

  it("registers the owner and creates an organization", async () => {
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    await page.getByLabel("Name").fill("Acme Robotics");
    await page.getByLabel("Slug").fill(`acme-${RUN}`);
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]+\/overview/);
    orgPath = new URL(page.url()).pathname.replace(/\/overview$/, "");
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await expect(page.getByLabel("Organization").inputValue()).resolves.not.toBe("");
  });

  it("creates, renames and lists an environment", async () => {
    await nav(page, "Environments");
    await page.getByText("No environments yet").waitFor();
    await page.getByRole("button", { name: "New environment" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New environment" });
    await dialog.getByLabel("Name").fill("Production");
    await dialog.getByLabel("Description").fill("Customer-facing agents");
    await dialog.getByRole("button", { name: "Create" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("cell", { name: "Production", exact: true }).waitFor();

    await page.getByRole("button", { name: "Rename" }).click();
    const edit = page.getByRole("dialog", { name: "Edit Production" });
    await edit.getByLabel("Name").fill("Production EU");
    await edit.getByRole("button", { name: "Save" }).click();
    await page.getByRole("cell", { name: "Production EU", exact: true }).waitFor();

    // Destructive actions ask first, in an accessible dialog that Escape dismisses.
    await page.getByRole("button", { name: "New environment" }).first().click();
    const scratch = page.getByRole("dialog", { name: "New environment" });
    await scratch.getByLabel("Name").fill("Scratch");
    await scratch.getByRole("button", { name: "Create" }).click();
    await page.getByRole("cell", { name: "Scratch", exact: true }).waitFor();
    await page
      .getByRole("row", { name: /Scratch/ })
      .getByRole("button", { name: "Delete" })
      .click();
    const confirm = page.getByRole("alertdialog", { name: "Delete environment “Scratch”?" });
    await confirm.waitFor();
    await page.keyboard.press("Escape");
    await confirm.waitFor({ state: "hidden" });
    await page.getByRole("cell", { name: "Scratch", exact: true }).waitFor();
    await page
      .getByRole("row", { name: /Scratch/ })
      .getByRole("button", { name: "Delete" })
      .click();
    await confirm.getByRole("button", { name: "Delete environment" }).click();
    await page.getByRole("cell", { name: "Scratch", exact: true }).waitFor({ state: "detached" });
    await shot(page, "02-environments");
  });

  it("registers the demo MCP server, tests it and syncs its tools", async () => {
    await nav(page, "Connections");
    await page.getByRole("button", { name: "New connection" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New connection" });
    await dialog.getByLabel("Name").fill("Demo server");
    await dialog.getByLabel("Environment").selectOption({ label: "Production EU" });
    await dialog.getByLabel("Server URL").fill(`${suite.baseUrl}/demo/mcp`);
    await dialog.getByRole("button", { name: "Add secret header" }).click();
    await dialog.getByLabel("Secret header values 1 name").fill("X-Api-Key");
    await dialog.getByLabel("Secret header values 1 value").fill("s3cret-value");
    await dialog.getByRole("button", { name: "Create connection" }).click();
    await dialog.waitFor({ state: "hidden" });

    await page.getByRole("button", { name: "Test Demo server" }).click();
    await page.getByText("Connected").waitFor();
    await page.getByText("mcp-demo-server 1.0.0").waitFor();
    await page.getByRole("button", { name: "Sync Demo server" }).click();
    const synced = page.getByText(/Synced \d+ tools/);
    await synced.waitFor();
    expect(Number((await synced.textContent())?.match(/\d+/)?.[0])).toBeGreaterThan(3);
    await page.getByText("healthy", { exact: true }).first().waitFor();
  });

  it("shows the error of a connection that cannot be reached", async () => {
    await page.getByRole("button", { name: "New connection" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New connection" });
    // stdio asks for one of the operator's declared servers instead of a URL; the contract's rule
    // says which.
    await dialog.getByLabel("Transport").selectOption("stdio");
    await dialog.getByLabel("Stdio server").waitFor();
    await dialog.getByLabel("Name").fill("Local tools");
    await dialog.getByRole("button", { name: "Create connection" }).click();
    await dialog.getByText("A declared stdio server is required for the stdio transport").waitFor();
    await dialog.getByLabel("Transport").selectOption("streamable_http");
    await dialog.getByLabel("Name").fill("Broken server");
    await dialog.getByLabel("Server URL").fill("http://127.0.0.1:9/mcp");
    await dialog.getByRole("button", { name: "Create connection" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Test Broken server" }).click();
    await page.getByText("Connection failed").waitFor();
    await page
      .getByRole("row", { name: /Broken server/ })
      .getByText("unhealthy")
      .waitFor();
    await shot(page, "03-connections");
  });

  it("shows connection details with write-only secrets as key names", async () => {
    await page.getByRole("link", { name: "Demo server" }).click();
    await page.getByRole("heading", { level: 1, name: /Demo server/ }).waitFor();
    await page.getByText("X-Api-Key: set").waitFor();
    expect(await page.content()).not.toContain("s3cret-value");
    await page.getByRole("cell", { name: "calculate", exact: true }).first().waitFor();

    await page.getByRole("button", { name: "Edit" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit Demo server" });
    await dialog.getByText("X-Api-Key: set").waitFor();
    await expect(dialog.getByLabel("Keep as is").isChecked()).resolves.toBe(true);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await shot(page, "04-connection-detail");
  });

  it("creates an agent and an API key that is shown once, with a ready client config", async () => {
    await nav(page, "Agents");
    await page.getByRole("button", { name: "New agent" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New agent" });
    await dialog.getByLabel("Name").fill("Support bot");
    await dialog.getByLabel("Description").fill("Answers customer questions");
    await dialog.getByRole("button", { name: "Create agent" }).click();
    await page.getByRole("heading", { level: 1, name: /Support bot/ }).waitFor();
    const mcpUrl = await page.getByTestId("mcp-url").textContent();
    expect(mcpUrl).toMatch(/\/mcp\/[0-9a-f-]+$/);

    await page.getByRole("button", { name: "Create key" }).click();
    const keyDialog = page.getByRole("dialog", { name: /New key for Support bot/ });
    await keyDialog.getByLabel("Key name").fill("laptop");
    await keyDialog.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByRole("dialog", { name: "Copy your new key" });
    const key = (await shown.getByTestId("new-key").textContent()) ?? "";
    expect(key.length).toBeGreaterThan(20);
    await shown.getByRole("button", { name: "Copy key" }).click();
    await shown.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await shown.getByRole("button", { name: "I have stored it" }).click();

    await page.getByRole("cell", { name: "laptop", exact: true }).waitFor();
    const snippet = await page
      .getByRole("tabpanel", { name: "MCP client configuration" })
      .textContent();
    const config = JSON.parse(snippet ?? "{}") as {
      mcpServers: Record<string, { url: string; headers: Record<string, string> }>;
    };
    expect(config.mcpServers["support-bot"]).toEqual({
      type: "http",
      url: mcpUrl,
      headers: { Authorization: `Bearer ${key}` },
    });
    await shot(page, "05-agent");
  });

  it("creates allow and deny policies and evaluates a call", async () => {
    await nav(page, "Policies");
    await page.getByRole("button", { name: "New policy" }).first().click();
    let dialog = page.getByRole("dialog", { name: "New policy" });
    await dialog.getByLabel("Name").fill("Allow demo tools");
    await dialog.getByLabel("Tool pattern").fill("*");
    await dialog.getByRole("button", { name: "Create policy" }).click();
    await dialog.waitFor({ state: "hidden" });

    await page.getByRole("button", { name: "New policy" }).first().click();
    dialog = page.getByRole("dialog", { name: "New policy" });
    await dialog.getByLabel("Name").fill("No UUIDs for bots");
    await dialog.getByLabel("Deny").check();
    await dialog.getByLabel("Subject").selectOption({ label: "Agents" });
    await dialog.getByLabel("Agent").selectOption({ label: "Support bot" });
    await dialog.getByLabel("Tool pattern").fill("generate_uuid");
    await dialog.getByRole("button", { name: "Create policy" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("cell", { name: "No UUIDs for bots", exact: true }).waitFor();

    const panel = page.getByRole("region", { name: "Evaluate" });
    await panel.getByLabel("Caller").selectOption({ label: "Support bot" });
    await panel.getByLabel("Tool").selectOption({ label: "generate_uuid" });
    await panel.getByRole("button", { name: "Evaluate" }).click();
    const decision = panel.getByTestId("decision");
    await decision.getByText("Denied", { exact: true }).waitFor();
    await decision.getByRole("listitem").filter({ hasText: "No UUIDs for bots" }).waitFor();

    await panel.getByLabel("Tool").selectOption({ label: "calculate" });
    await panel.getByLabel("Input (JSON)").fill('{"expression": "1 + 1"}');
    await panel.getByRole("button", { name: "Evaluate" }).click();
    await decision.getByText("Allowed", { exact: true }).waitFor();
    await decision.getByRole("listitem").filter({ hasText: "Allow demo tools" }).waitFor();
    await shot(page, "06-policies");
  });

  it("runs tools from forms generated from their input schemas", async () => {
    await nav(page, "Tools");
    await page.getByLabel("Search").fill("calc");
    await page.getByRole("button", { name: "Run calculate" }).waitFor();
    await page.getByRole("button", { name: "Run convert_units" }).waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Run calculate" }).click();
    const dialog = page.getByRole("dialog", { name: "Run calculate" });

    // The required marker and the client-side check come from the tool's JSON Schema.
    await dialog.getByRole("button", { name: "Run tool" }).click();
    await dialog.getByText("Required", { exact: true }).waitFor();
    await dialog.getByLabel(/Expression/).fill("2 * (3 + 4)");

    // Raw JSON shows what the form would send, and edits flow back into the form.
    await dialog.getByRole("button", { name: "Raw JSON" }).click();
    const raw = dialog.getByLabel("Arguments (JSON object)");
    expect(JSON.parse(await raw.inputValue())).toEqual({ expression: "2 * (3 + 4)" });
    await raw.fill('{"expression": "6 * 7"}');
    await dialog.getByRole("button", { name: "Form" }).click();
    await expect(dialog.getByLabel(/Expression/).inputValue()).resolves.toBe("6 * 7");

    await dialog.getByLabel("Run as").selectOption({ label: "Agent: Support bot" });
    await dialog.getByRole("button", { name: "Run tool" }).click();
    await dialog.getByText("6 * 7 = 42", { exact: true }).waitFor();
    await dialog.getByText("succeeded").waitFor();
    await dialog.getByRole("button", { name: "Close" }).first().click();

    // An image result: the colour swatch PNG comes back as base64 image content.
    await page.getByLabel("Search").fill("swatch");
    await page.getByRole("button", { name: "Run color_swatch" }).click();
    const swatch = page.getByRole("dialog", { name: "Run color_swatch" });
    await expect(swatch.getByLabel(/Size/).inputValue()).resolves.toBe("64");
    await swatch.getByLabel(/Hex/).fill("#4f46e5");
    await swatch.getByRole("button", { name: "Run tool" }).click();
    const image = swatch.getByRole("img", { name: /Image result 1/ });
    await image.waitFor();
    expect(await image.evaluate((element) => (element as HTMLImageElement).naturalWidth)).toBe(64);
    await shot(page, "07-run-tool");
    await swatch.getByRole("button", { name: "Close" }).first().click();

    // The deny policy: the bot may not generate UUIDs.
    await page.getByLabel("Search").fill("uuid");
    await page.getByRole("button", { name: "Run generate_uuid" }).click();
    const uuid = page.getByRole("dialog", { name: "Run generate_uuid" });
    await uuid.getByLabel("Run as").selectOption({ label: "Agent: Support bot" });
    await uuid.getByRole("button", { name: "Run tool" }).click();
    await uuid.getByText("denied", { exact: true }).first().waitFor();
    await uuid.getByRole("button", { name: "Close" }).first().click();
    await page.getByLabel("Search").fill("");
    await shot(page, "08-tools");
  });

  it("lists the runs with their outcome and opens a run's detail", async () => {
    await nav(page, "Runs");
    await page.getByRole("cell", { name: "calculate" }).first().waitFor();
    await page
      .getByRole("row", { name: /generate_uuid/ })
      .getByText("denied", { exact: true })
      .waitFor();
    await page.getByLabel("Status").selectOption("succeeded");
    await page.getByRole("row", { name: /generate_uuid/ }).waitFor({ state: "detached" });
    await shot(page, "09-runs");

    await page
      .getByRole("row", { name: /calculate/ })
      .getByRole("link")
      .first()
      .click();
    await page.getByRole("heading", { name: "Input" }).waitFor();
    await page.getByRole("region", { name: "Input" }).getByText('"expression": "6 * 7"').waitFor();
    await page.getByText("6 * 7 = 42", { exact: true }).waitFor();
    await shot(page, "10-run-detail");
  });

  it("charts the activity on the overview", async () => {
    await nav(page, "Overview");
    await page.getByRole("heading", { name: "Runs over time" }).waitFor();
    await page.locator(".recharts-surface").first().waitFor();
    await page.getByRole("heading", { name: "Connection health" }).waitFor();
    await page.getByRole("heading", { name: "Most denied tools" }).waitFor();
    await shot(page, "11-overview");
  });

  it("shows the audit trail", async () => {
    await nav(page, "Audit log");
    const timeline = page.getByRole("list", { name: /Audit events/ });
    await timeline
      .getByText(/connection\.create/)
      .first()
      .waitFor();
    await timeline
      .getByText(/policy\.create/)
      .first()
      .waitFor();
    // Actions are picked from the ones the org's log holds.
    await page.getByLabel("Action").selectOption("agent.create");
    await timeline
      .getByText(/connection\.create/)
      .first()
      .waitFor({ state: "detached" });
    await timeline
      .getByText(/agent\.create/)
      .first()
      .waitFor();
    await page.getByLabel("Action").selectOption("");
    await shot(page, "12-audit");
  });

  it("deletes an environment with its policies only once they are listed and its name typed", async () => {
    const orgId = orgPath.split("/").at(-1) ?? "";
    const staging = await api<{ id: string }>(page, "environments.create", {
      org_id: orgId,
      name: "Staging",
    });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "Staging is read-only",
      effect: "deny",
      tool_pattern: "*",
      environment_id: staging.id,
    });
    await nav(page, "Environments");
    await page
      .getByRole("row", { name: /Staging/ })
      .getByRole("button", { name: "Delete" })
      .click();
    await page
      .getByRole("alertdialog", { name: "Delete environment “Staging”?" })
      .getByRole("button", { name: "Delete environment" })
      .click();
    // The server refused: the policies that would go with it are listed, and the name is asked.
    const listed = page.getByRole("alertdialog", {
      name: "Delete environment “Staging” and 1 policy?",
    });
    await listed.getByRole("listitem").filter({ hasText: "Staging is read-only" }).waitFor();
    const remove = listed.getByRole("button", { name: "Delete environment and 1 policy" });
    expect(await remove.isDisabled()).toBe(true);
    const typed = listed.getByLabel("Type “Staging” to confirm");
    await typed.fill("Stagin");
    expect(await remove.isDisabled()).toBe(true);
    await typed.fill("Staging");
    await remove.click();
    await listed.waitFor({ state: "hidden" });
    await page.getByRole("cell", { name: "Staging", exact: true }).waitFor({ state: "detached" });
    await nav(page, "Policies");
    await page.getByRole("cell", { name: "Allow demo tools", exact: true }).waitFor();
    expect(await page.getByRole("cell", { name: "Staging is read-only" }).count()).toBe(0);
  });

  it("adds a second user as viewer, who sees no write controls", async () => {
    const { context: viewerContext, page: viewer } = await suite.newPage();
    await register(viewer, VIEWER);
    await viewer.waitForURL(/\/orgs\/new/);

    await nav(page, "Members");
    const invite = page.getByRole("form", { name: "Invite someone" });
    await invite.getByLabel("Email").fill(VIEWER.email);
    await invite.getByLabel("Role").selectOption("viewer");
    await invite.getByRole("button", { name: "Invite" }).click();
    // The viewer, signed in already, joins through the invitation's link.
    const link = await invite.getByLabel("Invitation link").inputValue();
    await viewer.goto(link);
    await viewer.getByRole("button", { name: "Accept and join" }).click();
    await viewer.waitForURL((url) => url.pathname.startsWith(orgPath));
    await page.reload();
    await page.getByRole("cell", { name: /Victor Viewer/ }).waitFor();
    await shot(page, "13-members");

    await viewer.goto(`${orgPath}/connections`);
    await viewer.getByRole("link", { name: "Demo server" }).waitFor();
    await viewer.getByText("viewer", { exact: true }).first().waitFor();
    expect(await viewer.getByRole("button", { name: /New connection|Test |Sync / }).count()).toBe(
      0,
    );
    await shot(viewer, "14-viewer-connections");

    await nav(viewer, "Tools");
    await viewer.getByText("calculate", { exact: true }).waitFor();
    expect(await viewer.getByRole("button", { name: /^(Run|Rename|Delete) / }).count()).toBe(0);
    expect(await viewer.getByRole("switch").count()).toBe(0);

    for (const [label, forbidden] of [
      ["Agents", /New agent|Disable|Delete/],
      ["Policies", /New policy|Edit |Delete /],
      ["Environments", /New environment|Rename|Delete/],
      ["Members", /Invite|Remove|Revoke/],
    ] as const) {
      await nav(viewer, label);
      await viewer.waitForLoadState("networkidle");
      expect(await viewer.getByRole("button", { name: forbidden }).count(), label).toBe(0);
    }
    await viewerContext.close();
  });

  it("signs out", async () => {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.waitForURL(/\/signin/);
    await page.goto(`${orgPath}/overview`);
    await page.waitForURL(/\/signin\?next=/);
    expect(suite.errors).toEqual([]);
  });
});
