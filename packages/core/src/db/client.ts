import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { createPgliteChangeFeed, createPostgresChangeFeed, type ChangeFeed } from "./changes";
import * as schema from "./schema";

export type Schema = typeof schema;
/** Either driver, or a transaction of either: services accept all of them. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface DatabaseConfig {
  /** `postgres://…` selects node-postgres; anything else is ignored in favour of PGlite. */
  databaseUrl?: string | undefined;
  /** Where PGlite persists; `memory://` keeps it in memory (tests). */
  pgliteDir?: string | undefined;
  poolSize?: number | undefined;
}

export interface DatabaseHandle {
  db: Db;
  kind: "postgres" | "pglite";
  /** Commits that changed what governed calls read (see drizzle/0002), for caches to follow. */
  changes: ChangeFeed;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), "../../drizzle");

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
    const pool = new pg.Pool({ connectionString, max: config.poolSize ?? 10 });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on("error", () => undefined);
    const db = drizzlePg(pool, { schema });
    const changes = createPostgresChangeFeed(connectionString);
    return {
      db,
      kind: "postgres",
      changes,
      migrate: async () => {
        // Several processes may start at once: a session-level advisory lock lets one migrate
        // while the others wait, then find nothing left to apply.
        const lockClient = await pool.connect();
        try {
          await lockClient.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
          await migratePg(db, { migrationsFolder });
        } finally {
          await lockClient
            .query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY])
            .catch(() => undefined);
          lockClient.release();
        }
      },
      ping: async () => {
        await pool.query("select 1");
      },
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
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
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
    close: () => client.close(),
  };
}
