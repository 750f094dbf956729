import { CallToolResultSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type {
  GuardrailHook,
  GuardrailHookOutcome,
  GuardrailRecord,
  JsonObject,
  policies,
} from "../db/schema";
import { AppError } from "../errors";
import { compileSafePattern, UnsupportedPatternError, withRegexBudget } from "../lib/safe-regex";
import { postSignedWebhook, webhookErrorText } from "../lib/signed-webhook";
import { assertWebhookUrl } from "../mcp/outbound";
import type { OutboundPolicy } from "../runtime";
import type { SecretStore } from "../secrets/secret-store";

/**
 * Guardrails of the policies that allow a call. Each such policy may have
 *
 * - a `pre_call` hook: a signed POST of the call's input before it goes upstream; the answer
 *   allows it, denies it, or allows it with a rewritten input (the tool's input schema then
 *   checks the rewritten input);
 * - a `post_call` hook: a signed POST of the (already redacted) result before it is returned or
 *   stored; the answer allows it, denies it (the caller gets the reason, nothing is stored), or
 *   replaces it with another CallToolResult;
 * - `redact_patterns`: RE2 patterns whose matches in the result become `[REDACTED]`, as do the
 *   values of the connection's own secret headers, variables and OAuth token (always).
 *
 * Hooks run one after another in the order of the matched policies (by id, i.e. creation order),
 * each seeing what the previous one let through; the first denial ends the chain. A hook that
 * fails (no answer within its timeout, a non-2xx status, an answer over the size limit, not the
 * contract's JSON, a signing secret that does not open) is decided by its policy's `fail_mode`:
 * `open` allows, `closed` denies; either way the run records why.
 *
 * Nothing here is state of the process: the hooks' settings travel with the policies the call
 * cache holds, which the change feed invalidates on every replica.
 */

/** The guardrail columns of a matched policy, as the call's cached row carries them. */
export type PolicyGuardrails = Pick<
  typeof policies.$inferSelect,
  "id" | "name" | "pre_call_hook" | "post_call_hook" | "hook_secret_ciphertext" | "redact_patterns"
>;

export type HookStage = GuardrailHookOutcome["stage"];

export interface GuardrailDeps {
  secrets: SecretStore;
  outbound: Pick<OutboundPolicy, "blockPrivateNetworks">;
}

export const REDACTED = "[REDACTED]";
/** The most a hook's answer may be; a longer one is a failed hook. */
export const HOOK_MAX_RESPONSE_BYTES = 1024 * 1024;
/** A hook's reason is kept to this many characters in the run. */
const MAX_REASON_LENGTH = 1000;
/**
 * RE2 steps (pattern size × characters) one call's redaction may spend, all patterns together:
 * a few hundred milliseconds at worst. A result too large for it is not returned unredacted: the
 * call fails, saying so.
 */
export const REDACTION_REGEX_BUDGET = 100_000_000;

export function hookSecretBinding(policyId: string): string {
  return `policy-hook:${policyId}`;
}

/**
 * Checks a policy's guardrail settings: hook URLs pass the outbound rules (private networks
 * refused when they are blocked, no credentials), patterns compile for RE2 and match something.
 * Returns the hooks with their normalised URLs.
 */
export async function checkGuardrailFields(
  outbound: GuardrailDeps["outbound"],
  fields: {
    pre_call_hook?: GuardrailHook | null | undefined;
    post_call_hook?: GuardrailHook | null | undefined;
    redact_patterns?: string[] | undefined;
  },
): Promise<{ pre_call_hook?: GuardrailHook | null; post_call_hook?: GuardrailHook | null }> {
  const checked: { pre_call_hook?: GuardrailHook | null; post_call_hook?: GuardrailHook | null } =
    {};
  for (const stage of ["pre_call_hook", "post_call_hook"] as const) {
    const hook = fields[stage];
    if (hook === undefined) continue;
    checked[stage] =
      hook === null
        ? null
        : { ...hook, url: await assertWebhookUrl(hook.url, outbound, [stage, "url"]) };
  }
  for (const [index, pattern] of (fields.redact_patterns ?? []).entries()) {
    try {
      // Any non-empty text would do; an empty match would replace nothing anyway.
      if (compileSafePattern(pattern).test(""))
        throw AppError.invalidField(
          ["redact_patterns", index],
          "The pattern matches the empty string, so it would redact nothing",
        );
    } catch (error) {
      if (error instanceof UnsupportedPatternError)
        throw AppError.invalidField(["redact_patterns", index], `The pattern ${error.message}`);
      throw error;
    }
  }
  return checked;
}

/** The call a hook is told about. */
export interface HookCall {
  org_id: string;
  run_id: string;
  tool: { id: string; name: string };
  agent_id: string | null;
  environment_id: string | null;
  /** For `post_call`: the input the call was made with. */
  input?: JsonObject;
}

type HookAnswer =
  | { kind: "allow"; rewrite: JsonObject | CallToolResult | null }
  | { kind: "deny"; reason: string }
  | { kind: "failed"; reason: string };

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The body, or null when it is longer than `maxBytes` (reading stops there). */
async function boundedText(response: Response, maxBytes: number): Promise<string | null> {
  if (!response.body) return "";
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString("utf8");
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
}

/** Reads the contract's answer: `{decision, reason?, input?}` (pre) or `{…, output?}` (post). */
function parseAnswer(stage: HookStage, text: string): HookAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: "failed", reason: "The hook's answer is not JSON" };
  }
  if (!isPlainObject(parsed))
    return { kind: "failed", reason: "The hook's answer is not a JSON object" };
  const { decision, reason } = parsed;
  if (decision !== "allow" && decision !== "deny")
    return { kind: "failed", reason: 'The hook\'s answer has no "decision" of "allow" or "deny"' };
  if (reason !== undefined && typeof reason !== "string")
    return { kind: "failed", reason: 'The hook\'s "reason" is not a string' };
  if (decision === "deny")
    return { kind: "deny", reason: (reason ?? "").slice(0, MAX_REASON_LENGTH) };
  if (stage === "pre_call") {
    if (parsed.input === undefined) return { kind: "allow", rewrite: null };
    if (!isPlainObject(parsed.input))
      return { kind: "failed", reason: 'The hook\'s "input" is not a JSON object' };
    return { kind: "allow", rewrite: parsed.input };
  }
  if (parsed.output === undefined) return { kind: "allow", rewrite: null };
  // The SDK's schema defaults a missing `content` to []: an answer without one is malformed.
  const output = CallToolResultSchema.safeParse(parsed.output);
  if (!isPlainObject(parsed.output) || !Array.isArray(parsed.output.content))
    return { kind: "failed", reason: 'The hook\'s "output" has no "content" array' };
  if (!output.success)
    return {
      kind: "failed",
      reason: `The hook's "output" is not an MCP CallToolResult: ${output.error.issues[0]?.message ?? "invalid"}`,
    };
  return { kind: "allow", rewrite: output.data };
}

