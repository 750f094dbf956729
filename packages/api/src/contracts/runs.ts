import { z } from "zod";
import { httpUrl, pageInput, timestamp, uuid } from "./common";

export const RUN_STATUSES = [
  "running",
  "awaiting_approval",
  "succeeded",
  "failed",
  "denied",
  "timeout",
  "rate_limited",
] as const;
export const runStatus = z.enum(RUN_STATUSES);
export const RUN_KINDS = ["tool", "prompt", "resource"] as const;
export const runKind = z.enum(RUN_KINDS);

export const relayedRequest = z.object({
  method: z.string().describe("sampling/createMessage, elicitation/create, roots/list or ping"),
  outcome: z
    .enum(["answered", "refused", "failed", "timeout"])
    .describe(
      "answered: the client's result went back upstream; refused: the connection does not allow it; failed: the client answered with an error or could not be reached",
    ),
  action: z
    .enum(["accept", "decline", "cancel"])
    .optional()
    .describe("For an answered elicitation: what the user did"),
  reason: z.string().optional(),
  request_bytes: z.number().int(),
  response_bytes: z.number().int(),
  duration_ms: z.number().int(),
});

export const guardrailRecord = z.object({
  hooks: z.array(
    z.object({
      policy_id: uuid,
      policy_name: z.string(),
      stage: z.enum(["pre_call", "post_call"]),
      outcome: z
        .enum(["allowed", "rewrote", "denied", "failed_open", "failed_closed"])
        .describe(
          "rewrote: allowed with a new input or output; failed_open / failed_closed: the hook failed and its fail mode allowed / denied the call",
        ),
      reason: z.string().optional().describe("The hook's reason for a denial, or why it failed"),
      duration_ms: z.number().int(),
    }),
  ),
  redacted: z
    .object({ secrets: z.number().int(), patterns: z.number().int() })
    .describe("Occurrences replaced by [REDACTED] in the output"),
});

export const run = z.object({
  id: uuid,
  org_id: uuid,
  kind: runKind.describe(
    "What was called: a tool (tools/call), a prompt (prompts/get) or a resource (resources/read)",
  ),
  tool_id: uuid.nullable(),
  tool_name: z
    .string()
    .describe("The tool's name; for a prompt run the prompt's name, for a resource run its URI"),
  agent_id: uuid.nullable().describe("The agent the call was made as, if any"),
  user_id: uuid
    .nullable()
    .describe("The person who made the call (also when made as an agent); null for agent keys"),
  environment_id: uuid.nullable(),
  status: runStatus,
  input: z.unknown(),
  output: z
    .unknown()
    .describe(
      "The MCP result as the server returned it: CallToolResult, GetPromptResult or ReadResourceResult (capped at 1 MiB)",
    ),
  output_truncated: z.boolean(),
  error: z.string().nullable(),
  decision: z.record(z.string(), z.unknown()).nullable(),
  triggered_by: z.record(z.string(), z.unknown()),
  started_at: timestamp,
  finished_at: timestamp.nullable(),
  duration_ms: z.number().int().nullable(),
  request_id: z
    .string()
    .nullable()
    .describe("The x-request-id of the HTTP request that made the call, as in the server's logs"),
  relayed: z
    .array(relayedRequest)
    .nullable()
    .describe(
      "What the MCP server asked the calling client during the call (sampling, elicitation, roots, ping); null when nothing",
    ),
  trace_id: z
    .string()
    .nullable()
    .describe(
      "The OpenTelemetry trace id (32 hex digits) the call ran in; null when tracing was off",
    ),
  guardrails: guardrailRecord
    .nullable()
    .describe(
      "The guardrail hooks that ran, in order, and what redaction replaced; null when none applied",
    ),
});
export type RunDto = z.infer<typeof run>;

export const listRunsInput = pageInput.extend({
  status: runStatus.optional(),
  kind: runKind.optional(),
  agent_id: uuid.optional(),
  tool_id: uuid.optional(),
  since: timestamp.optional().describe("Only runs started at or after this time"),
  until: timestamp.optional().describe("Only runs started before this time"),
});

