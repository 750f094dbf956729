import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  json,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { uuidv7 } from "../lib/ids";

/*
 * Column keys are snake_case, the same names the REST API uses, so a row maps to its wire shape
 * without a renaming layer. Every tenant-owned table carries an indexed `org_id`.
 */

const id = () =>
  uuid("id")
    .primaryKey()
    .$defaultFn(() => uuidv7());
// Millisecond precision: JavaScript dates round-trip exactly, so timestamps compare as stored.
const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
const createdAt = () => timestamptz("created_at").notNull().defaultNow();
const updatedAt = () => timestamptz("updated_at").notNull().defaultNow();

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = Record<string, JsonValue>;

export const users = pgTable("users", {
  id: id(),
  email: text("email").notNull().unique(),
  /** Null for accounts made by SSO sign-in: they have no password until one is set. */
  password_hash: text("password_hash"),
  first_name: text("first_name").notNull().default(""),
  last_name: text("last_name").notNull().default(""),
  /** Operates the platform (the first account, or one made with `admin:create`); not an org role. */
  is_platform_admin: boolean("is_platform_admin").notNull().default(false),
  /** When the owner proved they read mail at `email` (a verification or reset link); null: not yet. */
  email_verified_at: timestamptz("email_verified_at"),
  /**
   * Set by a platform admin: the account is locked out (no session, sign-in, reset; its API tokens,
   * OAuth grants and per-user connection credentials unusable) until re-enabled. See platform/.
   */
  disabled_at: timestamptz("disabled_at"),
  /** When a session was last opened for the account (any sign-in method); null: never. */
  last_sign_in_at: timestamptz("last_sign_in_at"),
  date_joined: createdAt().$type<Date>(),
  updated_at: updatedAt(),
});

export const userTokenPurpose = pgEnum("user_token_purpose", [
  "password_reset",
  "email_verification",
]);

/**
 * One-time links mailed to a user (password reset, e-mail verification). Only sha256(token) is
 * stored; `email` is the address the link went to, so a link proves that address and no later one.
 */
export const userTokens = pgTable(
  "user_tokens",
  {
    id: id(),
    user_id: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: userTokenPurpose("purpose").notNull(),
    token_hash: text("token_hash").notNull().unique(),
    email: text("email").notNull(),
    expires_at: timestamptz("expires_at").notNull(),
    used_at: timestamptz("used_at"),
    created_at: createdAt(),
  },
  (t) => [index("user_tokens_user_id_idx").on(t.user_id, t.purpose)],
);

/**
 * Lucia sessions; `id` is sha256(token) so a leaked table yields no usable token. The camelCase
 * keys are the ones Lucia's drizzle adapter addresses.
 */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamptz("expires_at").notNull(),
    /**
     * What the sessions page names a session by: `id` is never sent back, and a random id says
     * nothing about the token (a prefix of `id` would be a prefix of its hash).
     */
    public_id: uuid("public_id").notNull().unique().defaultRandom(),
    created_at: createdAt(),
    /** Written at most once a minute per session (see accounts/sessions.ts), not per request. */
    last_seen_at: timestamptz("last_seen_at").notNull().defaultNow(),
    /** Where the session signed in from. */
    ip: text("ip"),
    user_agent: text("user_agent"),
  },
  (t) => [
    index("sessions_user_id_idx").on(t.userId),
    // Expired sessions are pruned in batches by the maintenance job.
    index("sessions_expires_at_idx").on(t.expiresAt),
  ],
);

/**
 * Sign-in and sign-up attempts per key (`<kind>:<sha256 of the subject>`, see
 * accounts/throttle.ts), shared by every server process. Each attempt is one atomic upsert timed by
 * the database clock; rows past `expires_at` are forgotten and pruned.
 */
/**
 * A user's account at the SSO identity provider: (issuer, subject) is the IdP's stable id for the
 * person, so a later change of e-mail at the IdP still signs in to the same account.
 */
export const userIdentities = pgTable(
  "user_identities",
  {
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    user_id: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The e-mail claim at the last sign-in (for the record; accounts are found by subject). */
    email: text("email"),
    created_at: createdAt(),
    last_sign_in_at: timestamptz("last_sign_in_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.issuer, t.subject] }),
    uniqueIndex("user_identities_user_issuer_uq").on(t.user_id, t.issuer),
  ],
);

/**
 * SSO sign-ins started and not yet called back: the state is stored hashed (the browser holds
 * it in a short-lived cookie too), with the PKCE verifier and nonce, used once and short-lived.
 * In the database so any replica can take the callback.
 */
export const ssoFlows = pgTable(
  "sso_flows",
  {
    state_hash: text("state_hash").primaryKey(),
    /** Envelope of the PKCE verifier and the nonce. */
    flow_ciphertext: text("flow_ciphertext").notNull(),
    expires_at: timestamptz("expires_at").notNull(),
    created_at: createdAt(),
  },
  (t) => [index("sso_flows_expires_at_idx").on(t.expires_at)],
);

export const authThrottles = pgTable(
  "auth_throttles",
  {
    key: text("key").primaryKey(),
    /** Attempts counted in the window that began at `window_start`. */
    attempts: integer("attempts").notNull(),
    // Full precision: the upsert tells a lockout it just began by `locked_at = now()`.
    window_start: timestamp("window_start", { withTimezone: true }).notNull(),
    /** Lockouts so far; each one lasts twice as long as the one before. */
    lockouts: integer("lockouts").notNull().default(0),
    locked_at: timestamp("locked_at", { withTimezone: true }),
    locked_until: timestamp("locked_until", { withTimezone: true }),
    expires_at: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("auth_throttles_expires_at_idx").on(t.expires_at)],
);

/** The owning organization: every tenant-owned row has one, and goes when the org goes. */
const orgId = () =>
  uuid("org_id")
    .notNull()
    .references(() => orgs.id, { onDelete: "cascade" });

export const orgRole = pgEnum("org_role", ["owner", "admin", "member", "viewer"]);

export const orgs = pgTable("orgs", {
  id: id(),
  name: text("name").notNull(),
  slug: text("slug").notNull().unique(),
  /** The lowest role whose members may let an OAuth client act as one of the org's agents. */
  oauth_approver_role: orgRole("oauth_approver_role").notNull().default("admin"),
  /** Members must sign in with the platform's SSO; their password sign-in is refused. */
  sso_only: boolean("sso_only").notNull().default(false),
  /**
   * Whether tools a sync finds for the first time arrive quarantined (an admin approves each)
   * rather than enabled. Off by default: a new tool is callable only once a policy allows it.
   */
  quarantine_new_tools: boolean("quarantine_new_tools").notNull().default(false),
  /**
   * Whether the members who may decide a call waiting for approval are e-mailed when it starts
   * waiting (only where SMTP is configured).
   */
  email_approvers: boolean("email_approvers").notNull().default(true),
  created_at: createdAt(),
  updated_at: updatedAt(),
});

export const memberships = pgTable(
  "memberships",
  {
    org_id: orgId(),
    user_id: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: orgRole("role").notNull(),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.org_id, t.user_id] }),
    index("memberships_user_id_idx").on(t.user_id),
  ],
);