async function callHook(
  deps: GuardrailDeps,
  policy: PolicyGuardrails,
  stage: HookStage,
  hook: GuardrailHook,
  payload: JsonObject,
  signal: AbortSignal | undefined,
): Promise<HookAnswer> {
  if (policy.hook_secret_ciphertext === null)
    return { kind: "failed", reason: "The policy has no hook signing secret" };
  let secret: string;
  try {
    secret = deps.secrets.decrypt(policy.hook_secret_ciphertext, hookSecretBinding(policy.id));
  } catch (error) {
    return {
      kind: "failed",
      reason: `The hook signing secret cannot be decrypted (${webhookErrorText(error)}); rotate it`,
    };
  }
  const timeout = AbortSignal.timeout(hook.timeout_ms);
  try {
    const response = await postSignedWebhook(deps.outbound, {
      url: hook.url,
      secret,
      body: JSON.stringify({ stage, policy: { id: policy.id, name: policy.name }, ...payload }),
      prefix: "guardrail",
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: "failed", reason: `The hook answered HTTP ${response.status}` };
    }
    const text = await boundedText(response, HOOK_MAX_RESPONSE_BYTES);
    if (text === null)
      return {
        kind: "failed",
        reason: `The hook's answer is larger than ${HOOK_MAX_RESPONSE_BYTES} bytes`,
      };
    return parseAnswer(stage, text);
  } catch (error) {
    if (timeout.aborted)
      return { kind: "failed", reason: `The hook did not answer within ${hook.timeout_ms} ms` };
    return { kind: "failed", reason: webhookErrorText(error) };
  }
}

