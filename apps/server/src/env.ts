import { readFileSync } from "node:fs";
import {
  findBwrap,
  parseStdioServers,
  SIGNUP_MODES,
  type DatabaseConfig,
  type SignupPolicy,
  type SsoConfig,
  type StdioServer,
} from "@mcp/core";
import { z } from "zod";

const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], { error: "Use true or false" })
  .transform((value) => ["true", "1", "yes", "on"].includes(value));

const attemptLimit = z.coerce
  .number({ error: "Must be a whole number of attempts" })
  .int({ error: "Must be a whole number of attempts" })
  .min(1)
  .max(1_000_000_000);

const milliseconds = z.coerce
  .number({ error: "Must be a number of milliseconds" })
  .int()
  .min(50, "Must be at least 50 ms")
  .max(3_600_000, "Must be at most an hour (3600000)");

const envSchema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"], { error: "Use development, production or test" })
    .default("development"),
  PORT: z.coerce.number({ error: "Must be a port number" }).int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: z
    .string()
    .regex(
      /^postgres(ql)?:\/\//,
      "Must be a postgres:// URL; leave unset for the embedded database",
    )
    .optional(),
  PGLITE_DIR: z.string().min(1).default(".data/pglite"),
  // PostgreSQL only; unset keeps DATABASE_DEFAULTS (see the README's configuration table).
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).optional(),
  DATABASE_CONNECT_TIMEOUT_MS: milliseconds.optional(),
  DATABASE_STATEMENT_TIMEOUT_MS: milliseconds.optional(),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: milliseconds.optional(),
  CHANGE_FEED_HEARTBEAT_MS: milliseconds.optional(),
  DATA_DIR: z.string().min(1).default(".data"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** `pretty`: coloured lines for a terminal; `json`: one JSON object a line. Default by NODE_ENV. */
  LOG_FORMAT: z.enum(["pretty", "json"], { error: "Use pretty or json" }).optional(),
  PUBLIC_URL: z
    .url({ error: "Must be an absolute URL such as https://mcp.example.com" })
    .optional(),
  TRUST_PROXY: booleanFlag.default(false),
  /** Sign-in and sign-up throttling (README: Throttling); the windows are fixed. */
  AUTH_MAX_FAILURES_PER_ACCOUNT_IP: attemptLimit.default(5),
  AUTH_MAX_FAILURES_PER_ACCOUNT: attemptLimit.default(30),
  AUTH_MAX_FAILURES_PER_IP: attemptLimit.default(100),
  AUTH_MAX_REGISTRATIONS_PER_IP: attemptLimit.default(20),
  /** OAuth dynamic client registrations at /oauth/register from one client address, per hour. */
  OAUTH_MAX_CLIENT_REGISTRATIONS_PER_IP: attemptLimit.default(20),
  /** Password reset and verification mails asked for one address, and from one client, per hour. */
  AUTH_MAX_MAIL_REQUESTS_PER_ADDRESS: attemptLimit.default(5),
  AUTH_MAX_MAIL_REQUESTS_PER_IP: attemptLimit.default(50),
  /** Who may create an account (README: Accounts). Default: invite in production, else open. */
  SIGNUP_MODE: z.enum(SIGNUP_MODES, { error: "Use open, invite or closed" }).optional(),
  /** Comma-separated e-mail domains new accounts and invitations must use; unset allows any. */
  SIGNUP_ALLOWED_DOMAINS: z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((domain) => domain.trim().toLowerCase().replace(/^@/, ""))
        .filter((domain) => domain !== ""),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/,
            "Must be domains separated by commas, such as example.com,example.org",
          ),
      ),
    )
    .default([]),
  /** How long an invitation link works. */
  INVITATION_TTL_DAYS: z.coerce
    .number({ error: "Must be a whole number of days" })
    .int()
    .min(1)
    .max(90)
    .default(7),
  /** Outgoing mail: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465. */
  SMTP_URL: z.url({ protocol: /^smtps?$/, error: "Must be an smtp:// or smtps:// URL" }).optional(),
  /** The From of every mail, e.g. `MCP Platform <noreply@example.com>`; required with SMTP_URL. */
  SMTP_FROM: z.string().min(3).optional(),
  /**
   * Whether this replica e-mails approvers of calls waiting for approval (with SMTP_URL; each org
   * can also turn the mails off). Any replica that has it on sends them, once between them.
   */
  APPROVAL_EMAILS: booleanFlag.default(true),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  WEB_DIST_DIR: z.string().optional(),
  /** Days runs are kept; older ones are deleted by a periodic job. 0 keeps them for ever. */
  RUNS_RETENTION_DAYS: z.coerce
    .number({ error: "Must be a whole number of days (0 keeps for ever)" })
    .int()
    .min(0)
    .default(90),
  /** Days audit events are kept; 0 keeps them for ever. */
  AUDIT_RETENTION_DAYS: z.coerce
    .number({ error: "Must be a whole number of days (0 keeps for ever)" })
    .int()
    .min(0)
    .default(365),
  /** How often each replica looks for connections whose scheduled tool sync is due. */
  TOOL_SYNC_CHECK_INTERVAL_MS: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(10)
    .default(30_000),
  /** How often each replica looks for audit events to send to the orgs' audit webhooks. */
  AUDIT_WEBHOOK_INTERVAL_MS: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(10)
    .default(2_000),
  /** Events per audit webhook request. */
  AUDIT_WEBHOOK_BATCH_SIZE: z.coerce
    .number({ error: "Must be a whole number of events" })
    .int()
    .min(1)
    .max(1_000)
    .default(100),
  /** The first retry's delay after a failed delivery; doubled per further failure. */
  AUDIT_WEBHOOK_RETRY_BASE_MS: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(10)
    .default(1_000),
  /** The longest delay between retries of a failing audit webhook. */
  AUDIT_WEBHOOK_RETRY_MAX_MS: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(10)
    .default(300_000),
  /** How long an audit webhook receiver has to answer. */
  AUDIT_WEBHOOK_TIMEOUT_MS: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(100)
    .default(10_000),
  /** How long a kept-alive connection may stay idle; above load balancers' idle timeouts. */
  KEEP_ALIVE_TIMEOUT_MS: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(1_000)
    .default(65_000),
  /** How long a stop waits for in-flight requests before cutting their connections. */
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(0)
    .default(15_000),
  /** Lifetime of the gateway's OAuth access tokens; clients refresh them (README: OAuth). */
  OAUTH_ACCESS_TOKEN_TTL_SECONDS: z.coerce
    .number({ error: "Must be a whole number of seconds" })
    .int()
    .min(60, "Must be at least 60 seconds")
    .max(86_400, "Must be at most a day (86400)")
    .default(900),
  /** Lifetime of a refresh token; each refresh replaces it with a new one for as long again. */
  OAUTH_REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number({ error: "Must be a whole number of seconds" })
    .int()
    .min(3_600, "Must be at least an hour (3600)")
    .max(31_536_000, "Must be at most a year (31536000)")
    .default(2_592_000),
  /** `id:base64key,…`; the first key encrypts, all decrypt. Unset: a key file in DATA_DIR. */
  SECRET_KEYS: z.string().optional(),
  /**
   * Production without SECRET_KEYS: use a key generated into DATA_DIR anyway. Refused unless set,
   * since on an ephemeral disk (a container without a volume) a restart loses every secret.
   */
  ALLOW_GENERATED_SECRET_KEY: booleanFlag.default(false),
  MCP_BLOCK_PRIVATE_NETWORKS: booleanFlag.optional(),
  /** Serve the bundled demo MCP server at /demo/mcp (default on outside production). */
  DEMO_MCP_SERVER: booleanFlag.optional(),
  /** The gateway answers `tools/call` itself; false sends it through the MCP SDK's server. */
  MCP_GATEWAY_FAST_PATH: booleanFlag.default(true),
  /** Upstream `tools/call` and Streamable HTTP by hand; false uses the MCP SDK's client for them. */
  MCP_CLIENT_FAST_PATH: booleanFlag.default(true),
  /** A gateway session (`Mcp-Session-Id`) unused for this long ends; an open GET stream keeps it. */
  MCP_SESSION_IDLE_TIMEOUT_SECONDS: z.coerce
    .number({ error: "Must be a whole number of seconds" })
    .int()
    .min(60)
    .default(3_600),
  /** Gateway sessions one agent may hold; one more ends its least recently used session. */
  MCP_MAX_SESSIONS_PER_AGENT: z.coerce
    .number({ error: "Must be a whole number" })
    .int()
    .min(1)
    .max(100_000)
    .default(100),
  /** Resources one gateway session may subscribe to at once; one more is refused with an error. */
  MCP_MAX_SUBSCRIPTIONS_PER_SESSION: z.coerce
    .number({ error: "Must be a whole number" })
    .int()
    .min(1)
    .max(10_000)
    .default(100),
  /**
   * Task-augmented tool calls (MCP tasks) one agent may have running at once; one more is
   * refused until one ends or is cancelled.
   */
  MCP_MAX_TASKS_PER_AGENT: z.coerce
    .number({ error: "Must be a whole number" })
    .int()
    .min(1)
    .max(100_000)
    .default(100),
  /**
   * The stdio MCP servers organizations may use: a JSON array, or the path of a file holding one.
   * Unset: no stdio connections.
   */
  MCP_STDIO_SERVERS: z.string().optional(),
  /** Replaced by MCP_STDIO_SERVERS; refused so an upgrade does not silently drop stdio. */
  MCP_STDIO_ALLOWED_COMMANDS: z
    .undefined({
      error:
        "No longer supported: declare each stdio server in MCP_STDIO_SERVERS instead (see the README)",
    })
    .optional(),
  /**
   * Required as `Authorization: Bearer …` to read /metrics. Without it /metrics is open on the main
   * port outside production only (see README: Metrics).
   */
  METRICS_TOKEN: z.string().min(16, "Must be at least 16 characters").optional(),
  /** Serve /metrics on this port instead of the main one (METRICS_TOKEN still applies). */
  METRICS_PORT: z.coerce
    .number({ error: "Must be a port number" })
    .int()
    .min(0)
    .max(65535)
    .optional(),
  /** The address the metrics port listens on; HOST when unset. */
  METRICS_HOST: z.string().min(1).optional(),
  /** OTLP/HTTP collector base URL; setting it turns tracing on (spans go to <url>/v1/traces). */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ error: "Must be an absolute URL such as http://collector:4318" })
    .optional(),
  /** The full traces URL, when it is not <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({ error: "Must be an absolute URL such as http://collector:4318/v1/traces" })
    .optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default("mcp-agents-platform"),
  /** How long finished spans wait to be exported together. */
  OTEL_BSP_SCHEDULE_DELAY: z.coerce
    .number({ error: "Must be a number of milliseconds" })
    .int()
    .min(1)
    .max(3_600_000)
    .default(5_000),
  /** The OpenID Connect identity provider for "Sign in with …"; unset: no SSO (README: SSO). */
  OIDC_ISSUER: z
    .url({ error: "Must be the issuer's URL, such as https://login.example.com" })
    .optional(),
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  /** Unset: a public client (PKCE only), for IdPs that register the platform that way. */
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** Comma-separated e-mail domains whose users may link or open accounts by SSO; unset: any. */
  OIDC_ALLOWED_DOMAINS: z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((domain) => domain.trim().toLowerCase())
        .filter((domain) => domain !== ""),
    )
    .pipe(
      z.array(
        z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
          error: "Must be comma-separated e-mail domains such as example.com,example.org",
        }),
      ),
    )
    .optional(),
  /** What the sign-in page's button names: "Sign in with <name>". */
  OIDC_DISPLAY_NAME: z.string().trim().min(1).max(60).default("SSO"),
  PATH: z.string().default("/usr/local/bin:/usr/bin:/bin"),
});

