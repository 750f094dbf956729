CREATE TYPE "public"."tool_quarantine" AS ENUM('new', 'changed', 'rejected');--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "sync_interval_minutes" integer;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "next_sync_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "orgs" ADD COLUMN "quarantine_new_tools" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tools" ADD COLUMN "definition_hash" text;--> statement-breakpoint
ALTER TABLE "tools" ADD COLUMN "title_override" text;--> statement-breakpoint
ALTER TABLE "tools" ADD COLUMN "description_override" text;--> statement-breakpoint
ALTER TABLE "tools" ADD COLUMN "pending_definition" json;--> statement-breakpoint
ALTER TABLE "tools" ADD COLUMN "pending_hash" text;--> statement-breakpoint
ALTER TABLE "tools" ADD COLUMN "quarantine" "tool_quarantine";--> statement-breakpoint
CREATE INDEX "connections_next_sync_at_idx" ON "connections" USING btree ("next_sync_at") WHERE "connections"."sync_interval_minutes" is not null;--> statement-breakpoint
-- The scheduler moves next_sync_at on each claim, which changes nothing a governed call decides
-- on: like the health columns (0009), it must not flush every replica's call cache.
DROP TRIGGER "connections_governance_update" ON "connections";
--> statement-breakpoint
CREATE TRIGGER "connections_governance_update" AFTER UPDATE ON "connections"
  FOR EACH ROW
  WHEN (
    to_jsonb(OLD) - ARRAY['status', 'last_error', 'last_tested_at', 'last_synced_at', 'server_info', 'next_sync_at']
      IS DISTINCT FROM
    to_jsonb(NEW) - ARRAY['status', 'last_error', 'last_tested_at', 'last_synced_at', 'server_info', 'next_sync_at']
  )
  EXECUTE FUNCTION "notify_governance_change"();
