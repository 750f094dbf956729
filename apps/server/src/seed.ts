import { randomBytes } from "node:crypto";
import {
  createAgent,
  createAgentKey,
  createConnection,
  createOrg,
  createPolicy,
  findUserByEmail,
  registerUser,
  syncConnection,
  updateConnection,
  type ActionContext,
} from "@mcp/core";
import type { RunningServer } from "./server";

export interface DemoSeed {
  email: string;
  password: string;
  orgId: string;
  agentId: string;
  agentKey: string;
  tools: number;
}

export const DEMO_EMAIL = "demo@example.com";

/**
 * A demo org wired end to end: the bundled demo MCP server as a synced connection, an agent with a
 * key, and a policy allowing it every tool but rate-limited. Tools are synced through `syncUrl`
 * (the running server), then the connection is pointed at `connectionUrl`, the address users
 * reach. Returns null when the demo user already exists.
 */
export async function seedDemo(
  server: RunningServer,
  options: { syncUrl: string; connectionUrl: string; password?: string | undefined },
): Promise<DemoSeed | null> {
  const { db } = server.database;
  if (await findUserByEmail(db, DEMO_EMAIL)) return null;
  const password = options.password ?? randomBytes(9).toString("base64url");
  const { user } = await registerUser(
    db,
    { ip: null, user_agent: "seed" },
    { email: DEMO_EMAIL, password, first_name: "Demo", last_name: "Admin" },
    null,
  );
  const context: ActionContext & { actor: { type: "user"; id: string } } = {
    actor: { type: "user", id: user.id },
    ip: null,
    user_agent: "seed",
  };
  const org = await createOrg(db, context, {
    name: "Demo Org",
    slug: `demo-${randomBytes(3).toString("hex")}`,
  });
  const connection = await createConnection(db, server.runtime, context, {
    orgId: org.id,
    name: "Demo MCP server",
    description: "The demo server bundled with the platform",
    transport: "streamable_http",
    url: options.syncUrl,
  });
  const sync = await syncConnection(db, server.runtime, context, {
    orgId: org.id,
    id: connection.id,
  });
  if (options.connectionUrl !== options.syncUrl) {
    await updateConnection(db, server.runtime, context, {
      orgId: org.id,
      id: connection.id,
      url: options.connectionUrl,
    });
  }
  const agent = await createAgent(db, context, {
    orgId: org.id,
    name: "Demo agent",
    description: "Created by the demo seed",
  });
  const key = await createAgentKey(db, context, { orgId: org.id, agentId: agent.id, name: "demo" });
  await createPolicy(db, context, {
    orgId: org.id,
    name: "Demo agent may use every tool",
    effect: "allow",
    agent_id: agent.id,
    tool_pattern: "*",
    rate_limit: { max_calls: 60, per_seconds: 60 },
  });
  return {
    email: DEMO_EMAIL,
    password,
    orgId: org.id,
    agentId: agent.id,
    agentKey: key.key,
    tools: sync.total,
  };
}