/** The identity provider the OIDC_* variables describe, or why they do not describe one. */
function ssoConfigFrom(data: z.infer<typeof envSchema>): SsoConfig | null {
  const problems: string[] = [];
  if (data.OIDC_ISSUER === undefined) {
    if (data.OIDC_CLIENT_ID !== undefined || data.OIDC_CLIENT_SECRET !== undefined)
      problems.push("  OIDC_ISSUER: required when OIDC_CLIENT_ID or OIDC_CLIENT_SECRET is set");
  } else {
    if (data.OIDC_CLIENT_ID === undefined)
      problems.push("  OIDC_CLIENT_ID: required when OIDC_ISSUER is set");
    if (data.NODE_ENV === "production" && new URL(data.OIDC_ISSUER).protocol !== "https:")
      problems.push("  OIDC_ISSUER: must be an https:// URL in production");
  }
  if (problems.length > 0) throw new Error(`Invalid configuration:\n${problems.join("\n")}`);
  if (data.OIDC_ISSUER === undefined || data.OIDC_CLIENT_ID === undefined) return null;
  return {
    issuer: data.OIDC_ISSUER,
    clientId: data.OIDC_CLIENT_ID,
    clientSecret: data.OIDC_CLIENT_SECRET,
    allowedDomains: data.OIDC_ALLOWED_DOMAINS ?? [],
    displayName: data.OIDC_DISPLAY_NAME,
    allowInsecureIssuer: data.NODE_ENV !== "production",
  };
}

