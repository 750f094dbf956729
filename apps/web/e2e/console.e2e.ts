import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { AxeBuilder } from "@axe-core/playwright";
import { api, browserSuite, nav, newUser, register, RUN } from "./session";

/*
 * What a new admin hit in the console (issue 19), each as the user met it, against the real server.
 * The steps share one owner and build on each other; data a step does not test is made through
 * the API.
 */

const OWNER = newUser("Ada", "Admin");
const suite = browserSuite();
let orgId = "";
let orgPath = "";
let agentId = "";

describe("the console as a new admin meets it", () => {
  it("says so when the password is wrong, and keeps what was typed", async () => {
    const { page } = suite;
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Console Co",
      slug: `console-${RUN}`,
    });
    orgId = org.id;
    orgPath = `/orgs/${orgId}`;

    const { context, page: visitor } = await suite.newPage();
    await visitor.goto("/signin");
    await visitor.getByLabel("Email").fill(OWNER.email);
    await visitor.getByLabel("Password").fill("not the password at all");
    await visitor.getByRole("button", { name: "Sign in" }).click();
    const refusal = visitor.getByRole("alert");
    await refusal.getByText("Invalid email or password").waitFor();
    await expect(refusal.getByText(/Request id/).isVisible()).resolves.toBe(false);
    await expect(visitor.getByLabel("Email").inputValue()).resolves.toBe(OWNER.email);

    await visitor.getByLabel("Password").fill(OWNER.password);
    await visitor.getByRole("button", { name: "Sign in" }).click();
    await visitor.waitForURL(/\/orgs\//);
    await context.close();
  });

  it("answers a missing asset with 404 and offers a reload when a page's chunk is gone", async () => {
    const { page } = suite;
    const missing = await page.request.get("/assets/Audit-0ld0ld.js");
    expect(missing.status()).toBe(404);

    // A tab opened before a deploy asks for the chunk its build named, which the server no longer has.
    await page.goto(`${orgPath}/overview`);
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await page.route(/\/assets\/Audit-[^/]+\.js$/, (route) =>
      route.continue({ url: `${suite.baseUrl}/assets/Audit-0ld0ld.js` }),
    );
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Audit log" })
      .click();
    const prompt = page.getByRole("alert");
    await prompt
      .getByRole("heading", { name: "A new version of the console is available" })
      .waitFor();
    // The sidebar stays: the error is the page's, not the console's.
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    expect(await page.getByText("Hey developer").count()).toBe(0);

    await page.unroute(/\/assets\/Audit-[^/]+\.js$/);
    await prompt.getByRole("button", { name: "Reload" }).click();
    await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor();
  });

  it("states the server's default connection timeout", async () => {
    const { page } = suite;
    await nav(page, "Connections");
    await page.getByRole("button", { name: "New connection" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New connection" });
    const timeout = dialog.getByLabel("Timeout (ms)");
    await expect(timeout.getAttribute("placeholder")).resolves.toBe("10000");
    await dialog.getByText(/default 10,000\./).waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
  });

  it("clears the Evaluate panel's decision when the agent, tool or input changes", async () => {
    const { page } = suite;
    const connection = await api<{ id: string }>(page, "connections.create", {
      org_id: orgId,
      name: "Demo",
      transport: "streamable_http",
      url: `${suite.baseUrl}/demo/mcp`,
    });
    await api(page, "connections.sync", { id: connection.id });
    const agent = await api<{ id: string }>(page, "agents.create", {
      org_id: orgId,
      name: "Helper bot",
    });
    agentId = agent.id;
    await api(page, "policies.create", {
      org_id: orgId,
      name: "Allow all",
      effect: "allow",
      tool_pattern: "*",
    });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "No UUIDs",
      effect: "deny",
      agent_id: agentId,
      tool_pattern: "generate_uuid",
    });
    await api(page, "policies.create", {
      org_id: orgId,
      name: "One clock read an hour",
      effect: "allow",
      agent_id: agentId,
      tool_pattern: "current_time",
      rate_limit: { max_calls: 1, per_seconds: 3600 },
    });

    // Lists the console already holds are fresh for a few seconds; these were made behind its back.
    await page.reload();
    await nav(page, "Policies");
    const panel = page.getByRole("region", { name: "Evaluate" });
    const decision = panel.getByTestId("decision");
    const evaluate = async () => {
      await panel.getByRole("button", { name: "Evaluate" }).click();
      await decision.waitFor();
    };
    await panel.getByLabel("Caller").selectOption({ label: "Helper bot" });
    await panel.getByLabel("Tool").selectOption({ label: "generate_uuid" });
    await evaluate();
    await panel.getByLabel("Tool").selectOption({ label: "calculate" });
    await decision.waitFor({ state: "detached" });

    await evaluate();
    await panel
      .getByLabel("Caller")
      .selectOption({ label: "Unknown caller (only policies for everyone)" });
    await decision.waitFor({ state: "detached" });

    await evaluate();
    await panel.getByLabel("Input (JSON)").fill('{"expression": "1"}');
    await decision.waitFor({ state: "detached" });
  });

  it("tells a denied and a rate-limited run apart, each in one sentence", async () => {
    const { page } = suite;
    await nav(page, "Tools");
    const open = async (tool: string) => {
      await page.getByLabel("Search").fill(tool);
      await page.getByRole("button", { name: `Run ${tool}` }).click();
      const dialog = page.getByRole("dialog", { name: `Run ${tool}` });
      await dialog.getByLabel("Run as").selectOption({ label: "Agent: Helper bot" });
      await dialog.getByRole("button", { name: "Run tool" }).click();
      return dialog;
    };
    const close = (dialog: Locator) =>
      dialog.getByRole("button", { name: "Close" }).first().click();

    const denied = await open("generate_uuid");
    const result = denied.getByRole("region", { name: /Result/ });
    await result.getByText("denied", { exact: true }).waitFor();
    expect(await result.getByText(/No UUIDs/).count()).toBe(1);
    await close(denied);

    const first = await open("current_time");
    await first.getByText("succeeded", { exact: true }).waitFor();
    await close(first);
    const limited = await open("current_time");
    await limited
      .getByRole("alert")
      .getByText(/Rate limited by policy/)
      .waitFor();
    expect(await limited.getByText(/Rate limited by policy/).count()).toBe(1);
    await close(limited);

    // The recorded run: refused after the policies allowed it, which must not read as "allowed".
    await nav(page, "Runs");
    await page.getByLabel("Status").selectOption("rate_limited");
    await page
      .getByRole("row", { name: /current_time/ })
      .getByRole("link")
      .first()
      .click();
    const decision = page.getByRole("region", { name: "Policy decision" });
    // Shown once; the full decision record stays folded away.
    const shown = (text: RegExp) => page.getByText(text).filter({ visible: true });
    await shown(/Rate limited by policy/).waitFor();
    await decision.getByText("rate limited", { exact: true }).waitFor();
    expect(await decision.getByText(/^(denied|allowed|deny|allow)$/).count()).toBe(0);
    expect(await shown(/Allowed by/).count()).toBe(0);
    expect(await shown(/Rate limited by policy/).count()).toBe(1);

    await page.goBack();
    await page.getByLabel("Status").selectOption("denied");
    await page
      .getByRole("row", { name: /generate_uuid/ })
      .getByRole("link")
      .first()
      .click();
    await decision.getByText("denied", { exact: true }).waitFor();
    expect(await shown(/No UUIDs/).count()).toBe(1);
  });

  it("shows an error once, with its request id folded away", async () => {
    const { page } = suite;
    await nav(page, "Environments");
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await page.getByRole("button", { name: "New environment" }).first().click();
      const dialog = page.getByRole("dialog", { name: "New environment" });
      await dialog.getByLabel("Name").fill("Staging");
      await dialog.getByRole("button", { name: "Create" }).click();
      if (attempt === 0) await dialog.waitFor({ state: "hidden" });
    }
    const dialog = page.getByRole("dialog", { name: "New environment" });
    const message = dialog.getByText(/already exists/);
    await message.first().waitFor();
    expect(await message.count()).toBe(1);
    await dialog.getByRole("button", { name: "Cancel" }).click();

    // The server's own password rules: the message beside the field, not again in a banner.
    const { context, page: visitor } = await suite.newPage();
    await visitor.goto("/signup");
    await visitor.getByLabel("Email").fill(`common.${RUN}@example.com`);
    await visitor.getByLabel("Password", { exact: true }).fill("qwerty123456");
    await visitor.getByLabel("Confirm password").fill("qwerty123456");
    await visitor.getByRole("button", { name: "Create account" }).click();
    const common = visitor.getByText(/one of the most common/);
    await common.first().waitFor();
    expect(await common.count()).toBe(1);
    expect(await visitor.getByText(/request/i).count()).toBe(0);
    await context.close();
  });

  it("says who triggered a run in words, and edits multi-line text in a textarea", async () => {
    const { page } = suite;
    await nav(page, "Tools");
    await page.getByLabel("Search").fill("text_stats");
    await page.getByRole("button", { name: "Run text_stats" }).click();
    const dialog = page.getByRole("dialog", { name: "Run text_stats" });
    const text = dialog.getByLabel(/^Text/);
    expect(await text.evaluate((element) => element.tagName)).toBe("TEXTAREA");
    await text.fill("first line\nsecond line\nthird line");
    await dialog.getByRole("button", { name: "Run tool" }).click();
    await dialog.getByText("succeeded", { exact: true }).waitFor();
    await dialog.getByRole("link", { name: /View run/ }).click();

    await page.getByRole("heading", { name: "Input" }).waitFor();
    await page.getByText("Ada Admin via the admin UI", { exact: true }).waitFor();
    expect(await page.getByText(/"surface"/).count()).toBe(0);
  });

  it("filters the audit log by an action picked from a list, and by actor and target names", async () => {
    const { page } = suite;
    await nav(page, "Audit log");
    const events = page
      .getByRole("list", { name: "Audit events, newest first" })
      .getByRole("listitem");
    const badges = (action: string) =>
      page
        .getByRole("list", { name: "Audit events, newest first" })
        .getByText(action, { exact: true });

    // The actions the log holds, to pick from: no exact name to remember.
    const action = page.getByLabel("Action", { exact: true });
    await expect
      .poll(() => action.locator("option").allTextContents())
      .toEqual(expect.arrayContaining(["Any action", "agent.create", "policy.create"]));
    await action.selectOption("policy.create");
    await expect.poll(() => events.count()).toBe(3);
    expect(await badges("policy.create").count()).toBe(3);
    await action.selectOption("");

    // A target by its name, searched among the org's things; the filter is its id.
    const target = page.getByLabel("Target", { exact: true });
    await expect
      .poll(() =>
        page
          .locator("#audit-target-options option")
          .evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value)),
      )
      .toEqual(expect.arrayContaining(["Helper bot (agent)", "Demo (connection)"]));
    await target.fill("Helper bot (agent)");
    await page.waitForURL(new RegExp(`target_id=${agentId}`));
    await expect.poll(() => events.count()).toBe(1);
    await badges("agent.create").waitFor();

    // Half a name filters nothing yet and says why.
    await target.fill("Helper");
    await page.getByText("Pick one of the suggestions.").waitFor();
    expect(page.url()).not.toContain("target_id=");
    await target.fill("");

    // An actor by name: the people of the org and its agents.
    await page.getByLabel("Actor", { exact: true }).fill(`Ada Admin, ${OWNER.email} (member)`);
    await page.waitForURL(/actor_id=/);
    await action.selectOption("agent.create");
    await expect.poll(() => events.count()).toBe(1);
    await badges("agent.create").waitFor();
    await events.getByText("Ada Admin", { exact: true }).waitFor();
  });

  it("pages through more than 200 rows, in the list and in the pickers", async () => {
    const { page } = suite;
    // 201 environments, made in the page in one go: what a list capped at 200 would lose is the last.
    await page.evaluate(async (org) => {
      for (let index = 1; index <= 201; index += 1) {
        const response = await fetch("/trpc/environments.create", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ org_id: org, name: `Env ${String(index).padStart(3, "0")}` }),
        });
        if (!response.ok) throw new Error(`environment ${index}: ${response.status}`);
      }
    }, orgId);
    await page.reload();
    await nav(page, "Environments");
    const table = page.getByRole("table", { name: "Environments" });
    await page.getByText("Showing 50 environments").waitFor();
    const more = page.getByRole("button", { name: "Load more" });
    while (await more.isVisible()) {
      const before = await table.getByRole("row").count();
      await more.click();
      await expect
        .poll(() => table.getByRole("row").count(), { timeout: 30_000 })
        .toBeGreaterThan(before);
    }
    await page.getByText("Showing 202 environments (all)").waitFor();
    await table.getByRole("cell", { name: "Env 201", exact: true }).waitFor();

    // The agent form's environment picker has the 201st too.
    await nav(page, "Agents");
    await page.getByRole("button", { name: "New agent" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New agent" });
    await expect
      .poll(() => dialog.getByLabel("Environment").locator("option").allTextContents())
      .toContain("Env 201");
    // Side by side, the environment picker (with a hint under it) and the status select are one
    // height: the hint does not stretch its neighbour's control.
    const heights = await Promise.all(
      ["Environment", "Status"].map(async (label) =>
        dialog.getByLabel(label).evaluate((select) => select.getBoundingClientRect().height),
      ),
    );
    expect(heights[0]).toBe(heights[1]);
    await dialog.getByRole("button", { name: "Cancel" }).click();
  });

  it("has no serious or critical accessibility violations on any page, and shows keyboard focus", async () => {
    const { page } = suite;
    // Each page in the light theme and in the dark one the system setting selects.
    const audit = async (where: string, target: Page = page) => {
      const blocking: string[] = [];
      for (const colorScheme of ["light", "dark"] as const) {
        await target.emulateMedia({ colorScheme });
        // The theme's colours fade in (buttons have 0.12 s transitions): a contrast check in the
        // middle of one sees colours of neither theme. Wait for every running transition to end.
        await target.evaluate(() =>
          Promise.allSettled(document.getAnimations().map((animation) => animation.finished)),
        );
        const result = await new AxeBuilder({ page: target })
          .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
          .analyze();
        blocking.push(
          ...result.violations
            .filter(
              (violation) => violation.impact === "serious" || violation.impact === "critical",
            )
            .map(
              (violation) =>
                `${where} (${colorScheme}): ${violation.id} ${violation.help} at ${violation.nodes
                  .map((node) => node.target.join(" "))
                  .join(", ")}`,
            ),
        );
      }
      await target.emulateMedia({ colorScheme: "light" });
      return blocking;
    };
    const found: string[] = [];
    const pages = [
      ["overview", "Overview"],
      ["connections", "Connections"],
      ["tools", "Tools"],
      ["agents", "Agents"],
      ["policies", "Policies"],
      ["runs", "Runs"],
      ["audit", "Audit log"],
      ["environments", "Environments"],
      ["members", "Members"],
      ["settings", "Settings"],
    ] as const;
    for (const [path, heading] of pages) {
      await page.goto(`${orgPath}/${path}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor();
      await page.locator(".state--loading").first().waitFor({ state: "detached" });
      found.push(...(await audit(path)));
    }
    await page.getByRole("link", { name: "Agents", exact: true }).click();
    await page.getByRole("link", { name: "Helper bot" }).click();
    await page.getByRole("heading", { level: 1, name: /Helper bot/ }).waitFor();
    found.push(...(await audit("agent detail")));
    await nav(page, "Connections");
    await page.getByRole("link", { name: "Demo", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: /Demo/ }).waitFor();
    found.push(...(await audit("connection detail")));

    const { context, page: visitor } = await suite.newPage();
    for (const path of ["/signin", "/signup"]) {
      await visitor.goto(path);
      await visitor.getByRole("heading", { level: 1 }).waitFor();
      found.push(...(await audit(path, visitor)));
    }
    await context.close();
    expect(found).toEqual([]);

    // The keyboard reaches the skip link first, and what has focus shows it.
    await page.goto(`${orgPath}/overview`);
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await page.keyboard.press("Tab");
    const focused = page.locator(":focus");
    await expect(focused.textContent()).resolves.toBe("Skip to content");
    await page.keyboard.press("Tab");
    const ring = await page.evaluate(() => {
      const element = document.activeElement;
      if (!element) return "";
      const style = getComputedStyle(element);
      return `${style.outlineStyle} ${style.boxShadow}`;
    });
    expect(ring).not.toBe("none none");
    // Twelve pages analysed in a browser on a shared machine: the one slow step of this file.
  }, 600_000);
});
