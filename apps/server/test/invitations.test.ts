import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOrg,
  databaseUnavailable,
  linkToken,
  registerUser,
  startTestServer,
  uniqueEmail,
  type TestServer,
  type TestUser,
} from "./harness";
import { linkIn, startTestMailServer, type TestMailServer } from "./mail-server";

describe.skipIf(databaseUnavailable)("invitations", () => {
  let mail: TestMailServer;
  /** Sign-up by invitation only, with mail. */
  let server: TestServer;
  /** The same platform (same database) with sign-up closed. */
  let closed: TestServer;

  beforeAll(async () => {
    mail = await startTestMailServer();
    server = await startTestServer({
      SIGNUP_MODE: "invite",
      SMTP_URL: mail.url,
      SMTP_FROM: "Platform <noreply@platform.test>",
    });
    closed = await startTestServer({ SIGNUP_MODE: "closed" });
  });
  afterAll(async () => {
    await server.close();
    await closed.close();
    await mail.close();
  });

  /** In invite mode nobody registers freely: org owners come from an open-mode server. */
  let open: TestServer;
  beforeAll(async () => {
    open = await startTestServer({ SIGNUP_MODE: "open" });
  });
  afterAll(async () => {
    await open.close();
  });

  async function invite(org: { id: string; owner: TestUser }, email: string, role = "member") {
    return server.request("POST", `/orgs/${org.id}/members/`, {
      token: org.owner.token,
      body: { email, role },
    });
  }

  it("mails the link; the invitee signs up through it and joins with the role, once", async () => {
    const org = await createOrg(open);
    const email = uniqueEmail("invitee");
    const invited = await invite(org, email.toUpperCase(), "admin");
    expect(invited.status).toBe(201);
    expect(invited.body.email_delivery).toBe("sent");
    expect(invited.body.invitation).toMatchObject({ email, role: "admin", status: "pending" });

    const message = await mail.next(email);
    expect(message.from).toBe("noreply@platform.test");
    const link = linkIn(message, "/invitation");
    expect(link).toBe(invited.body.url);
    const token = linkToken(link);

    const preview = await server.request("POST", "/invitations/preview/", { body: { token } });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ email, role: "admin" });

    const plain = await server.request("POST", "/auth/register/", {
      body: { email, password: "a-long-password-1", password_confirm: "a-long-password-1" },
    });
    expect(plain.status).toBe(403);

    const other = uniqueEmail("other");
    const wrongAddress = await server.request("POST", "/auth/register/", {
      body: {
        email: other,
        password: "a-long-password-1",
        password_confirm: "a-long-password-1",
        invitation_token: token,
      },
    });
    expect(wrongAddress.status).toBe(400);
    expect(wrongAddress.body.issues[0].path).toBe("email");

    const registered = await server.request("POST", "/auth/register/", {
      body: {
        email,
        password: "a-long-password-1",
        password_confirm: "a-long-password-1",
        invitation_token: token,
      },
    });
    expect(registered.status).toBe(201);
    const members = await server.request("GET", `/orgs/${org.id}/members/`, {
      token: registered.body.token,
    });
    expect(members.status).toBe(200);
    expect(members.body.results).toContainEqual(
      expect.objectContaining({ email, role: "admin", user_id: registered.body.user.id }),
    );

    const again = await server.request("POST", "/invitations/accept/", {
      token: registered.body.token,
      body: { token },
    });
    expect(again.status).toBe(404);
    expect(again.body.message).toMatch(/already used/);
    const reuse = await server.request("POST", "/auth/register/", {
      body: {
        email: uniqueEmail(),
        password: "a-long-password-1",
        password_confirm: "a-long-password-1",
        invitation_token: token,
      },
    });
    expect(reuse.status).toBe(404);

    const listed = await server.request("GET", `/orgs/${org.id}/invitations/`, {
      token: org.owner.token,
    });
    expect(listed.body.results[0]).toMatchObject({
      email,
      status: "accepted",
      accepted_by: registered.body.user.id,
    });
    expect(JSON.stringify(listed.body)).not.toContain(token);
    const audit = await server.request("GET", `/orgs/${org.id}/audit-events/?limit=200`, {
      token: org.owner.token,
    });
    const actions = (audit.body.results as { action: string }[]).map((event) => event.action);
    expect(actions).toEqual(
      expect.arrayContaining(["invitation.create", "invitation.accept", "member.add"]),
    );
  });

  it("lets only the invited address accept; a revoked or expired link is refused", async () => {
    const org = await createOrg(open);
    const invitee = await registerUser(open, "invitee");
    const stranger = await registerUser(open, "stranger");
    const invited = await invite(org, invitee.email, "viewer");
    const token = linkToken(invited.body.url);

    const wrongUser = await server.request("POST", "/invitations/accept/", {
      token: stranger.token,
      body: { token },
    });
    expect(wrongUser.status).toBe(403);
    expect(
      (await server.request("GET", `/orgs/${org.id}/`, { token: stranger.token })).status,
    ).toBe(404);
    const anonymous = await server.request("POST", "/invitations/accept/", { body: { token } });
    expect(anonymous.status).toBe(401);

    const revoked = await server.request(
      "DELETE",
      `/orgs/${org.id}/invitations/${invited.body.invitation.id}/`,
      { token: org.owner.token },
    );
    expect(revoked.status).toBe(204);
    const afterRevoke = await server.request("POST", "/invitations/accept/", {
      token: invitee.token,
      body: { token },
    });
    expect(afterRevoke.status).toBe(404);
    expect(afterRevoke.body.message).toMatch(/revoked/);

    const reinvited = await invite(org, invitee.email, "viewer");
    await server.database.db.execute(
      sql`update invitations set expires_at = now() - interval '1 second' where id = ${reinvited.body.invitation.id}`,
    );
    const expired = await server.request("POST", "/invitations/accept/", {
      token: invitee.token,
      body: { token: linkToken(reinvited.body.url) },
    });
    expect(expired.status).toBe(404);
    expect(expired.body.message).toMatch(/expired/);

    const fresh = await invite(org, invitee.email, "member");
    const accepted = await server.request("POST", "/invitations/accept/", {
      token: invitee.token,
      body: { token: linkToken(fresh.body.url) },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ org_id: org.id, role: "member" });
    const member = await invite(org, invitee.email, "member");
    expect(member.status).toBe(409);
  });

  it("answers adding a registered and an unknown address alike, and adds nobody before acceptance", async () => {
    const org = await createOrg(open);
    const registered = await registerUser(open, "known");
    const unknown = uniqueEmail("unknown");
    const known = await invite(org, registered.email);
    const stranger = await invite(org, unknown);
    expect(known.status).toBe(stranger.status);
    const shape = (body: { invitation: Record<string, unknown> }) => ({
      keys: Object.keys(body).sort(),
      invitation: Object.keys(body.invitation).sort(),
      status: body.invitation.status,
    });
    expect(shape(known.body)).toEqual(shape(stranger.body));
    expect(known.body.email_delivery).toBe(stranger.body.email_delivery);
    const members = await server.request("GET", `/orgs/${org.id}/members/`, {
      token: org.owner.token,
    });
    expect(members.body.results).toHaveLength(1);
    await mail.next(registered.email);
    await mail.next(unknown);
  });

  it("lets admins invite up to admin, and only owners invite owners", async () => {
    const org = await createOrg(open);
    const admin = await registerUser(open, "admin");
    const toAdmin = await invite(org, admin.email, "admin");
    await server.request("POST", "/invitations/accept/", {
      token: admin.token,
      body: { token: linkToken(toAdmin.body.url) },
    });
    const asAdmin = (role: string) =>
      server.request("POST", `/orgs/${org.id}/members/`, {
        token: admin.token,
        body: { email: uniqueEmail(), role },
      });
    expect((await asAdmin("admin")).status).toBe(201);
    const owner = await asAdmin("owner");
    expect(owner.status).toBe(403);
    expect(owner.body.issues[0].path).toBe("role");
    expect((await invite(org, uniqueEmail(), "owner")).status).toBe(201);
  });

  it("closed sign-up refuses new accounts even with an invitation; existing accounts accept", async () => {
    const org = await createOrg(open);
    const email = uniqueEmail("closed");
    const invited = await invite(org, email);
    const token = linkToken(invited.body.url);
    const refused = await closed.request("POST", "/auth/register/", {
      body: {
        email,
        password: "a-long-password-1",
        password_confirm: "a-long-password-1",
        invitation_token: token,
      },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/closed/);
    const existing = await registerUser(open, "existing");
    const forExisting = await invite(org, existing.email);
    const accepted = await closed.request("POST", "/invitations/accept/", {
      token: existing.token,
      body: { token: linkToken(forExisting.body.url) },
    });
    expect(accepted.status).toBe(200);
    const settings = await closed.request("GET", "/auth/settings/");
    expect(settings.body).toEqual({
      signup_mode: "closed",
      signup_allowed_domains: [],
      setup_required: false,
      email_enabled: false,
    });
  });

  it("keeps sign-up and invitations to the allowed domains", async () => {
    const domain = `d${randomBytes(4).toString("hex")}.test`;
    const limited = await startTestServer({
      SIGNUP_MODE: "open",
      SIGNUP_ALLOWED_DOMAINS: ` ${domain.toUpperCase()} , other.test`,
    });
    try {
      const outside = await limited.request("POST", "/auth/register/", {
        body: {
          email: uniqueEmail(),
          password: "a-long-password-1",
          password_confirm: "a-long-password-1",
        },
      });
      expect(outside.status).toBe(400);
      expect(outside.body.issues[0].path).toBe("email");
      expect(outside.body.issues[0].message).toContain(domain);
      const inside = await limited.request("POST", "/auth/register/", {
        body: {
          email: `someone-${randomBytes(4).toString("hex")}@${domain}`,
          password: "a-long-password-1",
          password_confirm: "a-long-password-1",
        },
      });
      expect(inside.status).toBe(201);
      const org = await limited.request("POST", "/orgs/", {
        token: inside.body.token,
        body: { name: "Limited" },
      });
      const invitedOutside = await limited.request("POST", `/orgs/${org.body.id}/members/`, {
        token: inside.body.token,
        body: { email: uniqueEmail(), role: "member" },
      });
      expect(invitedOutside.status).toBe(400);
      expect(invitedOutside.body.issues[0].path).toBe("email");
      const settings = await limited.request("GET", "/auth/settings/");
      expect(settings.body.signup_allowed_domains).toEqual([domain, "other.test"]);
    } finally {
      await limited.close();
    }
  });
});
