import { randomBytes } from "node:crypto";
import { appRouter } from "@mcp/api";
import { startTestMcpServer, type RunningTestMcpServer } from "@mcp/core/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  joinOrg,
  registerUser,
  startTestServer,
  type TestServer,
  type TestUser,
} from "./harness";
import { grantTokens } from "./oauth-flow";
import { startOAuthUpstream, type OAuthUpstream } from "./oauth-upstream";

/*
 * Tenant isolation, procedure by procedure, generated from the router: every procedure of
 * appRouter must have an entry in CASES below (a new procedure without one fails the suite). For
 * every org-scoped procedure:
 *   - org A's owner calling it with org B's ids gets 404, exactly like a missing resource;
 *   - each role of org A gets the procedure or 403, as the README documents the roles;
 *   - after every call made in org A, every row of org B in every tenant table (any table with an
 *     org_id column, read directly from the database) is unchanged;
 *   - org A's API tokens act like members of their role, or get 403 where a person is needed, and
 *     get 404 for org B's ids like org A's owner.
 */

const ROLES = ["viewer", "member", "admin", "owner"] as const;
type Role = (typeof ROLES)[number];
/** An API token's roles: an owner's work (people, the org itself) needs a person. */
const TOKEN_ROLES = ["viewer", "member", "admin"] as const;
type TokenRole = (typeof TOKEN_ROLES)[number];

interface OrgWorld {
  id: string;
  users: Record<Role, TestUser>;
  /** One API token of each role, made by the owner. */
  tokens: Record<TokenRole, string>;
  environmentId: string;
  connectionId: string;
  toolId: string;
  agentId: string;
  keyId: string;
  policyId: string;
  runId: string;
}

/** What a call sends besides the path template: path parameters, then body or query. */
interface Call {
  params: Record<string, string>;
  input?: Record<string, unknown>;
}

type OrgCase = {
  scope: "org";
  /** The least role allowed, as documented: viewers read, members run tools, admins manage. */
  role: Role;
  /** Acts for a person (their own credentials, managing API tokens): API tokens get 403. */
  person?: true;
  /** The call against `org`; may first create what it acts on (so deletes have a target). */
  call: (org: OrgWorld, fresh: Fresh) => Promise<Call> | Call;
};
type Case = { scope: "account"; why: string } | OrgCase;

/** Fresh resources in an org, made by its owner, for procedures that consume what they act on. */
interface Fresh {
  environment(org: OrgWorld): Promise<string>;
  connection(org: OrgWorld, url?: string): Promise<string>;
  /** A per-user OAuth connection to the OAuth-protected upstream. */
  oauthConnection(org: OrgWorld): Promise<string>;
  tool(org: OrgWorld, connectionId?: string): Promise<string>;
  /** A tool quarantined as new, with the hash of its definition under review. */
  toolUnderReview(org: OrgWorld): Promise<{ id: string; hash: string }>;
  agent(org: OrgWorld): Promise<string>;
  key(org: OrgWorld, agentId?: string): Promise<string>;
  apiToken(org: OrgWorld): Promise<string>;
  /** An OAuth client authorized by the owner to act as the org's agent. */
  grant(org: OrgWorld): Promise<string>;
  policy(org: OrgWorld): Promise<string>;
  /** A pending approval of a call an API token made (so no role is its own caller). */
  approval(org: OrgWorld): Promise<string>;
  member(org: OrgWorld): Promise<string>;
  /** A pending invitation of a fresh address, as viewer. */
  invitation(org: OrgWorld): Promise<string>;
  /** Another org with the same users in the same roles. */
  org(org: OrgWorld): Promise<string>;
}

/** Refused at once (fetch will not dial port 1): a call to it fails without waiting. */
const DEAD_URL = "http://127.0.0.1:1/mcp";

const name = () => `iso-${randomBytes(3).toString("hex")}`;

