DROP INDEX IF EXISTS "runs_org_tool_idx";--> statement-breakpoint
DROP INDEX IF EXISTS "runs_org_agent_idx";--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "audit_events_org_action_id_idx" ON "audit_events" USING btree ("org_id","action","id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "audit_events_org_actor_id_idx" ON "audit_events" USING btree ("org_id","actor_id","id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "audit_events_org_target_idx" ON "audit_events" USING btree ("org_id","target_id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "audit_events_created_at_idx" ON "audit_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "runs_org_tool_id_idx" ON "runs" USING btree ("org_id","tool_id","id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "runs_org_agent_id_idx" ON "runs" USING btree ("org_id","agent_id","id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "runs_org_status_id_idx" ON "runs" USING btree ("org_id","status","id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "runs_org_started_at_idx" ON "runs" USING btree ("org_id","started_at");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "sessions" USING btree ("expires_at");