import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, browserSuite, demoOrg, nav, newUser } from "./session";

/*
 * Guardrail hooks in the SPA (issue 17): an admin gives a policy a pre-call hook in the policy
 * form, sees its signing secret once, and the run the hook denied shows the guardrail record.
 */

const OWNER = newUser("Gail", "Guard");
const suite = browserSuite();

/** A real hook receiver that denies every call, counting the requests it gets. */
const received: string[] = [];
const hookServer = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    received.push(Buffer.concat(chunks).toString("utf8"));
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ decision: "deny", reason: "blocked by the e2e guard" }));
  });
});

describe("guardrail hooks", () => {
  let hookUrl = "";
  beforeAll(async () => {
    hookServer.listen(0, "127.0.0.1");
    await once(hookServer, "listening");
    hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/guard`;
  });
  afterAll(async () => {
    hookServer.closeAllConnections();
    await new Promise((resolve) => hookServer.close(resolve));
  });

  it("sets a pre-call hook in the policy form and shows the hook's denial on the run", async () => {
    const { page } = suite;
    const { orgId, toolId } = await demoOrg(suite, OWNER, "Guarded Co");
    const calculateId = toolId("calculate");

    await page.goto(`/orgs/${orgId}/overview`);
    await nav(page, "Policies");
    await page.getByRole("button", { name: "New policy" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New policy" });
    await dialog.getByLabel("Name").fill("Guarded calculate");
    await dialog.getByLabel("Tool pattern").fill("calculate");
    await dialog.getByLabel("Pre-call hook URL").fill(hookUrl);
    await dialog.getByLabel("Timeout (ms)").fill("2000");
    await dialog.getByLabel("Redaction patterns").fill("sk-[a-z0-9]{8}");
    await dialog.getByRole("button", { name: "Create policy" }).click();
    await dialog.waitFor({ state: "detached" });
    const secret = await page.getByTestId("policy-hook-secret").innerText();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole("button", { name: "I have stored it" }).click();
    await page.getByTestId("policy-hook-secret").waitFor({ state: "detached" });

    const policies = await api<{
      results: {
        pre_call_hook: { url: string; fail_mode: string } | null;
        redact_patterns: string[];
      }[];
    }>(page, "policies.list", { org_id: orgId }, "query");
    expect(policies.results[0]?.pre_call_hook).toMatchObject({ url: hookUrl, fail_mode: "closed" });
    expect(policies.results[0]?.redact_patterns).toEqual(["sk-[a-z0-9]{8}"]);

    const run = await api<{ id: string; status: string }>(page, "tools.run", {
      id: calculateId,
      input: { expression: "1 + 1" },
    });
    expect(run.status).toBe("denied");
    expect(received).toHaveLength(1);

    await page.goto(`/orgs/${orgId}/runs/${run.id}`);
    const card = page.getByRole("region", { name: "Guardrails" });
    const row = card.getByRole("row", { name: /pre_call/ });
    await row.waitFor();
    await expect(row.getByRole("cell").allInnerTexts()).resolves.toEqual([
      "pre_call",
      "Guarded calculate",
      "denied",
      "blocked by the e2e guard",
      expect.stringMatching(/ms|s$/),
    ]);
    await page
      .getByText("Denied by the pre_call hook of policy 'Guarded calculate'")
      .first()
      .waitFor();
    expect(suite.errors).toEqual([]);
  });
});
