ALTER TABLE "policies" ADD COLUMN "pre_call_hook" jsonb;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "post_call_hook" jsonb;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "hook_secret_ciphertext" text;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "redact_patterns" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "guardrails" jsonb;