ALTER TABLE "approvals" ADD COLUMN "approvers_notified_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "approvals" ADD COLUMN "notify_lease_until" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "orgs" ADD COLUMN "email_approvers" boolean DEFAULT true NOT NULL;--> statement-breakpoint
CREATE INDEX "approvals_to_notify_idx" ON "approvals" USING btree ("id") WHERE status = 'pending' and approvers_notified_at is null;--> statement-breakpoint
-- Approvals that waited before approvers were e-mailed are not mailed about after the upgrade.
UPDATE "approvals" SET "approvers_notified_at" = "created_at";
