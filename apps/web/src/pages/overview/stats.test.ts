import { describe, expect, it } from "vitest";
import {
  errorTone,
  successTone,
  agentLabel,
  mostDeniedTools,
  slowestTools,
  statsWindow,
  successRate,
  type ToolStats,
} from "./stats";

function tool(name: string, patch: Partial<ToolStats>): ToolStats {
  return {
    tool_id: null,
    tool_name: name,
    runs: 0,
    succeeded: 0,
    failed: 0,
    denied: 0,
    error_rate: 0,
    p50_ms: null,
    p95_ms: null,
    ...patch,
  };
}

describe("overview stats", () => {
  it("ranks slowest tools by p95 and skips tools without latency", () => {
    const tools = [
      tool("a", { p95_ms: 10 }),
      tool("b", { p95_ms: 300 }),
      tool("c", {}),
      tool("d", { p95_ms: 300 }),
    ];
    expect(slowestTools(tools, 2).map((t) => t.tool_name)).toEqual(["b", "d"]);
  });

  it("ranks most-denied tools and leaves out tools never denied", () => {
    const tools = [tool("a", { denied: 1 }), tool("b", { denied: 5 }), tool("c", { denied: 0 })];
    expect(mostDeniedTools(tools).map((t) => t.tool_name)).toEqual(["b", "a"]);
  });

  it("computes the window and success rate", () => {
    const now = Date.parse("2025-01-02T00:00:00.000Z");
    expect(statsWindow("24h", now)).toEqual({
      since: "2025-01-01T00:00:00.000Z",
      until: "2025-01-02T00:00:00.000Z",
      bucket: "hour",
    });
    const totals = {
      runs: 4,
      succeeded: 3,
      failed: 1,
      denied: 0,
      error_rate: 0.25,
      p50_ms: 1,
      p95_ms: 2,
    };
    expect(successRate(totals)).toBe(0.75);
    expect(successRate({ ...totals, succeeded: 0, failed: 0 })).toBeNull();
  });

  it("labels agents, including direct runs and deleted agents", () => {
    const base = {
      runs: 1,
      succeeded: 1,
      failed: 0,
      denied: 0,
      error_rate: 0,
      p50_ms: 1,
      p95_ms: 1,
    };
    expect(agentLabel({ ...base, agent_id: null, agent_name: null })).toBe(
      "No agent (direct runs)",
    );
    expect(agentLabel({ ...base, agent_id: "12345678-aaaa", agent_name: null })).toBe(
      "Deleted agent 12345678",
    );
    expect(agentLabel({ ...base, agent_id: "x", agent_name: "Bot" })).toBe("Bot");
  });
});

describe("rate tones", () => {
  it("colours success rates by threshold, not always red", () => {
    expect(successTone(null)).toBeUndefined();
    expect(successTone(1)).toBe("good");
    expect(successTone(0.95)).toBe("good");
    expect(successTone(0.9)).toBe("warn");
    expect(successTone(0.5)).toBe("bad");
    expect(errorTone(0)).toBeUndefined();
    expect(errorTone(0.1)).toBe("warn");
    expect(errorTone(0.5)).toBe("bad");
  });
});