const CASES: Record<string, Case> = {
  "auth.register": { scope: "account", why: "creates a user, in no org" },
  "auth.login": { scope: "account", why: "in no org" },
  "auth.logout": { scope: "account", why: "the caller's own session" },
  "auth.logoutAll": { scope: "account", why: "the caller's own sessions" },
  "auth.me": { scope: "account", why: "the caller" },
  "auth.sso": { scope: "account", why: "the platform's SSO settings, public" },
  "auth.sessions.list": { scope: "account", why: "the caller's own sessions" },
  "auth.sessions.end": {
    scope: "account",
    why: "the caller's own session; another user's is 404 (sessions.test.ts)",
  },
  "auth.sessions.endOthers": { scope: "account", why: "the caller's own sessions" },
  "auth.changePassword": { scope: "account", why: "the caller's own password" },
  "auth.settings": { scope: "account", why: "the platform's sign-up settings, in no org" },
  "auth.requestPasswordReset": { scope: "account", why: "an address's own account" },
  "auth.resetPassword": { scope: "account", why: "the account of a mailed token" },
  "auth.requestEmailVerification": { scope: "account", why: "the caller's own address" },
  "auth.verifyEmail": { scope: "account", why: "the account of a mailed token" },
  "invitations.preview": {
    scope: "account",
    why: "found by its random token, only by whoever holds the link (invitations.test.ts)",
  },
  "invitations.accept": {
    scope: "account",
    why: "found by its random token; only the invited address may accept (invitations.test.ts)",
  },
  "orgs.list": { scope: "account", why: "lists the caller's own memberships" },
  "orgs.create": { scope: "account", why: "creates a new org" },
  "oauth.authorizations.get": {
    scope: "account",
    why: "a pending request found by its random id; outsiders get 404 (oauth.test.ts)",
  },
  "oauth.authorizations.decide": {
    scope: "account",
    why: "a pending request found by its random id; outsiders get 404 (oauth.test.ts)",
  },

  "platform.orgs": {
    scope: "account",
    why: "platform admins only, no org's resources; everyone else 403 (platform-admin.test.ts)",
  },
  "platform.users.list": {
    scope: "account",
    why: "platform admins only, no org's resources; everyone else 403 (platform-admin.test.ts)",
  },
  "platform.users.disable": {
    scope: "account",
    why: "platform admins only; everyone else 403 (platform-admin.test.ts)",
  },
  "platform.users.enable": {
    scope: "account",
    why: "platform admins only; everyone else 403 (platform-admin.test.ts)",
  },
  "platform.auditEvents": {
    scope: "account",
    why: "the platform's own events (of no org), platform admins only (platform-admin.test.ts)",
  },

  "orgs.get": { scope: "org", role: "viewer", call: (org) => ({ params: { org_id: org.id } }) },
  "orgs.update": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { org_id: org.id }, input: { name: name() } }),
  },
  "orgs.sso.get": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "orgs.sso.update": {
    scope: "org",
    role: "owner",
    // No identity provider here: turning SSO-only off and clearing the rules is what is allowed.
    call: (org) => ({ params: { org_id: org.id }, input: { sso_only: false, domain_roles: [] } }),
  },
  "orgs.delete": {
    scope: "org",
    role: "owner",
    // A throw-away org with the same members, so the shared ones survive.
    call: async (org, fresh) => ({ params: { org_id: await fresh.org(org) } }),
  },
  "orgs.members.list": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "orgs.members.add": {
    scope: "org",
    role: "admin",
    call: async (org) => ({
      params: { org_id: org.id },
      input: { email: (await registerUser(server, "added")).email, role: "viewer" },
    }),
  },
  "orgs.invitations.list": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "orgs.invitations.revoke": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({
      params: { org_id: org.id, invitation_id: await fresh.invitation(org) },
    }),
  },
  "orgs.members.update": {
    scope: "org",
    role: "owner",
    call: async (org, fresh) => ({
      params: { org_id: org.id, user_id: await fresh.member(org) },
      input: { role: "member" },
    }),
  },
  "orgs.members.remove": {
    scope: "org",
    role: "owner",
    call: async (org, fresh) => ({ params: { org_id: org.id, user_id: await fresh.member(org) } }),
  },

  "apiTokens.list": {
    scope: "org",
    role: "admin",
    person: true,
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "apiTokens.create": {
    scope: "org",
    role: "admin",
    person: true,
    call: (org) => ({ params: { org_id: org.id }, input: { name: name(), role: "viewer" } }),
  },
  "apiTokens.revoke": {
    scope: "org",
    role: "admin",
    person: true,
    call: async (org, fresh) => ({
      params: { org_id: org.id, token_id: await fresh.apiToken(org) },
    }),
  },

  "environments.list": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "environments.create": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { org_id: org.id }, input: { name: name() } }),
  },
  "environments.get": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { id: org.environmentId } }),
  },
  "environments.update": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.environmentId }, input: { description: name() } }),
  },
  "environments.delete": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({ params: { id: await fresh.environment(org) } }),
  },

  "connections.list": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "connections.stdioServers": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "connections.create": {
    scope: "org",
    role: "admin",
    call: (org) => ({
      params: { org_id: org.id },
      input: { name: name(), transport: "streamable_http", url: upstream.url },
    }),
  },
  "connections.get": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { id: org.connectionId } }),
  },
  "connections.update": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.connectionId }, input: { description: name() } }),
  },
  "connections.delete": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({ params: { id: await fresh.connection(org) } }),
  },
  "connections.test": {
    scope: "org",
    role: "admin",
    // A failing test writes the connection's error: that write must stay in its own row.
    call: async (org, fresh) => ({ params: { id: await fresh.connection(org, DEAD_URL) } }),
  },
  "connections.oauthConnect": {
    scope: "org",
    role: "member",
    person: true,
    // Discovery and registration write to the connection: they must stay in its own org.
    call: async (org, fresh) => ({
      params: { id: await fresh.oauthConnection(org) },
      input: { credential: "per_user" },
    }),
  },
  "connections.oauthDisconnect": {
    scope: "org",
    role: "member",
    person: true,
    call: async (org, fresh) => ({
      params: { id: await fresh.oauthConnection(org) },
      input: { credential: "per_user" },
    }),
  },
  "connections.mine": {
    scope: "org",
    role: "viewer",
    person: true,
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "connections.sync": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.connectionId } }),
  },

  "tools.list": { scope: "org", role: "viewer", call: (org) => ({ params: { org_id: org.id } }) },
  "tools.create": {
    scope: "org",
    role: "admin",
    call: (org) => ({
      params: { org_id: org.id },
      input: { connection_id: org.connectionId, upstream_name: name() },
    }),
  },
  "tools.get": { scope: "org", role: "viewer", call: (org) => ({ params: { id: org.toolId } }) },
  "tools.definitions": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { id: org.toolId } }),
  },
  "tools.access": { scope: "org", role: "viewer", call: (org) => ({ params: { id: org.toolId } }) },
  "tools.update": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.toolId }, input: { description: name() } }),
  },
  "tools.approveDefinition": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => {
      const { id, hash } = await fresh.toolUnderReview(org);
      return { params: { id }, input: { hash } };
    },
  },
  "tools.rejectDefinition": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => {
      const { id, hash } = await fresh.toolUnderReview(org);
      return { params: { id }, input: { hash } };
    },
  },
  "tools.delete": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({ params: { id: await fresh.tool(org) } }),
  },
  "tools.run": {
    scope: "org",
    role: "member",
    // On a server that cannot be reached: the failed call records the connection's health, and
    // that write must stay in its own row (it once reached every org's connections).
    call: async (org, fresh) => ({
      params: { id: await fresh.tool(org, await fresh.connection(org, DEAD_URL)) },
      input: { input: { text: "isolation" } },
    }),
  },

  "agents.list": { scope: "org", role: "viewer", call: (org) => ({ params: { org_id: org.id } }) },
  "agents.create": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { org_id: org.id }, input: { name: name() } }),
  },
  "agents.get": { scope: "org", role: "viewer", call: (org) => ({ params: { id: org.agentId } }) },
  "agents.update": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.agentId }, input: { description: name() } }),
  },
  "agents.delete": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({ params: { id: await fresh.agent(org) } }),
  },
  "agents.keys.list": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { id: org.agentId } }),
  },
  "agents.keys.create": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.agentId }, input: { name: name() } }),
  },
  "agents.keys.revoke": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({
      params: { id: org.agentId, key_id: await fresh.key(org, org.agentId) },
    }),
  },
  "agents.oauthClients.list": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { id: org.agentId } }),
  },
  "agents.oauthClients.revoke": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({
      params: { id: org.agentId, grant_id: await fresh.grant(org) },
    }),
  },

  "policies.list": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "policies.create": {
    scope: "org",
    role: "admin",
    call: (org) => ({
      params: { org_id: org.id },
      input: { name: name(), effect: "deny", tool_pattern: "nothing-matches-*" },
    }),
  },
  "policies.evaluate": {
    scope: "org",
    role: "viewer",
    call: (org) => ({
      params: { org_id: org.id },
      input: { tool_id: org.toolId, agent_id: org.agentId, input: { text: "x" } },
    }),
  },
  "policies.whatIf": {
    scope: "org",
    role: "admin",
    call: (org) => ({
      params: { org_id: org.id },
      input: { policy_id: org.policyId, delete: true },
    }),
  },
  "policies.get": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { id: org.policyId } }),
  },
  "policies.update": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.policyId }, input: { description: name() } }),
  },
  "policies.delete": {
    scope: "org",
    role: "admin",
    call: async (org, fresh) => ({ params: { id: await fresh.policy(org) } }),
  },
  "policies.rotateHookSecret": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { id: org.policyId } }),
  },

  "approvals.list": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "approvals.get": {
    scope: "org",
    role: "viewer",
    call: async (org, fresh) => ({ params: { id: await fresh.approval(org) } }),
  },
  "approvals.decide": {
    scope: "org",
    role: "member",
    person: true,
    call: async (org, fresh) => ({
      params: { id: await fresh.approval(org) },
      input: { decision: "deny", comment: "isolation" },
    }),
  },

  "runs.list": { scope: "org", role: "viewer", call: (org) => ({ params: { org_id: org.id } }) },
  "runs.stats": { scope: "org", role: "viewer", call: (org) => ({ params: { org_id: org.id } }) },
  "runs.get": { scope: "org", role: "viewer", call: (org) => ({ params: { id: org.runId } }) },
  "audit.list": { scope: "org", role: "viewer", call: (org) => ({ params: { org_id: org.id } }) },
  "audit.actions": {
    scope: "org",
    role: "viewer",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "audit.verify": { scope: "org", role: "viewer", call: (org) => ({ params: { org_id: org.id } }) },
  "config.exportDocument": {
    scope: "org",
    role: "admin",
    call: (org) => ({ params: { org_id: org.id } }),
  },
  "config.applyDocument": {
    scope: "org",
    role: "admin",
    call: (org) => ({
      params: { org_id: org.id },
      input: {
        document: `apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\nagents:\n  - name: ${name()}\n`,
      },
    }),
  },
  "audit.webhook": {
    scope: "org",
    role: "admin",
    call: async (org) => ({ params: { org_id: await withAuditWebhook(org, true) } }),
  },
  "audit.createWebhook": {
    scope: "org",
    role: "admin",
    call: async (org) => ({
      params: { org_id: await withAuditWebhook(org, false) },
      input: DEAD_WEBHOOK,
    }),
  },
  "audit.updateWebhook": {
    scope: "org",
    role: "admin",
    call: async (org) => ({
      params: { org_id: await withAuditWebhook(org, true) },
      input: { enabled: false },
    }),
  },
  "audit.rotateWebhookSecret": {
    scope: "org",
    role: "admin",
    call: async (org) => ({ params: { org_id: await withAuditWebhook(org, true) } }),
  },
  "audit.deleteWebhook": {
    scope: "org",
    role: "admin",
    call: async (org) => ({ params: { org_id: await withAuditWebhook(org, true) } }),
  },
};