/** What a chain of hooks let through, or why it stopped the call. */
export type HookChainResult<T> = { allowed: true; value: T } | { allowed: false; error: string };

/**
 * Runs the `stage` hooks of `matched` in order on `value`, recording each in `record`. Each hook
 * gets `payload` plus `{input}` or `{output}`; a rewrite replaces the value for the next hook.
 */
export async function runHookChain<T extends JsonObject | CallToolResult>(
  deps: GuardrailDeps,
  matched: readonly PolicyGuardrails[],
  stage: HookStage,
  call: HookCall,
  value: T,
  record: GuardrailRecord,
  signal?: AbortSignal,
): Promise<HookChainResult<T>> {
  let current = value;
  for (const policy of matched) {
    const hook = stage === "pre_call" ? policy.pre_call_hook : policy.post_call_hook;
    if (!hook) continue;
    const started = performance.now();
    const field = stage === "pre_call" ? "input" : "output";
    const answer = await callHook(deps, policy, stage, hook, { ...call, [field]: current }, signal);
    const entry: GuardrailHookOutcome = {
      policy_id: policy.id,
      policy_name: policy.name,
      stage,
      outcome: "allowed",
      duration_ms: Math.round(performance.now() - started),
    };
    record.hooks.push(entry);
    const by = `the ${stage} hook of policy '${policy.name}'`;
    if (answer.kind === "deny") {
      entry.outcome = "denied";
      if (answer.reason !== "") entry.reason = answer.reason;
      return {
        allowed: false,
        error: `Denied by ${by}${answer.reason === "" ? "" : `: ${answer.reason}`}`,
      };
    }
    if (answer.kind === "failed") {
      entry.reason = answer.reason;
      if (hook.fail_mode === "closed") {
        entry.outcome = "failed_closed";
        return {
          allowed: false,
          error: `Denied: ${by} failed (${answer.reason}) and its policy fails closed`,
        };
      }
      entry.outcome = "failed_open";
      continue;
    }
    if (answer.rewrite !== null) {
      entry.outcome = "rewrote";
      current = answer.rewrite as T;
    }
  }
  return { allowed: true, value: current };
}

/** What redaction replaces: secret values (verbatim) and patterns. */
export interface Redaction {
  secrets: readonly string[];
  patterns: readonly string[];
}

/** The patterns of the matched policies, each once. */
export function redactionPatterns(matched: readonly PolicyGuardrails[]): string[] {
  return [...new Set(matched.flatMap((policy) => policy.redact_patterns))];
}

/**
 * `result` with every secret value and pattern match in its strings replaced by `[REDACTED]`,
 * counted in `record`. Base64 payloads (`data`, `blob`) are left: text patterns cannot find
 * anything in them. Throws RegexBudgetError when the result is too large for the patterns.
 */
export function redactResult(
  result: CallToolResult,
  redaction: Redaction,
  record: GuardrailRecord,
): CallToolResult {
  if (redaction.secrets.length === 0 && redaction.patterns.length === 0) return result;
  const compiled = redaction.patterns.map((pattern) => compileSafePattern(pattern));
  const redactText = (text: string): string => {
    let out = text;
    for (const secret of redaction.secrets) {
      const parts = out.split(secret);
      if (parts.length > 1) {
        record.redacted.secrets += parts.length - 1;
        out = parts.join(REDACTED);
      }
    }
    for (const pattern of compiled) {
      const replaced = pattern.replaceAll(out, REDACTED);
      record.redacted.patterns += replaced.count;
      out = replaced.text;
    }
    return out;
  };
  const walk = (value: unknown, key: string | null): unknown => {
    if (typeof value === "string")
      return key === "data" || key === "blob" ? value : redactText(value);
    if (Array.isArray(value)) return value.map((item) => walk(item, null));
    if (isPlainObject(value))
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    return value;
  };
  return withRegexBudget(REDACTION_REGEX_BUDGET, () => walk(result, null) as CallToolResult);
}

export function emptyGuardrailRecord(): GuardrailRecord {
  return { hooks: [], redacted: { secrets: 0, patterns: 0 } };
}

/** The record worth keeping on the run: null when no hook ran and nothing was redacted. */
export function guardrailRecordOrNull(record: GuardrailRecord): GuardrailRecord | null {
  const { hooks, redacted } = record;
  return hooks.length === 0 && redacted.secrets === 0 && redacted.patterns === 0 ? null : record;
}
