ALTER TABLE "users" ADD COLUMN "disabled_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "last_sign_in_at" timestamp (3) with time zone;--> statement-breakpoint
-- The last sign-in of existing accounts, as far as their open sessions remember it.
UPDATE "users" SET "last_sign_in_at" = (
  SELECT max("created_at") FROM "sessions" WHERE "sessions"."user_id" = "users"."id"
);