/*
 * Webhooks here are paused: a delivery in the background would change org B's row between the
 * snapshots.
 */
const DEAD_WEBHOOK = { url: "http://127.0.0.1:1/siem", enabled: false };

/** Makes the org have an audit webhook, or none, as its owner; returns the org id. */
async function withAuditWebhook(org: OrgWorld, present: boolean): Promise<string> {
  const path = `/orgs/${org.id}/audit-webhook/`;
  const token = org.users.owner.token;
  const current = await server.request("GET", path, { token });
  if (present && current.body === null) {
    const created = await server.request("POST", path, { token, body: DEAD_WEBHOOK });
    expect(created.status).toBe(201);
  }
  if (!present && current.body !== null)
    expect((await server.request("DELETE", path, { token })).status).toBe(204);
  return org.id;
}

interface Procedure {
  path: string;
  method: string;
  template: string;
}

/** Every procedure of the router, with the REST operation that serves it. */
function procedures(): Procedure[] {
  // tRPC keeps a flat map of dotted paths to procedures beside the nested record.
  const all = appRouter._def.procedures as unknown as Record<
    string,
    { _def: { meta?: { openapi?: { method: string; path: string } } } }
  >;
  return Object.entries(all).map(([path, procedure]) => ({
    path,
    method: procedure._def.meta?.openapi?.method ?? "",
    template: procedure._def.meta?.openapi?.path ?? "",
  }));
}