export type Env = Omit<
  z.infer<typeof envSchema>,
  | "LOG_FORMAT"
  | "MCP_BLOCK_PRIVATE_NETWORKS"
  | "DEMO_MCP_SERVER"
  | "MCP_STDIO_SERVERS"
  | "MCP_STDIO_ALLOWED_COMMANDS"
  | "PATH"
  | "OIDC_ISSUER"
  | "OIDC_CLIENT_ID"
  | "OIDC_CLIENT_SECRET"
  | "OIDC_ALLOWED_DOMAINS"
  | "OIDC_DISPLAY_NAME"
  | "SIGNUP_MODE"
  | "SIGNUP_ALLOWED_DOMAINS"
> & {
  SIGNUP: SignupPolicy;
  LOG_FORMAT: "pretty" | "json";
  MCP_BLOCK_PRIVATE_NETWORKS: boolean;
  DEMO_MCP_SERVER: boolean;
  MCP_STDIO_SERVERS: StdioServer[];
  /** Where bwrap is installed, for servers declared with `"sandbox": "bwrap"`; null if absent. */
  BWRAP_PATH: string | null;
  /** The SSO identity provider (OIDC_*), when configured. */
  SSO: SsoConfig | null;
};

/** The declarations inline (a JSON array) or from the file the variable names. */
function loadStdioServers(value: string | undefined, path: string, bwrapPath: string | null) {
  if (value === undefined) return [];
  const inline = value.trimStart().startsWith("[");
  let json = value;
  if (!inline) {
    try {
      json = readFileSync(value, "utf8");
    } catch (error) {
      const code = error instanceof Error && "code" in error ? ` (${String(error.code)})` : "";
      throw new Error(
        `Invalid configuration:\n  MCP_STDIO_SERVERS: not a JSON array and not a readable file${code}`,
      );
    }
  }
  return parseStdioServers(json, inline ? "MCP_STDIO_SERVERS" : value, { path, bwrapPath });
}

