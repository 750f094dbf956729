import { describe, expect, it } from "vitest";
import type { JsonObject } from "../db/schema";
import type { PolicyCall, PolicyCallTarget, PolicyRule } from "./evaluate";
import {
  evaluatePolicies,
  evaluatePoliciesOffLoop,
  isValidToolPattern,
  policyCouldAllow,
  toolPatternMatches,
} from "./evaluate";

const AGENT_A = "0190a000-0000-7000-8000-00000000000a";
const AGENT_B = "0190a000-0000-7000-8000-00000000000b";
const PROD = "0190e000-0000-7000-8000-0000000000e1";
const STAGING = "0190e000-0000-7000-8000-0000000000e2";
const TOOL_ID = "0190f000-0000-7000-8000-0000000000f1";

let seq = 0;
function policy(overrides: Partial<PolicyRule> & Pick<PolicyRule, "name">): PolicyRule {
  seq += 1;
  return {
    id: `p-${seq}`,
    effect: "allow",
    // Without an agent, a policy covers everyone, as policies did before subjects.
    subject: overrides.agent_id ? "agent" : "everyone",
    agent_id: null,
    user_id: null,
    min_role: null,
    target: "tool",
    tool_pattern: "*",
    environment_id: null,
    input_schema: null,
    rate_limit: null,
    approver_role: null,
    approval_timeout_seconds: null,
    enabled: true,
    ...overrides,
  };
}

function call(overrides: Partial<PolicyCall> = {}): PolicyCall {
  return {
    agent_id: AGENT_A,
    tool: { id: TOOL_ID, name: "github_create_issue" },
    environment_id: null,
    input: {},
    ...overrides,
  };
}

const tool = (name: string, id = TOOL_ID) => ({ id, name });

const branchSchema: JsonObject = {
  type: "object",
  required: ["branch"],
  properties: { branch: { type: "string", pattern: "^feature/" } },
};
const forceSchema: JsonObject = {
  type: "object",
  required: ["force"],
  properties: { force: { const: true } },
};
/** Linear, but pattern size × length: an input of 10,000 characters is over the budget. */
const heavyPatternSchema: JsonObject = {
  type: "object",
  properties: { s: { type: "string", pattern: "a[ab]{200}c" } },
};

interface Case {
  name: string;
  policies: PolicyRule[];
  call: PolicyCall;
  allowed: boolean;
  reason: string | RegExp;
  matched?: string[];
}

