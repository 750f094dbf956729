import { z } from "zod";
import {
  description,
  httpUrl,
  jsonObject,
  pageInput,
  queryBoolean,
  timestamp,
  trimmedName,
  uuid,
} from "./common";
import {
  GUARDRAIL_HOOK_TIMEOUT_DEFAULT_MS,
  GUARDRAIL_HOOK_TIMEOUT_MAX_MS,
  GUARDRAIL_HOOK_TIMEOUT_MIN_MS,
  REDACT_PATTERNS_MAX,
  REDACT_PATTERN_MAX_LENGTH,
} from "./limits";
import { ORG_ROLES, orgRole } from "./orgs";

export const rateLimit = z.object({
  max_calls: z.number().int().min(1, "At least 1").max(1_000_000),
  per_seconds: z
    .number()
    .int()
    .min(1, "At least 1 second")
    .max(30 * 24 * 3600, "At most 30 days"),
});

export const HOOK_FAIL_MODES = ["closed", "open"] as const;

export const guardrailHook = z.object({
  url: httpUrl.describe(
    "Where the signed POST goes; the same outbound rules as MCP connections apply",
  ),
  timeout_ms: z
    .number()
    .int()
    .min(GUARDRAIL_HOOK_TIMEOUT_MIN_MS, `At least ${GUARDRAIL_HOOK_TIMEOUT_MIN_MS} ms`)
    .max(GUARDRAIL_HOOK_TIMEOUT_MAX_MS, `At most ${GUARDRAIL_HOOK_TIMEOUT_MAX_MS} ms`)
    .default(GUARDRAIL_HOOK_TIMEOUT_DEFAULT_MS)
    .describe("How long the hook has to answer"),
  fail_mode: z
    .enum(HOOK_FAIL_MODES)
    .default("closed")
    .describe(
      "When the hook fails (timeout, error, non-2xx, malformed answer): closed denies the call, open allows it",
    ),
});
export type GuardrailHookDto = z.infer<typeof guardrailHook>;

export const redactPatterns = z
  .array(
    z
      .string()
      .min(1, "Must not be empty")
      .max(REDACT_PATTERN_MAX_LENGTH, `At most ${REDACT_PATTERN_MAX_LENGTH} characters`),
  )
  .max(REDACT_PATTERNS_MAX, `At most ${REDACT_PATTERNS_MAX} patterns`)
  .describe(
    "Regular expressions (ECMAScript syntax, run on RE2: no lookarounds or backreferences) whose matches in the results of calls this policy allows become [REDACTED]",
  );

export const POLICY_EFFECTS = ["allow", "deny", "require_approval"] as const;
/** Who may decide a require_approval policy's calls: a member or higher. */
export const APPROVER_ROLES = ["member", "admin", "owner"] as const;
export const APPROVAL_TIMEOUT_MIN_SECONDS = 10;
export const APPROVAL_TIMEOUT_MAX_SECONDS = 7 * 24 * 3600;
export const APPROVAL_TIMEOUT_DEFAULT_SECONDS = 3600;
const effect = z
  .enum(POLICY_EFFECTS)
  .describe(
    "allow; deny (wins over everything); require_approval: allowed once a person with at least approver_role approves the call within approval_timeout_seconds (tool policies only)",
  );
export const POLICY_SUBJECTS = ["agent", "user", "role", "everyone"] as const;
const policySubject = z
  .enum(POLICY_SUBJECTS)
  .describe(
    "Whose calls the policy governs: `agent` calls through an agent (agent_id, or any agent when null); `user` one member's own calls (user_id) from the SPA or REST; `role` the calls of members (and API tokens) with at least min_role; `everyone` agents and people alike",
  );
export const POLICY_TARGETS = ["tool", "prompt", "resource"] as const;
const policyTarget = z
  .enum(POLICY_TARGETS)
  .describe(
    "What the policy governs: tool calls, prompts (prompts/get) or resources (resources/read)",
  );
const PATTERN_DESCRIPTION =
  "For target `tool`: a glob over tool names (`github_*`) or a tool id; for `prompt`: a glob over prompt names; for `resource`: a glob over resource URIs (`file:///docs/*`). `*` spans any characters, `/` included";

