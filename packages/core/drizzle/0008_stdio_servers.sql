-- Stdio connections no longer name a command: they pick a server the operator declared
-- (MCP_STDIO_SERVERS). Which declared server an old command corresponds to cannot be known here,
-- so existing stdio connections keep no stdio_server and refuse to start with a clear error until
-- an admin picks one; what they used to run is kept in last_error so the admin can tell.
ALTER TABLE "connections" ADD COLUMN "stdio_server" text;--> statement-breakpoint
UPDATE "connections"
SET "status" = 'unhealthy',
  "last_error" = 'This connection ran its own command (' || coalesce("command", '') || CASE WHEN jsonb_array_length("args") > 0 THEN ' ' || (SELECT string_agg(arg, ' ') FROM jsonb_array_elements_text("args") AS arg) ELSE '' END || '), which is no longer allowed: edit it and pick one of the stdio servers the operator declared (MCP_STDIO_SERVERS).'
WHERE "transport" = 'stdio';--> statement-breakpoint
ALTER TABLE "connections" DROP COLUMN "command";--> statement-breakpoint
ALTER TABLE "connections" DROP COLUMN "args";
