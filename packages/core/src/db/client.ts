import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
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

export function createDatabase(config: DatabaseConfig): DatabaseHandle {
  if (isPostgresUrl(config.databaseUrl)) {
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolSize ?? 10 });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on("error", () => undefined);
    const db = drizzlePg(pool, { schema });
    return {
      db,
      kind: "postgres",
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
      close: () => pool.end(),
    };
  }

  const dataDir = config.pgliteDir ?? ".data/pglite";
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  const db = drizzlePglite(client, { schema });
  return {
    db,
    kind: "pglite",
    migrate: () => migratePglite(db, { migrationsFolder }),
    ping: async () => {
      await client.query("select 1");
    },
    close: () => client.close(),
  };
}