/**
 * Just-in-time membership: a user whose verified SSO e-mail is at `domain` joins the org with
 * `role` when signing in with SSO. Looked up by domain across orgs at every SSO sign-in.
 */
export const orgSsoDomains = pgTable(
  "org_sso_domains",
  {
    org_id: orgId(),
    domain: text("domain").notNull(),
    role: orgRole("role").notNull(),
    created_at: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.org_id, t.domain] }),
    index("org_sso_domains_domain_idx").on(t.domain),
  ],
);

/**
 * An organization's API tokens for automation (REST API, SDK): each acts with its own role in its
 * org only. The token is shown once; only its sha256 is stored. Tokens belong to the org, not to
 * the person who made them (`created_by` is a record, set null when that account is deleted).
 */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: id(),
    org_id: orgId(),
    name: text("name").notNull(),
    // The check below keeps the owner role out; the type says so to the code.
    role: orgRole("role").$type<"admin" | "member" | "viewer">().notNull(),
    /** The first characters of the token, shown in lists so a token can be recognised. */
    prefix: text("prefix").notNull(),
    token_hash: text("token_hash").notNull().unique(),
    created_by: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    created_at: createdAt(),
    expires_at: timestamptz("expires_at"),
    /** Written at most once a minute per token (see orgs/api-tokens.ts), not per request. */
    last_used_at: timestamptz("last_used_at"),
    revoked_at: timestamptz("revoked_at"),
  },
  (t) => [
    index("api_tokens_org_id_idx").on(t.org_id, t.id),
    // Owners manage people: a token never holds the owner role.
    check("api_tokens_role_not_owner", sql`${t.role} <> 'owner'`),
  ],
);

/**
 * An e-mail address invited into an org with a role. Only sha256(token) is stored; the link is
 * shown once, to the inviter, and mailed. Pending = not accepted, not revoked, not expired; one
 * pending (unaccepted, unrevoked) invitation per address and org.
 */
export const invitations = pgTable(
  "invitations",
  {
    id: id(),
    org_id: orgId(),
    email: text("email").notNull(),
    role: orgRole("role").notNull(),
    token_hash: text("token_hash").notNull().unique(),
    invited_by: uuid("invited_by").references(() => users.id, { onDelete: "set null" }),
    expires_at: timestamptz("expires_at").notNull(),
    accepted_at: timestamptz("accepted_at"),
    accepted_by: uuid("accepted_by").references(() => users.id, { onDelete: "set null" }),
    revoked_at: timestamptz("revoked_at"),
    created_at: createdAt(),
  },
  (t) => [
    index("invitations_org_id_idx").on(t.org_id, t.id),
    uniqueIndex("invitations_open_uq")
      .on(t.org_id, t.email)
      .where(sql`${t.accepted_at} is null and ${t.revoked_at} is null`),
  ],
);

export const environments = pgTable(
  "environments",
  {
    id: id(),
    org_id: orgId(),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    description: text("description").notNull().default(""),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("environments_org_id_idx").on(t.org_id),
    uniqueIndex("environments_org_name_uq").on(t.org_id, t.name),
    uniqueIndex("environments_org_slug_uq").on(t.org_id, t.slug),
  ],
);

export const connectionTransport = pgEnum("connection_transport", [
  "streamable_http",
  "sse",
  "stdio",
]);
export const connectionStatus = pgEnum("connection_status", ["unknown", "healthy", "unhealthy"]);

export const connectionAuth = pgEnum("connection_auth", ["none", "headers", "oauth"]);
export const oauthCredentialMode = pgEnum("oauth_credential_mode", ["shared", "per_user"]);
/** How the platform is known to a connection's authorization server; see connections/oauth.ts. */
export const oauthClientRegistration = pgEnum("oauth_client_registration", [
  "dynamic",
  "manual",
  "metadata_document",
]);