export const policy = z.object({
  id: uuid,
  org_id: uuid,
  name: z.string(),
  description: z.string(),
  effect,
  subject: policySubject,
  agent_id: uuid.nullable().describe("For subject `agent`: the agent, or null for any agent"),
  user_id: uuid.nullable().describe("For subject `user`: the member"),
  min_role: orgRole.nullable().describe("For subject `role`: the least role a caller needs"),
  target: policyTarget,
  tool_pattern: z.string().describe(PATTERN_DESCRIPTION),
  environment_id: uuid.nullable().describe("null: any environment"),
  input_schema: jsonObject
    .nullable()
    .describe("The call's input must satisfy this JSON Schema for the policy to match"),
  rate_limit: rateLimit.nullable(),
  pre_call_hook: guardrailHook
    .nullable()
    .describe("Asked before a call this policy allows goes upstream: allow, deny or rewrite input"),
  post_call_hook: guardrailHook
    .nullable()
    .describe("Asked before the result of such a call is returned: allow, deny or rewrite output"),
  has_hook_secret: z
    .boolean()
    .describe("Whether the hooks' signing secret is set; it is only ever returned once"),
  redact_patterns: z.array(z.string()),
  approver_role: z
    .enum(ORG_ROLES)
    .nullable()
    .describe("For require_approval: the least role that may approve or deny its calls"),
  approval_timeout_seconds: z
    .number()
    .int()
    .nullable()
    .describe("For require_approval: how long a call waits for a decision before it is denied"),
  enabled: z.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type PolicyDto = z.infer<typeof policy>;

export const policyWithSecret = policy.extend({
  hook_secret: z
    .string()
    .optional()
    .describe(
      "The hooks' signing secret (whsec_…), present only when it was just made: the first hook a policy gets, or a rotation. Not shown again",
    ),
});

export const listPoliciesInput = pageInput.extend({
  agent_id: uuid.optional(),
  subject: policySubject.optional(),
  user_id: uuid.optional(),
  effect: z.enum(POLICY_EFFECTS).optional(),
  target: z.enum(POLICY_TARGETS).optional(),
  enabled: queryBoolean.optional(),
});

/** A policy's pattern over the target kind's names (or a tool id). */
export const policyPattern = z
  .string()
  .trim()
  .min(1, "Must not be empty")
  .max(200, "At most 200 characters")
  .describe(PATTERN_DESCRIPTION);

/** A require_approval policy's approver role, as the API and config documents take it. */
export const approverRole = z
  .enum(APPROVER_ROLES)
  .nullable()
  .optional()
  .describe("For require_approval (default admin): the least role that may decide its calls");

/** A require_approval policy's timeout, as the API and config documents take it. */
export const approvalTimeoutSeconds = z
  .number()
  .int()
  .min(APPROVAL_TIMEOUT_MIN_SECONDS, `At least ${APPROVAL_TIMEOUT_MIN_SECONDS} seconds`)
  .max(APPROVAL_TIMEOUT_MAX_SECONDS, "At most 7 days")
  .nullable()
  .optional()
  .describe(
    `For require_approval (default ${APPROVAL_TIMEOUT_DEFAULT_SECONDS}): seconds a call waits for a decision before it is denied`,
  );

const policyFields = {
  name: trimmedName,
  description: description.optional(),
  effect,
  subject: policySubject
    .optional()
    .describe(
      "Whose calls the policy governs. When left out, the fields given say: user_id → user, min_role → role, agent_id → agent, none of them → everyone",
    ),
  agent_id: uuid.nullable().optional().describe("For subject `agent`: the agent (null: any agent)"),
  user_id: uuid
    .nullable()
    .optional()
    .describe("For subject `user` (required): a member of the organization"),
  min_role: orgRole.nullable().optional().describe("For subject `role` (required)"),
  target: policyTarget.optional().describe("What the policy governs (default: tool)"),
  tool_pattern: policyPattern,
  environment_id: uuid.nullable().optional(),
  input_schema: jsonObject.nullable().optional(),
  rate_limit: rateLimit.nullable().optional(),
  pre_call_hook: guardrailHook.nullable().optional(),
  post_call_hook: guardrailHook.nullable().optional(),
  redact_patterns: redactPatterns.optional(),
  approver_role: approverRole,
  approval_timeout_seconds: approvalTimeoutSeconds,
  enabled: z.boolean().optional(),
};

export const createPolicyInput = z.object(policyFields);
export const updatePolicyInput = z.object(policyFields).partial();

export const policyDecision = z.object({
  allowed: z.boolean(),
  reason: z.string(),
  matched: z.array(z.object({ policy_id: uuid, name: z.string(), effect: z.enum(POLICY_EFFECTS) })),
  allow_policies: z.array(z.string()),
  deny_policies: z.array(z.string()),
  approval_policies: z.array(z.string()).describe("The matched require_approval policies"),
  approval: z
    .object({
      policy_id: uuid,
      name: z.string(),
      approver_role: z.enum(ORG_ROLES),
      timeout_seconds: z.number().int(),
    })
    .optional()
    .describe(
      "When the call is allowed only once approved: the strictest matched require_approval policy (absent otherwise)",
    ),
  input_mismatches: z.array(
    z.object({
      policy_id: uuid,
      name: z.string(),
      issues: z.array(
        z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() }),
      ),
    }),
  ),
  rate_limited_by: z.array(
    z.object({ policy_id: uuid, name: z.string(), max_calls: z.number(), per_seconds: z.number() }),
  ),
});
export type PolicyDecisionDto = z.infer<typeof policyDecision>;

