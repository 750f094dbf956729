import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { memberships, type policies } from "../db/schema";
import { AppError } from "../errors";
import type { OrgRole } from "../orgs/roles";

type PolicyRow = typeof policies.$inferSelect;

/** Whose calls a policy governs, with the one field its subject uses (the others null). */
export type PolicySubjectFields = Pick<PolicyRow, "subject" | "agent_id" | "user_id" | "min_role">;

/** What a create or an update says of the subject; absent fields are left as they are. */
export interface PolicySubjectChanges {
  subject?: PolicyRow["subject"] | undefined;
  agent_id?: string | null | undefined;
  user_id?: string | null | undefined;
  min_role?: OrgRole | null | undefined;
}

const FIELD_OF = { agent: "agent_id", user: "user_id", role: "min_role" } as const;
const SUBJECT_FIELDS = ["agent_id", "user_id", "min_role"] as const;

/**
 * Without `subject`, the fields given say which it is, the way policies were written before
 * subjects: a user, a role, an agent, or with none of them (an agent_id of null) everyone.
 */
function impliedSubject(changes: PolicySubjectChanges): PolicyRow["subject"] {
  if (changes.user_id) return "user";
  if (changes.min_role) return "role";
  if (changes.agent_id) return "agent";
  return "everyone";
}

/**
 * The subject a policy ends up with, from its current one (null for a new policy) and the change.
 * A field another subject uses is refused by name rather than ignored.
 */
export function resolvePolicySubject(
  current: PolicySubjectFields | null,
  changes: PolicySubjectChanges,
): PolicySubjectFields {
  const untouched =
    changes.subject === undefined && SUBJECT_FIELDS.every((field) => changes[field] === undefined);
  if (current && untouched) return current;
  const subject = changes.subject ?? impliedSubject(changes);
  const own = subject === "everyone" ? null : FIELD_OF[subject];
  for (const field of SUBJECT_FIELDS) {
    if (field !== own && changes[field] != null)
      throw AppError.invalidField(
        field,
        own === null
          ? `A policy for everyone names no agent, user or role`
          : `Only for a policy whose subject is ${subjectOfField(field)}; this one's is ${subject}`,
      );
  }
  // The subject's own field: as given, else kept when the subject stays the same.
  const kept = current?.subject === subject ? current : null;
  const pick = <K extends "agent_id" | "user_id" | "min_role">(field: K) =>
    field !== own ? null : changes[field] !== undefined ? changes[field] : (kept?.[field] ?? null);
  const resolved: PolicySubjectFields = {
    subject,
    agent_id: pick("agent_id"),
    user_id: pick("user_id"),
    min_role: pick("min_role"),
  };
  if (subject === "user" && resolved.user_id === null)
    throw AppError.invalidField("user_id", "Required for a policy whose subject is user");
  if (subject === "role" && resolved.min_role === null)
    throw AppError.invalidField("min_role", "Required for a policy whose subject is role");
  return resolved;
}

function subjectOfField(field: (typeof SUBJECT_FIELDS)[number]): string {
  return field === "agent_id" ? "agent" : field === "user_id" ? "user" : "role";
}

/**
 * A user a policy names must be a member of the organization. Anyone else, another org's member
 * included, is NOT_FOUND: the answer must not tell which accounts exist elsewhere.
 */
export async function assertMemberInOrg(
  db: Db,
  orgId: string,
  userId: string | null | undefined,
  field: string | (string | number)[] = "user_id",
): Promise<OrgRole | null> {
  if (!userId) return null;
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.org_id, orgId), eq(memberships.user_id, userId)));
  if (!row)
    throw new AppError("NOT_FOUND", "No such member in this organization", {
      issues: [
        {
          path: Array.isArray(field) ? field : [field],
          message: "No such member in this organization",
        },
      ],
    });
  return row.role;
}