export const connections = pgTable(
  "connections",
  {
    id: id(),
    org_id: orgId(),
    environment_id: uuid("environment_id").references(() => environments.id, {
      onDelete: "set null",
    }),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    description: text("description").notNull().default(""),
    transport: connectionTransport("transport").notNull(),
    url: text("url"),
    /** The operator-declared stdio server (MCP_STDIO_SERVERS) this connection starts. */
    stdio_server: text("stdio_server"),
    headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
    /** AES-256-GCM envelope of `{headers, env}`; see secrets/. */
    secret_ciphertext: text("secret_ciphertext"),
    /** Names of the secret headers and variables (not their values), so lists need no decryption. */
    secret_keys: jsonb("secret_keys").$type<{ headers: string[]; env: string[] }>(),
    timeout_ms: integer("timeout_ms").notNull().default(10000),
    /** Whether the server may ask the calling client for an LLM completion during a call. */
    allow_sampling: boolean("allow_sampling").notNull().default(true),
    /** Whether the server may ask the calling client's user for input during a call. */
    allow_elicitation: boolean("allow_elicitation").notNull().default(true),
    /**
     * Whether the gateway runs this server's tools as MCP tasks (task-augmented `tools/call`, in
     * the background). Off for servers whose tools need the client during a call: a task cannot
     * relay sampling or elicitation.
     */
    allow_tasks: boolean("allow_tasks").notNull().default(true),
    status: connectionStatus("status").notNull().default("unknown"),
    last_error: text("last_error"),
    last_tested_at: timestamptz("last_tested_at"),
    last_synced_at: timestamptz("last_synced_at"),
    server_info: jsonb("server_info").$type<JsonObject>(),
    /** How calls authenticate upstream: nothing, the secret headers, or OAuth tokens. */
    auth: connectionAuth("auth").notNull().default("none"),
    /** For `oauth`: one credential for the org, or each member's own. */
    oauth_credential_mode: oauthCredentialMode("oauth_credential_mode"),
    /** For `oauth`: the scope requested at authorization; null lets the server decide. */
    oauth_scope: text("oauth_scope"),
    /** For `oauth`: how the platform identifies itself upstream (null until registered). */
    oauth_client_registration: oauthClientRegistration("oauth_client_registration"),
    /** The client id at the upstream authorization server (not a secret, shown to admins). */
    oauth_client_id: text("oauth_client_id"),
    /** Envelope of the client information (client secret included); see secrets/. */
    oauth_client_ciphertext: text("oauth_client_ciphertext"),
    /** The shared credential's refresh failed: an admin must connect again. */
    needs_reauthorization: boolean("needs_reauthorization").notNull().default(false),
    /** Minutes between scheduled syncs; null syncs only when someone asks. */
    sync_interval_minutes: integer("sync_interval_minutes"),
    /**
     * When the scheduler next syncs the connection. Claiming a sync moves it one interval on in
     * the same statement, so with N replicas one of them syncs each interval.
     */
    next_sync_at: timestamptz("next_sync_at"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("connections_org_id_idx").on(t.org_id),
    uniqueIndex("connections_org_slug_uq").on(t.org_id, t.slug),
    uniqueIndex("connections_org_name_uq").on(t.org_id, t.name),
    // The scheduler's question, "which connection is due?", read by every replica every tick.
    index("connections_next_sync_at_idx")
      .on(t.next_sync_at)
      .where(sql`${t.sync_interval_minutes} is not null`),
  ],
);

export const toolSource = pgEnum("tool_source", ["synced", "manual"]);
/**
 * Why a tool may not be called until an admin reviews it: it is new (and the org quarantines new
 * tools), its upstream definition changed since it was approved, or an admin rejected the change.
 */
export const toolQuarantine = pgEnum("tool_quarantine", ["new", "changed", "rejected"]);

/** What a tool's server says it is: the part of a tool that is pinned, hashed and reviewed. */
export interface ToolDefinition {
  title: string | null;
  description: string;
  input_schema: JsonObject;
  output_schema: JsonObject | null;
  annotations: JsonObject | null;
}

export const tools = pgTable(
  "tools",
  {
    id: id(),
    org_id: orgId(),
    connection_id: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    upstream_name: text("upstream_name").notNull(),
    title: text("title"),
    description: text("description").notNull().default(""),
    // json, not jsonb: jsonb reorders object keys, and the order of a schema's properties is the
    // order MCP clients and the run form show parameters in (migration 0003).
    input_schema: json("input_schema").$type<JsonObject>().notNull().default({ type: "object" }),
    output_schema: json("output_schema").$type<JsonObject>(),
    annotations: json("annotations").$type<JsonObject>(),
    /** sha256 of the canonical JSON of the approved definition (the five columns above). */
    definition_hash: text("definition_hash"),
    /** The admin's title and description, shown to agents instead of the server's. */
    title_override: text("title_override"),
    description_override: text("description_override"),
    /** The server's newer definition, waiting for an admin to approve or reject it. */
    pending_definition: json("pending_definition").$type<ToolDefinition>(),
    pending_hash: text("pending_hash"),
    /** Null: callable (subject to enabled, stale and policies); otherwise why it is not. */
    quarantine: toolQuarantine("quarantine"),
    enabled: boolean("enabled").notNull().default(true),
    stale: boolean("stale").notNull().default(false),
    source: toolSource("source").notNull(),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("tools_org_id_idx").on(t.org_id),
    uniqueIndex("tools_org_name_uq").on(t.org_id, t.name),
    uniqueIndex("tools_connection_upstream_uq").on(t.connection_id, t.upstream_name),
  ],
);

export const agentStatus = pgEnum("agent_status", ["active", "disabled"]);

export const agents = pgTable(
  "agents",
  {
    id: id(),
    org_id: orgId(),
    environment_id: uuid("environment_id").references(() => environments.id, {
      onDelete: "set null",
    }),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    status: agentStatus("status").notNull().default("active"),
    /** The member whose own credentials this agent's keys use on per-user OAuth connections. */
    runs_as_user_id: uuid("runs_as_user_id").references(() => users.id, { onDelete: "set null" }),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("agents_org_id_idx").on(t.org_id),
    uniqueIndex("agents_org_name_uq").on(t.org_id, t.name),
  ],
);

export const agentKeys = pgTable(
  "agent_keys",
  {
    id: id(),
    org_id: orgId(),
    agent_id: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    name: text("name").notNull().default(""),
    /** The first characters of the key, shown in lists so a key can be recognised. */
    prefix: text("prefix").notNull(),
    /** sha256 of the whole key, hex. The key itself is shown once and never stored. */
    key_hash: text("key_hash").notNull().unique(),
    created_at: createdAt(),
    last_used_at: timestamptz("last_used_at"),
    revoked_at: timestamptz("revoked_at"),
  },
  (t) => [
    index("agent_keys_org_id_idx").on(t.org_id),
    index("agent_keys_agent_id_idx").on(t.agent_id),
  ],
);

/**
 * `require_approval`: like `allow`, but each call waits for a person with at least the policy's
 * approver role to approve it (see approvals/).
 */
export const policyEffect = pgEnum("policy_effect", ["allow", "deny", "require_approval"]);
/** What a policy governs; its pattern is read as a tool glob or id, a prompt name glob or a resource URI glob. */
export const POLICY_TARGET_KINDS = ["tool", "prompt", "resource"] as const;
export const policyTarget = pgEnum("policy_target", POLICY_TARGET_KINDS);
/**
 * Whose calls a policy governs: `agent` calls made through an agent (one, or any when agent_id is
 * null); `user` one member's own calls (the SPA, REST with their session); `role` the calls of
 * members (and API tokens) with at least that role; `everyone` both agents and people (what a
 * policy without an agent meant before subjects existed).
 */
export const POLICY_SUBJECTS = ["agent", "user", "role", "everyone"] as const;
export const policySubject = pgEnum("policy_subject", POLICY_SUBJECTS);

export interface RateLimit {
  max_calls: number;
  per_seconds: number;
}

/** A policy's `pre_call` or `post_call` webhook (see policies/guardrails.ts). */
export interface GuardrailHook {
  url: string;
  /** How long the hook has to answer. */
  timeout_ms: number;
  /** What a hook that fails (timeout, error, malformed answer) decides: allow or deny the call. */
  fail_mode: "open" | "closed";
}

/** What one guardrail hook decided during a run. */
export interface GuardrailHookOutcome {
  policy_id: string;
  policy_name: string;
  stage: "pre_call" | "post_call";
  /**
   * `allowed`, `rewrote` (allowed with a new input or output), `denied`, or the hook failed and
   * its policy's fail mode decided: `failed_open` (allowed) or `failed_closed` (denied).
   */
  outcome: "allowed" | "rewrote" | "denied" | "failed_open" | "failed_closed";
  /** The hook's reason for a denial, or why it failed. */
  reason?: string;
  duration_ms: number;
}

/** A run's guardrails: the hooks that ran and what redaction replaced. */
export interface GuardrailRecord {
  hooks: GuardrailHookOutcome[];
  /** Occurrences replaced by `[REDACTED]` in the output: the connection's secrets, and patterns. */
  redacted: { secrets: number; patterns: number };
}

export const policies = pgTable(
  "policies",
  {
    id: id(),
    org_id: orgId(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    effect: policyEffect("effect").notNull(),
    subject: policySubject("subject").notNull().default("agent"),
    agent_id: uuid("agent_id").references(() => agents.id, { onDelete: "cascade" }),
    /** For subject `user`: the member. Removing them from the org deletes (and audits) the policy. */
    user_id: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    /** For subject `role`: the least role a caller needs. */
    min_role: orgRole("min_role"),
    target: policyTarget("target").notNull().default("tool"),
    /** The pattern over the target kind's names (the column predates prompts and resources). */
    tool_pattern: text("tool_pattern").notNull(),
    environment_id: uuid("environment_id").references(() => environments.id, {
      onDelete: "cascade",
    }),
    // json keeps the author's key order (see tools.input_schema).
    input_schema: json("input_schema").$type<JsonObject>(),
    rate_limit: jsonb("rate_limit").$type<RateLimit>(),
    pre_call_hook: jsonb("pre_call_hook").$type<GuardrailHook>(),
    post_call_hook: jsonb("post_call_hook").$type<GuardrailHook>(),
    /** AES-256-GCM envelope of the secret both hooks' requests are signed with; see secrets/. */
    hook_secret_ciphertext: text("hook_secret_ciphertext"),
    /** RE2 patterns whose matches are replaced in the outputs of the calls this policy allows. */
    redact_patterns: jsonb("redact_patterns").$type<string[]>().notNull().default([]),
    /** For `require_approval`: the least role that may decide its calls; null for other effects. */
    approver_role: orgRole("approver_role"),
    /** For `require_approval`: how long a call waits for a decision before it is denied. */
    approval_timeout_seconds: integer("approval_timeout_seconds"),
    enabled: boolean("enabled").notNull().default(true),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("policies_org_id_idx").on(t.org_id),
    uniqueIndex("policies_org_name_uq").on(t.org_id, t.name),
    index("policies_user_id_idx").on(t.user_id),
    // Each subject carries exactly its own field.
    check(
      "policies_subject_fields",
      sql`case ${t.subject}
        when 'agent' then ${t.user_id} is null and ${t.min_role} is null
        when 'user' then ${t.user_id} is not null and ${t.agent_id} is null and ${t.min_role} is null
        when 'role' then ${t.min_role} is not null and ${t.agent_id} is null and ${t.user_id} is null
        else ${t.agent_id} is null and ${t.user_id} is null and ${t.min_role} is null end`,
    ),
  ],
);

/** Fixed-window counters, incremented with one atomic upsert so limits hold across processes. */
export const rateLimitCounters = pgTable(
  "rate_limit_counters",
  {
    policy_id: uuid("policy_id")
      .notNull()
      .references(() => policies.id, { onDelete: "cascade" }),
    subject: text("subject").notNull(),
    window_start: timestamptz("window_start").notNull(),
    count: integer("count").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.policy_id, t.subject, t.window_start] }),
    index("rate_limit_counters_window_idx").on(t.window_start),
  ],
);

