import { randomBytes } from "node:crypto";

export interface DemoSeed {
  email: string;
  password: string;
  orgId: string;
  agentId: string;
  agentKey: string;
  tools: number;
}

export const DEMO_EMAIL = "demo@example.com";

class SeedRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The platform's REST API at `base`, as a user with `token` once signed in. */
function restClient(base: string) {
  let token: string | null = null;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        "user-agent": "mcp-agents-seed",
        ...(token ? { authorization: `Token ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok)
      throw new SeedRequestError(response.status, `${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    call,
    signIn(value: string) {
      token = value;
    },
  };
}

/**
 * A demo org wired end to end through the platform's REST API at `base` (a running server): the
 * bundled demo MCP server as a synced connection, an agent with a key, and a policy allowing it
 * every tool but rate-limited. Tools are synced from `base`, then the connection is pointed at
 * `connectionUrl`, the address users reach. Returns null when the demo user already exists.
 */
export async function seedDemo(
  base: string,
  options: { connectionUrl: string; password?: string | undefined },
): Promise<DemoSeed | null> {
  const api = restClient(base);
  const password = options.password ?? randomBytes(9).toString("base64url");
  let registered: { token: string };
  try {
    registered = await api.call("POST", "/auth/register/", {
      email: DEMO_EMAIL,
      password,
      password_confirm: password,
      first_name: "Demo",
      last_name: "Admin",
    });
  } catch (error) {
    if (error instanceof SeedRequestError && error.status === 409) return null;
    throw error;
  }
  api.signIn(registered.token);
  const org = await api.call<{ id: string }>("POST", "/orgs/", {
    name: "Demo Org",
    slug: `demo-${randomBytes(3).toString("hex")}`,
  });
  const syncUrl = `${base}/demo/mcp`;
  const connection = await api.call<{ id: string }>("POST", `/orgs/${org.id}/connections/`, {
    name: "Demo MCP server",
    description: "The demo server bundled with the platform",
    transport: "streamable_http",
    url: syncUrl,
  });
  const sync = await api.call<{ total: number }>("POST", `/connections/${connection.id}/sync/`);
  if (options.connectionUrl !== syncUrl)
    await api.call("PATCH", `/connections/${connection.id}/`, { url: options.connectionUrl });
  const agent = await api.call<{ id: string }>("POST", `/orgs/${org.id}/agents/`, {
    name: "Demo agent",
    description: "Created by the demo seed",
  });
  const key = await api.call<{ key: string }>("POST", `/agents/${agent.id}/keys/`, {
    name: "demo",
  });
  await api.call("POST", `/orgs/${org.id}/policies/`, {
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
