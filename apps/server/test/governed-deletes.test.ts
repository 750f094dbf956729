import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

/*
 * Deleting an agent or an environment used to delete the policies naming it (deny rules
 * included) without a word: now it is refused with the list unless the caller confirms.
 */

describe.skipIf(databaseUnavailable)("deletes that would remove policies", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  async function made(org: TestOrg, path: string, body: unknown): Promise<{ id: string }> {
    const response = await server.request("POST", path, { token: org.owner.token, body });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  }

  /** An agent and an environment with a deny and an allow policy on each, and one unrelated. */
  async function governed(org: TestOrg) {
    const agent = await made(org, `/orgs/${org.id}/agents/`, { name: "Deployer" });
    const environment = await made(org, `/orgs/${org.id}/environments/`, { name: "Production" });
    const policy = (name: string, effect: string, scope: object) =>
      made(org, `/orgs/${org.id}/policies/`, { name, effect, tool_pattern: "deploy_*", ...scope });
    return {
      agent,
      environment,
      agentDeny: await policy("no-deploy-friday", "deny", { agent_id: agent.id }),
      agentAllow: await policy("deployer-may-deploy", "allow", { agent_id: agent.id }),
      environmentDeny: await policy("prod-read-only", "deny", {
        environment_id: environment.id,
      }),
      unrelated: await policy("everyone-reads", "allow", {}),
    };
  }

  const policyNames = async (org: TestOrg) =>
    (
      await server.request<{ results: { name: string }[] }>(
        "GET",
        `/orgs/${org.id}/policies/?limit=100`,
        { token: org.owner.token },
      )
    ).body.results
      .map((policy) => policy.name)
      .sort();

  it("refuses to delete an agent its policies name, lists them, and deletes them when confirmed", async () => {
    const org = await createOrg(server);
    const world = await governed(org);
    const refused = await server.request("DELETE", `/agents/${world.agent.id}/`, {
      token: org.owner.token,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("CONFLICT");
    // Sorted by name, with ids, for the caller to show or check.
    expect(refused.body.policies).toEqual([
      { id: world.agentAllow.id, name: "deployer-may-deploy" },
      { id: world.agentDeny.id, name: "no-deploy-friday" },
    ]);
    expect(refused.body.message).toContain("no-deploy-friday");
    expect(refused.body.issues?.[0]?.path).toBe("confirm_policy_removal");
    const declined = await server.request(
      "DELETE",
      `/agents/${world.agent.id}/?confirm_policy_removal=false`,
      { token: org.owner.token },
    );
    expect(declined.status).toBe(409);
    // Nothing was removed.
    expect(
      (await server.request("GET", `/agents/${world.agent.id}/`, { token: org.owner.token }))
        .status,
    ).toBe(200);
    expect(await policyNames(org)).toEqual([
      "deployer-may-deploy",
      "everyone-reads",
      "no-deploy-friday",
      "prod-read-only",
    ]);

    const confirmed = await server.request(
      "DELETE",
      `/agents/${world.agent.id}/?confirm_policy_removal=true`,
      { token: org.owner.token },
    );
    expect(confirmed.status).toBe(204);
    expect(await policyNames(org)).toEqual(["everyone-reads", "prod-read-only"]);

    const audit = await server.request<{
      results: { action: string; target_id: string; metadata: Record<string, unknown> }[];
    }>("GET", `/orgs/${org.id}/audit-events/?action=policy.delete`, { token: org.owner.token });
    expect(
      audit.body.results
        .map((event): Record<string, unknown> => ({ id: event.target_id, ...event.metadata }))
        .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    ).toEqual([
      {
        id: world.agentAllow.id,
        name: "deployer-may-deploy",
        effect: "allow",
        reason: "agent_deleted",
        agent_id: world.agent.id,
      },
      {
        id: world.agentDeny.id,
        name: "no-deploy-friday",
        effect: "deny",
        reason: "agent_deleted",
        agent_id: world.agent.id,
      },
    ]);
    const deleted = await server.request<{ results: { target_id: string }[] }>(
      "GET",
      `/orgs/${org.id}/audit-events/?action=agent.delete`,
      { token: org.owner.token },
    );
    expect(deleted.body.results.map((event) => event.target_id)).toEqual([world.agent.id]);
  });

  it("refuses to delete an environment its policies are scoped to unless confirmed", async () => {
    const org = await createOrg(server);
    const world = await governed(org);
    const refused = await server.request("DELETE", `/environments/${world.environment.id}/`, {
      token: org.owner.token,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.policies).toEqual([
      { id: world.environmentDeny.id, name: "prod-read-only" },
    ]);
    const confirmed = await server.request(
      "DELETE",
      `/environments/${world.environment.id}/?confirm_policy_removal=true`,
      { token: org.owner.token },
    );
    expect(confirmed.status).toBe(204);
    expect(await policyNames(org)).toEqual([
      "deployer-may-deploy",
      "everyone-reads",
      "no-deploy-friday",
    ]);
    const audit = await server.request<{ results: { target_id: string; metadata: object }[] }>(
      "GET",
      `/orgs/${org.id}/audit-events/?action=policy.delete`,
      { token: org.owner.token },
    );
    expect(audit.body.results).toEqual([
      expect.objectContaining({
        target_id: world.environmentDeny.id,
        metadata: expect.objectContaining({
          reason: "environment_deleted",
          environment_id: world.environment.id,
        }),
      }),
    ]);
  });

  it("deletes what no policy names without asking", async () => {
    const org = await createOrg(server);
    const agent = await made(org, `/orgs/${org.id}/agents/`, { name: "Idle" });
    const environment = await made(org, `/orgs/${org.id}/environments/`, { name: "Scratch" });
    for (const path of [`/agents/${agent.id}/`, `/environments/${environment.id}/`]) {
      const response = await server.request("DELETE", path, { token: org.owner.token });
      expect(response.status, path).toBe(204);
    }
  });

  it("answers another org's agents and environments with 404, confirmed or not, and names no policy", async () => {
    const org = await createOrg(server);
    const world = await governed(org);
    const stranger = await createOrg(server);
    for (const path of [`/agents/${world.agent.id}/`, `/environments/${world.environment.id}/`]) {
      for (const query of ["", "?confirm_policy_removal=true"]) {
        const response = await server.request("DELETE", `${path}${query}`, {
          token: stranger.owner.token,
        });
        expect(response.status, `${path}${query}`).toBe(404);
        expect(JSON.stringify(response.body)).not.toContain("deploy");
      }
    }
    expect(await policyNames(org)).toHaveLength(4);
  });

  it("refuses a confirmation that is not a boolean with 400 naming the field", async () => {
    const org = await createOrg(server);
    const world = await governed(org);
    const response = await server.request(
      "DELETE",
      `/agents/${world.agent.id}/?confirm_policy_removal=yes`,
      { token: org.owner.token },
    );
    expect(response.status).toBe(400);
    expect(response.body.issues?.[0]?.path).toBe("confirm_policy_removal");
    expect(await policyNames(org)).toHaveLength(4);
  });
});
