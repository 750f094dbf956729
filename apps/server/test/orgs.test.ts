import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createOrg,
  linkToken,
  databaseUnavailable,
  registerUser,
  startTestServer,
  type TestServer,
} from "./harness";

describe.skipIf(databaseUnavailable)("organizations and members", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("creates an org whose creator is owner, and lists only the caller's orgs", async () => {
    const owner = await registerUser(server);
    const created = await server.request("POST", "/orgs/", {
      token: owner.token,
      body: { name: "Acme Robotics" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: "Acme Robotics",
      slug: expect.stringMatching(/^acme-robotics/),
      role: "owner",
      oauth_approver_role: "admin",
      quarantine_new_tools: false,
      email_approvers: true,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    await createOrg(server); // someone else's org
    const list = await server.request("GET", "/orgs/", { token: owner.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ results: [created.body], next_cursor: null });
  });

  it("paginates with limit and cursor in a stable order", async () => {
    const owner = await registerUser(server);
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const org = await server.request("POST", "/orgs", {
        token: owner.token,
        body: { name: `Paged ${index}` },
      });
      ids.push(org.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const page = await server.request("GET", `/orgs/${query}`, { token: owner.token });
      expect(page.status).toBe(200);
      expect(page.body.results.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.results.map((org: { id: string }) => org.id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
    const badLimit = await server.request("GET", "/orgs/?limit=500", { token: owner.token });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.issues[0].path).toBe("limit");
    const badCursor = await server.request("GET", "/orgs/?cursor=zzz", { token: owner.token });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.issues[0].path).toBe("cursor");
  });

  it("gets, renames and deletes an org by role", async () => {
    const org = await createOrg(server);
    const admin = await addMember(server, org, "admin");
    const viewer = await addMember(server, org, "viewer");

    const get = await server.request("GET", `/orgs/${org.id}/`, { token: viewer.token });
    expect(get.status).toBe(200);
    expect(get.body.role).toBe("viewer");

    const viewerRename = await server.request("PATCH", `/orgs/${org.id}/`, {
      token: viewer.token,
      body: { name: "No" },
    });
    expect(viewerRename.status).toBe(403);
    expect(viewerRename.body.code).toBe("FORBIDDEN");
    const rename = await server.request("PATCH", `/orgs/${org.id}`, {
      token: admin.token,
      body: { name: "Renamed" },
    });
    expect(rename.status).toBe(200);
    expect(rename.body.name).toBe("Renamed");

    const adminDelete = await server.request("DELETE", `/orgs/${org.id}/`, { token: admin.token });
    expect(adminDelete.status).toBe(403);
    const ownerDelete = await server.request("DELETE", `/orgs/${org.id}/`, {
      token: org.owner.token,
    });
    expect(ownerDelete.status).toBe(204);
    expect(ownerDelete.headers.get("content-length") ?? "0").toBe("0");
    expect(
      (await server.request("GET", `/orgs/${org.id}/`, { token: org.owner.token })).status,
    ).toBe(404);
  });

  it("lets two organizations share a name: the second gets a suffixed slug", async () => {
    const owner = await registerUser(server);
    const name = `Acme ${Date.now()}`;
    const first = await server.request("POST", "/orgs/", { token: owner.token, body: { name } });
    const second = await server.request("POST", "/orgs/", { token: owner.token, body: { name } });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.name).toBe(name);
    expect(second.body.slug).toMatch(new RegExp(`^${first.body.slug}-[0-9a-f]{5}$`));
  });

  it("refuses a duplicate slug with 409 and an invalid slug with 400", async () => {
    const owner = await registerUser(server);
    const slug = `unique-${Date.now()}`;
    expect(
      (await server.request("POST", "/orgs/", { token: owner.token, body: { name: "A", slug } }))
        .status,
    ).toBe(201);
    const duplicate = await server.request("POST", "/orgs/", {
      token: owner.token,
      body: { name: "B", slug },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.issues[0].path).toBe("slug");
    const invalid = await server.request("POST", "/orgs/", {
      token: owner.token,
      body: { name: "C", slug: "Not A Slug" },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.issues[0].path).toBe("slug");
    const empty = await server.request("POST", "/orgs/", {
      token: owner.token,
      body: { name: "   " },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.issues[0].path).toBe("name");
  });

  it("manages members: admins invite, only owners change roles and remove; one owner always remains", async () => {
    const org = await createOrg(server);
    const admin = await addMember(server, org, "admin");
    const viewer = await addMember(server, org, "viewer");
    const outsider = await registerUser(server);

    const viewerInvites = await server.request("POST", `/orgs/${org.id}/members/`, {
      token: viewer.token,
      body: { email: outsider.email, role: "member" },
    });
    expect(viewerInvites.status).toBe(403);

    const invited = await server.request("POST", `/orgs/${org.id}/members/`, {
      token: admin.token,
      body: { email: outsider.email.toUpperCase(), role: "member" },
    });
    expect(invited.status).toBe(201);
    expect(invited.body.invitation).toMatchObject({ email: outsider.email, role: "member" });
    const accepted = await server.request("POST", "/invitations/accept/", {
      token: outsider.token,
      body: { token: linkToken(invited.body.url) },
    });
    expect(accepted.status).toBe(200);
    const again = await server.request("POST", `/orgs/${org.id}/members/`, {
      token: org.owner.token,
      body: { email: outsider.email, role: "member" },
    });
    expect(again.status).toBe(409);
    expect(again.body.issues[0].path).toBe("email");

    const list = await server.request("GET", `/orgs/${org.id}/members/`, { token: outsider.token });
    expect(list.status).toBe(200);
    expect(list.body.results.map((m: { user_id: string }) => m.user_id).sort()).toEqual(
      [org.owner.id, admin.id, viewer.id, outsider.id].sort(),
    );

    const promote = await server.request("PATCH", `/orgs/${org.id}/members/${outsider.id}/`, {
      token: org.owner.token,
      body: { role: "admin" },
    });
    expect(promote.status).toBe(200);
    expect(promote.body.role).toBe("admin");
    const badRole = await server.request("PATCH", `/orgs/${org.id}/members/${outsider.id}/`, {
      token: org.owner.token,
      body: { role: "emperor" },
    });
    expect(badRole.status).toBe(400);
    expect(badRole.body.issues[0].path).toBe("role");

    const demoteLastOwner = await server.request(
      "PATCH",
      `/orgs/${org.id}/members/${org.owner.id}/`,
      {
        token: org.owner.token,
        body: { role: "admin" },
      },
    );
    expect(demoteLastOwner.status).toBe(409);
    const removeLastOwner = await server.request(
      "DELETE",
      `/orgs/${org.id}/members/${org.owner.id}/`,
      {
        token: org.owner.token,
      },
    );
    expect(removeLastOwner.status).toBe(409);

    await server.request("PATCH", `/orgs/${org.id}/members/${admin.id}/`, {
      token: org.owner.token,
      body: { role: "owner" },
    });
    const stepDown = await server.request("PATCH", `/orgs/${org.id}/members/${org.owner.id}/`, {
      token: org.owner.token,
      body: { role: "viewer" },
    });
    expect(stepDown.status).toBe(200);

    const remove = await server.request("DELETE", `/orgs/${org.id}/members/${outsider.id}/`, {
      token: admin.token,
    });
    expect(remove.status).toBe(204);
    expect(
      (await server.request("GET", `/orgs/${org.id}/`, { token: outsider.token })).status,
    ).toBe(404);
    const missing = await server.request("DELETE", `/orgs/${org.id}/members/${outsider.id}/`, {
      token: admin.token,
    });
    expect(missing.status).toBe(404);
  });

  it("answers 404 on every org path to a user of another org, exactly like a missing org", async () => {
    const org = await createOrg(server);
    const member = await addMember(server, org, "member");
    const stranger = await registerUser(server);
    const missingId = "00000000-0000-7000-8000-000000000000";
    const paths: [string, string, unknown?][] = [
      ["GET", `/orgs/${org.id}/`],
      ["PATCH", `/orgs/${org.id}/`, { name: "x" }],
      ["DELETE", `/orgs/${org.id}/`],
      ["GET", `/orgs/${org.id}/members/`],
      ["POST", `/orgs/${org.id}/members/`, { email: stranger.email, role: "owner" }],
      ["PATCH", `/orgs/${org.id}/members/${member.id}/`, { role: "viewer" }],
      ["DELETE", `/orgs/${org.id}/members/${member.id}/`],
      ["GET", `/orgs/${org.id}/environments/`],
      ["POST", `/orgs/${org.id}/environments/`, { name: "prod" }],
    ];
    for (const [method, path, body] of paths) {
      const response = await server.request(method, path, { token: stranger.token, body });
      expect(response.status, `${method} ${path}`).toBe(404);
      const missing = await server.request(method, path.replace(org.id, missingId), {
        token: stranger.token,
        body,
      });
      expect(missing.status).toBe(404);
      expect(response.body.message).toBe(missing.body.message);
    }
    const invalidId = await server.request("GET", "/orgs/not-a-uuid/", { token: stranger.token });
    expect(invalidId.status).toBe(400);
    expect(invalidId.body.issues[0].path).toBe("org_id");
  });

  it("records org and member changes in the audit log", async () => {
    const org = await createOrg(server);
    const member = await addMember(server, org, "member");
    await server.request("PATCH", `/orgs/${org.id}/members/${member.id}/`, {
      token: org.owner.token,
      body: { role: "viewer" },
    });
    const { schema } = await import("@mcp/core/db");
    const { eq } = await import("drizzle-orm");
    const events = await server.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.org_id, org.id))
      .orderBy(schema.auditEvents.chain_seq);
    expect(events.map((event) => event.action)).toEqual([
      "org.create",
      "invitation.create",
      "invitation.accept",
      "member.add",
      "member.role_change",
    ]);
    // The invitee joined: the membership is theirs, by the invitation.
    expect(events[3]).toMatchObject({
      actor_id: member.id,
      target_id: member.id,
      metadata: { role: "member" },
    });
    expect(events[4]).toMatchObject({
      actor_type: "user",
      actor_id: org.owner.id,
      target_type: "user",
      target_id: member.id,
      metadata: { from: "member", to: "viewer" },
    });
  });
});
