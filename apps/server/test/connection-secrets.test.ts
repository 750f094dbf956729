import { createCipheriv, randomBytes } from "node:crypto";
import {
  createSecretStore,
  parseSecretKeys,
  rotateConnectionSecrets,
  SYSTEM_CONTEXT,
} from "@mcp/core";
import { schema } from "@mcp/core/db";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEnv } from "../src/env";
import { startServer } from "../src/server";
import { governance } from "./governance";
import {
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

const TOKEN = "first-upstream-token-value";
const OTHER_TOKEN = "second-upstream-token-value";
const oldKeyMaterial = randomBytes(32);
const oldKey = `old:${oldKeyMaterial.toString("base64")}`;
const newKey = `new:${randomBytes(32).toString("base64")}`;

/** An envelope as written before secrets were bound to their connection (AAD `v1.<key id>`). */
function legacyEnvelope(plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", oldKeyMaterial, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from("v1.old", "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v1", "old", iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
    .join(".");
}

/** Flips one bit of the authentication tag. */
function tampered(envelope: string): string {
  const parts = envelope.split(".");
  const tag = Buffer.from(parts[3] ?? "", "base64url");
  tag[0] = (tag[0] ?? 0) ^ 0x01;
  parts[3] = tag.toString("base64url");
  return parts.join(".");
}

describe.skipIf(databaseUnavailable)("connection secrets", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  let otherUpstream: RunningTestMcpServer;

  beforeAll(async () => {
    server = await startTestServer({ SECRET_KEYS: oldKey });
    [upstream, otherUpstream] = await Promise.all([
      startTestMcpServer({ bearerToken: TOKEN }),
      startTestMcpServer({ bearerToken: OTHER_TOKEN }),
    ]);
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
    await otherUpstream.close();
  });

  const row = async (id: string) => {
    const [found] = await server.database.db
      .select()
      .from(schema.connections)
      .where(eq(schema.connections.id, id));
    if (!found) throw new Error(`no connection ${id}`);
    return found;
  };
  const setCiphertext = (id: string, ciphertext: string | null) =>
    server.database.db
      .update(schema.connections)
      .set({ secret_ciphertext: ciphertext })
      .where(eq(schema.connections.id, id));

  async function secured(org: TestOrg, token = TOKEN, url = upstream.url) {
    const response = await server.request("POST", `/orgs/${org.id}/connections/`, {
      token: org.owner.token,
      body: {
        name: `conn-${randomBytes(3).toString("hex")}`,
        transport: "streamable_http",
        url,
        secret: { headers: { Authorization: `Bearer ${token}` } },
      },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as { id: string };
  }
  const test = (org: TestOrg, id: string) =>
    server.request("POST", `/connections/${id}/test/`, { token: org.owner.token });
  const patch = (org: TestOrg, id: string, body: unknown) =>
    server.request("PATCH", `/connections/${id}/`, { token: org.owner.token, body });

  describe("a change of destination", () => {
    it("clears the secret when the URL origin changes, and says so", async () => {
      const org = await createOrg(server);
      const { id } = await secured(org);
      expect((await test(org, id)).body.ok).toBe(true);

      const moved = await patch(org, id, { url: otherUpstream.url });
      expect(moved.status).toBe(200);
      expect(moved.body).toMatchObject({
        url: otherUpstream.url,
        has_secret: false,
        secret_cleared: true,
        secret_keys: { headers: [], env: [] },
      });
      expect((await row(id)).secret_ciphertext).toBeNull();
      // The old token is not delivered to the new host: it answers unauthenticated.
      const probe = await test(org, id);
      expect(probe.body.ok).toBe(false);

      const audit = await server.request(
        "GET",
        `/orgs/${org.id}/audit-events/?action=connection.secret_clear`,
        { token: org.owner.token },
      );
      expect(audit.body.results).toHaveLength(1);
      expect(audit.body.results[0]).toMatchObject({
        target_id: id,
        metadata: { reason: "destination_changed" },
      });
    });

    it("keeps the secret when only the path or query changes", async () => {
      const org = await createOrg(server);
      const { id } = await secured(org);
      const samePlace = await patch(org, id, { url: `${upstream.url}?tenant=a` });
      expect(samePlace.body).toMatchObject({ has_secret: true, secret_cleared: false });
      const back = await patch(org, id, { url: upstream.url, description: "same host" });
      expect(back.body).toMatchObject({ has_secret: true, secret_cleared: false });
      expect((await test(org, id)).body.ok).toBe(true);
    });

    it("keeps a new secret given in the same request as the new destination", async () => {
      const org = await createOrg(server);
      const { id } = await secured(org);
      const moved = await patch(org, id, {
        url: otherUpstream.url,
        secret: { headers: { Authorization: `Bearer ${OTHER_TOKEN}` } },
      });
      expect(moved.body).toMatchObject({ has_secret: true, secret_cleared: false });
      expect((await test(org, id)).body.ok).toBe(true);
    });
  });

  describe("an unreadable secret", () => {
    it("answers test, sync and run with 409 SECRET_UNREADABLE naming the connection", async () => {
      const org = await createOrg(server);
      const g = governance(server, org);
      const connection = await g.syncedConnection({
        transport: "streamable_http",
        url: upstream.url,
        secret: { headers: { Authorization: `Bearer ${TOKEN}` } },
      });
      await g.policy({ effect: "allow", tool_pattern: "*" });
      await setCiphertext(
        connection.id,
        tampered((await row(connection.id)).secret_ciphertext ?? ""),
      );

      for (const response of [
        await test(org, connection.id),
        await server.request("POST", `/connections/${connection.id}/sync/`, {
          token: org.owner.token,
        }),
        await g.run(connection.tools.echo ?? "", { input: { text: "hi" } }),
      ]) {
        expect(response.status, JSON.stringify(response.body)).toBe(409);
        expect(response.body.code).toBe("SECRET_UNREADABLE");
        expect(response.body.message).toContain(connection.id);
        expect(JSON.stringify(response.body)).not.toContain(TOKEN);
      }
      // The server was never reached, so its health is not blamed.
      expect((await row(connection.id)).status).toBe("healthy");
    });

    it("does not open a ciphertext copied to another connection, in this org or another", async () => {
      const org = await createOrg(server);
      const otherOrg = await createOrg(server);
      const source = await secured(org);
      const sibling = await secured(org, OTHER_TOKEN, otherUpstream.url);
      const foreign = await secured(otherOrg, OTHER_TOKEN, otherUpstream.url);
      const { secret_ciphertext } = await row(source.id);
      await setCiphertext(sibling.id, secret_ciphertext);
      await setCiphertext(foreign.id, secret_ciphertext);

      const siblingTest = await test(org, sibling.id);
      expect(siblingTest.status).toBe(409);
      expect(siblingTest.body.code).toBe("SECRET_UNREADABLE");
      const foreignTest = await test(otherOrg, foreign.id);
      expect(foreignTest.status).toBe(409);
      expect(foreignTest.body.code).toBe("SECRET_UNREADABLE");
      // The original still works.
      expect((await test(org, source.id)).body.ok).toBe(true);
    });
  });

  it("rotation binds legacy secrets, reports unreadable ones and goes on", async () => {
    const org = await createOrg(server);
    const current = await secured(org);
    const legacy = await secured(org);
    const broken = await secured(org);
    await setCiphertext(
      legacy.id,
      legacyEnvelope(JSON.stringify({ headers: { Authorization: `Bearer ${TOKEN}` }, env: {} })),
    );
    await setCiphertext(broken.id, tampered((await row(broken.id)).secret_ciphertext ?? ""));
    // Legacy envelopes stay readable until rotated.
    expect((await test(org, legacy.id)).body.ok).toBe(true);

    const store = createSecretStore(parseSecretKeys(`${newKey},${oldKey}`));
    const result = await rotateConnectionSecrets(server.database.db, store, SYSTEM_CONTEXT, {
      orgId: org.id,
    });
    expect(result).toMatchObject({ rotated: 2, total: 3 });
    expect(result.failed).toEqual([
      expect.objectContaining({ connection_id: broken.id, org_id: org.id }),
    ]);
    expect(result.failed[0]?.reason).toMatch(/failed authentication/);
    for (const id of [current.id, legacy.id]) {
      const ciphertext = (await row(id)).secret_ciphertext ?? "";
      expect(ciphertext).toMatch(/^v2\.new\./);
      expect(JSON.parse(store.decrypt(ciphertext, `connection:${org.id}:${id}`))).toEqual({
        headers: { Authorization: `Bearer ${TOKEN}` },
        env: {},
      });
    }
    // Once bound, the legacy secret no longer opens on another row.
    const bound = (await row(legacy.id)).secret_ciphertext ?? "";
    expect(() => store.decrypt(bound, `connection:${org.id}:${current.id}`)).toThrow(
      /failed authentication/,
    );
  });

  it("binds legacy secrets at start, so a copy stops decrypting without a manual rotation", async () => {
    const org = await createOrg(server);
    const legacy = await secured(org);
    const plaintext = JSON.stringify({ headers: { Authorization: `Bearer ${TOKEN}` }, env: {} });
    await setCiphertext(legacy.id, legacyEnvelope(plaintext));

    // Another replica starting on the same database (and keys) binds what is still unbound.
    const replica = await startServer(
      loadEnv({
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        NODE_ENV: "test",
        SECRET_KEYS: oldKey,
      }),
      { database: server.database },
    );
    await replica.close();
    const bound = (await row(legacy.id)).secret_ciphertext ?? "";
    expect(bound).toMatch(/^v2\.old\./);
    expect((await test(org, legacy.id)).body.ok).toBe(true);
    const rotations = await server.request(
      "GET",
      `/orgs/${org.id}/audit-events/?action=connection.secret_rotate`,
      { token: org.owner.token },
    );
    expect(rotations.body.results).toEqual([
      expect.objectContaining({ actor_type: "system", target_id: legacy.id }),
    ]);
  });

  describe("secret and plain headers", () => {
    it.each([
      ["Host", "evil.example"],
      ["Content-Length", "0"],
      ["transfer-encoding", "chunked"],
      ["Connection", "close"],
      ["Upgrade", "websocket"],
      ["TE", "trailers"],
      ["Mcp-Session-Id", "forged"],
    ])("refuses the reserved name %s at save with 400 naming the field", async (name, value) => {
      const org = await createOrg(server);
      const create = await server.request("POST", `/orgs/${org.id}/connections/`, {
        token: org.owner.token,
        body: {
          name: "reserved",
          transport: "streamable_http",
          url: upstream.url,
          secret: { headers: { [name]: value } },
        },
      });
      expect(create.status).toBe(400);
      expect(create.body.issues).toEqual([
        expect.objectContaining({ path: `secret.headers.${name}` }),
      ]);
      const plain = await server.request("POST", `/orgs/${org.id}/connections/`, {
        token: org.owner.token,
        body: {
          name: "reserved",
          transport: "streamable_http",
          url: upstream.url,
          headers: { [name]: value },
        },
      });
      expect(plain.status).toBe(400);
      expect(plain.body.issues).toEqual([expect.objectContaining({ path: `headers.${name}` })]);
    });

    it.each([
      ["CR LF", "Bearer x\r\nX-Injected: 1"],
      ["LF", "Bearer x\nX-Injected: 1"],
      ["NUL", "Bearer x\u0000y"],
    ])("refuses %s in a header value at save, without echoing it", async (_what, value) => {
      const org = await createOrg(server);
      const { id } = await secured(org);
      for (const body of [
        { secret: { headers: { Authorization: value } } },
        { headers: { "x-team": value } },
      ]) {
        const response = await patch(org, id, body);
        expect(response.status).toBe(400);
        expect(response.body.issues?.[0]?.path).toMatch(/^(secret\.)?headers\./);
        expect(JSON.stringify(response.body)).not.toContain("X-Injected");
      }
      // Nothing changed: the stored secret still authenticates.
      expect((await test(org, id)).body.ok).toBe(true);
    });

    it("refuses CR or LF in a header name", async () => {
      const org = await createOrg(server);
      const { id } = await secured(org);
      const response = await patch(org, id, {
        secret: { headers: { "X-A\r\nHost": "x" } },
      });
      expect(response.status).toBe(400);
      expect(response.body.issues?.[0]?.path).toMatch(/^secret\.headers/);
    });
  });
});
