import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import pg from "pg";

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test";

/**
 * Creates a fresh database on the PostgreSQL server for this run and drops it afterwards. When the
 * server cannot be reached the tests of this project are skipped with a loud notice, unless
 * REQUIRE_POSTGRES=1 (CI) makes that a failure.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const baseUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_URL;
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    if (process.env.REQUIRE_POSTGRES === "1")
      throw new Error(`PostgreSQL unreachable at ${baseUrl}: ${String(error)}`);
    console.warn(`\n[postgres] ${baseUrl} unreachable; PostgreSQL tests are skipped.\n`);
    project.provide("postgresUrl", "");
    return () => Promise.resolve();
  }
  const name = `mcpa_test_${Date.now()}_${randomBytes(3).toString("hex")}`;
  await admin.query(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  project.provide("postgresUrl", url.toString());
  return async () => {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}