/** Reads the environment once; every problem is reported by variable name before the server starts. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n${lines.join("\n")}`);
  }
  if (
    result.data.NODE_ENV === "production" &&
    !result.data.SECRET_KEYS &&
    !result.data.ALLOW_GENERATED_SECRET_KEY
  ) {
    throw new Error(
      "Invalid configuration:\n  SECRET_KEYS: required in production. Generate a key with\n" +
        `    SECRET_KEYS="k1:$(openssl rand -base64 32)"\n` +
        "  and keep it with your other secrets (it decrypts every stored connection secret).\n" +
        "  ALLOW_GENERATED_SECRET_KEY=true uses a key generated into DATA_DIR instead: only on a\n" +
        "  persistent disk, since losing that file loses every secret.",
    );
  }
  const { METRICS_PORT: metricsPort } = result.data;
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === result.data.PORT)
    throw new Error(
      "Invalid configuration:\n  METRICS_PORT: Must differ from PORT (leave it unset to serve /metrics on PORT)",
    );
  if (result.data.SMTP_URL && !result.data.SMTP_FROM)
    throw new Error(
      "Invalid configuration:\n  SMTP_FROM: required with SMTP_URL (the sender, e.g. MCP Platform <noreply@example.com>)",
    );
  const sso = ssoConfigFrom(result.data);
  const {
    MCP_STDIO_SERVERS,
    PATH,
    OIDC_ISSUER: _issuer,
    OIDC_CLIENT_ID: _clientId,
    OIDC_CLIENT_SECRET: _clientSecret,
    OIDC_ALLOWED_DOMAINS: _allowedDomains,
    OIDC_DISPLAY_NAME: _displayName,
    SIGNUP_MODE: signupMode,
    SIGNUP_ALLOWED_DOMAINS: allowedDomains,
    ...rest
  } = result.data;
  const bwrapPath = findBwrap(PATH);
  return {
    ...rest,
    SSO: sso,
    MCP_STDIO_SERVERS: loadStdioServers(MCP_STDIO_SERVERS, PATH, bwrapPath),
    BWRAP_PATH: bwrapPath,
    // Production keeps strangers out unless told otherwise; development and tests sign up freely.
    SIGNUP: {
      mode: signupMode ?? (result.data.NODE_ENV === "production" ? "invite" : "open"),
      allowedDomains,
    },
    // Production refuses private addresses unless told otherwise; development allows localhost.
    LOG_FORMAT:
      result.data.LOG_FORMAT ?? (result.data.NODE_ENV === "development" ? "pretty" : "json"),
    MCP_BLOCK_PRIVATE_NETWORKS:
      result.data.MCP_BLOCK_PRIVATE_NETWORKS ?? result.data.NODE_ENV === "production",
    DEMO_MCP_SERVER: result.data.DEMO_MCP_SERVER ?? result.data.NODE_ENV !== "production",
  };
}

/** How to open the database this environment describes. */
export function databaseConfig(env: Env): DatabaseConfig {
  return {
    databaseUrl: env.DATABASE_URL,
    pgliteDir: env.PGLITE_DIR,
    poolSize: env.DATABASE_POOL_SIZE,
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    changeFeedHeartbeatMs: env.CHANGE_FEED_HEARTBEAT_MS,
  };
}