const cases: Case[] = [
  {
    name: "denies by default when there are no policies",
    policies: [],
    call: call(),
    allowed: false,
    reason: `No allow policy matches tool 'github_create_issue' for agent ${AGENT_A}`,
    matched: [],
  },
  {
    name: "allows any agent with an agent-less allow policy",
    policies: [policy({ name: "allow-all" })],
    call: call({ agent_id: AGENT_B }),
    allowed: true,
    reason: "Allowed by policy 'allow-all'",
    matched: ["allow-all"],
  },
  {
    name: "applies agent-less policies to people running tools directly",
    policies: [policy({ name: "allow-all" })],
    call: call({ agent_id: null }),
    allowed: true,
    reason: "Allowed by policy 'allow-all'",
  },
  {
    name: "allows the named agent",
    policies: [policy({ name: "only-a", agent_id: AGENT_A })],
    call: call({ agent_id: AGENT_A }),
    allowed: true,
    reason: "Allowed by policy 'only-a'",
  },
  {
    name: "does not apply an agent's policy to another agent",
    policies: [policy({ name: "only-a", agent_id: AGENT_A })],
    call: call({ agent_id: AGENT_B }),
    allowed: false,
    reason: `No allow policy matches tool 'github_create_issue' for agent ${AGENT_B}`,
    matched: [],
  },
  {
    name: "does not apply an agent's policy to calls without an agent",
    policies: [policy({ name: "only-a", agent_id: AGENT_A })],
    call: call({ agent_id: null }),
    allowed: false,
    reason: "No allow policy matches tool 'github_create_issue' for calls without an agent",
  },
  {
    name: "lets deny win over allow",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "no-github", effect: "deny", tool_pattern: "github_*" }),
    ],
    call: call(),
    allowed: false,
    reason: "Denied by policy 'no-github'",
    matched: ["allow-all", "no-github"],
  },
  {
    name: "lists every deny policy that matched",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "deny-a", effect: "deny", agent_id: AGENT_A }),
      policy({ name: "deny-star", effect: "deny" }),
    ],
    call: call(),
    allowed: false,
    reason: "Denied by policies 'deny-a', 'deny-star'",
  },
  {
    name: "lets a deny for one agent leave others alone",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "deny-b", effect: "deny", agent_id: AGENT_B }),
    ],
    call: call({ agent_id: AGENT_A }),
    allowed: true,
    reason: "Allowed by policy 'allow-all'",
    matched: ["allow-all"],
  },
  {
    name: "ignores disabled allow policies",
    policies: [policy({ name: "off", enabled: false })],
    call: call(),
    allowed: false,
    reason: /^No allow policy matches/,
    matched: [],
  },
  {
    name: "ignores disabled deny policies",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "off", effect: "deny", enabled: false }),
    ],
    call: call(),
    allowed: true,
    reason: "Allowed by policy 'allow-all'",
    matched: ["allow-all"],
  },
  {
    name: "names every allow policy that matched",
    policies: [policy({ name: "one" }), policy({ name: "two", tool_pattern: "github_*" })],
    call: call(),
    allowed: true,
    reason: "Allowed by policies 'one', 'two'",
  },
  // Glob patterns.
  ...(
    [
      ["*", "anything.at/all:v2", true],
      ["*", ".hidden", true],
      ["github_*", "github_create_issue", true],
      ["github_*", "github_repos/list.all", true],
      ["github_*", "gitlab_create_issue", false],
      ["github_*", "my_github_tool", false],
      ["*_read", "files_read", true],
      ["*_read", "fs/files.v2_read", true],
      ["*_read", "files_read_all", false],
      ["*_read", "files_write", false],
      ["files.read", "files.read", true],
      ["files.read", "filesXread", false],
      ["server/*", "server/tools/list", true],
      ["server/*", "other/tools", false],
      ["srv:*", "srv:tool", true],
      ["*.delete", "db.users.delete", true],
      ["*.delete", "db.users.delete_soft", false],
      ["GitHub_*", "github_create_issue", false],
      ["github_create_issue", "github_create_issue", true],
      ["github_create_issue", "github_create_issue_v2", false],
    ] as const
  ).map(([pattern, name, allowed]): Case => ({
    name: `glob '${pattern}' ${allowed ? "matches" : "does not match"} '${name}'`,
    policies: [policy({ name: "glob", tool_pattern: pattern })],
    call: call({ tool: tool(name) }),
    allowed,
    reason: allowed
      ? "Allowed by policy 'glob'"
      : `No allow policy matches tool '${name}' for agent ${AGENT_A}`,
  })),
  {
    name: "matches a tool id pattern exactly",
    policies: [policy({ name: "by-id", tool_pattern: TOOL_ID })],
    call: call({ tool: tool("renamed_tool", TOOL_ID) }),
    allowed: true,
    reason: "Allowed by policy 'by-id'",
  },
  {
    name: "does not match a different tool id",
    policies: [policy({ name: "by-id", tool_pattern: TOOL_ID })],
    call: call({ tool: tool("renamed_tool", "0190f000-0000-7000-8000-0000000000f2") }),
    allowed: false,
    reason: /^No allow policy matches tool 'renamed_tool'/,
  },
  {
    name: "denies by tool id even when the name changes",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "deny-id", effect: "deny", tool_pattern: TOOL_ID }),
    ],
    call: call({ tool: tool("anything", TOOL_ID) }),
    allowed: false,
    reason: "Denied by policy 'deny-id'",
  },
  // Environment scoping.
  {
    name: "applies an environment policy inside its environment",
    policies: [policy({ name: "prod-only", environment_id: PROD })],
    call: call({ environment_id: PROD }),
    allowed: true,
    reason: "Allowed by policy 'prod-only'",
  },
  {
    name: "does not apply an environment policy elsewhere",
    policies: [policy({ name: "prod-only", environment_id: PROD })],
    call: call({ environment_id: STAGING }),
    allowed: false,
    reason: `No allow policy matches tool 'github_create_issue' for agent ${AGENT_A} in environment ${STAGING}`,
  },
  {
    name: "does not apply an environment policy to calls outside any environment",
    policies: [policy({ name: "prod-only", environment_id: PROD })],
    call: call({ environment_id: null }),
    allowed: false,
    reason: /^No allow policy matches/,
  },
  {
    name: "applies environment-less policies in every environment",
    policies: [policy({ name: "anywhere" })],
    call: call({ environment_id: STAGING }),
    allowed: true,
    reason: "Allowed by policy 'anywhere'",
  },
  {
    name: "scopes a deny to its environment",
    policies: [
      policy({ name: "allow-all" }),
      policy({
        name: "no-prod-writes",
        effect: "deny",
        tool_pattern: "*_write",
        environment_id: PROD,
      }),
    ],
    call: call({ environment_id: STAGING, tool: tool("db_write") }),
    allowed: true,
    reason: "Allowed by policy 'allow-all'",
  },
  {
    name: "denies in the deny's environment",
    policies: [
      policy({ name: "allow-all" }),
      policy({
        name: "no-prod-writes",
        effect: "deny",
        tool_pattern: "*_write",
        environment_id: PROD,
      }),
    ],
    call: call({ environment_id: PROD, tool: tool("db_write") }),
    allowed: false,
    reason: "Denied by policy 'no-prod-writes'",
  },
  // Input schemas.
  {
    name: "allows when the input satisfies an allow policy's schema",
    policies: [policy({ name: "feature-branches", input_schema: branchSchema })],
    call: call({ input: { branch: "feature/x" } }),
    allowed: true,
    reason: "Allowed by policy 'feature-branches'",
  },
  {
    name: "explains which part of the input an allow policy rejected",
    policies: [policy({ name: "feature-branches", input_schema: branchSchema })],
    call: call({ input: { branch: "main" } }),
    allowed: false,
    reason: `Input does not satisfy policy 'feature-branches': /branch must match pattern "^feature/"`,
    matched: [],
  },
  {
    name: "explains a missing property and a wrong root type",
    policies: [
      policy({ name: "feature-branches", input_schema: branchSchema }),
      policy({ name: "object-only", input_schema: { type: "object" } }),
    ],
    call: call({ input: "main" }),
    allowed: false,
    reason:
      "Input does not satisfy policy 'feature-branches' (and 1 other policy): input must be object",
  },
  {
    name: "prefers a plain allow over a schema mismatch",
    policies: [
      policy({ name: "feature-branches", input_schema: branchSchema }),
      policy({ name: "allow-all" }),
    ],
    call: call({ input: { branch: "main" } }),
    allowed: true,
    reason: "Allowed by policy 'allow-all'",
    matched: ["allow-all"],
  },
  {
    name: "denies when the input satisfies a deny policy's schema",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "no-force", effect: "deny", input_schema: forceSchema }),
    ],
    call: call({ input: { force: true } }),
    allowed: false,
    reason: "Denied by policy 'no-force'",
  },
  {
    name: "does not deny when the input does not satisfy a deny policy's schema",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "no-force", effect: "deny", input_schema: forceSchema }),
    ],
    call: call({ input: { force: false } }),
    allowed: true,
    reason: "Allowed by policy 'allow-all'",
    matched: ["allow-all"],
  },
  {
    name: "keeps denying when a deny policy's schema is broken (fail closed)",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "broken", effect: "deny", input_schema: { type: 12 } }),
    ],
    call: call(),
    allowed: false,
    reason:
      /^Denied by policy 'broken' \('broken' applies to this input because its input schema is invalid: Invalid JSON Schema: \/type must be/,
  },
  {
    name: "does not allow through an allow policy whose schema is broken",
    policies: [policy({ name: "broken", input_schema: { type: 12 } })],
    call: call(),
    allowed: false,
    reason:
      /^Policy 'broken' does not apply because its input schema is invalid: Invalid JSON Schema: \/type must be/,
  },
  {
    name: "names the limit when a deny policy's schema cannot check an input that large",
    policies: [
      policy({ name: "allow-all" }),
      policy({ name: "heavy", effect: "deny", input_schema: heavyPatternSchema }),
    ],
    call: call({ input: { s: "ab".repeat(5000) } }),
    allowed: false,
    reason:
      /^Denied by policy 'heavy' \('heavy' applies to this input because its input schema cannot check this input: Value too large to check: .*too long to check/,
  },
  {
    name: "names the limit when an allow policy's schema cannot check an input that large",
    policies: [policy({ name: "heavy", input_schema: heavyPatternSchema })],
    call: call({ input: { s: "ab".repeat(5000) } }),
    allowed: false,
    reason:
      /^Policy 'heavy' does not apply because its input schema cannot check this input: Value too large to check/,
  },
];

