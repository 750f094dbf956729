import { z } from "zod";
import {
  description,
  jsonObject,
  pageInput,
  queryBoolean,
  timestamp,
  trimmedName,
  uuid,
} from "./common";

export const rateLimit = z.object({
  max_calls: z.number().int().min(1, "At least 1").max(1_000_000),
  per_seconds: z
    .number()
    .int()
    .min(1, "At least 1 second")
    .max(30 * 24 * 3600, "At most 30 days"),
});

export const POLICY_EFFECTS = ["allow", "deny"] as const;

export const policy = z.object({
  id: uuid,
  org_id: uuid,
  name: z.string(),
  description: z.string(),
  effect: z.enum(POLICY_EFFECTS),
  agent_id: uuid.nullable().describe("null: any agent (and runs without an agent)"),
  tool_pattern: z.string().describe("A glob over tool names (`github_*`) or a tool id"),
  environment_id: uuid.nullable().describe("null: any environment"),
  input_schema: jsonObject
    .nullable()
    .describe("The call's input must satisfy this JSON Schema for the policy to match"),
  rate_limit: rateLimit.nullable(),
  enabled: z.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type PolicyDto = z.infer<typeof policy>;

export const listPoliciesInput = pageInput.extend({
  agent_id: uuid.optional(),
  effect: z.enum(POLICY_EFFECTS).optional(),
  enabled: queryBoolean.optional(),
});

const policyFields = {
  name: trimmedName,
  description: description.optional(),
  effect: z.enum(POLICY_EFFECTS),
  agent_id: uuid.nullable().optional(),
  tool_pattern: z.string().trim().min(1, "Must not be empty").max(200, "At most 200 characters"),
  environment_id: uuid.nullable().optional(),
  input_schema: jsonObject.nullable().optional(),
  rate_limit: rateLimit.nullable().optional(),
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

export const evaluatePolicyInput = z.object({
  agent_id: uuid.nullable().optional(),
  tool_id: uuid,
  input: jsonObject.default({}),
});
