CREATE TYPE "public"."approval_mode" AS ENUM('held', 'detached');--> statement-breakpoint
CREATE TYPE "public"."approval_status" AS ENUM('pending', 'approved', 'denied', 'expired', 'cancelled');--> statement-breakpoint
ALTER TYPE "public"."policy_effect" ADD VALUE 'require_approval';--> statement-breakpoint
ALTER TYPE "public"."run_status" ADD VALUE 'awaiting_approval' BEFORE 'succeeded';--> statement-breakpoint
CREATE TABLE "approvals" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"run_id" uuid NOT NULL,
	"policy_id" uuid,
	"policy_name" text NOT NULL,
	"approver_role" "org_role" NOT NULL,
	"status" "approval_status" DEFAULT 'pending' NOT NULL,
	"mode" "approval_mode" NOT NULL,
	"holder_replica_id" uuid,
	"call" jsonb NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"decided_at" timestamp (3) with time zone,
	"decided_by" uuid,
	"comment" text,
	"claimed_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "approvals_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "approver_role" "org_role";--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "approval_timeout_seconds" integer;--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_policy_id_policies_id_fk" FOREIGN KEY ("policy_id") REFERENCES "public"."policies"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "approvals_org_id_id_idx" ON "approvals" USING btree ("org_id","id");--> statement-breakpoint
CREATE INDEX "approvals_org_status_id_idx" ON "approvals" USING btree ("org_id","status","id");--> statement-breakpoint
CREATE INDEX "approvals_expires_at_idx" ON "approvals" USING btree ("expires_at");