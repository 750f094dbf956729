import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../db/client";
import { createDatabase } from "../db/client";
import { orgs, policies, rateLimitCounters } from "../db/schema";
import { consumeRateLimit, pruneRateLimitCounters } from "./rate-limit";

describe("consumeRateLimit", () => {
  let handle: DatabaseHandle;
  let policyId: string;

  beforeAll(async () => {
    handle = await createDatabase({ pgliteDir: "memory://" });
    await handle.migrate();
    const [org] = await handle.db.insert(orgs).values({ name: "Acme", slug: "acme" }).returning();
    if (!org) throw new Error("org insert returned nothing");
    const [policy] = await handle.db
      .insert(policies)
      .values({
        org_id: org.id,
        name: "limited",
        effect: "allow",
        tool_pattern: "*",
        rate_limit: { max_calls: 5, per_seconds: 60 },
      })
      .returning();
    if (!policy) throw new Error("policy insert returned nothing");
    policyId = policy.id;
  });

  afterAll(async () => {
    await handle.close();
  });

  it("allows exactly max_calls of many concurrent calls in one window", async () => {
    const now = new Date("2030-01-01T00:00:10Z");
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        consumeRateLimit(handle.db, {
          policyId,
          subject: "agent:concurrent",
          maxCalls: 5,
          perSeconds: 60,
          now,
        }),
      ),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    for (const r of results) {
      expect(r.retry_after_seconds).toBe(r.allowed ? 0 : 50);
    }
  });

  it("aligns windows to the epoch and starts counting afresh in the next one", async () => {
    const opts = { policyId, subject: "agent:windows", maxCalls: 2, perSeconds: 10 };
    const at = (iso: string) => consumeRateLimit(handle.db, { ...opts, now: new Date(iso) });

    expect(await at("2030-01-01T00:00:00.000Z")).toEqual({
      allowed: true,
      count: 1,
      retry_after_seconds: 0,
    });
    expect(await at("2030-01-01T00:00:05.000Z")).toEqual({
      allowed: true,
      count: 2,
      retry_after_seconds: 0,
    });
    expect(await at("2030-01-01T00:00:09.999Z")).toEqual({
      allowed: false,
      count: 3,
      retry_after_seconds: 1,
    });
    expect(await at("2030-01-01T00:00:10.000Z")).toEqual({
      allowed: true,
      count: 1,
      retry_after_seconds: 0,
    });

    const rows = await handle.db.select().from(rateLimitCounters);
    const starts = rows
      .filter((r) => r.subject === "agent:windows")
      .map((r) => r.window_start.toISOString())
      .sort();
    expect(starts).toEqual(["2030-01-01T00:00:00.000Z", "2030-01-01T00:00:10.000Z"]);
  });

  it("counts subjects separately", async () => {
    const now = new Date("2030-01-02T00:00:00Z");
    const base = { policyId, maxCalls: 1, perSeconds: 60, now };
    expect((await consumeRateLimit(handle.db, { ...base, subject: "agent:a" })).allowed).toBe(true);
    expect((await consumeRateLimit(handle.db, { ...base, subject: "agent:b" })).allowed).toBe(true);
    expect((await consumeRateLimit(handle.db, { ...base, subject: "agent:a" })).allowed).toBe(
      false,
    );
  });

  it("denies everything when max_calls is 0", async () => {
    const result = await consumeRateLimit(handle.db, {
      policyId,
      subject: "agent:zero",
      maxCalls: 0,
      perSeconds: 3600,
      now: new Date("2030-01-03T00:30:00Z"),
    });
    expect(result).toEqual({ allowed: false, count: 1, retry_after_seconds: 1800 });
  });

  it("rejects nonsensical limits before touching the database", async () => {
    const base = { policyId, subject: "agent:x" };
    await expect(
      consumeRateLimit(handle.db, { ...base, maxCalls: -1, perSeconds: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(
      consumeRateLimit(handle.db, { ...base, maxCalls: 1.5, perSeconds: 1 }),
    ).rejects.toThrow(RangeError);
    await expect(
      consumeRateLimit(handle.db, { ...base, maxCalls: 1, perSeconds: 0 }),
    ).rejects.toThrow(RangeError);
  });

  it("prunes counters whose window started before the cutoff", async () => {
    const base = { policyId, maxCalls: 10, perSeconds: 60 };
    await consumeRateLimit(handle.db, {
      ...base,
      subject: "agent:prune",
      now: new Date("2020-01-01T00:00:00Z"),
    });
    await consumeRateLimit(handle.db, {
      ...base,
      subject: "agent:prune",
      now: new Date("2020-01-01T00:01:00Z"),
    });
    await consumeRateLimit(handle.db, {
      ...base,
      subject: "agent:prune",
      now: new Date("2020-01-01T00:02:00Z"),
    });

    expect(await pruneRateLimitCounters(handle.db, new Date("2020-01-01T00:01:30Z"))).toBe(2);
    const left = (await handle.db.select().from(rateLimitCounters)).filter(
      (r) => r.subject === "agent:prune",
    );
    expect(left.map((r) => r.window_start.toISOString())).toEqual(["2020-01-01T00:02:00.000Z"]);
    expect(await pruneRateLimitCounters(handle.db, new Date("2020-01-01T00:01:30Z"))).toBe(0);
  });
});
