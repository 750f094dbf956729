import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestIdp, type TestIdp } from "../../server/test/oidc-idp";
import { api, browserSuite, newUser, register, RUN } from "./session";

/*
 * Sign-in with SSO in the SPA: the sign-in page offers "Sign in with <provider>", the provider's
 * own login page (oidc-provider, in this process) signs the person in, and the platform's
 * callback lands them signed in on the page they were going to; a failed sign-in says why.
 */

let idp: TestIdp;
// Before the suite's server starts: the server is configured with this provider's issuer.
beforeAll(async () => {
  idp = await startTestIdp();
  idp.loginPage = true;
});
const suite = browserSuite({
  env: () => ({
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: idp.clientId,
    OIDC_CLIENT_SECRET: idp.clientSecret,
    OIDC_ALLOWED_DOMAINS: "example.com",
    OIDC_DISPLAY_NAME: "Acme ID",
  }),
});
beforeAll(() => {
  idp.registerPlatform(`${suite.baseUrl}/auth/sso/callback`);
});
afterAll(async () => {
  await idp.close();
});

describe("sign-in with SSO", () => {
  it("signs a new person in through the provider's login page", async () => {
    const { page } = await suite.newPage();
    idp.accounts.set("ada", {
      sub: "ada",
      email: `ada.${RUN}@example.com`,
      email_verified: true,
      given_name: "Ada",
      family_name: "Lovelace",
    });
    idp.nextAccount = "ada";
    await page.goto("/signin");
    await page.getByRole("link", { name: "Sign in with Acme ID" }).click();
    await page.getByRole("heading", { name: "Test IdP" }).waitFor();
    await page.getByRole("button", { name: "Sign in" }).click();
    // A new account has no org yet: the SPA sends it to create one, signed in.
    await page.waitForURL(/\/orgs\/new/);
    const me = await api<{ email: string; first_name: string }>(page, "auth.me", {}, "query");
    expect(me).toMatchObject({ email: `ada.${RUN}@example.com`, first_name: "Ada" });
    expect(suite.errors).toEqual([]);
  });

  it("brings an existing member back to the page they asked for", async () => {
    const owner = newUser("Grace", "Hopper");
    await register(suite.page, owner);
    await suite.page.waitForURL(/\/orgs\/new/);
    const org = await api<{ id: string }>(suite.page, "orgs.create", {
      name: "SSO Co",
      slug: `sso-${RUN}`,
    });
    idp.accounts.set("grace", { sub: "grace", email: owner.email, email_verified: true });
    idp.nextAccount = "grace";

    const { page } = await suite.newPage();
    await page.goto(`/orgs/${org.id}/agents`);
    await page.waitForURL(/\/signin\?next=/);
    await page.getByRole("link", { name: "Sign in with Acme ID" }).click();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`/orgs/${org.id}/agents$`));
    await page.getByRole("heading", { level: 1, name: "Agents" }).waitFor();
  });

  it("says why a sign-in failed and leads back to the sign-in page", async () => {
    const { page } = await suite.newPage();
    idp.accounts.set("mallory", {
      sub: "mallory",
      email: `mallory.${RUN}@example.com`,
      email_verified: false,
    });
    idp.nextAccount = "mallory";
    await page.goto("/signin");
    await page.getByRole("link", { name: "Sign in with Acme ID" }).click();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page
      .getByRole("alert")
      .getByText(/Acme ID has not verified/)
      .waitFor();
    await page.getByRole("link", { name: "Back to sign in" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
  });

  it("saves the org's SSO settings: SSO only and a domain's role", async () => {
    const { page } = suite;
    const orgs = await api<{ results: { id: string; name: string }[] }>(
      page,
      "orgs.list",
      { limit: 200 },
      "query",
    );
    const org = orgs.results.find((candidate) => candidate.name === "SSO Co");
    expect(org).toBeDefined();
    await page.goto(`/orgs/${org?.id ?? ""}/settings`);
    const form = page.getByRole("form", { name: "Single sign-on" });
    await form.getByText("Members can sign in with Acme ID.").waitFor();
    await form.getByLabel(/SSO only/).check();
    await form.getByRole("button", { name: "Add domain" }).click();
    await form.getByLabel("Domain 1", { exact: true }).fill("Example.com");
    await form.getByLabel("Role for domain 1").selectOption("viewer");
    await form.getByRole("button", { name: "Save SSO settings" }).click();
    await page.getByText("Saved the SSO settings").waitFor();

    const saved = await api<{ sso_only: boolean; domain_roles: unknown[] }>(
      page,
      "orgs.sso.get",
      { org_id: org?.id },
      "query",
    );
    expect(saved).toEqual({
      sso_only: true,
      domain_roles: [{ domain: "example.com", role: "viewer" }],
    });
    await page.reload();
    await expect(form.getByLabel(/SSO only/).isChecked()).resolves.toBe(true);
    await expect(form.getByLabel("Domain 1", { exact: true }).inputValue()).resolves.toBe(
      "example.com",
    );
    expect(suite.errors).toEqual([]);
  });
});