describe("policies allow/deny", () => {
  it.each(cases)("$name", async ({ policies, call: c, allowed, reason, matched }) => {
    const decision = evaluatePolicies(policies, c);
    expect(decision.allowed).toBe(allowed);
    if (typeof reason === "string") expect(decision.reason).toBe(reason);
    else expect(decision.reason).toMatch(reason);
    if (matched) expect(decision.matched.map((m) => m.name)).toEqual(matched);
    // Decisions are stored as JSON; they must survive the round trip unchanged.
    expect(JSON.parse(JSON.stringify(decision))).toEqual(decision);
    // Checked off the event loop, the decision is the same.
    expect(await evaluatePoliciesOffLoop(policies, c)).toEqual(decision);
  });

  it("returns the full decision shape", () => {
    const allow = policy({
      name: "allow-github",
      tool_pattern: "github_*",
      rate_limit: { max_calls: 10, per_seconds: 60 },
    });
    const other = policy({ name: "allow-all" });
    const schemaMiss = policy({ name: "feature-branches", input_schema: branchSchema });
    const decision = evaluatePolicies(
      [allow, other, schemaMiss],
      call({ input: { branch: "main" } }),
    );
    expect(decision).toEqual({
      allowed: true,
      reason: "Allowed by policies 'allow-github', 'allow-all'",
      matched: [
        { policy_id: allow.id, name: "allow-github", effect: "allow" },
        { policy_id: other.id, name: "allow-all", effect: "allow" },
      ],
      allow_policies: [allow.id, other.id],
      deny_policies: [],
      approval_policies: [],
      input_mismatches: [
        {
          policy_id: schemaMiss.id,
          name: "feature-branches",
          issues: [{ path: ["branch"], message: 'must match pattern "^feature/"' }],
        },
      ],
      rate_limited_by: [
        { policy_id: allow.id, name: "allow-github", max_calls: 10, per_seconds: 60 },
      ],
    });
  });

  it("reports no rate limits to consume when the call is denied", () => {
    const limited = policy({ name: "limited", rate_limit: { max_calls: 1, per_seconds: 1 } });
    const deny = policy({ name: "deny", effect: "deny" });
    const decision = evaluatePolicies([limited, deny], call());
    expect(decision.allowed).toBe(false);
    expect(decision.allow_policies).toEqual([limited.id]);
    expect(decision.deny_policies).toEqual([deny.id]);
    expect(decision.rate_limited_by).toEqual([]);
  });

  it("validates input only for policies that otherwise match, using the injected validator", () => {
    const seen: string[] = [];
    const validate = (schema: unknown) => {
      seen.push(JSON.stringify(schema));
      return { valid: true as const };
    };
    evaluatePolicies(
      [
        policy({ name: "other-agent", agent_id: AGENT_B, input_schema: { title: "b" } }),
        policy({ name: "mine", input_schema: { title: "mine" } }),
        policy({ name: "disabled", enabled: false, input_schema: { title: "off" } }),
      ],
      call(),
      validate,
    );
    expect(seen).toEqual(['{"title":"mine"}']);
  });

  describe("policyCouldAllow", () => {
    const target = (overrides: Partial<PolicyCallTarget> = {}): PolicyCallTarget => ({
      agent_id: AGENT_A,
      tool: tool("github_create_issue"),
      environment_id: PROD,
      ...overrides,
    });

    it.each<[string, PolicyRule[], PolicyCallTarget, boolean]>([
      ["no policies", [], target(), false],
      ["an allow-all policy", [policy({ name: "a" })], target(), true],
      ["an allow for another agent", [policy({ name: "a", agent_id: AGENT_B })], target(), false],
      [
        "an allow for another environment",
        [policy({ name: "a", environment_id: STAGING })],
        target(),
        false,
      ],
      [
        "an allow for another tool",
        [policy({ name: "a", tool_pattern: "slack_*" })],
        target(),
        false,
      ],
      ["a disabled allow", [policy({ name: "a", enabled: false })], target(), false],
      [
        "an allow with an input schema",
        [policy({ name: "a", input_schema: branchSchema })],
        target(),
        true,
      ],
      [
        "an allow with a rate limit",
        [policy({ name: "a", rate_limit: { max_calls: 0, per_seconds: 60 } })],
        target(),
        true,
      ],
      [
        "an unconditional deny",
        [policy({ name: "a" }), policy({ name: "d", effect: "deny", tool_pattern: "github_*" })],
        target(),
        false,
      ],
      [
        "a deny with an empty input schema (matches every input)",
        [policy({ name: "a" }), policy({ name: "d", effect: "deny", input_schema: {} })],
        target(),
        false,
      ],
      [
        "a conditional deny",
        [policy({ name: "a" }), policy({ name: "d", effect: "deny", input_schema: forceSchema })],
        target(),
        true,
      ],
      [
        "a deny for another agent",
        [policy({ name: "a" }), policy({ name: "d", effect: "deny", agent_id: AGENT_B })],
        target(),
        true,
      ],
      [
        "a disabled deny",
        [policy({ name: "a" }), policy({ name: "d", effect: "deny", enabled: false })],
        target(),
        true,
      ],
      ["an allow by tool id", [policy({ name: "a", tool_pattern: TOOL_ID })], target(), true],
      [
        "an agent-less allow for a person",
        [policy({ name: "a" })],
        target({ agent_id: null }),
        true,
      ],
    ])("%s → %s", (_name, policies, t, expected) => {
      expect(policyCouldAllow(policies, t)).toBe(expected);
    });
  });
});

