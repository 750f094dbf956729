CREATE TYPE "public"."mcp_task_status" AS ENUM('working', 'input_required', 'completed', 'failed', 'cancelled');--> statement-breakpoint
CREATE TABLE "mcp_tasks" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"session_id" uuid,
	"tool_name" text NOT NULL,
	"status" "mcp_task_status" DEFAULT 'working' NOT NULL,
	"status_message" text,
	"result" jsonb,
	"error" jsonb,
	"run_id" uuid,
	"replica_id" uuid NOT NULL,
	"ttl_ms" integer NOT NULL,
	"poll_interval_ms" integer NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "allow_tasks" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "mcp_tasks" ADD CONSTRAINT "mcp_tasks_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_tasks" ADD CONSTRAINT "mcp_tasks_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_tasks" ADD CONSTRAINT "mcp_tasks_session_id_mcp_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."mcp_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "mcp_tasks_org_id_idx" ON "mcp_tasks" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "mcp_tasks_agent_created_idx" ON "mcp_tasks" USING btree ("agent_id","created_at","id");--> statement-breakpoint
CREATE INDEX "mcp_tasks_expires_at_idx" ON "mcp_tasks" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "mcp_tasks_live_idx" ON "mcp_tasks" USING btree ("replica_id") WHERE status in ('working', 'input_required');