CREATE TYPE "public"."policy_subject" AS ENUM('agent', 'user', 'role', 'everyone');--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "subject" "policy_subject" DEFAULT 'agent' NOT NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "user_id" uuid;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "min_role" "org_role";--> statement-breakpoint
-- Hand-written: before subjects, a policy without an agent applied to every agent and to people
-- running tools directly; it keeps exactly that meaning as subject 'everyone'. A policy naming an
-- agent applied to that agent only and stays subject 'agent' (the column's default).
UPDATE "policies" SET "subject" = 'everyone' WHERE "agent_id" IS NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD CONSTRAINT "policies_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "policies_user_id_idx" ON "policies" USING btree ("user_id");--> statement-breakpoint
ALTER TABLE "policies" ADD CONSTRAINT "policies_subject_fields" CHECK (case "policies"."subject"
        when 'agent' then "policies"."user_id" is null and "policies"."min_role" is null
        when 'user' then "policies"."user_id" is not null and "policies"."agent_id" is null and "policies"."min_role" is null
        when 'role' then "policies"."min_role" is not null and "policies"."agent_id" is null and "policies"."user_id" is null
        else "policies"."agent_id" is null and "policies"."user_id" is null and "policies"."min_role" is null end);