/** One request an upstream server made of the calling client during a run (see mcp/relay). */
export interface RelayedRequest {
  method: string;
  /** `answered` (with the client's `action` for an elicitation), `refused`, `failed`, `timeout`. */
  outcome: "answered" | "refused" | "failed" | "timeout";
  action?: "accept" | "decline" | "cancel";
  /** Why it was refused or failed. */
  reason?: string;
  request_bytes: number;
  response_bytes: number;
  duration_ms: number;
}

export const runStatus = pgEnum("run_status", [
  "running",
  "awaiting_approval",
  "succeeded",
  "failed",
  "denied",
  "timeout",
  "rate_limited",
]);
/** What a run called: a tool (`tools/call`), a prompt (`prompts/get`) or a resource (`resources/read`). */
export const runKind = pgEnum("run_kind", POLICY_TARGET_KINDS);

export const runs = pgTable(
  "runs",
  {
    id: id(),
    org_id: orgId(),
    kind: runKind("kind").notNull().default("tool"),
    tool_id: uuid("tool_id").references(() => tools.id, { onDelete: "set null" }),
    /** The tool's name; for a prompt run the prompt's name, for a resource run its URI. */
    tool_name: text("tool_name").notNull(),
    agent_id: uuid("agent_id").references(() => agents.id, { onDelete: "set null" }),
    /** The person who made the call (with `agent_id`, an admin running as that agent); null for agent keys. */
    user_id: uuid("user_id").references(() => users.id, { onDelete: "set null" }),
    environment_id: uuid("environment_id").references(() => environments.id, {
      onDelete: "set null",
    }),
    status: runStatus("status").notNull(),
    input: jsonb("input").$type<JsonValue>(),
    output: jsonb("output").$type<JsonValue>(),
    output_truncated: boolean("output_truncated").notNull().default(false),
    error: text("error"),
    decision: jsonb("decision").$type<JsonObject>(),
    /** `user:<id>` or `agent:<id>`, with the surface: `rest`, `trpc`, `mcp`. */
    triggered_by: jsonb("triggered_by").$type<JsonObject>().notNull(),
    started_at: timestamptz("started_at").notNull().defaultNow(),
    finished_at: timestamptz("finished_at"),
    duration_ms: integer("duration_ms"),
    /**
     * The server process (see `replicas`) that made the call: while the run is `running`, the
     * one that will record its outcome. Null for runs written before replicas were tracked.
     */
    replica_id: uuid("replica_id"),
    /** The `x-request-id` of the HTTP request that made the call: the same id as in the logs. */
    request_id: text("request_id"),
    /**
     * What the server asked the calling client during the call (sampling, elicitation, roots,
     * ping), one entry per request with sizes and outcome; null when it asked nothing.
     */
    relayed: jsonb("relayed").$type<RelayedRequest[]>(),
    /** The OpenTelemetry trace the call ran in (32 hex digits); null when tracing was off. */
    trace_id: text("trace_id"),
    /** The guardrail hooks that ran and the redactions made; null when none applied. */
    guardrails: jsonb("guardrails").$type<GuardrailRecord>(),
  },
  (t) => [
    // The runs list orders by id (newest first) within an org, optionally filtered by one of
    // tool, agent, status or kind: each filter has an index that yields its rows already in that
    // order (db/list-plans.test.ts checks the planner uses them).
    index("runs_org_id_id_idx").on(t.org_id, t.id),
    index("runs_org_tool_id_idx").on(t.org_id, t.tool_id, t.id),
    index("runs_org_agent_id_idx").on(t.org_id, t.agent_id, t.id),
    index("runs_org_status_id_idx").on(t.org_id, t.status, t.id),
    index("runs_org_kind_id_idx").on(t.org_id, t.kind, t.id),
    // Stats and the since/until filters read a time range of one org; retention one of each org.
    index("runs_org_started_at_idx").on(t.org_id, t.started_at),
    index("runs_running_idx")
      .on(t.status)
      .where(sql`status = 'running'`),
  ],
);

