import { describe, expect, it } from "vitest";
import { api, browserSuite, newUser, register, RUN } from "./session";

/*
 * The platform admin and a user's own password in the browser: the platform's first account (its
 * admin) disables another account from the Platform admin page, and that person is signed out at
 * their next request and cannot sign in; a wrong current password on the password form is named.
 */

const ADMIN = newUser("Paula", "Platform");
const suite = browserSuite();
let orgPath = "";

describe("platform admin", () => {
  it("disables an account from the Platform admin page; its owner is signed out and refused", async () => {
    const { page } = suite;
    // The platform's first account becomes its admin.
    await register(page, ADMIN);
    await page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Operators",
      slug: `operators-${RUN}`,
    });
    orgPath = `/orgs/${org.id}`;

    const person = newUser("Dora", "Locked");
    const { context, page: other } = await suite.newPage();
    await register(other, person);
    await other.waitForURL(/\/orgs\/new/);

    await page.goto(`${orgPath}/overview`);
    await page.getByRole("link", { name: "Platform admin" }).click();
    await page.getByRole("heading", { level: 1, name: "Platform admin" }).waitFor();
    const accounts = page.getByRole("table", { name: "Accounts" });
    const mine = accounts.getByRole("row", { name: new RegExp(ADMIN.email) });
    await mine.getByText("platform admin").waitFor();
    // No way to lock oneself out.
    await expect(mine.getByRole("button").count()).resolves.toBe(0);
    await page
      .getByRole("table", { name: "Organizations" })
      .getByRole("row", { name: /Operators/ })
      .waitFor();

    const row = accounts.getByRole("row", { name: new RegExp(person.email) });
    await row.getByText("active", { exact: true }).waitFor();
    await row.getByRole("button", { name: `Disable ${person.email}` }).click();
    const confirm = page.getByRole("alertdialog", { name: `Disable ${person.email}?` });
    await confirm.getByRole("button", { name: "Disable account" }).click();
    await row.getByText("disabled", { exact: true }).waitFor();
    await row.getByRole("button", { name: `Enable ${person.email}` }).waitFor();

    // Signed out at the next request, and the password no longer signs in.
    await other.reload();
    await other.waitForURL(/\/signin/);
    await other.getByLabel("Email").fill(person.email);
    await other.getByLabel("Password").fill(person.password);
    await other.getByRole("button", { name: "Sign in" }).click();
    await other.getByText(/This account is disabled/).waitFor();
    await context.close();

    // The page also stands outside any organization: an operator need not belong to one.
    await page.goto("/platform");
    await page
      .getByRole("table", { name: "Accounts" })
      .getByRole("row", { name: new RegExp(person.email) })
      .getByText("disabled", { exact: true })
      .waitFor();
    expect(suite.errors).toEqual([]);
  });

  it("names a wrong current password on the password form, and changes it with the right one", async () => {
    const { page } = suite;
    await page.goto(`${orgPath}/overview`);
    await page.getByRole("link", { name: "Your sessions" }).click();
    await page.getByRole("heading", { level: 1, name: "Your sessions" }).waitFor();
    const form = page.getByRole("form", { name: "Change password" });
    const next = "a much better passphrase";
    await form.getByLabel("Current password").fill("not my password at all");
    await form.getByLabel("New password", { exact: true }).fill(next);
    await form.getByLabel("Confirm new password").fill(next);
    await form.getByRole("button", { name: "Change password" }).click();
    await form.getByText("The current password is not correct").waitFor();
    await expect(form.getByLabel("Current password").getAttribute("aria-invalid")).resolves.toBe(
      "true",
    );

    await form.getByLabel("Current password").fill(ADMIN.password);
    await form.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Password changed").waitFor();
    const outcome = await page.evaluate(
      async ({ email, password }) =>
        (
          await fetch("/api/v1/auth/login", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ email, password }),
          })
        ).status,
      { email: ADMIN.email, password: next },
    );
    expect(outcome).toBe(200);
    expect(suite.errors).toEqual([]);
  });
});
