import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  derivedFiles,
  OPENAPI_SNAPSHOT_SERVER_URL,
  renderOpenApiSnapshot,
} from "../src/scripts/openapi-generate";
import { startTestServer, type TestServer } from "../test/harness";

/*
 * The committed OpenAPI snapshot and the SDK's generated router types are derived from the
 * procedures; a change to a procedure that is not regenerated fails here.
 */
describe("derived files", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("match the procedures (else run `pnpm openapi:generate`) and what the server serves", async () => {
    const stale = (await derivedFiles()).filter((file) => file.stale).map((file) => file.path);
    expect(stale, "stale files: run `pnpm openapi:generate` and commit the result").toEqual([]);
    const response = await server.request<Record<string, unknown>>("GET", "/openapi.json");
    expect(response.status).toBe(200);
    const served = { ...response.body, servers: [{ url: OPENAPI_SNAPSHOT_SERVER_URL }] };
    expect(`${JSON.stringify(served, null, 2)}\n`).toBe(await renderOpenApiSnapshot());
  });
});