export const evaluatePolicyInput = z
  .object({
    agent_id: uuid.nullable().optional().describe("An agent's call"),
    user_id: uuid
      .optional()
      .describe("A person's own call: this member, with their role (instead of agent_id)"),
    role: orgRole
      .optional()
      .describe(
        "A person's call by someone with this role, such as an API token (instead of agent_id)",
      ),
    target: z.enum(POLICY_TARGETS).default("tool").describe("What the call would be"),
    tool_id: uuid.optional().describe("For target `tool` (required): the tool"),
    name: z
      .string()
      .min(1, "Must not be empty")
      .max(2000, "At most 2000 characters")
      .optional()
      .describe(
        "For target `prompt` or `resource` (required): the prompt's name or the resource's URI",
      ),
    environment_id: uuid
      .nullable()
      .optional()
      .describe(
        "For a prompt or resource: the environment of the connection serving it, when the agent has none",
      ),
    input: jsonObject
      .default({})
      .describe(
        "The tool's input, the prompt's arguments, or for a resource `{ uri }` (filled in)",
      ),
  })
  .superRefine((value, context) => {
    const callers = [value.agent_id, value.user_id, value.role].filter((v) => v != null);
    if (callers.length > 1)
      context.addIssue({
        code: "custom",
        path: [value.user_id !== undefined ? "user_id" : "role"],
        message: "Give one caller: agent_id, user_id or role",
      });
    if (value.target === "tool" && value.tool_id === undefined)
      context.addIssue({ code: "custom", path: ["tool_id"], message: "Required for target tool" });
    if (value.target !== "tool" && value.name === undefined)
      context.addIssue({
        code: "custom",
        path: ["name"],
        message: `Required for target ${value.target}`,
      });
  });

export const WHAT_IF_MAX_RUNS = 10_000;

export const policyWhatIfInput = z
  .object({
    policy_id: uuid
      .optional()
      .describe("The policy to edit or delete; leave out to preview a new policy"),
    changes: updatePolicyInput
      .optional()
      .describe(
        "For a new policy its fields (effect and tool_pattern required); for an edit the fields it changes",
      ),
    delete: z.boolean().default(false).describe("Preview deleting policy_id"),
    runs: z
      .number()
      .int()
      .min(1, "At least 1")
      .max(WHAT_IF_MAX_RUNS, `At most ${WHAT_IF_MAX_RUNS}`)
      .default(WHAT_IF_MAX_RUNS)
      .describe("How many of the newest runs to replay"),
  })
  .superRefine((value, context) => {
    if (value.delete && value.policy_id === undefined)
      context.addIssue({
        code: "custom",
        path: ["policy_id"],
        message: "Required to preview a deletion",
      });
    if (value.delete && value.changes !== undefined)
      context.addIssue({
        code: "custom",
        path: ["changes"],
        message: "A deletion changes no field",
      });
    if (!value.delete && value.changes === undefined)
      context.addIssue({
        code: "custom",
        path: ["changes"],
        message: "Required unless delete is true",
      });
  });

const whatIfVerdict = z.object({
  allowed: z.boolean(),
  approval_required: z.boolean().describe("Allowed only once a person approves it"),
  reason: z.string(),
});

export const policyWhatIf = z.object({
  runs_considered: z.number().int(),
  oldest_run_at: timestamp.nullable(),
  unchanged: z.number().int(),
  to_allowed: z.number().int().describe("Runs the change would allow that are denied today"),
  to_denied: z.number().int().describe("Runs the change would deny that are allowed today"),
  to_approval: z
    .number()
    .int()
    .describe("Runs the change would hold for approval that are not held today"),
  undetermined: z.number().int().describe("Runs an input schema decides whose input was not kept"),
  groups: z.array(
    z.object({
      kind: policyTarget,
      tool_id: uuid.nullable(),
      tool_name: z.string(),
      agent_id: uuid.nullable(),
      agent_name: z.string().nullable(),
      runs: z.number().int(),
      to_allowed: z.number().int(),
      to_denied: z.number().int(),
      to_approval: z.number().int(),
    }),
  ),
  examples: z.array(
    z.object({
      run_id: uuid,
      started_at: timestamp,
      kind: policyTarget,
      tool_name: z.string(),
      agent_id: uuid.nullable(),
      before: whatIfVerdict,
      after: whatIfVerdict,
    }),
  ),
});
export type PolicyWhatIfDto = z.infer<typeof policyWhatIf>;
