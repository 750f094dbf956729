import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDatabase, type DatabaseHandle } from "../db/client";

/**
 * A migrated database of its own for a test file: a throw-away database on the PostgreSQL server
 * of TEST_DATABASE_URL when it answers (production's database), else embedded PGlite in memory.
 * REQUIRE_POSTGRES=1 (CI) makes an unreachable PostgreSQL a failure rather than a fallback.
 * `close` drops the throw-away database.
 */
export async function migratedTestDatabase(
  prefix: string,
): Promise<{ handle: DatabaseHandle; close: () => Promise<void> }> {
  const baseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 3000 });
  let reachable = true;
  try {
    await admin.connect();
  } catch (error) {
    if (process.env.REQUIRE_POSTGRES === "1") throw error;
    reachable = false;
  }
  if (!reachable) {
    const handle = await createDatabase({ pgliteDir: "memory://" });
    await handle.migrate();
    return { handle, close: () => handle.close() };
  }
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await admin.query(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const handle = await createDatabase({ databaseUrl: url.toString(), poolSize: 4 });
  await handle.migrate();
  return {
    handle,
    close: async () => {
      await handle.close();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