describe("tool patterns", () => {
  it("matches ids exactly and globs over names", () => {
    expect(toolPatternMatches(TOOL_ID, tool("x"))).toBe(true);
    expect(toolPatternMatches("*", tool("a/b.c:d"))).toBe(true);
    expect(toolPatternMatches("", tool(""))).toBe(true);
    expect(toolPatternMatches("", tool("x"))).toBe(false);
  });

  it("validates patterns", () => {
    expect(isValidToolPattern("github_*")).toBe(true);
    expect(isValidToolPattern(TOOL_ID)).toBe(true);
    expect(isValidToolPattern("")).toBe(false);
    expect(isValidToolPattern("   ")).toBe(false);
  });
});

describe("policy target kinds", () => {
  const prompt = (name: string): PolicyCall => call({ kind: "prompt", tool: { id: name, name } });
  const resource = (uri: string): PolicyCall =>
    call({ kind: "resource", tool: { id: uri, name: uri } });

  it("applies tool policies to tools only, so prompts and resources stay denied by default", () => {
    const allowAllTools = [policy({ name: "all-tools" })];
    expect(evaluatePolicies(allowAllTools, call()).allowed).toBe(true);
    expect(evaluatePolicies(allowAllTools, prompt("greeting")).allowed).toBe(false);
    const decision = evaluatePolicies(allowAllTools, resource("test://readme"));
    expect(decision).toMatchObject({ allowed: false, matched: [] });
    expect(decision.reason).toBe(
      `No allow policy matches resource 'test://readme' for agent ${AGENT_A}`,
    );
  });

  it("matches a prompt name glob and a resource URI glob across slashes, deny winning", () => {
    const policies = [
      policy({ name: "greetings", target: "prompt", tool_pattern: "greet*" }),
      policy({ name: "docs", target: "resource", tool_pattern: "test://docs/*" }),
      policy({ name: "no-secrets", effect: "deny", target: "resource", tool_pattern: "*secret*" }),
    ];
    expect(evaluatePolicies(policies, prompt("greeting")).allowed).toBe(true);
    expect(evaluatePolicies(policies, prompt("farewell")).allowed).toBe(false);
    expect(evaluatePolicies(policies, resource("test://docs/a/b.md")).allowed).toBe(true);
    expect(evaluatePolicies(policies, resource("test://docs/secret.md")).allowed).toBe(false);
    expect(evaluatePolicies(policies, resource("test://readme")).allowed).toBe(false);
    // A prompt or resource policy never opens a tool of the same name.
    expect(evaluatePolicies(policies, call({ tool: tool("greeting") })).allowed).toBe(false);
    expect(policyCouldAllow(policies, prompt("greeting"))).toBe(true);
    expect(policyCouldAllow(policies, resource("test://docs/secret.md"))).toBe(false);
  });

  describe("require_approval", () => {
    const approval = (overrides: Partial<PolicyRule> = {}) =>
      policy({
        name: `approve-${seq}`,
        effect: "require_approval",
        approver_role: "admin",
        approval_timeout_seconds: 600,
        ...overrides,
      });

    it("allows a call once approved, alone or beside an allow policy, and names who decides", () => {
      const needsAdmin = approval({ name: "needs-admin" });
      const alone = evaluatePolicies([needsAdmin], call());
      expect(alone).toMatchObject({
        allowed: true,
        approval_policies: [needsAdmin.id],
        approval: {
          policy_id: needsAdmin.id,
          name: "needs-admin",
          approver_role: "admin",
          timeout_seconds: 600,
        },
      });
      expect(alone.reason).toBe(
        "Allowed once approved: policy 'needs-admin' requires approval by an admin (or higher) within 600 s",
      );
      const beside = evaluatePolicies([policy({ name: "allow-all" }), needsAdmin], call());
      expect(beside.approval?.policy_id).toBe(needsAdmin.id);
      expect(policyCouldAllow([needsAdmin], call())).toBe(true);
    });

    it("is overruled by a deny, and asks nothing of a call it does not cover", () => {
      const decision = evaluatePolicies(
        [approval(), policy({ name: "deny-all", effect: "deny" })],
        call(),
      );
      expect(decision).toMatchObject({ allowed: false });
      expect(decision.approval).toBeUndefined();
      const elsewhere = evaluatePolicies(
        [policy({ name: "allow-all" }), approval({ tool_pattern: "github_*" })],
        call({ tool: tool("slack_post") }),
      );
      expect(elsewhere).toMatchObject({ allowed: true, approval_policies: [] });
      expect(elsewhere.approval).toBeUndefined();
    });

    it("applies when its input schema matches only, and still applies when the schema is broken", () => {
      const big = approval({
        name: "big-amounts",
        input_schema: { properties: { amount: { minimum: 1000 } } },
      });
      const allowAll = policy({ name: "allow-all" });
      expect(
        evaluatePolicies([allowAll, big], call({ input: { amount: 5 } })).approval,
      ).toBeUndefined();
      expect(
        evaluatePolicies([allowAll, big], call({ input: { amount: 5000 } })).approval?.name,
      ).toBe("big-amounts");
      const broken = approval({ name: "broken", input_schema: { type: "no-such-type" } });
      expect(evaluatePolicies([allowAll, broken], call()).approval?.name).toBe("broken");
    });

    it("takes the strictest of several: the highest approver role, then the shortest timeout", () => {
      const member = approval({
        name: "member",
        approver_role: "member",
        approval_timeout_seconds: 60,
      });
      const owner = approval({
        name: "owner",
        approver_role: "owner",
        approval_timeout_seconds: 900,
      });
      const ownerQuick = approval({
        name: "owner-quick",
        approver_role: "owner",
        approval_timeout_seconds: 300,
      });
      expect(evaluatePolicies([member, owner, ownerQuick], call()).approval?.name).toBe(
        "owner-quick",
      );
    });
  });
});

