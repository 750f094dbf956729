CREATE TABLE "mcp_resource_subscriptions" (
	"session_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	"uri" text NOT NULL,
	"connection_id" uuid NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mcp_resource_subscriptions_session_id_uri_pk" PRIMARY KEY("session_id","uri")
);
--> statement-breakpoint
CREATE TABLE "mcp_sessions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"org_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"credential_id" text NOT NULL,
	"protocol_version" text NOT NULL,
	"client_info" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"client_capabilities" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"stream_replica_id" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mcp_sessions_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "mcp_resource_subscriptions" ADD CONSTRAINT "mcp_resource_subscriptions_session_id_mcp_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."mcp_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_resource_subscriptions" ADD CONSTRAINT "mcp_resource_subscriptions_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_resource_subscriptions" ADD CONSTRAINT "mcp_resource_subscriptions_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_sessions" ADD CONSTRAINT "mcp_sessions_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_sessions" ADD CONSTRAINT "mcp_sessions_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "mcp_resource_subscriptions_org_id_idx" ON "mcp_resource_subscriptions" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "mcp_sessions_org_id_idx" ON "mcp_sessions" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "mcp_sessions_agent_last_seen_idx" ON "mcp_sessions" USING btree ("agent_id","last_seen_at");