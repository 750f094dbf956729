import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import pg from "pg";
import { testDatabaseUrl } from "./postgres-probe";

/**
 * Creates a fresh database on the PostgreSQL server for this run and drops it afterwards. The
 * config includes this project only when the server answered, so failing to reach it is an error.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const baseUrl = testDatabaseUrl();
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
  await admin.connect();
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
