import { describe, expect, it } from "vitest";
import { ConnectionHealthWriter, type ConnectionRef } from "./health";

const ref = (id: string): ConnectionRef => ({ orgId: "org", id });

/** The writes a writer makes, each resolving a waiter so a test can wait for the next one. */
function recordingStore() {
  const writes: { connectionId: string; error: string | null }[] = [];
  let waiter: (() => void) | null = null;
  return {
    writes,
    store: (connection: ConnectionRef, error: string | null) => {
      writes.push({ connectionId: connection.id, error });
      waiter?.();
      return Promise.resolve();
    },
    nextWrite: () =>
      new Promise<void>((resolve) => {
        waiter = resolve;
      }),
  };
}

describe("ConnectionHealthWriter", () => {
  it("writes a flapping connection once per interval, and its latest state when it is over", async () => {
    const recording = recordingStore();
    const writer = new ConnectionHealthWriter(recording.store, 200);
    await writer.report(ref("flapping"), "unreachable");
    for (let flip = 0; flip < 50; flip++)
      await writer.report(ref("flapping"), flip % 2 === 0 ? null : "unreachable");
    await writer.report(ref("steady"), null);
    const trailing = recording.nextWrite();
    expect(recording.writes).toEqual([
      { connectionId: "flapping", error: "unreachable" },
      { connectionId: "steady", error: null },
    ]);
    await trailing;
    // The last of the 50 reports (flip 49: an error) is what the row ends with.
    expect(recording.writes).toHaveLength(3);
    expect(recording.writes[2]).toEqual({ connectionId: "flapping", error: "unreachable" });
    await writer.close();
  });

  it("writes what is still pending when closed", async () => {
    const recording = recordingStore();
    const writer = new ConnectionHealthWriter(recording.store, 60_000);
    await writer.report(ref("c"), "down");
    await writer.report(ref("c"), null);
    expect(recording.writes).toHaveLength(1);
    await writer.close();
    expect(recording.writes).toEqual([
      { connectionId: "c", error: "down" },
      { connectionId: "c", error: null },
    ]);
  });
});
