import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startTestMcpServer, type RunningTestMcpServer, type TestTool } from "@mcp/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "./governance";
import {
  addMember,
  createOrg,
  databaseUnavailable,
  startTestServer,
  type TestOrg,
  type TestServer,
} from "./harness";

const run = promisify(execFile);
const SDK_DIR = new URL("../../../packages/sdk/", import.meta.url).pathname;

const UPSTREAM_TOKEN = "upstream-s3cret-value";
const SECRET_NAME = "upstream.header.Authorization";

function tool(name: string, description: string): TestTool {
  return {
    name,
    description,
    inputSchema: { type: "object", properties: { text: { type: "string" } } },
    handler: (args) => ({ content: [{ type: "text", text: `${name}: ${String(args.text)}` }] }),
  };
}

interface ApplyBody {
  /** Refusals: the error body. */
  message?: string;
  issues?: { path: string; message: string }[];
  dry_run: boolean;
  changes: { resource: string; name: string; action: string; fields: string[] }[];
  not_applied: { path: string; reason: string }[];
  hook_secrets: { policy: string; hook_secret: string }[];
}

describe.skipIf(databaseUnavailable)("config as code", () => {
  let server: TestServer;
  let upstream: RunningTestMcpServer;
  /** The configured org every test exports from, and its document. */
  let source: TestOrg;
  let exported: string;

  const exportConfig = async (org: TestOrg, token = org.owner.token) =>
    server.request<{ document: string }>("GET", `/orgs/${org.id}/config/`, { token });
  const apply = (org: TestOrg, body: Record<string, unknown>, token = org.owner.token) =>
    server.request<ApplyBody>("POST", `/orgs/${org.id}/config/apply/`, { token, body });
  const auditActions = async (org: TestOrg): Promise<string[]> =>
    (
      await server.request("GET", `/orgs/${org.id}/audit-events/?limit=200`, {
        token: org.owner.token,
      })
    ).body.results.map((event: { action: string }) => event.action);

  beforeAll(async () => {
    server = await startTestServer();
    upstream = await startTestMcpServer({
      builtinTools: false,
      bearerToken: UPSTREAM_TOKEN,
      tools: [tool("lookup", "Looks a word up"), tool("write_note", "Writes a note")],
    });

    // A configured org: an environment, a connection with a secret header, tool overrides,
    // an agent, policies (one naming a tool, one with guardrails), quarantine of new tools on.
    source = await createOrg(server);
    const token = source.owner.token;
    const helpers = governance(server, source);
    const environment = await server.request("POST", `/orgs/${source.id}/environments/`, {
      token,
      body: { name: "production", description: "Live traffic" },
    });
    expect(environment.status).toBe(201);
    const connection = await helpers.syncedConnection({
      name: "Upstream",
      transport: "streamable_http",
      url: upstream.url,
      environment_id: environment.body.id,
      secret: { headers: { Authorization: `Bearer ${UPSTREAM_TOKEN}` } },
      sync_interval_minutes: 60,
    });
    const lookupId = connection.tools.lookup ?? "";
    const writeId = connection.tools.write_note ?? "";
    expect(
      (
        await server.request("PATCH", `/tools/${lookupId}/`, {
          token,
          body: { description: "Look up a word in the company glossary", name: "glossary_lookup" },
        })
      ).status,
    ).toBe(200);
    expect(
      (await server.request("PATCH", `/tools/${writeId}/`, { token, body: { enabled: false } }))
        .status,
    ).toBe(200);
    const agent = await helpers.agent({
      name: "support-bot",
      environment_id: environment.body.id,
    });
    await helpers.policy({
      name: "support may look up",
      effect: "allow",
      agent_id: agent.id,
      tool_pattern: lookupId,
      rate_limit: { max_calls: 10, per_seconds: 60 },
      redact_patterns: ["sk-[a-z0-9]+"],
    });
    await helpers.policy({
      name: "nobody writes",
      effect: "deny",
      tool_pattern: "write_*",
      environment_id: environment.body.id,
      input_schema: { type: "object", properties: { text: { maxLength: 10 } } },
    });
    await helpers.policy({
      name: "admins may write",
      effect: "allow",
      min_role: "admin",
      tool_pattern: "write_*",
    });
    await helpers.policy({
      name: "owners approve deletes",
      effect: "require_approval",
      agent_id: agent.id,
      tool_pattern: "delete_*",
      approver_role: "owner",
      approval_timeout_seconds: 600,
    });
    expect(
      (
        await server.request("PATCH", `/orgs/${source.id}/`, {
          token,
          body: { quarantine_new_tools: true },
        })
      ).status,
    ).toBe(200);

    const response = await exportConfig(source);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    exported = response.body.document;
  });

  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  it("exports everything by name, and never a secret value or an id", () => {
    expect(exported).toContain("apiVersion: mcp-agents.dev/v1");
    expect(exported).toContain("kind: OrgConfig");
    expect(exported).toContain(`name: ${SECRET_NAME}`);
    expect(exported).not.toContain(UPSTREAM_TOKEN);
    expect(exported).toContain("environment: production");
    expect(exported).toContain("agent: support-bot");
    expect(exported).toContain("connection: Upstream");
    expect(exported).toContain("upstream_name: lookup");
    expect(exported).toContain("name: glossary_lookup");
    expect(exported).toMatch(/approved_hash: [0-9a-f]{64}/);
    expect(exported).toContain("quarantine_new_tools: true");
    expect(exported).toContain("subject: role");
    expect(exported).toContain("min_role: admin");
    expect(exported).toContain("subject: everyone");
    expect(exported).toContain("effect: require_approval");
    expect(exported).toContain("approver_role: owner");
    expect(exported).toContain("approval_timeout_seconds: 600");
    // No UUID anywhere: nothing in the document points into this org.
    expect(exported).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
  });

  it("round-trips: applied to an empty org, it exports identically; a second apply is a no-op", async () => {
    const target = await createOrg(server);
    const first = await apply(target, {
      document: exported,
      secrets: { [SECRET_NAME]: `Bearer ${UPSTREAM_TOKEN}` },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.not_applied).toEqual([]);
    expect(first.body.changes).toEqual(
      expect.arrayContaining([
        {
          resource: "settings",
          name: "settings",
          action: "update",
          fields: ["quarantine_new_tools"],
        },
        { resource: "environment", name: "production", action: "create", fields: [] },
        { resource: "connection", name: "Upstream", action: "create", fields: [] },
        { resource: "agent", name: "support-bot", action: "create", fields: [] },
        { resource: "policy", name: "nobody writes", action: "create", fields: [] },
        { resource: "policy", name: "support may look up", action: "create", fields: [] },
        // Synced into quarantine (the document's setting), then approved as the document says.
        {
          resource: "tool",
          name: "Upstream/lookup",
          action: "update",
          fields: ["name", "description", "approved_hash"],
        },
      ]),
    );

    const again = await exportConfig(target);
    expect(again.status).toBe(200);
    expect(again.body.document).toBe(exported);

    const eventsBefore = (await auditActions(target)).length;
    const second = await apply(target, { document: exported });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body).toEqual({ dry_run: false, changes: [], not_applied: [], hook_secrets: [] });
    expect((await auditActions(target)).length).toBe(eventsBefore);

    // The applied secret is the one the upstream wants, and the applied policy lets the agent
    // call the tool it names: the run goes through.
    const tools = await server.request("GET", `/orgs/${target.id}/tools/?q=glossary`, {
      token: target.owner.token,
    });
    const agents = await server.request("GET", `/orgs/${target.id}/agents/`, {
      token: target.owner.token,
    });
    const run = await server.request("POST", `/tools/${tools.body.results[0].id}/run/`, {
      token: target.owner.token,
      body: { agent_id: agents.body.results[0].id, input: { text: "hello" } },
    });
    expect(run.body.status, JSON.stringify(run.body)).toBe("succeeded");
    expect(JSON.stringify(run.body.output)).toContain("lookup: hello");
  });

  it("a dry run reports the changes and keeps nothing", async () => {
    const target = await createOrg(server);
    const dry = await apply(target, {
      document: exported,
      secrets: { [SECRET_NAME]: `Bearer ${UPSTREAM_TOKEN}` },
      dry_run: true,
    });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.dry_run).toBe(true);
    expect(dry.body.changes).toContainEqual({
      resource: "connection",
      name: "Upstream",
      action: "create",
      fields: [],
    });
    // The tools wait for the sync a real apply makes.
    expect(dry.body.not_applied.map((entry) => entry.path)).toContain("connections[0].tools[0]");
    const after = await exportConfig(target);
    expect(after.body.document).not.toContain("Upstream");
    expect(await auditActions(target)).toEqual(["org.create"]);
  });

  it("updates only what differs, and prunes only when asked (policy deletes audited)", async () => {
    const target = await createOrg(server);
    const secrets = { [SECRET_NAME]: `Bearer ${UPSTREAM_TOKEN}` };
    expect((await apply(target, { document: exported, secrets })).status).toBe(200);

    // Edited: one policy dropped, the agent disabled, a description changed.
    const edited = exported
      .replace(/ {2}- name: support may look up[\s\S]*?enabled: true\n/, "")
      .replace("status: active", "status: disabled")
      .replace("description: Live traffic", "description: Production traffic");
    expect(edited).not.toBe(exported);
    const kept = await apply(target, { document: edited });
    expect(kept.status, JSON.stringify(kept.body)).toBe(200);
    expect(kept.body.changes).toEqual([
      { resource: "environment", name: "production", action: "update", fields: ["description"] },
      { resource: "agent", name: "support-bot", action: "update", fields: ["status"] },
    ]);

    const pruned = await apply(target, { document: edited, prune: true });
    expect(pruned.status, JSON.stringify(pruned.body)).toBe(200);
    expect(pruned.body.changes).toEqual([
      { resource: "policy", name: "support may look up", action: "delete", fields: [] },
    ]);
    expect(await auditActions(target)).toContain("policy.delete");
    expect((await exportConfig(target)).body.document).toBe(edited);

    // Pruning to an empty document removes everything, policies before what they name.
    const empty = await apply(target, {
      document: "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\n",
      prune: true,
    });
    expect(empty.status, JSON.stringify(empty.body)).toBe(200);
    expect(empty.body.changes.map((change) => `${change.action} ${change.resource}`)).toEqual([
      "update settings",
      "delete policy",
      "delete policy",
      "delete policy",
      "delete agent",
      "delete connection",
      "delete environment",
    ]);
  });

  it("keeps a stored secret when the request gives no value, and asks for one it cannot keep", async () => {
    const target = await createOrg(server);
    const missing = await apply(target, { document: exported });
    expect(missing.status).toBe(400);
    expect(missing.body.issues).toEqual([
      {
        path: "connections.0.secrets.headers.Authorization",
        message: expect.stringContaining(`Secret "${SECRET_NAME}" is required`),
      },
    ]);
    // The source org keeps its own stored value: applying its own export changes nothing.
    const same = await apply(source, { document: exported });
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(same.body.changes).toEqual([]);
    // A new value is a change of the secret, named but never shown.
    const rotated = await apply(source, {
      document: exported,
      secrets: { [SECRET_NAME]: `Bearer ${UPSTREAM_TOKEN}` },
    });
    expect(rotated.body.changes).toEqual([]);
    const unknown = await apply(source, { document: exported, secrets: { "typo.name": "x" } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issues?.[0]?.path).toBe("secrets.typo.name");
  });

  it("refuses hostile and broken documents with a 400 naming the place", async () => {
    const target = await createOrg(server);
    const bomb = [
      "apiVersion: mcp-agents.dev/v1",
      "kind: OrgConfig",
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]",
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]",
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]",
      "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]",
    ].join("\n");
    const cases: { document: string; path: string; message: RegExp }[] = [
      { document: bomb, path: "document", message: /alias/i },
      { document: "[".repeat(5000) + "]".repeat(5000), path: "document", message: /deeper/ },
      { document: "a: 1\na: 2\n", path: "document", message: /unique/i },
      { document: "- just\n- a list\n", path: "document", message: /mapping/ },
      {
        document: "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\nsetings: {}\n",
        path: "",
        message: /setings/,
      },
      {
        document: "apiVersion: v0\nkind: OrgConfig\n",
        path: "apiVersion",
        message: /mcp-agents.dev\/v1/,
      },
      {
        document:
          "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\npolicies:\n  - name: p\n    effect: maybe\n    tool_pattern: x\n",
        path: "policies.0.effect",
        message: /allow/,
      },
      {
        document:
          "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\npolicies:\n  - name: p\n    effect: allow\n    tool_pattern: x\n    agent: support-bot\n",
        path: "policies.0.agent",
        message: /No agent named "support-bot"/,
      },
      {
        // A member of another org is nobody here.
        document: `apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\npolicies:\n  - name: p\n    effect: allow\n    tool_pattern: x\n    user: ${source.owner.email}\n`,
        path: "policies.0.user",
        message: /No member/,
      },
      {
        document:
          "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\npolicies:\n  - name: p\n    effect: allow\n    tool_pattern: x\n    subject: everyone\n    min_role: admin\n",
        path: "policies.0.min_role",
        message: /everyone/,
      },
      {
        document:
          "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\nagents:\n  - name: a\n  - name: a\n",
        path: "agents.1.name",
        message: /already used by agents\[0\]/,
      },
      {
        document:
          "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\nconnections:\n  - name: c\n    transport: streamable_http\n    url: http://127.0.0.1:1/mcp\n    headers: { Host: evil }\n",
        path: "connections.0.headers.Host",
        message: /managed by the HTTP client/,
      },
      {
        document:
          "apiVersion: mcp-agents.dev/v1\nkind: OrgConfig\nconnections:\n  - name: c\n    transport: streamable_http\n    url: http://127.0.0.1:1/mcp\n    secrets:\n      headers:\n        Authorization: Bearer literal-value\n",
        path: "connections.0.secrets.headers.Authorization",
        message: /object/i,
      },
    ];
    for (const { document, path, message } of cases) {
      const response = await apply(target, { document });
      expect(response.status, `${document.slice(0, 60)}: ${JSON.stringify(response.body)}`).toBe(
        400,
      );
      expect(response.body.issues?.[0]?.path, document.slice(0, 60)).toBe(path);
      expect(response.body.message).toMatch(message);
    }
    // Nothing of another org's leaks in: the refusals above left the org empty.
    expect(await auditActions(target)).toEqual(["org.create"]);
  });

  it("names a member a policy is for by e-mail, and round-trips it", async () => {
    const target = await createOrg(server);
    const document = [
      "apiVersion: mcp-agents.dev/v1",
      "kind: OrgConfig",
      "policies:",
      "  - name: owner may write",
      "    effect: allow",
      `    user: ${target.owner.email.toUpperCase()}`,
      "    tool_pattern: write_*",
      "",
    ].join("\n");
    const applied = await apply(target, { document });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    const policies = await server.request("GET", `/orgs/${target.id}/policies/`, {
      token: target.owner.token,
    });
    expect(policies.body.results[0]).toMatchObject({ subject: "user", user_id: target.owner.id });
    const again = (await exportConfig(target)).body.document;
    expect(again).toContain(`subject: user\n    user: ${target.owner.email}\n`);
    expect((await apply(target, { document: again })).body.changes).toEqual([]);
  });

  it("export and apply are for admins only", async () => {
    for (const role of ["viewer", "member"]) {
      const user = await addMember(server, source, role);
      expect((await exportConfig(source, user.token)).status).toBe(403);
      expect((await apply(source, { document: exported, dry_run: true }, user.token)).status).toBe(
        403,
      );
    }
    const admin = await addMember(server, source, "admin");
    expect((await exportConfig(source, admin.token)).body.document).toBe(exported);
  });

  it("exports and applies from the command line with an API token", async () => {
    const folder = mkdtempSync(join(tmpdir(), "config-cli-"));
    const target = await createOrg(server);
    const tokenOf = async (org: TestOrg) =>
      (
        await server.request("POST", `/orgs/${org.id}/api-tokens/`, {
          token: org.owner.token,
          body: { name: "config", role: "admin" },
        })
      ).body.token as string;
    // What `pnpm config:export` / `config:apply` run, without pnpm's start-up.
    const cli = (args: string[], token: string) =>
      run("node_modules/.bin/tsx", ["src/cli/config.ts", ...args], {
        cwd: SDK_DIR,
        env: {
          ...process.env,
          MCP_AGENTS_URL: server.url,
          MCP_AGENTS_TOKEN: token,
          MCP_AGENTS_SECRETS: "secrets.json",
          INIT_CWD: folder,
        },
      });
    const failed = (promise: Promise<unknown>) =>
      promise.then(
        () => null,
        (error: unknown) => error as { code: number; stdout: string; stderr: string },
      );

    const exportedByCli = await cli(["export", "--org", source.id], await tokenOf(source));
    expect(exportedByCli.stdout).toBe(exported);
    writeFileSync(join(folder, "org.yaml"), exportedByCli.stdout);

    const targetToken = await tokenOf(target);
    writeFileSync(join(folder, "secrets.json"), "{}");
    const refused = await failed(cli(["apply", "--org", target.id, "org.yaml"], targetToken));
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain("connections.0.secrets.headers.Authorization");

    writeFileSync(
      join(folder, "secrets.json"),
      JSON.stringify({ [SECRET_NAME]: `Bearer ${UPSTREAM_TOKEN}` }),
    );
    const dry = await cli(["apply", "--org", target.id, "--dry-run", "org.yaml"], targetToken);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true });
    const applied = await cli(["apply", "--org", target.id, "org.yaml"], targetToken);
    expect(JSON.parse(applied.stdout)).toMatchObject({ dry_run: false, not_applied: [] });
    await cli(["export", "--org", target.id, "--out", "again.yaml"], targetToken);
    expect(readFileSync(join(folder, "again.yaml"), "utf8")).toBe(exported);
    const usage = await failed(cli(["apply", "org.yaml"], targetToken));
    expect(usage?.code).toBe(2);
  }, 600_000);
});