export const APPROVAL_STATUSES = ["pending", "approved", "denied", "expired", "cancelled"] as const;
export const approvalStatus = pgEnum("approval_status", APPROVAL_STATUSES);
/**
 * `held`: a request waits for the decision (a gateway call, held or as a task) on the replica in
 * `holder_replica_id`, which runs the call once approved; `detached`: nobody waits (REST, the SPA),
 * and once approved any replica claims the call and runs it.
 */
export const approvalMode = pgEnum("approval_mode", ["held", "detached"]);

/** Who made a call that waits for approval and from where, to run it as them once approved. */
export interface ApprovalCall {
  trigger: { type: "user" | "agent" | "token"; id: string; surface: "rest" | "trpc" | "mcp" };
  /** The agent the call is made as: it must still exist when the call runs. */
  agent_id: string | null;
  actor: { type: "user" | "agent" | "system" | "token"; id: string | null; name?: string };
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  acting_user: string | null;
}

/**
 * A call a `require_approval` policy holds until a person decides (see approvals/). Its run waits
 * in `awaiting_approval`; every change of status is announced on the change feed's approval
 * channel in the transaction that made it, which wakes the request holding the call wherever it is.
 */
export const approvals = pgTable(
  "approvals",
  {
    id: id(),
    org_id: orgId(),
    run_id: uuid("run_id")
      .notNull()
      .unique()
      .references(() => runs.id, { onDelete: "cascade" }),
    /** The policy that asked for approval (null once deleted; its name stays). */
    policy_id: uuid("policy_id").references(() => policies.id, { onDelete: "set null" }),
    policy_name: text("policy_name").notNull(),
    approver_role: orgRole("approver_role").notNull(),
    status: approvalStatus("status").notNull().default("pending"),
    mode: approvalMode("mode").notNull(),
    /** For a held call: the replica holding the request (it runs the call once approved). */
    holder_replica_id: uuid("holder_replica_id"),
    call: jsonb("call").$type<ApprovalCall>().notNull(),
    expires_at: timestamptz("expires_at").notNull(),
    decided_at: timestamptz("decided_at"),
    /** The person who approved or denied; null when it expired or was cancelled. */
    decided_by: uuid("decided_by").references(() => users.id, { onDelete: "set null" }),
    /** The approver's comment, or why it expired or was cancelled. */
    comment: text("comment"),
    /** When a replica took an approved detached call to run it. */
    claimed_at: timestamptz("claimed_at"),
    /** When its approvers were e-mailed; null: not (yet), or the org does not e-mail them. */
    approvers_notified_at: timestamptz("approvers_notified_at"),
    /** A replica is e-mailing its approvers until then (another takes over once it passed). */
    notify_lease_until: timestamptz("notify_lease_until"),
    created_at: createdAt(),
  },
  (t) => [
    index("approvals_org_id_id_idx").on(t.org_id, t.id),
    index("approvals_to_notify_idx")
      .on(t.id)
      .where(sql`status = 'pending' and approvers_notified_at is null`),
    index("approvals_org_status_id_idx").on(t.org_id, t.status, t.id),
    index("approvals_expires_at_idx").on(t.expires_at),
  ],
);

/**
 * The runs counted per org, UTC hour, tool, agent and status, with a latency histogram, so that
 * stats over days read a few thousand rows instead of every run. Kept by triggers on `runs`
 * (migration 0020): every way a run is written, changed or deleted (the recorder, the sweep of
 * interrupted runs, a deleted tool or agent, retention) moves its count, in the same transaction.
 * `latencies[i + 1]` counts the runs with a duration in bucket i of `run_latency_bucket`: exact
 * below 16 ms, then buckets 1/8 of a doubling wide.
 */
export const runRollups = pgTable(
  "run_rollups",
  {
    org_id: orgId(),
    hour: timestamptz("hour").notNull(),
    tool_id: uuid("tool_id"),
    tool_name: text("tool_name").notNull(),
    agent_id: uuid("agent_id"),
    status: runStatus("status").notNull(),
    runs: bigint("runs", { mode: "number" }).notNull(),
    latencies: bigint("latencies", { mode: "number" }).array().notNull(),
  },
  (t) => [
    unique("run_rollups_key")
      .on(t.org_id, t.hour, t.tool_id, t.tool_name, t.agent_id, t.status)
      .nullsNotDistinct(),
    // One tool's stats (its page's latency) read its hours without the rest of the org's.
    index("run_rollups_org_tool_hour_idx").on(t.org_id, t.tool_id, t.hour),
  ],
);

