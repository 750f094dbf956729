import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type DatabaseHandle } from "../db/client";
import { auditEvents, orgs, runs, sessions, users } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { applyRetention } from "./retention";

const DAY = 24 * 3_600_000;

describe("applyRetention", () => {
  let handle: DatabaseHandle;

  beforeAll(async () => {
    handle = await createDatabase({ pgliteDir: "memory://" });
    await handle.migrate();
  });

  afterAll(async () => {
    await handle.close();
  });

  /** An org with runs and audit events of the given ages (days), and a user with sessions. */
  async function seed(ages: { runs: number[]; audit: number[]; sessionsExpiredDaysAgo: number[] }) {
    const [org] = await handle.db
      .insert(orgs)
      .values({ name: "Kept", slug: `kept-${uuidv7()}` })
      .returning();
    if (!org) throw new Error("org insert returned nothing");
    const at = (days: number) => new Date(Date.now() - days * DAY);
    if (ages.runs.length > 0)
      await handle.db.insert(runs).values(
        ages.runs.map((days) => ({
          id: uuidv7(at(days).getTime()),
          org_id: org.id,
          tool_name: `aged-${days}`,
          status: "succeeded" as const,
          triggered_by: { surface: "mcp" },
          started_at: at(days),
        })),
      );
    if (ages.audit.length > 0)
      await handle.db.insert(auditEvents).values(
        ages.audit.map((days) => ({
          id: uuidv7(at(days).getTime()),
          org_id: org.id,
          actor_type: "system" as const,
          action: `aged.${days}`,
          created_at: at(days),
        })),
      );
    const [user] = await handle.db
      .insert(users)
      .values({ email: `${uuidv7()}@example.com`, password_hash: "x" })
      .returning();
    if (!user) throw new Error("user insert returned nothing");
    if (ages.sessionsExpiredDaysAgo.length > 0)
      await handle.db.insert(sessions).values(
        ages.sessionsExpiredDaysAgo.map((days) => ({
          id: uuidv7(),
          userId: user.id,
          expiresAt: at(days),
        })),
      );
    const left = async () => ({
      runs: (
        await handle.db
          .select({ name: runs.tool_name })
          .from(runs)
          .where(sql`org_id = ${org.id}`)
      )
        .map((row) => row.name)
        .sort(),
      audit: (
        await handle.db
          .select({ action: auditEvents.action })
          .from(auditEvents)
          .where(sql`org_id = ${org.id}`)
      )
        .map((row) => row.action)
        .sort(),
      sessions: (
        await handle.db
          .select()
          .from(sessions)
          .where(sql`user_id = ${user.id}`)
      ).length,
    });
    return { left };
  }

  it("deletes runs, audit events and sessions past their retention, in batches, and keeps the rest", async () => {
    const { left } = await seed({
      runs: [1, 89, 91, 91, 91, 200],
      audit: [1, 364, 366, 400],
      sessionsExpiredDaysAgo: [-1, 1, 2],
    });
    // Other tests' rows may be deleted too: count only that this org's went, by the names kept.
    await applyRetention(handle.db, { runsDays: 90, auditDays: 365, batchSize: 2 });
    expect(await left()).toEqual({
      runs: ["aged-1", "aged-89"],
      audit: ["aged.1", "aged.364"],
      sessions: 1,
    });
  });

  it("keeps everything when a retention is 0, and still prunes expired sessions", async () => {
    const { left } = await seed({
      runs: [1, 1000],
      audit: [1, 1000],
      sessionsExpiredDaysAgo: [5],
    });
    const result = await applyRetention(handle.db, { runsDays: 0, auditDays: 0 });
    expect(result.ran).toBe(true);
    expect(await left()).toEqual({
      runs: ["aged-1", "aged-1000"],
      audit: ["aged.1", "aged.1000"],
      sessions: 0,
    });
  });

  it("stops at maxBatches per pass, and the next pass goes on", async () => {
    await applyRetention(handle.db, { runsDays: 30, auditDays: 30 });
    const { left } = await seed({
      runs: [40, 41, 42, 43, 44],
      audit: [],
      sessionsExpiredDaysAgo: [],
    });
    const first = await applyRetention(handle.db, {
      runsDays: 30,
      auditDays: 30,
      batchSize: 2,
      maxBatches: 1,
    });
    expect(first).toMatchObject({ ran: true, runs: 2 });
    expect((await left()).runs).toHaveLength(3);
    await applyRetention(handle.db, { runsDays: 30, auditDays: 30, batchSize: 2 });
    expect((await left()).runs).toEqual([]);
  });
});
