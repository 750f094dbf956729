import { afterAll, describe, expect, it } from "vitest";
// The integration suite's SMTP server (smtp-server + mailparser, apps/server's dev dependencies).
import { startTestMailServer } from "../../server/test/mail-server";
import { api, browserSuite, newUser, register, RUN } from "./session";

/*
 * Accounts by e-mailed links, in Chromium against the real server with a real SMTP server in this
 * process: an invitation accepted by signing up through its link, and a forgotten password reset
 * through the mailed link.
 */

const mail = await startTestMailServer();
const suite = browserSuite({
  env: () => ({ SMTP_URL: mail.url, SMTP_FROM: "Platform <noreply@platform.test>" }),
});
const OWNER = newUser("Ines", "Inviter");
afterAll(async () => {
  await mail.close();
});

/** The platform link in a mail's text. */
function linkIn(text: string, path: string): string {
  const match = new RegExp(`https?://\\S+${path}#[A-Za-z0-9_-]+`).exec(text);
  if (!match) throw new Error(`no ${path} link in: ${text}`);
  return match[0];
}

describe("accounts by e-mailed links", () => {
  it("invites by e-mail; the invitee signs up through the mailed link and joins with the role", async () => {
    const { page } = suite;
    await register(page, OWNER);
    await page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(page, "orgs.create", {
      name: "Invite Co",
      slug: `invite-${RUN}`,
    });
    await page.goto(`/orgs/${org.id}/members`);
    const invitee = newUser("Vera", "Invitee");
    const form = page.getByRole("form", { name: "Invite someone" });
    await form.getByLabel("Email").fill(invitee.email);
    await form.getByLabel("Role").selectOption("admin");
    await form.getByRole("button", { name: "Invite" }).click();
    await form.getByText("We mailed them this link.").waitFor();
    const shown = await form.getByLabel("Invitation link").inputValue();
    const invitations = page.getByRole("table", { name: "Invitations" });
    await invitations.getByRole("row", { name: new RegExp(invitee.email) }).waitFor();

    const message = await mail.next(invitee.email);
    const link = linkIn(message.text, "/invitation");
    expect(link).toBe(shown);

    const guest = await suite.newPage();
    try {
      await guest.page.goto(link);
      await guest.page.getByText("You are joining Invite Co.").waitFor();
      await expect(guest.page.getByLabel("Email").inputValue()).resolves.toBe(invitee.email);
      await guest.page.getByLabel("First name").fill(invitee.first);
      await guest.page.getByLabel("Last name").fill(invitee.last);
      await guest.page.getByLabel("Password", { exact: true }).fill(invitee.password);
      await guest.page.getByLabel("Confirm password").fill(invitee.password);
      await guest.page.getByRole("button", { name: "Create account" }).click();
      await guest.page.waitForURL(new RegExp(`/orgs/${org.id}/`));
      const role = await api<{ role: string }>(guest.page, "orgs.get", { org_id: org.id }, "query");
      expect(role.role).toBe("admin");

      // The link worked once.
      await guest.page.goto(link);
      await guest.page.getByText(/already used/).waitFor();
    } finally {
      await guest.context.close();
    }
    await page.reload();
    await page
      .getByRole("table", { name: "Members" })
      .getByRole("row", { name: new RegExp(invitee.email) })
      .waitFor();
    await invitations
      .getByRole("row", { name: new RegExp(invitee.email) })
      .getByText("accepted")
      .waitFor();
  });

  it("resets a forgotten password through the mailed link and signs in with the new one", async () => {
    const forgetful = newUser("Fred", "Forgetful");
    const { context, page } = await suite.newPage();
    try {
      await register(page, forgetful);
      await page.waitForURL(/\/orgs\/new/);
      await context.clearCookies();

      await page.goto("/signin");
      await page.getByRole("link", { name: "Forgot your password?" }).click();
      await page.getByLabel("Email").fill(forgetful.email);
      await page.getByRole("button", { name: "Send the link" }).click();
      await page.getByRole("heading", { name: "Check your mail" }).waitFor();

      const message = await mail.next(forgetful.email, "Reset your password");
      await page.goto(linkIn(message.text, "/reset-password"));
      const chosen = `a new password ${RUN}`;
      await page.getByLabel("New password", { exact: true }).fill(chosen);
      await page.getByLabel("Confirm new password").fill(chosen);
      await page.getByRole("button", { name: "Set password and sign in" }).click();
      await page.waitForURL(/\/orgs\/new/);
      const me = await api<{ email: string; email_verified: boolean }>(
        page,
        "auth.me",
        {},
        "query",
      );
      expect(me).toMatchObject({ email: forgetful.email, email_verified: true });

      await expect(
        api(page, "auth.login", { email: forgetful.email, password: forgetful.password }),
      ).rejects.toThrow(/401/);
      await api(page, "auth.login", { email: forgetful.email, password: chosen });
    } finally {
      await context.close();
    }
  });
});
