-- JSON Schemas move from jsonb to json: jsonb stores objects with their keys sorted (by length,
-- then bytewise), so a tool's parameters came back to MCP clients and the run form in that order
-- instead of the server's. json keeps the text as written, key order included.
-- Rows written before this migration were stored as jsonb: their original order is lost and
-- cannot be recovered here. Synced tools get it back on their next sync; hand-registered tools
-- and policy input schemas keep jsonb's order until they are saved again.
ALTER TABLE "tools" ALTER COLUMN "input_schema" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "tools" ALTER COLUMN "input_schema" SET DATA TYPE json USING "input_schema"::json;--> statement-breakpoint
ALTER TABLE "tools" ALTER COLUMN "input_schema" SET DEFAULT '{"type":"object"}'::json;--> statement-breakpoint
ALTER TABLE "tools" ALTER COLUMN "output_schema" SET DATA TYPE json USING "output_schema"::json;--> statement-breakpoint
ALTER TABLE "tools" ALTER COLUMN "annotations" SET DATA TYPE json USING "annotations"::json;--> statement-breakpoint
ALTER TABLE "policies" ALTER COLUMN "input_schema" SET DATA TYPE json USING "input_schema"::json;
