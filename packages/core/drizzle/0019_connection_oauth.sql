CREATE TYPE "public"."connection_auth" AS ENUM('none', 'headers', 'oauth');--> statement-breakpoint
CREATE TYPE "public"."oauth_client_registration" AS ENUM('dynamic', 'manual');--> statement-breakpoint
CREATE TYPE "public"."oauth_credential_mode" AS ENUM('shared', 'per_user');--> statement-breakpoint
CREATE TABLE "connection_authorizations" (
	"state_hash" text PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"credential" "oauth_credential_mode" NOT NULL,
	"flow_ciphertext" text NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "connection_credentials" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"user_id" uuid,
	"token_ciphertext" text NOT NULL,
	"expires_at" timestamp (3) with time zone,
	"needs_reauthorization" boolean DEFAULT false NOT NULL,
	"connected_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "runs_as_user_id" uuid;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "auth" "connection_auth" DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_credential_mode" "oauth_credential_mode";--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_scope" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_client_registration" "oauth_client_registration";--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_client_id" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_client_ciphertext" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "needs_reauthorization" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "connection_authorizations" ADD CONSTRAINT "connection_authorizations_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_authorizations" ADD CONSTRAINT "connection_authorizations_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_authorizations" ADD CONSTRAINT "connection_authorizations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_credentials" ADD CONSTRAINT "connection_credentials_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_credentials" ADD CONSTRAINT "connection_credentials_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_credentials" ADD CONSTRAINT "connection_credentials_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_credentials" ADD CONSTRAINT "connection_credentials_connected_by_users_id_fk" FOREIGN KEY ("connected_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "connection_authorizations_org_id_idx" ON "connection_authorizations" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "connection_authorizations_expires_at_idx" ON "connection_authorizations" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "connection_credentials_org_id_idx" ON "connection_credentials" USING btree ("org_id");--> statement-breakpoint
CREATE UNIQUE INDEX "connection_credentials_shared_uq" ON "connection_credentials" USING btree ("connection_id") WHERE "connection_credentials"."user_id" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "connection_credentials_user_uq" ON "connection_credentials" USING btree ("connection_id","user_id") WHERE "connection_credentials"."user_id" is not null;--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_runs_as_user_id_users_id_fk" FOREIGN KEY ("runs_as_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
-- Existing connections with a secret authenticate with its headers.
UPDATE "connections" SET "auth" = 'headers' WHERE "secret_ciphertext" IS NOT NULL;
