import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import {
  assertOutboundUrlAllowed,
  blockedAddressReason,
  parseIpv6,
  privateNetworkGuardedFetch,
} from "./outbound";

async function refusal(url: string, blockPrivateNetworks = true): Promise<AppError> {
  const error: unknown = await assertOutboundUrlAllowed(url, { blockPrivateNetworks }).then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof AppError)) throw new Error(`expected ${url} to be refused`);
  return error;
}

describe("blockedAddressReason", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "RFC 1918"],
    ["172.16.0.1", "RFC 1918"],
    ["172.31.255.255", "RFC 1918"],
    ["192.168.1.1", "RFC 1918"],
    ["169.254.169.254", "cloud metadata"],
    ["169.254.10.1", "link-local"],
    ["0.0.0.0", "this network"],
    ["0.1.2.3", "this network"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["100.127.255.254", "carrier-grade NAT"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["fc00::1", "unique-local"],
    ["fd00:ec2::254", "unique-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback address (IPv4-mapped)"],
    ["::ffff:7f00:1", "loopback address (IPv4-mapped)"],
    ["::ffff:169.254.169.254", "cloud metadata address (IPv4-mapped)"],
    ["::ffff:10.0.0.1", "RFC 1918) (IPv4-mapped"],
    ["64:ff9b::10.0.0.1", "NAT64"],
    ["2002:c0a8:0101::1", "6to4"],
    ["[::1]", "loopback"],
  ])("refuses %s", (address, fragment) => {
    expect(blockedAddressReason(address)).toContain(fragment);
  });

  it.each([
    "1.1.1.1",
    "8.8.8.8",
    "172.15.255.255",
    "172.32.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "169.253.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:0808:0808::1",
    "fec0",
    "example.com",
  ])("allows %s", (address) => {
    expect(blockedAddressReason(address)).toBeNull();
  });

  it("parses IPv6 forms", () => {
    expect(parseIpv6("::")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("1::8")).toEqual([1, 0, 0, 0, 0, 0, 0, 8]);
    expect(parseIpv6("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIpv6("1:2:3:4:5:6:7")).toBeNull();
    expect(parseIpv6("1::2::3")).toBeNull();
    expect(parseIpv6("1:2:3:4:5:6:7:8::")).toBeNull();
    expect(parseIpv6("g::1")).toBeNull();
  });
});

describe("assertOutboundUrlAllowed", () => {
  it.each([
    ["http://127.0.0.1:8080/mcp", "Address 127.0.0.1 is a loopback address"],
    ["http://10.0.0.5/mcp", "Address 10.0.0.5 is a private network address (RFC 1918)"],
    [
      "http://169.254.169.254/latest/meta-data/",
      "Address 169.254.169.254 is the cloud metadata address",
    ],
    ["http://[::1]:3000/mcp", "Address ::1 is a loopback address"],
    ["http://[::ffff:127.0.0.1]/", "loopback address (IPv4-mapped)"],
    ["http://0x7f.1/", "Address 127.0.0.1 is a loopback address"],
    ["http://2130706433/", "Address 127.0.0.1 is a loopback address"],
    [
      "http://metadata.google.internal/computeMetadata/v1/",
      "Host metadata.google.internal is a cloud metadata endpoint",
    ],
    [
      "http://METADATA.google.internal./",
      "Host metadata.google.internal is a cloud metadata endpoint",
    ],
    ["http://localhost:3000/mcp", "Host localhost resolves to a private or reserved address;"],
  ])("refuses %s when blocking", async (url, message) => {
    const error = await refusal(url);
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain(message);
    expect(error.issues).toEqual([{ path: ["url"], message: error.message }]);
  });

  it("does not echo what a name resolves to", async () => {
    const error = await refusal("http://localhost:3000/mcp");
    expect(error.message).not.toMatch(/127\.0\.0\.1|::1|loopback/);
  });

  it("refuses names that do not resolve, since they cannot be checked", async () => {
    const error = await refusal("https://does-not-exist.invalid/mcp");
    expect(error.message).toContain("Could not resolve host does-not-exist.invalid");
  });

  it.each([
    "http://127.0.0.1:8080/mcp",
    "http://10.0.0.5/mcp",
    "http://169.254.169.254/",
    "http://[::1]/",
    "http://localhost/",
  ])("allows %s when not blocking", async (url) => {
    await expect(
      assertOutboundUrlAllowed(url, { blockPrivateNetworks: false }),
    ).resolves.toBeUndefined();
  });

  it("allows public addresses when blocking", async () => {
    await expect(
      assertOutboundUrlAllowed("https://1.1.1.1/mcp", { blockPrivateNetworks: true }),
    ).resolves.toBeUndefined();
    await expect(
      assertOutboundUrlAllowed("https://[2606:4700:4700::1111]/mcp", {
        blockPrivateNetworks: true,
      }),
    ).resolves.toBeUndefined();
  });

  it("accepts only http and https, whatever the blocking setting", async () => {
    expect((await refusal("file:///etc/passwd", false)).message).toBe(
      "Only http:// and https:// URLs are allowed, not file://",
    );
    expect((await refusal("ftp://example.com/", false)).message).toContain("not ftp://");
    expect((await refusal("not a url", false)).message).toBe("Not a valid URL");
  });
});

describe("privateNetworkGuardedFetch", () => {
  it("refuses to dial loopback at connect time, by IP literal and by name", async () => {
    const server = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("ok");
      await expect(privateNetworkGuardedFetch(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/Refused to connect: 127\.0\.0\.1 is/) },
      });
      await expect(privateNetworkGuardedFetch(`http://localhost:${port}/`)).rejects.toMatchObject({
        cause: {
          // Never the address a name resolves to, nor its kind: the guard is no internal DNS oracle.
          message: "Refused to connect: localhost resolves to a private or reserved address",
        },
      });
    } finally {
      server.close();
    }
  });
});