/**
 * One row per running server process, under a random id chosen at its start, kept fresh by its
 * heartbeat (the database's clock). A `running` run whose replica has no fresh heartbeat was
 * interrupted: it is swept by any live replica.
 */
export const replicas = pgTable("replicas", {
  id: uuid("id").primaryKey(),
  started_at: timestamptz("started_at").notNull().defaultNow(),
  heartbeat_at: timestamptz("heartbeat_at").notNull().defaultNow(),
});

export const actorType = pgEnum("actor_type", ["user", "agent", "system", "token"]);

/**
 * How a definition came to be a tool's approved one: `sync` its first sync, in an org that does not
 * quarantine new tools; `manual` registered by hand; `approval` an admin approved it under review;
 * `config` a configuration document approved its hash; `backfill` it was the approved definition
 * when the history began (migration 0032, or the first sync of a tool pinned before hashes).
 */
export const TOOL_DEFINITION_SOURCES = [
  "sync",
  "manual",
  "approval",
  "config",
  "backfill",
] as const;
export const toolDefinitionSource = pgEnum("tool_definition_source", TOOL_DEFINITION_SOURCES);

/**
 * Every definition a tool has had approved, newest last (UUIDv7 ids): written in the transaction
 * that pins it, so the history and the tool's columns never disagree. Kept while the tool is.
 */
export const toolDefinitions = pgTable(
  "tool_definitions",
  {
    id: id(),
    org_id: orgId(),
    tool_id: uuid("tool_id")
      .notNull()
      .references(() => tools.id, { onDelete: "cascade" }),
    hash: text("hash").notNull(),
    // json keeps the server's key order (see tools.input_schema).
    definition: json("definition").$type<ToolDefinition>().notNull(),
    source: toolDefinitionSource("source").notNull(),
    /** Who pinned it (the admin who approved, the token that applied a document); null: nobody in particular. */
    actor_type: actorType("actor_type").notNull(),
    actor_id: text("actor_id"),
    created_at: createdAt(),
  },
  (t) => [
    // A tool's history, newest first, page by page.
    index("tool_definitions_org_tool_id_idx").on(t.org_id, t.tool_id, t.id),
  ],
);

/**
 * The newest link of each organization's audit chain. Every insert of an org's audit event locks
 * and advances this row in its own transaction (trigger audit_events_chain), so the events of one
 * organization are chained one after the other whichever replica writes them.
 */
export const auditChainHeads = pgTable("audit_chain_heads", {
  org_id: uuid("org_id")
    .primaryKey()
    .references(() => orgs.id, { onDelete: "cascade" }),
  seq: bigint("seq", { mode: "number" }).notNull().default(0),
  hash: text("hash"),
});

export const auditEvents = pgTable(
  "audit_events",
  {
    id: id(),
    /** Null for account events that belong to no organization (login, logout, register). */
    org_id: uuid("org_id").references(() => orgs.id, { onDelete: "cascade" }),
    actor_type: actorType("actor_type").notNull(),
    actor_id: text("actor_id"),
    action: text("action").notNull(),
    target_type: text("target_type"),
    target_id: text("target_id"),
    metadata: jsonb("metadata").$type<JsonObject>().notNull().default({}),
    ip: text("ip"),
    user_agent: text("user_agent"),
    created_at: createdAt(),
    /**
     * The hash chain of an organization's events (see audit/chain.ts): set by the database on
     * insert, from the org's row in audit_chain_heads; null for events of no organization.
     */
    chain_seq: bigint("chain_seq", { mode: "number" }),
    prev_hash: text("prev_hash"),
    hash: text("hash"),
  },
  (t) => [
    uniqueIndex("audit_events_org_chain_seq_uq").on(t.org_id, t.chain_seq),
    // As for runs: the list's filters (action, actor, target) in id order within an org.
    index("audit_events_org_id_id_idx").on(t.org_id, t.id),
    index("audit_events_org_action_id_idx").on(t.org_id, t.action, t.id),
    index("audit_events_org_actor_id_idx").on(t.org_id, t.actor_id, t.id),
    index("audit_events_org_target_idx").on(t.org_id, t.target_id),
    index("audit_events_org_target_type_id_idx").on(t.org_id, t.target_type, t.id),
    // Retention deletes by age across orgs, including the events of no org (sign-ins).
    index("audit_events_created_at_idx").on(t.created_at),
    check("audit_events_action_not_empty", sql`length(${t.action}) > 0`),
  ],
);

/**
 * An organization's audit webhook (at most one): new audit events are POSTed to `url` in batches,
 * in chain order, signed with the secret (encrypted by the SecretStore, bound to the org).
 * `cursor_seq` is the `chain_seq` of the last event the receiver acknowledged, so delivery resumes
 * from it after any failure or restart. A replica delivers only while it holds the lease
 * (`lease_owner`, `lease_until`), claimed with FOR UPDATE SKIP LOCKED: one delivery per org at a
 * time across replicas, and a crashed replica's lease simply runs out.
 */
