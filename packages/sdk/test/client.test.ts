import { describe, expect, it } from "vitest";
import {
  collect,
  createPlatformClient,
  ERROR_CODES,
  isPlatformError,
  paginate,
  PlatformError,
} from "../src";

/*
 * The client against a scripted fetch: what it sends and how it maps failures. The SDK against a
 * real server is tested in apps/server/test/sdk.test.ts.
 */

interface Sent {
  url: string;
  headers: Record<string, string>;
}

function scriptedFetch(answer: (sent: Sent) => Response | Promise<Response>) {
  const sent: Sent[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const request = {
      url: typeof input === "string" ? input : input instanceof URL ? input.href : input.url,
      headers,
    };
    sent.push(request);
    return answer(request);
  };
  return { fetch, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

const trpcError = (
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
) =>
  json(status, {
    error: {
      code: -32600,
      message,
      data: { code, httpStatus: status, request_id: "req-1", ...extra },
    },
  });

describe("createPlatformClient", () => {
  it("calls <baseUrl>/trpc with `Token` for a session token and `Bearer` for an agent key", async () => {
    const { fetch, sent } = scriptedFetch(() =>
      json(200, { result: { data: { results: [], next_cursor: null } } }),
    );
    await createPlatformClient({
      baseUrl: "https://mcp.example.com/",
      token: "t0k",
      fetch,
    }).orgs.list.query({});
    await createPlatformClient({
      baseUrl: "https://mcp.example.com",
      apiKey: "mcpa_k",
      fetch,
    }).orgs.list.query({});
    await createPlatformClient({ baseUrl: "https://mcp.example.com/trpc", fetch }).orgs.list.query(
      {},
    );
    expect(sent.map((request) => request.url.split("?")[0])).toEqual([
      "https://mcp.example.com/trpc/orgs.list",
      "https://mcp.example.com/trpc/orgs.list",
      "https://mcp.example.com/trpc/orgs.list",
    ]);
    expect(sent.map((request) => request.headers.authorization)).toEqual([
      "Token t0k",
      "Bearer mcpa_k",
      undefined,
    ]);
  });

  it("asks a token function before every request", async () => {
    const { fetch, sent } = scriptedFetch(() => json(200, { result: { data: null } }));
    let token = "first";
    const client = createPlatformClient({ baseUrl: "http://x", token: () => token, fetch });
    await client.auth.logout.mutate();
    token = "second";
    await client.auth.logout.mutate();
    expect(sent.map((request) => request.headers.authorization)).toEqual([
      "Token first",
      "Token second",
    ]);
  });

  it("refuses a token and an agent key together", () => {
    expect(() => createPlatformClient({ baseUrl: "http://x", token: "a", apiKey: "b" })).toThrow(
      TypeError,
    );
  });
});

describe("PlatformError", () => {
  it("carries the platform's code, status, field issues and request id", async () => {
    const { fetch } = scriptedFetch(() =>
      trpcError(400, "BAD_REQUEST", "Invalid input: name: Must not be empty", {
        issues: [{ path: "name", message: "Must not be empty" }],
      }),
    );
    const error: unknown = await createPlatformClient({ baseUrl: "http://x", token: "t", fetch })
      .orgs.create.mutate({ name: "" })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PlatformError);
    expect(isPlatformError(error, "BAD_REQUEST")).toBe(true);
    expect(isPlatformError(error, ["NOT_FOUND", "FORBIDDEN"])).toBe(false);
    if (!isPlatformError(error)) return;
    expect(error).toMatchObject({
      name: "PlatformError",
      code: "BAD_REQUEST",
      status: 400,
      message: "Invalid input: name: Must not be empty",
      issues: [{ path: "name", message: "Must not be empty" }],
      requestId: "req-1",
    });
  });

  it.each([
    [404, "NOT_FOUND"],
    [403, "FORBIDDEN"],
    [429, "RATE_LIMITED"],
    [502, "UPSTREAM_ERROR"],
  ] as const)("maps HTTP %i to %s", async (status, code) => {
    const { fetch } = scriptedFetch(() => trpcError(status, code, "nope"));
    const error: unknown = await createPlatformClient({ baseUrl: "http://x", fetch })
      .orgs.get.query({ org_id: "00000000-0000-4000-8000-000000000000" })
      .catch((caught: unknown) => caught);
    expect(isPlatformError(error, code)).toBe(true);
    expect((error as PlatformError).status).toBe(status);
  });

  it("reads a code from the status when a proxy answers instead of the platform", async () => {
    const { fetch } = scriptedFetch(
      () =>
        new Response("<html>Too many</html>", {
          status: 429,
          headers: { "x-request-id": "edge-7" },
        }),
    );
    const error = await createPlatformClient({ baseUrl: "http://x", fetch })
      .auth.me.query()
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "RATE_LIMITED", status: 429, requestId: "edge-7" });
  });

  it("is NETWORK_ERROR with status 0 when nothing answers", async () => {
    const { fetch } = scriptedFetch(() => {
      throw new TypeError("fetch failed");
    });
    const error = await createPlatformClient({ baseUrl: "http://x", fetch })
      .auth.me.query()
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "NETWORK_ERROR", status: 0, requestId: undefined });
    expect(isPlatformError(error, "NETWORK_ERROR")).toBe(true);
  });

  it("lists the platform's error codes", () => {
    expect(ERROR_CODES).toContain("NOT_FOUND");
    expect(ERROR_CODES).toContain("UPSTREAM_ERROR");
  });
});

describe("paginate", () => {
  const pages: Record<string, { results: number[]; next_cursor: string | null }> = {
    start: { results: [1, 2], next_cursor: "b" },
    b: { results: [], next_cursor: "c" },
    c: { results: [3], next_cursor: null },
  };

  it("follows next_cursor to the last page, fetching lazily", async () => {
    const asked: (string | undefined)[] = [];
    const fetchPage = (cursor: string | undefined) => {
      asked.push(cursor);
      return Promise.resolve(pages[cursor ?? "start"] ?? { results: [], next_cursor: null });
    };
    const iterator = paginate(fetchPage);
    expect((await iterator.next()).value).toBe(1);
    expect(asked).toEqual([undefined]);
    expect(await collect(fetchPage)).toEqual([1, 2, 3]);
  });
});
