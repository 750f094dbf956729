import { expect } from "vitest";
import type { TestOrg, TestServer } from "./harness";

/** Small REST helpers for tests that need a synced connection, agents, keys and policies. */
export function governance(server: TestServer, org: TestOrg) {
  const token = org.owner.token;
  const created = async (path: string, body: unknown) => {
    const response = await server.request("POST", path, { token, body });
    expect(response.status, `${path}: ${JSON.stringify(response.body)}`).toBe(201);
    return response.body;
  };
  return {
    async syncedConnection(
      body: Record<string, unknown>,
    ): Promise<{ id: string; tools: Record<string, string> }> {
      const connection = await created(`/orgs/${org.id}/connections/`, {
        name: `conn-${Math.random().toString(36).slice(2, 8)}`,
        ...body,
      });
      const sync = await server.request("POST", `/connections/${connection.id}/sync/`, { token });
      expect(sync.status, JSON.stringify(sync.body)).toBe(200);
      const list = await server.request(
        "GET",
        `/orgs/${org.id}/tools/?connection_id=${connection.id}&limit=200`,
        { token },
      );
      const tools: Record<string, string> = {};
      for (const tool of list.body.results as { upstream_name: string; id: string }[])
        tools[tool.upstream_name] = tool.id;
      return { id: connection.id, tools };
    },
    agent: (body: Record<string, unknown> = {}) =>
      created(`/orgs/${org.id}/agents/`, {
        name: `agent-${Math.random().toString(36).slice(2, 8)}`,
        ...body,
      }),
    key: (agentId: string) => created(`/agents/${agentId}/keys/`, { name: "test" }),
    policy: (body: Record<string, unknown>) =>
      created(`/orgs/${org.id}/policies/`, {
        name: `policy-${Math.random().toString(36).slice(2, 8)}`,
        ...body,
      }),
    run: (toolId: string, body: Record<string, unknown>, auth: string = token) =>
      server.request("POST", `/tools/${toolId}/run/`, {
        headers: { authorization: `Bearer ${auth}` },
        body,
      }),
  };
}