describe("policy subjects", () => {
  const ALICE = "0190b000-0000-7000-8000-0000000000a1";
  const BOB = "0190b000-0000-7000-8000-0000000000b2";
  const person = (user_id: string | null, role: "viewer" | "member" | "admin" | "owner") =>
    call({ agent_id: null, person: { user_id, role } });

  it("a role policy allows people with at least that role, and never an agent", () => {
    const policies = [policy({ name: "admins", subject: "role", min_role: "admin" })];
    expect(evaluatePolicies(policies, person(ALICE, "admin")).allowed).toBe(true);
    expect(evaluatePolicies(policies, person(ALICE, "owner")).allowed).toBe(true);
    const member = evaluatePolicies(policies, person(ALICE, "member"));
    expect(member.allowed).toBe(false);
    expect(member.reason).toBe(
      `No allow policy matches tool 'github_create_issue' for user ${ALICE} (member)`,
    );
    // An agent's call (even one an admin makes as the agent) is not a person's.
    expect(evaluatePolicies(policies, call({ agent_id: AGENT_A })).allowed).toBe(false);
    // An API token counts with its role, and without a user.
    expect(evaluatePolicies(policies, person(null, "admin")).allowed).toBe(true);
    expect(evaluatePolicies(policies, person(null, "member")).reason).toContain(
      "an API token with the member role",
    );
    // A call with no known caller is covered by no person policy.
    expect(evaluatePolicies(policies, call({ agent_id: null })).allowed).toBe(false);
  });

  it("a user policy covers that member's own calls only", () => {
    const policies = [policy({ name: "alice", subject: "user", user_id: ALICE })];
    expect(evaluatePolicies(policies, person(ALICE, "viewer")).allowed).toBe(true);
    expect(evaluatePolicies(policies, person(BOB, "owner")).allowed).toBe(false);
    expect(evaluatePolicies(policies, person(null, "admin")).allowed).toBe(false);
    expect(evaluatePolicies(policies, call({ agent_id: AGENT_A })).allowed).toBe(false);
  });

  it("an agent subject without an agent covers every agent and no person", () => {
    const policies = [policy({ name: "agents", subject: "agent" })];
    expect(evaluatePolicies(policies, call({ agent_id: AGENT_B })).allowed).toBe(true);
    expect(evaluatePolicies(policies, person(ALICE, "owner")).allowed).toBe(false);
  });

  it("everyone covers agents and people; any matching deny still wins over every subject", () => {
    const allowAdmins = policy({ name: "admins", subject: "role", min_role: "admin" });
    const denyEveryone = policy({ name: "no-delete", effect: "deny", tool_pattern: "*_issue" });
    const decision = evaluatePolicies([allowAdmins, denyEveryone], person(ALICE, "owner"));
    expect(decision.allowed).toBe(false);
    expect(decision.deny_policies).toEqual([denyEveryone.id]);
    const denyAlice = policy({
      name: "not-alice",
      effect: "deny",
      subject: "user",
      user_id: ALICE,
    });
    expect(evaluatePolicies([allowAdmins, denyAlice], person(ALICE, "admin")).allowed).toBe(false);
    expect(evaluatePolicies([allowAdmins, denyAlice], person(BOB, "admin")).allowed).toBe(true);
  });

  it("policyCouldAllow follows subjects too", () => {
    const policies = [policy({ name: "admins", subject: "role", min_role: "admin" })];
    const target = { agent_id: AGENT_A, tool: tool("x"), environment_id: null };
    expect(policyCouldAllow(policies, target)).toBe(false);
    expect(
      policyCouldAllow(policies, {
        ...target,
        agent_id: null,
        person: { user_id: ALICE, role: "admin" },
      }),
    ).toBe(true);
  });
});