export const auditEvent = z.object({
  id: uuid,
  org_id: uuid.nullable(),
  actor_type: z
    .enum(["user", "agent", "system", "token"])
    .describe("`token`: an API token; `actor_id` is its id and `metadata.token_name` its name"),
  actor_id: z.string().nullable(),
  action: z.string(),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  created_at: timestamp,
  chain_seq: z
    .number()
    .int()
    .nullable()
    .describe("Place in the organization's hash chain (null for events of no organization)"),
  prev_hash: z.string().nullable().describe("SHA-256 (hex) of the event before in the chain"),
  hash: z.string().nullable().describe("SHA-256 (hex) of this event and prev_hash"),
});
export type AuditEventDto = z.infer<typeof auditEvent>;

export const auditChainReport = z.object({
  valid: z.boolean(),
  events: z.number().int().describe("Chained events checked, oldest retained first"),
  first_seq: z
    .number()
    .int()
    .nullable()
    .describe("Where the check started: 1, or later once retention deleted older events"),
  last_seq: z.number().int().nullable(),
  head_hash: z
    .string()
    .nullable()
    .describe("The newest link; keep it elsewhere to detect a rewrite of the whole chain"),
  first_broken: z
    .object({
      chain_seq: z.number().int(),
      event_id: uuid.nullable(),
      reason: z.string(),
    })
    .nullable()
    .describe("The first link that does not hold, or null when the chain is intact"),
});

export const listAuditEventsInput = pageInput.extend({
  action: z.string().max(100).optional(),
  actor_id: z.string().max(100).optional(),
  target_type: z.string().max(100).optional(),
  target_id: z.string().max(100).optional(),
  since: timestamp.optional(),
});

export const auditActions = z.object({
  actions: z.array(z.string()).describe("Every action the organization's log holds, sorted"),
});

export const runStatsInput = z.object({
  since: timestamp.optional().describe("Start of the window (default: 24 hours ago)"),
  until: timestamp.optional().describe("End of the window (default: now)"),
  bucket: z.enum(["minute", "hour", "day"]).default("hour"),
  tool_id: uuid.optional().describe("Only this tool's runs"),
});

const latencyStats = {
  runs: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int().describe("failed + timeout"),
  denied: z.number().int().describe("denied + rate_limited"),
  error_rate: z.number().describe("(failed + timeout) / finished runs, 0..1"),
  p50_ms: z.number().nullable(),
  p95_ms: z.number().nullable(),
};

export const runStats = z.object({
  since: timestamp,
  until: timestamp,
  bucket: z.enum(["minute", "hour", "day"]),
  totals: z.object(latencyStats),
  series: z.array(
    z.object({
      bucket_start: timestamp,
      running: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      denied: z.number().int().describe("denied + rate_limited"),
      timeout: z.number().int(),
    }),
  ),
  tools: z.array(z.object({ tool_id: uuid.nullable(), tool_name: z.string(), ...latencyStats })),
  agents: z.array(
    z.object({ agent_id: uuid.nullable(), agent_name: z.string().nullable(), ...latencyStats }),
  ),
});
export type RunStatsDto = z.infer<typeof runStats>;

export const auditWebhook = z.object({
  org_id: uuid,
  url: z.string(),
  enabled: z.boolean(),
  cursor_seq: z
    .number()
    .int()
    .describe("chain_seq of the last event the receiver acknowledged; delivery resumes after it"),
  last_delivered_event_id: uuid.nullable(),
  last_delivered_at: timestamp.nullable(),
  last_error: z.string().nullable().describe("Why the latest failed delivery failed"),
  last_error_at: timestamp.nullable(),
  consecutive_failures: z.number().int().describe("0 once a delivery succeeds"),
  next_attempt_at: timestamp.describe("When a failing webhook is retried (exponential backoff)"),
  created_at: timestamp,
  updated_at: timestamp,
});
export type AuditWebhookDto = z.infer<typeof auditWebhook>;

export const auditWebhookWithSecret = z.object({
  webhook: auditWebhook,
  secret: z
    .string()
    .describe(
      "The HMAC-SHA256 signing secret, shown this once: receivers check X-Audit-Webhook-Signature with it",
    ),
});

export const createAuditWebhookInput = z.object({
  url: httpUrl.describe("Where new audit events are POSTed, in batches, signed"),
  enabled: z.boolean().optional(),
});

export const updateAuditWebhookInput = z
  .object({
    url: httpUrl.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((value) => value.url !== undefined || value.enabled !== undefined, {
    error: "Nothing to change: give url or enabled",
  });
