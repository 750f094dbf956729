import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createPlatformClient } from "../client";
import { isPlatformError } from "../errors";
import { cliEnv } from "./env";

/*
 * `pnpm config:export --org <org_id> [--out file]` and
 * `pnpm config:apply --org <org_id> [--dry-run] [--prune] <file>`: config as code against a
 * running platform, through the SDK, with an API token (MCP_AGENTS_TOKEN). Secret values come from
 * a JSON file named by MCP_AGENTS_SECRETS, never from the command line or the document.
 * Exit codes: 0 done, 1 refused or not everything applied, 2 bad usage.
 */

const USAGE = `usage:
  config:export --org <org_id> [--out <file>]
  config:apply  --org <org_id> [--dry-run] [--prune] <file>
environment: MCP_AGENTS_URL (default http://localhost:3000), MCP_AGENTS_TOKEN (an admin API token),
             MCP_AGENTS_SECRETS (for apply: a JSON file { "<secret name>": "<value>" })`;

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

async function readSecrets(path: string): Promise<Record<string, string>> {
  const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    Array.isArray(parsed) ||
    !Object.values(parsed).every((value) => typeof value === "string")
  )
    usage(`${path}: must be a JSON object of strings`);
  return parsed as Record<string, string>;
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      org: { type: "string" },
      out: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      prune: { type: "boolean", default: false },
    },
  });
  const env = cliEnv();
  const orgId = values.org;
  if (!orgId) usage("--org is required");
  if (!env.token) usage("MCP_AGENTS_TOKEN is not set");
  const client = createPlatformClient({ baseUrl: env.baseUrl, token: env.token });

  if (command === "export") {
    const { document } = await client.config.exportDocument.query({ org_id: orgId });
    if (values.out) await writeFile(resolve(env.cwd, values.out), document);
    else process.stdout.write(document);
    return;
  }
  if (command !== "apply") usage(`unknown command "${command ?? ""}"`);
  const [file] = positionals;
  if (!file || positionals.length > 1) usage("give exactly one document file");
  const result = await client.config.applyDocument.mutate({
    org_id: orgId,
    document: await readFile(resolve(env.cwd, file), "utf8"),
    secrets: env.secretsFile ? await readSecrets(resolve(env.cwd, env.secretsFile)) : {},
    dry_run: values["dry-run"],
    prune: values.prune,
  });
  console.log(JSON.stringify(result, null, 2));
  // A dry run lists what waits for a sync; only a real apply that left something undone fails.
  if (!result.dry_run && result.not_applied.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  if (isPlatformError(error)) {
    console.error(`${error.code}: ${error.message}`);
    for (const issue of error.issues) console.error(`  ${issue.path}: ${issue.message}`);
  } else console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
