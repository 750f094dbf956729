CREATE TYPE "public"."tool_definition_source" AS ENUM('sync', 'manual', 'approval', 'config', 'backfill');--> statement-breakpoint
CREATE TABLE "tool_definitions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"tool_id" uuid NOT NULL,
	"hash" text NOT NULL,
	"definition" json NOT NULL,
	"source" "tool_definition_source" NOT NULL,
	"actor_type" "actor_type" NOT NULL,
	"actor_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tool_definitions" ADD CONSTRAINT "tool_definitions_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_definitions" ADD CONSTRAINT "tool_definitions_tool_id_tools_id_fk" FOREIGN KEY ("tool_id") REFERENCES "public"."tools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tool_definitions_org_tool_id_idx" ON "tool_definitions" USING btree ("org_id","tool_id","id");--> statement-breakpoint
CREATE INDEX "run_rollups_org_tool_hour_idx" ON "run_rollups" USING btree ("org_id","tool_id","hour");
--> statement-breakpoint
-- Each tool's approved definition starts its history, dated and attributed by the audit event
-- that approved it (or registered it by hand) when there is one, else by the tool's creation.
-- Tools never approved (quarantined as new) have none; tools pinned before hashes were kept get
-- theirs at their next sync. The ids are UUIDv7 of that date (the tool's id fills the random
-- bits), so later entries sort after them.
INSERT INTO "tool_definitions" ("id", "org_id", "tool_id", "hash", "definition", "source", "actor_type", "actor_id", "created_at")
SELECT
  (lpad(to_hex(floor(extract(epoch FROM approved.at) * 1000)::bigint), 12, '0') || '7'
    || substr(md5(t.id::text), 1, 3) || '8' || substr(md5(t.id::text), 4, 15))::uuid,
  t.org_id,
  t.id,
  t.definition_hash,
  json_build_object('title', t.title, 'description', t.description, 'input_schema', t.input_schema,
    'output_schema', t.output_schema, 'annotations', t.annotations),
  'backfill',
  approved.actor_type,
  approved.actor_id,
  approved.at
FROM "tools" t
CROSS JOIN LATERAL (
  SELECT e.created_at AS at, e.actor_type, e.actor_id
  FROM "audit_events" e
  WHERE e.org_id = t.org_id AND e.target_id = t.id::text
    AND ((e.action = 'tool.definition_approve' AND e.metadata->>'hash' = t.definition_hash)
      OR e.action = 'tool.create')
  UNION ALL
  SELECT t.created_at, 'system'::"actor_type", NULL
  ORDER BY at DESC
  LIMIT 1
) approved
WHERE t.definition_hash IS NOT NULL AND t.quarantine IS DISTINCT FROM 'new';