export const auditWebhooks = pgTable(
  "audit_webhooks",
  {
    org_id: uuid("org_id")
      .primaryKey()
      .references(() => orgs.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    secret_ciphertext: text("secret_ciphertext").notNull(),
    enabled: boolean("enabled").notNull().default(true),
    cursor_seq: bigint("cursor_seq", { mode: "number" }).notNull().default(0),
    last_delivered_event_id: uuid("last_delivered_event_id"),
    last_delivered_at: timestamptz("last_delivered_at"),
    last_error: text("last_error"),
    last_error_at: timestamptz("last_error_at"),
    consecutive_failures: integer("consecutive_failures").notNull().default(0),
    next_attempt_at: timestamptz("next_attempt_at").notNull().defaultNow(),
    lease_owner: uuid("lease_owner"),
    lease_until: timestamptz("lease_until"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("audit_webhooks_due_idx")
      .on(t.next_attempt_at)
      .where(sql`${t.enabled}`),
  ],
);

/**
 * Stateful MCP sessions of the gateway (`Mcp-Session-Id`), shared by every replica so that any of
 * them serves a session's next request. `token_hash` is sha256 of the id the client holds: a
 * leaked table yields no usable session. A session belongs to the agent and the credential that
 * initialized it; it ends on DELETE, when idle past the configured timeout, or when the agent
 * opens more than its bound (the least recently used go first).
 */
export const mcpSessions = pgTable(
  "mcp_sessions",
  {
    id: id(),
    token_hash: text("token_hash").notNull().unique(),
    org_id: orgId(),
    agent_id: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    /** The agent key (or other credential) that initialized the session: the only one it answers. */
    credential_id: text("credential_id").notNull(),
    protocol_version: text("protocol_version").notNull(),
    client_info: jsonb("client_info").$type<JsonObject>().notNull().default({}),
    client_capabilities: jsonb("client_capabilities").$type<JsonObject>().notNull().default({}),
    /** The replica holding the session's GET stream, if one is open: the only one that writes to it. */
    stream_replica_id: uuid("stream_replica_id"),
    created_at: createdAt(),
    /** The database's clock; refreshed by requests and by the open stream's keep-alive. */
    last_seen_at: timestamptz("last_seen_at").notNull().defaultNow(),
    /**
     * The sequence number of the session's latest event (mcp_session_events). Incremented under
     * the row's lock, so numbers are handed out in commit order and a reader never sees a later
     * event before an earlier one.
     */
    event_seq: bigint("event_seq", { mode: "number" }).notNull().default(0),
    /**
     * What the agent's tool list looked like when the session's stream last compared it: a
     * stream opened after a change the session missed announces list_changed.
     */
    tools_fingerprint: text("tools_fingerprint"),
  },
  (t) => [
    index("mcp_sessions_org_id_idx").on(t.org_id),
    index("mcp_sessions_agent_last_seen_idx").on(t.agent_id, t.last_seen_at),
  ],
);

/**
 * What the gateway sent (or had to send) a session's client on an SSE stream, kept so that a
 * client reconnecting with `Last-Event-ID`, on any replica, gets what it missed. The newest
 * MCP_SESSION_EVENTS_KEPT of a session are kept; they go with the session.
 */
export const mcpSessionEvents = pgTable(
  "mcp_session_events",
  {
    session_id: uuid("session_id")
      .notNull()
      .references(() => mcpSessions.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    org_id: orgId(),
    /** The stream the event belongs to (see mcp-sessions/events.ts). */
    stream: text("stream").notNull(),
    message: jsonb("message").$type<JsonObject>().notNull(),
    created_at: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.seq] }),
    index("mcp_session_events_org_id_idx").on(t.org_id),
  ],
);

/** `resources/subscribe` of a session: held upstream by the replica holding the session's stream. */
export const mcpResourceSubscriptions = pgTable(
  "mcp_resource_subscriptions",
  {
    session_id: uuid("session_id")
      .notNull()
      .references(() => mcpSessions.id, { onDelete: "cascade" }),
    org_id: orgId(),
    uri: text("uri").notNull(),
    /** The connection that serves the URI (the first that lists it, as for reads). */
    connection_id: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    created_at: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.uri] }),
    index("mcp_resource_subscriptions_org_id_idx").on(t.org_id),
  ],
);

/*
 * The platform as an OAuth 2.1 authorization server for its MCP gateway (see oauth/). Clients are
 * not tenant-owned: any MCP client may register or present a metadata document. Everything a
 * client obtains (grants and their tokens) belongs to the agent's org. Tokens and codes are
 * stored as sha256 hashes only.
 */
export const oauthClientKind = pgEnum("oauth_client_kind", ["registered", "metadata_document"]);

export interface OAuthClientMetadata {
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  redirect_uris: string[];
}

export const oauthClients = pgTable(
  "oauth_clients",
  {
    /** A random id (Dynamic Client Registration) or the https URL of the metadata document. */
    client_id: text("client_id").primaryKey(),
    kind: oauthClientKind("kind").notNull(),
    metadata: jsonb("metadata").$type<OAuthClientMetadata>().notNull(),
    created_at: createdAt(),
    /** When the metadata document was last fetched (registered clients: when registered). */
    fetched_at: timestamptz("fetched_at").notNull().defaultNow(),
  },
  (t) => [index("oauth_clients_created_at_idx").on(t.created_at)],
);

export const oauthAuthorizationStatus = pgEnum("oauth_authorization_status", [
  "pending",
  "approved",
  "denied",
  "exchanged",
]);

/**
 * One authorization request, from `/oauth/authorize` through the consent page to the code
 * exchange. `id` is random (it travels in the consent page's URL); the code is stored hashed.
 */
export const oauthAuthorizations = pgTable(
  "oauth_authorizations",
  {
    id: text("id").primaryKey(),
    org_id: orgId(),
    agent_id: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    client_id: text("client_id")
      .notNull()
      .references(() => oauthClients.client_id, { onDelete: "cascade" }),
    redirect_uri: text("redirect_uri").notNull(),
    state: text("state"),
    scope: text("scope").notNull(),
    resource: text("resource").notNull(),
    code_challenge: text("code_challenge").notNull(),
    status: oauthAuthorizationStatus("status").notNull().default("pending"),
    /** Who approved or denied. */
    user_id: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    code_hash: text("code_hash").unique(),
    grant_id: uuid("grant_id"),
    created_at: createdAt(),
    expires_at: timestamptz("expires_at").notNull(),
  },
  (t) => [
    index("oauth_authorizations_org_id_idx").on(t.org_id),
    index("oauth_authorizations_expires_at_idx").on(t.expires_at),
  ],
);

/** What one approval lets one client do: act as one agent, for the user who approved. */
export const oauthGrants = pgTable(
  "oauth_grants",
  {
    id: id(),
    org_id: orgId(),
    agent_id: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    client_id: text("client_id")
      .notNull()
      .references(() => oauthClients.client_id, { onDelete: "cascade" }),
    /** The approver, recorded as `acting_user` on every call the grant's tokens make. */
    user_id: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    scope: text("scope").notNull(),
    resource: text("resource").notNull(),
    created_at: createdAt(),
    last_used_at: timestamptz("last_used_at"),
    revoked_at: timestamptz("revoked_at"),
    /** Why: `revoked` (by a person or the client), `code_reuse`, `refresh_token_reuse`. */
    revoked_reason: text("revoked_reason"),
  },
  (t) => [
    index("oauth_grants_org_id_idx").on(t.org_id),
    index("oauth_grants_agent_id_idx").on(t.agent_id, t.id),
  ],
);

