CREATE TYPE "public"."policy_target" AS ENUM('tool', 'prompt', 'resource');--> statement-breakpoint
CREATE TYPE "public"."run_kind" AS ENUM('tool', 'prompt', 'resource');--> statement-breakpoint
ALTER TYPE "public"."run_status" ADD VALUE 'rate_limited';--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "target" "policy_target" DEFAULT 'tool' NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "kind" "run_kind" DEFAULT 'tool' NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "user_id" uuid;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
-- Runs made before this column by a person: their trigger already names the user.
UPDATE "runs" SET "user_id" = "users"."id" FROM "users"
WHERE "runs"."triggered_by"->>'type' = 'user' AND "users"."id"::text = "runs"."triggered_by"->>'id';
