import { randomBytes } from "node:crypto";
import {
  createSecretStore,
  parseSecretKeys,
  rotateConnectionSecrets,
  SYSTEM_CONTEXT,
} from "@mcp/core";
import { schema } from "@mcp/core/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemo } from "../src/seed";
import { governance } from "./governance";
import { createOrg, databaseUnavailable, startTestServer, type TestServer } from "./harness";

const oldKey = `old:${randomBytes(32).toString("base64")}`;
const newKey = `new:${randomBytes(32).toString("base64")}`;

describe.skipIf(databaseUnavailable)("demo server, seed and secret rotation", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ SECRET_KEYS: oldKey, DEMO_MCP_SERVER: "true" });
  });
  afterAll(async () => {
    await server.close();
  });

  it("serves the bundled demo MCP server, which can be registered, synced and run", async () => {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: `${server.url}/demo/mcp`,
    });
    expect(Object.keys(connection.tools)).toEqual(
      expect.arrayContaining(["calculate", "text_stats"]),
    );
    await g.policy({ effect: "allow", tool_pattern: "*" });
    const run = await g.run(connection.tools.calculate ?? "", {
      input: { expression: "(2 + 3) * 4" },
    });
    expect(run.body.status).toBe("succeeded");
    expect(JSON.stringify(run.body.output)).toContain("20");
  });

  it("seeds a demo org wired end to end, once", async () => {
    const seed = await seedDemo(server.url, { connectionUrl: "http://localhost:3000/demo/mcp" });
    expect(seed).not.toBeNull();
    if (!seed) return;
    expect(seed.tools).toBeGreaterThanOrEqual(5);
    const login = await server.request("POST", "/auth/login/", {
      body: { email: seed.email, password: seed.password },
    });
    expect(login.status).toBe(200);
    const connections = await server.request("GET", `/orgs/${seed.orgId}/connections/`, {
      token: login.body.token,
    });
    expect(connections.body.results[0].url).toBe("http://localhost:3000/demo/mcp");
    const tools = await server.request("GET", `/orgs/${seed.orgId}/tools/`, {
      token: login.body.token,
    });
    const toolId: string = tools.body.results[0].id;
    const decision = await server.request("POST", `/orgs/${seed.orgId}/policies/evaluate/`, {
      token: login.body.token,
      body: { agent_id: seed.agentId, tool_id: toolId, input: {} },
    });
    expect(decision.body.allowed).toBe(true);
    expect(await seedDemo(server.url, { connectionUrl: "x" })).toBeNull();
  });

  it("re-encrypts secrets under a new key and keeps them usable", async () => {
    const org = await createOrg(server);
    const g = governance(server, org);
    const connection = await g.syncedConnection({
      transport: "streamable_http",
      url: `${server.url}/demo/mcp`,
      secret: { headers: { "x-demo-secret": "rotate-me-please" } },
    });
    const rows = () =>
      server.database.db
        .select()
        .from(schema.connections)
        .where(eq(schema.connections.org_id, org.id));
    expect((await rows())[0]?.secret_ciphertext).toMatch(/^v2\.old\./);

    const rotatedStore = createSecretStore(parseSecretKeys(`${newKey},${oldKey}`));
    // Scoped to this org: other tests share the database and their secrets use other keys.
    const result = await rotateConnectionSecrets(server.database.db, rotatedStore, SYSTEM_CONTEXT, {
      orgId: org.id,
    });
    expect(result.rotated).toBeGreaterThanOrEqual(1);
    const [row] = await rows();
    expect(row?.secret_ciphertext).toMatch(/^v2\.new\./);
    expect(
      JSON.parse(
        rotatedStore.decrypt(row?.secret_ciphertext ?? "", `connection:${org.id}:${connection.id}`),
      ),
    ).toEqual({
      headers: { "x-demo-secret": "rotate-me-please" },
      env: {},
    });
    expect(
      (
        await rotateConnectionSecrets(server.database.db, rotatedStore, SYSTEM_CONTEXT, {
          orgId: org.id,
        })
      ).rotated,
    ).toBe(0);
    const audit = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?action=connection.secret_rotate`,
      {
        token: org.owner.token,
      },
    );
    expect(audit.body.results).toHaveLength(1);
    expect(audit.body.results[0]).toMatchObject({ actor_type: "system", target_id: connection.id });
    expect(JSON.stringify(audit.body)).not.toContain("rotate-me-please");
  });
});
