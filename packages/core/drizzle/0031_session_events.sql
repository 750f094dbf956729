CREATE TABLE "mcp_session_events" (
	"session_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"org_id" uuid NOT NULL,
	"stream" text NOT NULL,
	"message" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mcp_session_events_session_id_seq_pk" PRIMARY KEY("session_id","seq")
);
--> statement-breakpoint
ALTER TABLE "mcp_sessions" ADD COLUMN "event_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "mcp_sessions" ADD COLUMN "tools_fingerprint" text;--> statement-breakpoint
ALTER TABLE "mcp_session_events" ADD CONSTRAINT "mcp_session_events_session_id_mcp_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."mcp_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_session_events" ADD CONSTRAINT "mcp_session_events_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "mcp_session_events_org_id_idx" ON "mcp_session_events" USING btree ("org_id");