import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { resolvePolicySubject, type PolicySubjectFields } from "./subjects";

const AGENT = "0190a000-0000-7000-8000-00000000000a";
const USER = "0190b000-0000-7000-8000-0000000000a1";
const none = { agent_id: null, user_id: null, min_role: null };

function refusal(run: () => unknown): { field: unknown; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError)
      return { field: error.issues?.[0]?.path.join("."), message: error.message };
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("resolvePolicySubject", () => {
  it("infers the subject of a new policy from its fields, as policies were written before", () => {
    expect(resolvePolicySubject(null, {})).toEqual({ subject: "everyone", ...none });
    expect(resolvePolicySubject(null, { agent_id: null })).toEqual({
      subject: "everyone",
      ...none,
    });
    expect(resolvePolicySubject(null, { agent_id: AGENT })).toEqual({
      subject: "agent",
      ...none,
      agent_id: AGENT,
    });
    expect(resolvePolicySubject(null, { user_id: USER })).toEqual({
      subject: "user",
      ...none,
      user_id: USER,
    });
    expect(resolvePolicySubject(null, { min_role: "admin" })).toEqual({
      subject: "role",
      ...none,
      min_role: "admin",
    });
    expect(resolvePolicySubject(null, { subject: "agent" })).toEqual({ subject: "agent", ...none });
  });

  it("refuses a field another subject uses, and a missing own field, by name", () => {
    expect(refusal(() => resolvePolicySubject(null, { subject: "role", agent_id: AGENT }))).toEqual(
      {
        field: "agent_id",
        message: "Only for a policy whose subject is agent; this one's is role",
      },
    );
    expect(
      refusal(() => resolvePolicySubject(null, { user_id: USER, min_role: "admin" })).field,
    ).toBe("min_role");
    expect(refusal(() => resolvePolicySubject(null, { subject: "user" })).field).toBe("user_id");
    expect(refusal(() => resolvePolicySubject(null, { subject: "role" })).field).toBe("min_role");
    expect(
      refusal(() => resolvePolicySubject(null, { subject: "everyone", user_id: USER })).field,
    ).toBe("user_id");
  });

  it("keeps an edited policy's subject unless the edit names one, clearing the old field", () => {
    const agentPolicy: PolicySubjectFields = { subject: "agent", ...none, agent_id: AGENT };
    expect(resolvePolicySubject(agentPolicy, {})).toBe(agentPolicy);
    expect(resolvePolicySubject(agentPolicy, { subject: "agent" })).toEqual(agentPolicy);
    expect(resolvePolicySubject(agentPolicy, { subject: "role", min_role: "member" })).toEqual({
      subject: "role",
      ...none,
      min_role: "member",
    });
    const rolePolicy: PolicySubjectFields = { subject: "role", ...none, min_role: "admin" };
    expect(resolvePolicySubject(rolePolicy, { min_role: "owner" })).toEqual({
      subject: "role",
      ...none,
      min_role: "owner",
    });
    expect(refusal(() => resolvePolicySubject(rolePolicy, { subject: "user" })).field).toBe(
      "user_id",
    );
  });
});
