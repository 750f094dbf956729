import { describe, expect, it } from "vitest";
import type { ChangeFeed, ChangeListener } from "../db/changes";
import { CallCache } from "./call-cache";

/** A feed driven by the test, standing in for PostgreSQL's notifications. */
function manualFeed() {
  const listeners = new Set<ChangeListener>();
  const feed = {
    live: true as boolean,
    subscribe(listener: ChangeListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    barrier: () => Promise.resolve(),
    close: () => Promise.resolve(),
    changed(orgId: string) {
      for (const listener of listeners) listener.changed(orgId);
    },
    reset() {
      for (const listener of listeners) listener.reset();
    },
  } satisfies ChangeFeed & Record<string, unknown>;
  return feed;
}

function counter(orgId: string) {
  let loads = 0;
  return {
    load: () => {
      loads += 1;
      return Promise.resolve({ orgId, value: loads });
    },
    get loads() {
      return loads;
    },
  };
}

describe("CallCache", () => {
  it("serves a loaded value until its organization changes", async () => {
    const feed = manualFeed();
    const cache = new CallCache(feed);
    const source = counter("org-a");
    expect(await cache.get("k", source.load)).toBe(1);
    expect(await cache.get("k", source.load)).toBe(1);
    feed.changed("org-b");
    expect(await cache.get("k", source.load)).toBe(1);
    feed.changed("org-a");
    expect(await cache.get("k", source.load)).toBe(2);
    expect(source.loads).toBe(2);
  });

  it("never serves a value whose load overlapped a change of its organization", async () => {
    const feed = manualFeed();
    const cache = new CallCache(feed);
    let release: (() => void) | undefined;
    const slow = cache.get("k", async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { orgId: "org-a", value: "read before the change committed" };
    });
    await Promise.resolve();
    feed.changed("org-a");
    release?.();
    expect(await slow).toBe("read before the change committed");
    expect(await cache.get("k", () => Promise.resolve({ orgId: "org-a", value: "fresh" }))).toBe(
      "fresh",
    );
  });

  it("reads through while the feed is down and forgets everything on a reset", async () => {
    const feed = manualFeed();
    const cache = new CallCache(feed);
    const source = counter("org-a");
    await cache.get("k", source.load);
    feed.live = false;
    await cache.get("k", source.load);
    await cache.get("k", source.load);
    expect(source.loads).toBe(3);
    feed.reset();
    feed.live = true;
    await cache.get("k", source.load);
    await cache.get("k", source.load);
    expect(source.loads).toBe(4);
  });

  it("does not keep misses, and starts over when full", async () => {
    const feed = manualFeed();
    const cache = new CallCache(feed, 2);
    let misses = 0;
    const miss = () => {
      misses += 1;
      return Promise.resolve(null);
    };
    expect(await cache.get("unknown", miss)).toBeNull();
    expect(await cache.get("unknown", miss)).toBeNull();
    expect(misses).toBe(2);
    const a = counter("org");
    const b = counter("org");
    const c = counter("org");
    await cache.get("a", a.load);
    await cache.get("b", b.load);
    await cache.get("c", c.load);
    await cache.get("a", a.load);
    expect(a.loads).toBe(2);
  });
});
