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
});
