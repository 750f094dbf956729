import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { api, browserSuite, newUser, register, RUN } from "./session";

/*
 * Issue 16 in the browser: an org's API tokens (created, copied once, listed without the secret,
 * revoked) and a user's own sessions (the current one marked, another one ended).
 */

const OWNER = newUser("Tess", "Tokens");
const suite = browserSuite();
let orgPath = "";

/** A REST call from inside `page` with `token` as the bearer: the status it answers. */
function restStatus(page: Page, path: string, token: string): Promise<number> {
  return page.evaluate(
    async ({ path, token }) =>
      (await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).status,
    { path, token },
  );
}

describe("team identity", () => {
  it("creates an API token, shows it once, lists it without the secret, and revokes it", async () => {
    const { page } = suite;
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Tokens Co",
      slug: `tokens-${RUN}`,
    });
    orgPath = `/orgs/${org.id}`;
    await page.goto(`${orgPath}/overview`);
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "API tokens" })
      .click();
    await page.getByRole("heading", { level: 1, name: "API tokens" }).waitFor();

    await page.getByRole("button", { name: "Create token" }).click();
    const dialog = page.getByRole("dialog", { name: "New API token" });
    await dialog.getByLabel("Token name").fill("CI deploys");
    await dialog.getByLabel("Role").selectOption("member");
    await dialog.getByRole("button", { name: "Create token" }).click();
    const shown = page.getByRole("dialog", { name: "Copy your new token" });
    const token = (await shown.getByTestId("new-token").textContent()) ?? "";
    expect(token).toMatch(/^mcpt_/);
    await shown.getByRole("button", { name: "Copy token" }).click();
    await shown.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    await shown.getByRole("button", { name: "I have stored it" }).click();
    await shown.waitFor({ state: "hidden" });

    const row = page.getByRole("row").filter({ hasText: "CI deploys" });
    await row.getByText("active").waitFor();
    await expect(row.textContent()).resolves.toContain(token.slice(0, 12));
    // Shown once: after the dialog, the page holds only the prefix.
    await expect(page.content()).resolves.not.toContain(token);
    expect(await restStatus(page, `/orgs/${org.id}`, token)).toBe(200);

    await row.getByRole("button", { name: "Revoke token CI deploys" }).click();
    const confirm = page.getByRole("alertdialog", { name: "Revoke token “CI deploys”?" });
    await confirm.getByRole("button", { name: "Revoke token" }).click();
    await row.getByText("revoked").waitFor();
    expect(await restStatus(page, `/orgs/${org.id}`, token)).toBe(401);
  });

  it("lists the user's sessions with the current one marked, and ends another", async () => {
    const { page } = suite;
    const { context, page: other } = await suite.newPage();
    await other.goto("/signin");
    await other.getByLabel("Email").fill(OWNER.email);
    await other.getByLabel("Password").fill(OWNER.password);
    await other.getByRole("button", { name: "Sign in" }).click();
    await other.waitForURL(/\/orgs\//);

    await page.goto(`${orgPath}/overview`);
    await page.getByRole("link", { name: "Your sessions" }).click();
    await page.getByRole("heading", { level: 1, name: "Your sessions" }).waitFor();
    const rows = page.getByTestId("session-row");
    await rows.nth(1).waitFor();
    const current = rows.filter({ hasText: "this session" });
    await expect(current.count()).resolves.toBe(1);
    await current.getByText("127.0.0.1").waitFor();

    await rows
      .filter({ hasNotText: "this session" })
      .getByRole("button", { name: /^End session of / })
      .click();
    const confirm = page.getByRole("alertdialog", { name: "End this session?" });
    await confirm.getByRole("button", { name: "End session" }).click();
    await page.getByText("Session ended").waitFor();
    await rows.nth(1).waitFor({ state: "detached" });
    await expect(rows.first().textContent()).resolves.toContain("this session");

    // The other browser is signed out at its next request.
    await other.reload();
    await other.waitForURL(/\/signin/);
    await context.close();
  });
});
