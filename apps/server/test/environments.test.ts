import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestServer,
} from "./harness";

describe.skipIf(databaseUnavailable)("environments", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("creates, lists, reads, updates and deletes environments", async () => {
    const org = await createOrg(server);
    const token = org.owner.token;
    const created = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token,
      body: { name: "Production", description: "Live traffic" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      org_id: org.id,
      name: "Production",
      slug: "production",
      description: "Live traffic",
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const id: string = created.body.id;
    await server.request("POST", `/orgs/${org.id}/environments`, {
      token,
      body: { name: "Staging" },
    });

    const list = await server.request("GET", `/orgs/${org.id}/environments/`, { token });
    expect(list.body.results.map((e: { name: string }) => e.name)).toEqual([
      "Production",
      "Staging",
    ]);

    const get = await server.request("GET", `/environments/${id}/`, { token });
    expect(get.status).toBe(200);
    expect(get.body).toEqual(created.body);

    const patch = await server.request("PATCH", `/environments/${id}`, {
      token,
      body: { description: "Customers" },
    });
    expect(patch.status).toBe(200);
    expect(patch.body).toMatchObject({ name: "Production", description: "Customers" });
    expect(new Date(patch.body.updated_at).getTime()).toBeGreaterThanOrEqual(
      new Date(created.body.updated_at).getTime(),
    );

    const remove = await server.request("DELETE", `/environments/${id}/`, { token });
    expect(remove.status).toBe(204);
    expect((await server.request("GET", `/environments/${id}/`, { token })).status).toBe(404);
    expect((await server.request("DELETE", `/environments/${id}/`, { token })).status).toBe(404);
  });

  it("keeps names unique within an org (409) but not across orgs", async () => {
    const org = await createOrg(server);
    const other = await createOrg(server);
    const first = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: org.owner.token,
      body: { name: "dev" },
    });
    expect(first.status).toBe(201);
    const duplicate = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: org.owner.token,
      body: { name: "dev" },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.issues[0].path).toBe("name");
    const elsewhere = await server.request("POST", `/orgs/${other.id}/environments/`, {
      token: other.owner.token,
      body: { name: "dev" },
    });
    expect(elsewhere.status).toBe(201);
    const second = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: org.owner.token,
      body: { name: "qa" },
    });
    const renameClash = await server.request("PATCH", `/environments/${second.body.id}/`, {
      token: org.owner.token,
      body: { name: "dev" },
    });
    expect(renameClash.status).toBe(409);
  });

  it("validates input with the field at fault", async () => {
    const org = await createOrg(server);
    const tooLong = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: org.owner.token,
      body: { name: "x".repeat(101) },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.issues[0].path).toBe("name");
    const wrongType = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: org.owner.token,
      body: { name: "ok", description: 42 },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.issues[0].path).toBe("description");
  });

  it("lets viewers read but not write (403), and hides other orgs' environments (404)", async () => {
    const org = await createOrg(server);
    const viewer = await addMember(server, org, "viewer");
    const member = await addMember(server, org, "member");
    const env = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: org.owner.token,
      body: { name: "prod" },
    });
    const id: string = env.body.id;

    expect(
      (await server.request("GET", `/environments/${id}/`, { token: viewer.token })).status,
    ).toBe(200);
    for (const user of [viewer, member]) {
      expect(
        (
          await server.request("POST", `/orgs/${org.id}/environments/`, {
            token: user.token,
            body: { name: "x" },
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await server.request("PATCH", `/environments/${id}/`, {
            token: user.token,
            body: { name: "x" },
          })
        ).status,
      ).toBe(403);
      expect(
        (await server.request("DELETE", `/environments/${id}/`, { token: user.token })).status,
      ).toBe(403);
    }

    const stranger = await createOrg(server);
    for (const [method, body] of [["GET"], ["PATCH", { name: "stolen" }], ["DELETE"]] as const) {
      const response = await server.request(method, `/environments/${id}/`, {
        token: stranger.owner.token,
        body,
      });
      expect(response.status, method).toBe(404);
    }
    expect(
      (await server.request("GET", `/environments/${id}/`, { token: org.owner.token })).body.name,
    ).toBe("prod");
  });
});