let server: TestServer;
let upstream: RunningTestMcpServer;
let oauthUpstream: OAuthUpstream;

describe("the isolation suite's table", () => {
  it("has an entry for every procedure of the router, and none for a procedure that is gone", () => {
    const paths = procedures().map((procedure) => procedure.path);
    expect(paths.filter((path) => !(path in CASES))).toEqual([]);
    expect(Object.keys(CASES).filter((path) => !paths.includes(path))).toEqual([]);
  });
});

describe.skipIf(databaseUnavailable)("tenant isolation of every org-scoped procedure", () => {
  let a: OrgWorld;
  let b: OrgWorld;
  let tenantTables: string[];

  async function world(): Promise<OrgWorld> {
    const org = await createOrg(server);
    const users = {
      owner: org.owner,
      admin: await addMember(server, org, "admin"),
      member: await addMember(server, org, "member"),
      viewer: await addMember(server, org, "viewer"),
    };
    const setup = governance(server, org);
    const connection = await setup.syncedConnection({
      transport: "streamable_http",
      url: upstream.url,
    });
    const environment = await server.request("POST", `/orgs/${org.id}/environments/`, {
      token: org.owner.token,
      body: { name: name() },
    });
    const agent = await setup.agent();
    const key = await setup.key(agent.id);
    // Any agent, and members' own runs: calls reach the upstream server.
    const policy = await setup.policy({ effect: "allow", tool_pattern: "*" });
    const toolId = connection.tools.echo ?? "";
    const run = await setup.run(toolId, { input: { text: "fixture" } });
    expect(run.status).toBe(201);
    const tokens = {} as Record<TokenRole, string>;
    for (const role of TOKEN_ROLES) {
      const created = await server.request("POST", `/orgs/${org.id}/api-tokens/`, {
        token: org.owner.token,
        body: { name: `${role} token`, role },
      });
      expect(created.status).toBe(201);
      tokens[role] = created.body.token as string;
    }
    return {
      id: org.id,
      users,
      tokens,
      environmentId: environment.body.id,
      connectionId: connection.id,
      toolId,
      agentId: agent.id,
      keyId: key.id,
      policyId: policy.id,
      runId: run.body.id,
    };
  }

  const fresh: Fresh = {
    environment: async (org) =>
      (await made(org, `/orgs/${org.id}/environments/`, { name: name() })).id,
    oauthConnection: async (org) =>
      (
        await made(org, `/orgs/${org.id}/connections/`, {
          name: name(),
          transport: "streamable_http",
          url: oauthUpstream.url,
          auth: "oauth",
          oauth: { credential_mode: "per_user" },
        })
      ).id,
    connection: async (org, url = upstream.url) =>
      (
        await made(org, `/orgs/${org.id}/connections/`, {
          name: name(),
          transport: "streamable_http",
          url,
        })
      ).id,
    tool: async (org, connectionId = org.connectionId) =>
      (
        await made(org, `/orgs/${org.id}/tools/`, {
          connection_id: connectionId,
          upstream_name: name(),
        })
      ).id,
    toolUnderReview: async (org) => {
      const tool = (await made(org, `/orgs/${org.id}/tools/`, {
        connection_id: org.connectionId,
        upstream_name: name(),
      })) as { id: string; definition_hash: string };
      // Only a sync quarantines; this stands for one run with the org quarantining new tools.
      await server.database.db.execute(
        sql`update tools set quarantine = 'new' where id = ${tool.id}`,
      );
      return { id: tool.id, hash: tool.definition_hash };
    },
    agent: async (org) => (await made(org, `/orgs/${org.id}/agents/`, { name: name() })).id,
    key: async (org, agentId) =>
      (await made(org, `/agents/${agentId ?? org.agentId}/keys/`, { name: name() })).id,
    apiToken: async (org) =>
      (await made(org, `/orgs/${org.id}/api-tokens/`, { name: name(), role: "viewer" })).id,
    grant: async (org) => {
      await grantTokens(server, org.users.owner, org.agentId);
      const listed = await server.request("GET", `/agents/${org.agentId}/oauth-clients/`, {
        token: org.users.owner.token,
      });
      return (listed.body.results as { id: string }[])[0]?.id ?? "";
    },
    policy: async (org) =>
      (
        await made(org, `/orgs/${org.id}/policies/`, {
          name: name(),
          effect: "deny",
          tool_pattern: "nothing-*",
        })
      ).id,
    approval: async (org) => {
      const marker = name();
      await made(org, `/orgs/${org.id}/policies/`, {
        name: marker,
        effect: "require_approval",
        approver_role: "member",
        tool_pattern: "echo",
        input_schema: { properties: { text: { const: marker } }, required: ["text"] },
      });
      const ran = await server.request("POST", `/tools/${org.toolId}/run/`, {
        token: org.tokens.admin,
        body: { input: { text: marker } },
      });
      expect(ran.status, JSON.stringify(ran.body)).toBe(202);
      const listed = await server.request(
        "GET",
        `/orgs/${org.id}/approvals/?run_id=${ran.body.id}`,
        {
          token: org.users.owner.token,
        },
      );
      return (listed.body.results as { id: string }[])[0]?.id ?? "";
    },
    member: async (org) => {
      const user = await registerUser(server, "target");
      await joinOrg(server, org.id, org.users.owner, user, "viewer");
      return user.id;
    },
    invitation: async (org) =>
      (
        (await made(org, `/orgs/${org.id}/members/`, {
          email: `invited-${name()}@example.com`,
          role: "viewer",
        })) as unknown as { invitation: { id: string } }
      ).invitation.id,
    org: async (org) => {
      const response = await server.request("POST", "/orgs/", {
        token: org.users.owner.token,
        body: { name: name() },
      });
      expect(response.status).toBe(201);
      const id = response.body.id as string;
      for (const role of ["admin", "member", "viewer"] as const) {
        await joinOrg(server, id, org.users.owner, org.users[role], role);
      }
      return id;
    },
  };

  async function made(org: OrgWorld, path: string, body: unknown): Promise<{ id: string }> {
    const response = await server.request("POST", path, { token: org.users.owner.token, body });
    expect(response.status, `${path}: ${JSON.stringify(response.body)}`).toBe(201);
    return response.body;
  }

  /** Every row of `org` in every tenant table, straight from the database. */
  /** Rows expiring sooner than this are left out of snapshots (see below). */
  const EPHEMERAL_MS = 30 * 60_000;

  async function snapshot(org: OrgWorld): Promise<Record<string, unknown[]>> {
    const rows: Record<string, unknown[]> = {};
    // Everything B already queued (its fixture's run) is written, so only other writes show.
    await server.runtime.recorder.idle();
    for (const table of [...tenantTables, "orgs"]) {
      const column = table === "orgs" ? "id" : "org_id";
      const result = await server.database.db.execute(
        sql`select * from ${sql.identifier(table)} where ${sql.identifier(column)} = ${org.id} order by 1`,
      );
      const all = JSON.parse(
        JSON.stringify(Array.isArray(result) ? result : (result as { rows: unknown[] }).rows),
      ) as { expires_at?: string | null }[];
      // Short-lived rows (authorization requests expire after a minute) are swept by the
      // server's maintenance whenever a slow run lets them expire: not a change any call made.
      rows[table] = all.filter(
        (row) => !row.expires_at || Date.parse(row.expires_at) > Date.now() + EPHEMERAL_MS,
      );
    }
    return rows;
  }

  async function send(procedure: Procedure, call: Call, user: Pick<TestUser, "token">) {
    const path = procedure.template.replace(/\{(\w+)\}/g, (_match, param: string) => {
      const value = call.params[param];
      if (value === undefined) throw new Error(`${procedure.path}: no value for {${param}}`);
      return value;
    });
    const query = procedure.method === "GET" || procedure.method === "DELETE";
    const search =
      query && call.input
        ? `?${new URLSearchParams(call.input as Record<string, string>).toString()}`
        : "";
    return server.request(procedure.method, `${path}/${search}`, {
      token: user.token,
      ...(!query ? { body: call.input ?? {} } : {}),
    });
  }

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer();
    oauthUpstream = await startOAuthUpstream();
    [a, b] = [await world(), await world()];
    const tables = await server.database.db.execute(
      sql`select table_name from information_schema.columns where column_name = 'org_id' and table_schema = current_schema() order by table_name`,
    );
    tenantTables = (
      Array.isArray(tables) ? tables : (tables as { rows: { table_name: string }[] }).rows
    ).map((row) => (row as { table_name: string }).table_name);
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
    await oauthUpstream.close();
  });

  it("snapshots every tenant table", () => {
    expect(tenantTables).toEqual(
      expect.arrayContaining([
        "agent_keys",
        "agents",
        "api_tokens",
        "audit_events",
        "audit_webhooks",
        "connections",
        "environments",
        "memberships",
        "invitations",
        "policies",
        "runs",
        "tools",
      ]),
    );
  });

  const orgProcedures = procedures().filter(
    (procedure): procedure is Procedure => CASES[procedure.path]?.scope === "org",
  );
  const caseOf = (procedure: Procedure) => CASES[procedure.path] as OrgCase;

  it.each(orgProcedures.map((procedure) => [procedure.path, procedure] as const))(
    "%s: another org's ids are 404, and that org's rows stay unchanged",
    async (_path, procedure) => {
      const call = await caseOf(procedure).call(b, fresh);
      const before = await snapshot(b);
      const response = await send(procedure, call, a.users.owner);
      expect(response.status, JSON.stringify(response.body)).toBe(404);
      expect(response.body.code).toBe("NOT_FOUND");
      expect(await snapshot(b)).toEqual(before);
    },
  );

  it.each(orgProcedures.map((procedure) => [procedure.path, procedure] as const))(
    "%s: each role is allowed or 403 as documented; the other org's rows stay unchanged",
    async (_path, procedure) => {
      const { role: least } = caseOf(procedure);
      for (const role of ROLES) {
        const call = await caseOf(procedure).call(a, fresh);
        const before = await snapshot(b);
        const response = await send(procedure, call, a.users[role]);
        const label = `${role}: ${JSON.stringify(response.body)}`;
        if (ROLES.indexOf(role) < ROLES.indexOf(least)) {
          expect(response.status, label).toBe(403);
          expect(response.body.code, label).toBe("FORBIDDEN");
        } else {
          expect(response.status, label).toBeGreaterThanOrEqual(200);
          expect(response.status, label).toBeLessThan(300);
        }
        expect(await snapshot(b), `${procedure.path} as ${role} changed org B`).toEqual(before);
      }
    },
  );

  it.each(orgProcedures.map((procedure) => [procedure.path, procedure] as const))(
    "%s: API tokens act as their role in their own org only; another org's ids are 404",
    async (_path, procedure) => {
      const { role: least, person } = caseOf(procedure);
      for (const role of TOKEN_ROLES) {
        const token = { token: a.tokens[role] };
        const outside = await caseOf(procedure).call(b, fresh);
        const beforeOutside = await snapshot(b);
        const refused = await send(procedure, outside, token);
        expect(refused.status, `${role} token in org B: ${JSON.stringify(refused.body)}`).toBe(404);
        expect(await snapshot(b)).toEqual(beforeOutside);

        const call = await caseOf(procedure).call(a, fresh);
        const before = await snapshot(b);
        const response = await send(procedure, call, token);
        const label = `${role} token: ${JSON.stringify(response.body)}`;
        if (call.params.org_id !== undefined && call.params.org_id !== a.id) {
          // A throw-away org with org A's people (orgs.delete): the token's org it is not.
          expect(response.status, label).toBe(404);
        } else if (person || ROLES.indexOf(role) < ROLES.indexOf(least)) {
          expect(response.status, label).toBe(403);
          expect(response.body.code, label).toBe("FORBIDDEN");
        } else {
          expect(response.status, label).toBeGreaterThanOrEqual(200);
          expect(response.status, label).toBeLessThan(300);
        }
        expect(await snapshot(b), `${procedure.path} as ${role} token changed org B`).toEqual(
          before,
        );
      }
    },
  );
});
