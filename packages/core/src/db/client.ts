import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { createPgliteChangeFeed, createPostgresChangeFeed, type ChangeFeed } from "./changes";
import { acquirePgliteLock, type PgliteLock } from "./pglite-lock";
import * as schema from "./schema";

export type Schema = typeof schema;
/** Either driver, or a transaction of either: services accept all of them. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface DatabaseConfig {
  /** `postgres://…` selects node-postgres; anything else is ignored in favour of PGlite. */
  databaseUrl?: string | undefined;
  /** Where PGlite persists; `memory://` keeps it in memory (tests). */
  pgliteDir?: string | undefined;
  /** PostgreSQL only, like every setting below; defaults in DATABASE_DEFAULTS. */
  poolSize?: number | undefined;
  /** Longest wait for a new connection, or for a pooled one to come free. */
  connectTimeoutMs?: number | undefined;
  /**
   * PostgreSQL cancels a statement running longer; the driver gives up waiting for an answer
   * a second later, for the case where no answer can arrive at all (a black-holed path).
   */
  statementTimeoutMs?: number | undefined;
  /** PostgreSQL ends a session that sits idle inside a transaction this long. */
  idleInTransactionTimeoutMs?: number | undefined;
  /** How often the change feed NOTIFYs itself (see createPostgresChangeFeed). */
  changeFeedHeartbeatMs?: number | undefined;
}

export const DATABASE_DEFAULTS = {
  poolSize: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  idleInTransactionTimeoutMs: 60_000,
  changeFeedHeartbeatMs: 2_000,
} as const;

/** Idle time before TCP keepalive probes start on every connection to PostgreSQL. */
const KEEPALIVE_DELAY_MS = 10_000;

/** How long the driver waits past `statement_timeout` before it stops waiting for an answer. */
const ANSWER_GRACE_MS = 1_000;

export interface DatabaseHandle {
  db: Db;
  kind: "postgres" | "pglite";
  /** Commits that changed what governed calls read (see drizzle/0002), for caches to follow. */
  changes: ChangeFeed;
  migrate(): Promise<void>;
  /** Rejects unless the database answers within the connect timeout. */
  ping(): Promise<void>;
  /** PostgreSQL's connection pool right now; null for PGlite, which has one connection. */
  poolStats(): { total: number; idle: number; waiting: number; max: number } | null;
  close(): Promise<void>;
  /** Embedded database in a folder: tells other processes where its holder serves (see pglite-lock). */
  advertise?: (url: string) => void;
}

/**
 * The package's `drizzle` folder, from its sources (src/db) or its compiled chunks (dist); or the
 * copy beside the server's production bundle, which holds this module (apps/server/tsup.config.ts).
 */
function findMigrationsFolder(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const folder = join(dir, "drizzle");
    if (existsSync(join(folder, "meta", "_journal.json")) || existsSync(join(dir, "package.json")))
      return folder;
    if (dirname(dir) === dir) throw new Error("@mcp/core: package folder not found");
  }
}

const migrationsFolder = findMigrationsFolder();

/**
 * Whether the database already has the newest migration this build ships, by drizzle's own rule
 * (a migration is applied when the last recorded one is not older than it). False when unsure
 * (no migrations table yet, an unreadable journal): the caller then migrates as usual.
 */
async function migrationsApplied(pool: pg.Pool): Promise<boolean> {
  try {
    const journal = JSON.parse(
      readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8"),
    ) as { entries?: { when?: unknown }[] };
    const newest = Math.max(
      ...(journal.entries ?? []).map((entry) => (typeof entry.when === "number" ? entry.when : 0)),
    );
    const { rows } = await pool.query<{ last: string | null }>(
      "select max(created_at)::text as last from drizzle.__drizzle_migrations",
    );
    const last = rows[0]?.last;
    return last !== null && last !== undefined && Number(last) >= newest;
  } catch {
    return false;
  }
}

/** An arbitrary constant naming this application's migration lock. */
const MIGRATION_LOCK_KEY = 724_301_991;

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}

/**
 * Opens (lazily: nothing connects until the first query) either driver. PGlite is imported only
 * when it is the one chosen: its WebAssembly module costs ~40 MB of memory in a process that runs
 * on PostgreSQL and never uses it.
 */
export async function createDatabase(config: DatabaseConfig): Promise<DatabaseHandle> {
  if (isPostgresUrl(config.databaseUrl)) {
    const connectionString = config.databaseUrl;
    const settings = {
      poolSize: config.poolSize ?? DATABASE_DEFAULTS.poolSize,
      connectTimeoutMs: config.connectTimeoutMs ?? DATABASE_DEFAULTS.connectTimeoutMs,
      statementTimeoutMs: config.statementTimeoutMs ?? DATABASE_DEFAULTS.statementTimeoutMs,
      idleInTransactionTimeoutMs:
        config.idleInTransactionTimeoutMs ?? DATABASE_DEFAULTS.idleInTransactionTimeoutMs,
      changeFeedHeartbeatMs:
        config.changeFeedHeartbeatMs ?? DATABASE_DEFAULTS.changeFeedHeartbeatMs,
    };
    const connection = {
      connectionString,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    };
    const pool = new pg.Pool({
      ...connection,
      max: settings.poolSize,
      statement_timeout: settings.statementTimeoutMs,
      query_timeout: settings.statementTimeoutMs + ANSWER_GRACE_MS,
      idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on("error", () => undefined);
    const db = drizzlePg(pool, { schema });
    const changes = createPostgresChangeFeed(connectionString, {
      heartbeatMs: settings.changeFeedHeartbeatMs,
      connectTimeoutMs: settings.connectTimeoutMs,
      keepAliveMs: KEEPALIVE_DELAY_MS,
    });
    return {
      db,
      kind: "postgres",
      changes,
      migrate: async () => {
        // The common start (nothing to apply) is answered by one read on the pool.
        if (await migrationsApplied(pool)) return;
        // Several processes may start at once: a session-level advisory lock lets one migrate
        // while the others wait, then find nothing left to apply. Its own connection, without
        // statement timeouts: waiting for the lock, or building an index, may take longer.
        const lockClient = new pg.Client(connection);
        await lockClient.connect();
        try {
          await lockClient.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
          await migratePg(drizzlePg(lockClient, { schema }), { migrationsFolder });
        } finally {
          await lockClient.end().catch(() => undefined);
        }
      },
      ping: async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`No answer from the database in ${settings.connectTimeoutMs} ms`));
          }, settings.connectTimeoutMs);
        });
        try {
          await Promise.race([pool.query("select 1"), deadline]);
        } finally {
          clearTimeout(timer);
        }
      },
      poolStats: () => ({
        total: pool.totalCount,
        idle: pool.idleCount,
        waiting: pool.waitingCount,
        max: settings.poolSize,
      }),
      close: async () => {
        await changes.close();
        await pool.end();
      },
    };
  }

  const [{ PGlite }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
  ]);
  const dataDir = config.pgliteDir ?? ".data/pglite";
  let lock: PgliteLock | null = null;
  if (!dataDir.startsWith("memory://")) {
    mkdirSync(dataDir, { recursive: true });
    lock = acquirePgliteLock(dataDir);
  }
  const client = new PGlite(dataDir);
  const db = drizzlePglite(client, { schema });
  return {
    db,
    kind: "pglite",
    changes: createPgliteChangeFeed(client),
    migrate: () => migratePglite(db, { migrationsFolder }),
    ping: async () => {
      await client.query("select 1");
    },
    poolStats: () => null,
    close: async () => {
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
    ...(lock ? { advertise: lock.advertise } : {}),
  };
}
