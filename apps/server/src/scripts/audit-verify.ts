import { createDatabase, isUuid, verifyAuditChain } from "@mcp/core";
import { databaseConfig, loadEnv } from "../env";

/**
 * `pnpm audit:verify --org <org_id>`: checks the organization's audit hash chain, prints the
 * report as JSON and exits 1 when a link is broken (2 on bad usage), so it can run from cron.
 */
const orgFlag = process.argv.indexOf("--org");
const orgId = orgFlag === -1 ? undefined : process.argv[orgFlag + 1];
if (orgId === undefined || !isUuid(orgId)) {
  console.error("usage: pnpm audit:verify --org <org_id (a UUID)>");
  process.exit(2);
}
const env = loadEnv();
const database = await createDatabase(databaseConfig(env));
try {
  await database.migrate();
  const report = await verifyAuditChain(database.db, orgId);
  console.log(JSON.stringify(report, null, 2));
  if (report.first_broken) {
    console.error(
      `Broken at event ${report.first_broken.chain_seq}${report.first_broken.event_id ? ` (${report.first_broken.event_id})` : ""}: ${report.first_broken.reason}`,
    );
    process.exitCode = 1;
  } else {
    console.error(`Intact: ${report.events} events, head ${report.head_hash ?? "(none)"}`);
  }
} finally {
  await database.close();
}
