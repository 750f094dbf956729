import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { schema } from "@mcp/core/db";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

/*
 * A real HTTP receiver stands in for the SIEM: it records every request and answers as the test
 * tells it (accept, 500, or cut the connection). Waits are on the requests it receives.
 */

interface DeliveredEvent {
  id: string;
  chain_seq: number;
  action: string;
  prev_hash: string | null;
  hash: string;
}

interface Delivery {
  headers: http.IncomingHttpHeaders;
  body: string;
  events: DeliveredEvent[];
  acknowledged: boolean;
}

type Behaviour = "accept" | "fail" | "cut" | "hold";

class Receiver {
  readonly deliveries: Delivery[] = [];
  behaviour: Behaviour = "accept";
  /** Requests left unanswered ("hold"): a delivery in flight. */
  private readonly held: http.ServerResponse[] = [];
  private readonly server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const behaviour = this.behaviour;
      const { events } = JSON.parse(body) as { events: DeliveredEvent[] };
      this.deliveries.push({
        headers: request.headers,
        body,
        events,
        acknowledged: behaviour === "accept",
      });
      if (behaviour === "cut") request.socket.destroy();
      else if (behaviour === "hold") this.held.push(response);
      else response.writeHead(behaviour === "accept" ? 204 : 500).end();
      for (const waiter of [...this.waiters]) waiter();
    });
  });
  private readonly waiters = new Set<() => void>();

  async start(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/siem/ingest`;
  }

  releaseHeld(): void {
    for (const response of this.held.splice(0)) response.writeHead(204).end();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  /** Resolves once a request arrives after which `done` holds. */
  until(done: (deliveries: Delivery[]) => boolean): Promise<void> {
    if (done(this.deliveries)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done(this.deliveries)) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Event sequence numbers the receiver acknowledged, in arrival order. */
  acknowledgedSeqs(): number[] {
    return this.deliveries
      .filter((delivery) => delivery.acknowledged)
      .flatMap((delivery) => delivery.events.map((event) => event.chain_seq));
  }
}

const FAST_DELIVERY = {
  AUDIT_WEBHOOK_INTERVAL_MS: "20",
  AUDIT_WEBHOOK_BATCH_SIZE: "3",
  AUDIT_WEBHOOK_RETRY_BASE_MS: "20",
  AUDIT_WEBHOOK_RETRY_MAX_MS: "100",
};

function verifySignature(delivery: Delivery, secret: string): boolean {
  const timestamp = String(delivery.headers["x-audit-webhook-timestamp"]);
  const signature = String(delivery.headers["x-audit-webhook-signature"]);
  const expected = `v1=${createHmac("sha256", secret).update(`${timestamp}.${delivery.body}`).digest("hex")}`;
  return (
    signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  );
}

/** Audit events the org has now, from the REST API; each `createAgent` adds one. */
async function createAgents(server: TestServer, org: TestOrg, count: number): Promise<void> {
  for (let index = 0; index < count; index++) {
    const response = await server.request("POST", `/orgs/${org.id}/agents/`, {
      token: org.owner.token,
      body: { name: `agent-${randomUUID().slice(0, 8)}` },
    });
    expect(response.status).toBe(201);
  }
}

async function headSeq(server: TestServer, org: TestOrg): Promise<number> {
  const events = await server.request<{ results: { chain_seq: number }[] }>(
    "GET",
    `/orgs/${org.id}/audit-events/?limit=1`,
    { token: org.owner.token },
  );
  return events.body.results[0]?.chain_seq ?? 0;
}

async function createWebhook(server: TestServer, org: TestOrg, url: string, enabled = true) {
  const response = await server.request<{ webhook: { cursor_seq: number }; secret: string }>(
    "POST",
    `/orgs/${org.id}/audit-webhook/`,
    { token: org.owner.token, body: { url, enabled } },
  );
  expect(response.status).toBe(201);
  return response.body;
}

describe.skipIf(databaseUnavailable)("audit webhook", () => {
  let server: TestServer;
  let receiver: Receiver;
  let url: string;

  beforeAll(async () => {
    server = await startTestServer(FAST_DELIVERY);
  });
  afterAll(async () => {
    await server.close();
  });

  const withReceiver = async () => {
    receiver = new Receiver();
    url = await receiver.start();
  };

  it("delivers new events signed, in chain order, with their chain hashes", async () => {
    await withReceiver();
    const org = await createOrg(server);
    await createAgents(server, org, 2);
    const before = await headSeq(server, org);
    const { webhook, secret } = await createWebhook(server, org, url);
    expect(secret).toMatch(/^whsec_/);
    expect(webhook.cursor_seq).toBe(before);
    await createAgents(server, org, 5);
    const head = await headSeq(server, org);
    await receiver.until(() => receiver.acknowledgedSeqs().includes(head));

    // Only what was written after the webhook was set up: its own creation first.
    const seqs = receiver.acknowledgedSeqs();
    expect(seqs).toEqual(Array.from({ length: head - before }, (_, index) => before + 1 + index));
    expect(receiver.deliveries[0]?.events[0]?.action).toBe("audit_webhook.create");
    expect(receiver.deliveries.every((delivery) => delivery.events.length <= 3)).toBe(true);
    for (const delivery of receiver.deliveries) {
      expect(verifySignature(delivery, secret)).toBe(true);
      expect(verifySignature(delivery, "whsec_wrong")).toBe(false);
      expect(delivery.headers["content-type"]).toBe("application/json");
    }
    // The payload carries the chain exactly as the API reports it.
    const listed = await server.request<{ results: DeliveredEvent[] }>(
      "GET",
      `/orgs/${org.id}/audit-events/?limit=100`,
      { token: org.owner.token },
    );
    const delivered = receiver.deliveries.flatMap((delivery) => delivery.events);
    for (const event of delivered) {
      const stored = listed.body.results.find((row) => row.id === event.id);
      expect(event).toMatchObject({
        chain_seq: stored?.chain_seq,
        prev_hash: stored?.prev_hash,
        hash: stored?.hash,
      });
    }

    const status = await server.request("GET", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
    });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      url,
      enabled: true,
      cursor_seq: head,
      consecutive_failures: 0,
      last_error: null,
    });
    expect(status.body.last_delivered_event_id).toBe(delivered.at(-1)?.id);
    expect(JSON.stringify(status.body)).not.toContain(secret);
    await receiver.close();
  });

  it("retries with backoff while the receiver is down and then delivers everything in order", async () => {
    await withReceiver();
    const org = await createOrg(server);
    receiver.behaviour = "cut";
    const { webhook, secret } = await createWebhook(server, org, url);
    await createAgents(server, org, 4);
    await receiver.until((deliveries) => deliveries.length >= 2);
    receiver.behaviour = "fail";
    await createAgents(server, org, 2);
    await receiver.until((deliveries) => deliveries.filter((d) => !d.acknowledged).length >= 5);

    const failing = await server.request("GET", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
    });
    // Every attempt before the newest one has been recorded as failed.
    expect(failing.body.consecutive_failures).toBeGreaterThanOrEqual(4);
    expect(failing.body.last_error).toBe("The receiver answered HTTP 500");
    expect(failing.body.cursor_seq).toBe(webhook.cursor_seq);
    // Nothing past the first batch was attempted while it was refused: order is kept.
    expect(
      receiver.deliveries.every(
        (delivery) => delivery.events[0]?.chain_seq === webhook.cursor_seq + 1,
      ),
    ).toBe(true);

    receiver.behaviour = "accept";
    await createAgents(server, org, 3);
    const head = await headSeq(server, org);
    await receiver.until(() => receiver.acknowledgedSeqs().includes(head));
    expect(receiver.acknowledgedSeqs()).toEqual(
      Array.from(
        { length: head - webhook.cursor_seq },
        (_, index) => webhook.cursor_seq + 1 + index,
      ),
    );
    expect(receiver.deliveries.every((delivery) => verifySignature(delivery, secret))).toBe(true);
    const recovered = await server.request("GET", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
    });
    expect(recovered.body).toMatchObject({ consecutive_failures: 0, cursor_seq: head });
    // The last failure stays visible for the admin, with when it happened.
    expect(recovered.body.last_error).toBe("The receiver answered HTTP 500");
    expect(recovered.body.last_error_at).not.toBeNull();
    await receiver.close();
  });

  it("another replica resumes from the cursor when the delivering one died mid-batch", async () => {
    await withReceiver();
    const org = await createOrg(server);
    receiver.behaviour = "hold";
    const { webhook } = await createWebhook(server, org, url);
    await receiver.until((deliveries) => deliveries.length === 1);
    const interrupted = receiver.deliveries[0]?.events.map((event) => event.id) ?? [];
    expect(interrupted.length).toBeGreaterThan(0);
    // The replica sending it is killed: nothing records the batch, and its lease runs out (made
    // so here instead of waited for).
    await server.database.db
      .update(schema.auditWebhooks)
      .set({ lease_until: sql`now() - interval '1 second'` })
      .where(eq(schema.auditWebhooks.org_id, org.id));
    receiver.behaviour = "accept";
    const second = await startTestServer(FAST_DELIVERY);
    try {
      await createAgents(second, org, 4);
      const head = await headSeq(second, org);
      await receiver.until(() => receiver.acknowledgedSeqs().includes(head));
      // Everything from the cursor on, in order: the interrupted batch again first (at least
      // once: the receiver deduplicates by event id), nothing lost.
      expect(receiver.acknowledgedSeqs()).toEqual(
        Array.from({ length: head - webhook.cursor_seq }, (_, i) => webhook.cursor_seq + 1 + i),
      );
      const resumed = receiver.deliveries.filter((delivery) => delivery.acknowledged);
      expect(resumed[0]?.events.slice(0, interrupted.length).map((event) => event.id)).toEqual(
        interrupted,
      );
    } finally {
      receiver.releaseHeld();
      await second.close();
      await receiver.close();
    }
  });

  it("two replicas deliver each event once", async () => {
    await withReceiver();
    const second = await startTestServer(FAST_DELIVERY);
    try {
      const org = await createOrg(server);
      const { webhook } = await createWebhook(server, org, url);
      // Events written through both replicas.
      await createAgents(server, org, 6);
      await createAgents(second, org, 6);
      const head = await headSeq(server, org);
      await receiver.until(() => receiver.acknowledgedSeqs().includes(head));
      const ids = receiver.deliveries.flatMap((delivery) => delivery.events.map((e) => e.id));
      expect(new Set(ids).size).toBe(ids.length);
      expect(receiver.acknowledgedSeqs()).toEqual(
        Array.from({ length: head - webhook.cursor_seq }, (_, i) => webhook.cursor_seq + 1 + i),
      );
    } finally {
      await second.close();
      await receiver.close();
    }
  });

  it("audits every change, shows the secret once and signs with a rotated one", async () => {
    await withReceiver();
    const org = await createOrg(server);
    // Created paused, so nothing is sent before the secret is rotated.
    const created = await createWebhook(server, org, url, false);
    const again = await server.request("POST", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
      body: { url },
    });
    expect(again.status).toBe(409);

    const moved = await server.request("PATCH", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
      body: { url: `${url}?tenant=a` },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ enabled: false, url: `${url}?tenant=a` });
    const rotated = await server.request<{ secret: string }>(
      "POST",
      `/orgs/${org.id}/audit-webhook/rotate-secret/`,
      { token: org.owner.token },
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(created.secret);
    const resumed = await server.request("PATCH", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
      body: { enabled: true },
    });
    expect(resumed.status).toBe(200);
    const head = await headSeq(server, org);
    await receiver.until(() => receiver.acknowledgedSeqs().includes(head));
    // Events written while paused arrive once resumed, signed with the current secret.
    expect(receiver.acknowledgedSeqs()).toEqual(
      Array.from(
        { length: head - created.webhook.cursor_seq },
        (_, i) => created.webhook.cursor_seq + 1 + i,
      ),
    );
    for (const delivery of receiver.deliveries) {
      expect(verifySignature(delivery, rotated.body.secret)).toBe(true);
    }

    const removed = await server.request("DELETE", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
    });
    expect(removed.status).toBe(204);
    const none = await server.request("GET", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
    });
    expect(none.status).toBe(200);
    expect(none.body).toBeNull();

    const audit = await server.request<{ results: { action: string; metadata: object }[] }>(
      "GET",
      `/orgs/${org.id}/audit-events/?limit=50`,
      { token: org.owner.token },
    );
    const actions = audit.body.results.map((event) => event.action).reverse();
    expect(actions.filter((action) => action.startsWith("audit_webhook."))).toEqual([
      "audit_webhook.create",
      "audit_webhook.update",
      "audit_webhook.secret_rotate",
      "audit_webhook.update",
      "audit_webhook.delete",
    ]);
    const text = JSON.stringify(audit.body);
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain(rotated.body.secret);
    await receiver.close();
  });

  it("is for admins of the org only", async () => {
    const org = await createOrg(server);
    const member = await addMember(server, org, "member");
    const outsider = await createOrg(server);
    const body = { url: "http://127.0.0.1:9/ingest" };
    const asMember = await server.request("POST", `/orgs/${org.id}/audit-webhook/`, {
      token: member.token,
      body,
    });
    expect(asMember.status).toBe(403);
    const asMemberRead = await server.request("GET", `/orgs/${org.id}/audit-webhook/`, {
      token: member.token,
    });
    expect(asMemberRead.status).toBe(403);
    for (const [method, path] of [
      ["GET", `/orgs/${org.id}/audit-webhook/`],
      ["POST", `/orgs/${org.id}/audit-webhook/`],
      ["PATCH", `/orgs/${org.id}/audit-webhook/`],
      ["DELETE", `/orgs/${org.id}/audit-webhook/`],
    ] as const) {
      const response = await server.request(method, path, {
        token: outsider.owner.token,
        body: method === "GET" || method === "DELETE" ? undefined : body,
      });
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    const invalid = await server.request("POST", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
      body: { url: "ftp://example.com/x" },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.issues?.[0]?.path).toBe("url");
  });
});

describe.skipIf(databaseUnavailable)("audit webhook with private networks blocked", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ MCP_BLOCK_PRIVATE_NETWORKS: "true" });
  });
  afterAll(async () => {
    await server.close();
  });

  it("refuses destinations inside the platform's network", async () => {
    const org = await createOrg(server);
    for (const url of [
      "http://127.0.0.1:8080/ingest",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::ffff:10.0.0.1]/x",
      "http://localhost/x",
    ]) {
      const response = await server.request("POST", `/orgs/${org.id}/audit-webhook/`, {
        token: org.owner.token,
        body: { url },
      });
      expect(response.status, url).toBe(400);
      expect(response.body.issues?.[0]?.path, url).toBe("url");
      expect(response.body.message, url).toMatch(/private|internal|metadata|loopback/);
    }
    const none = await server.request("GET", `/orgs/${org.id}/audit-webhook/`, {
      token: org.owner.token,
    });
    expect(none.body).toBeNull();
  });
});
