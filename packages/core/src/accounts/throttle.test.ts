import { describe, expect, it } from "vitest";
import { throttleAddress, throttleKey } from "./throttle";

describe("throttleAddress", () => {
  it("counts IPv4 as is, and IPv4-mapped IPv6 as its IPv4", () => {
    expect(throttleAddress("203.0.113.9")).toBe("203.0.113.9");
    expect(throttleAddress("::ffff:203.0.113.9")).toBe("203.0.113.9");
    expect(throttleAddress("::FFFF:203.0.113.9")).toBe("203.0.113.9");
  });

  it("counts IPv6 by its /64, however the address is written", () => {
    const counted = throttleAddress("2001:db8:0:1::1");
    expect(counted).toBe("2001:db8:0:1::/64");
    expect(throttleAddress("2001:0db8:0000:0001:ffff:ffff:ffff:ffff")).toBe(counted);
    expect(throttleAddress("2001:db8:0:2::1")).not.toBe(counted);
  });

  it("puts clients without an address together", () => {
    expect(throttleAddress(null)).toBe("unknown");
  });
});

describe("throttleKey", () => {
  it("names the scope and hashes the subject, keeping parts apart", () => {
    const key = throttleKey("loginPerAccountAndIp", "a@example.com", "203.0.113.9").key;
    expect(key).toMatch(/^loginPerAccountAndIp:[0-9a-f]{64}$/);
    expect(key).not.toContain("example");
    expect(throttleKey("loginPerAccountAndIp", "a@example.com2", "03.0.113.9").key).not.toBe(key);
  });
});