export const oauthTokenKind = pgEnum("oauth_token_kind", ["access", "refresh"]);

export const oauthTokens = pgTable(
  "oauth_tokens",
  {
    /** sha256 of the token, hex. */
    token_hash: text("token_hash").primaryKey(),
    grant_id: uuid("grant_id")
      .notNull()
      .references(() => oauthGrants.id, { onDelete: "cascade" }),
    kind: oauthTokenKind("kind").notNull(),
    created_at: createdAt(),
    expires_at: timestamptz("expires_at").notNull(),
    /** A refresh token is used once: set when it was exchanged for its successor. */
    consumed_at: timestamptz("consumed_at"),
  },
  (t) => [
    index("oauth_tokens_grant_id_idx").on(t.grant_id),
    index("oauth_tokens_expires_at_idx").on(t.expires_at),
  ],
);

/**
 * Requests an upstream server made of a calling client, waiting for the client's answer. The
 * replica that holds the upstream call writes the row and sends the request on the call's event
 * stream; the client's answer may reach any replica, which stores it here (only for the agent and
 * session the request was sent to) and notifies the owner (see runs/relay.ts). Rows live as long
 * as the request waits; the maintenance job removes those a crash left behind.
 */
export const relayRequests = pgTable(
  "relay_requests",
  {
    /** Chosen by the gateway, unguessable: the JSON-RPC id the client answers. */
    id: text("id").primaryKey(),
    org_id: orgId(),
    agent_id: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    /** The MCP session the request was sent in; null for a session-less call. */
    session_id: text("session_id"),
    method: text("method").notNull(),
    /** The client's JSON-RPC response, once it arrived. */
    answer: jsonb("answer").$type<JsonObject>(),
    answered_at: timestamptz("answered_at"),
    expires_at: timestamptz("expires_at").notNull(),
    created_at: createdAt(),
  },
  (t) => [index("relay_requests_expires_at_idx").on(t.expires_at)],
);

export const MCP_TASK_STATUSES = [
  "working",
  "input_required",
  "completed",
  "failed",
  "cancelled",
] as const;
export const mcpTaskStatus = pgEnum("mcp_task_status", MCP_TASK_STATUSES);

/** The JSON-RPC error a task's request ended with, as `tasks/result` returns it. */
export interface McpTaskError {
  code: number;
  message: string;
  data?: JsonValue;
}

/**
 * Task-augmented `tools/call` requests of the gateway (MCP tasks, 2025-11-25). The replica that
 * accepted the request runs the call and writes its outcome here; any replica answers
 * `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel` from the row, and every change of
 * status is announced on the change feed's task channel (see mcp-tasks/). A task belongs to the
 * agent, and the session if any, that created it; its id is random and unguessable.
 */
export const mcpTasks = pgTable(
  "mcp_tasks",
  {
    id: text("id").primaryKey(),
    org_id: orgId(),
    agent_id: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    /** The MCP session that created the task, the only one that sees it; null without a session. */
    session_id: uuid("session_id").references(() => mcpSessions.id, { onDelete: "cascade" }),
    tool_name: text("tool_name").notNull(),
    status: mcpTaskStatus("status").notNull().default("working"),
    status_message: text("status_message"),
    /** The CallToolResult, once the call returned one. */
    result: jsonb("result").$type<JsonObject>(),
    /** The JSON-RPC error the call ended with instead of a result. */
    error: jsonb("error").$type<McpTaskError>(),
    /** The run that records the call (no foreign key: runs are written after the fact). */
    run_id: uuid("run_id"),
    /** The replica running the call: a task of a dead replica is failed by the run sweep. */
    replica_id: uuid("replica_id").notNull(),
    ttl_ms: integer("ttl_ms").notNull(),
    poll_interval_ms: integer("poll_interval_ms").notNull(),
    created_at: createdAt(),
    updated_at: updatedAt(),
    /** created_at + ttl: past it the task is gone (the maintenance job deletes it). */
    expires_at: timestamptz("expires_at").notNull(),
  },
  (t) => [
    index("mcp_tasks_org_id_idx").on(t.org_id),
    index("mcp_tasks_agent_created_idx").on(t.agent_id, t.created_at, t.id),
    index("mcp_tasks_expires_at_idx").on(t.expires_at),
    index("mcp_tasks_live_idx")
      .on(t.replica_id)
      .where(sql`status in ('working', 'input_required')`),
  ],
);

/**
 * OAuth tokens for a connection to an OAuth-protected MCP server: the org's one credential
 * (`user_id` null) or a member's own. The tokens are one SecretStore envelope bound to the row's
 * connection and user, so a ciphertext copied to another row does not open.
 */
export const connectionCredentials = pgTable(
  "connection_credentials",
  {
    id: id(),
    org_id: orgId(),
    connection_id: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    user_id: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    token_ciphertext: text("token_ciphertext").notNull(),
    /** When the access token expires (null: the server did not say). */
    expires_at: timestamptz("expires_at"),
    needs_reauthorization: boolean("needs_reauthorization").notNull().default(false),
    connected_by: uuid("connected_by").references(() => users.id, { onDelete: "set null" }),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("connection_credentials_org_id_idx").on(t.org_id),
    uniqueIndex("connection_credentials_shared_uq")
      .on(t.connection_id)
      .where(sql`${t.user_id} is null`),
    uniqueIndex("connection_credentials_user_uq")
      .on(t.connection_id, t.user_id)
      .where(sql`${t.user_id} is not null`),
  ],
);

/**
 * Authorizations started with "Connect" and not yet called back: the state is stored hashed,
 * bound to the person who started it, used once and short-lived.
 */
export const connectionAuthorizations = pgTable(
  "connection_authorizations",
  {
    state_hash: text("state_hash").primaryKey(),
    org_id: orgId(),
    connection_id: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    user_id: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Whose credential the tokens become: the org's (`shared`) or the starting user's. */
    credential: oauthCredentialMode("credential").notNull(),
    /** Envelope of the PKCE verifier and the exchange's parameters. */
    flow_ciphertext: text("flow_ciphertext").notNull(),
    expires_at: timestamptz("expires_at").notNull(),
    created_at: createdAt(),
  },
  (t) => [
    index("connection_authorizations_org_id_idx").on(t.org_id),
    index("connection_authorizations_expires_at_idx").on(t.expires_at),
  ],
);
