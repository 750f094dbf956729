-- A connection's health (status, last_error and when it was last tested or synced, server_info)
-- is written after calls and tests, and changes nothing a governed call decides on. Notifying on
-- it made one flapping upstream flush every replica's cache on every flip. Updates notify only
-- when a column other than those changed, so a column added later notifies by default.
DROP TRIGGER "connections_governance_change" ON "connections";
--> statement-breakpoint
CREATE TRIGGER "connections_governance_change" AFTER INSERT OR DELETE ON "connections"
  FOR EACH ROW EXECUTE FUNCTION "notify_governance_change"();
--> statement-breakpoint
CREATE TRIGGER "connections_governance_update" AFTER UPDATE ON "connections"
  FOR EACH ROW
  WHEN (
    to_jsonb(OLD) - ARRAY['status', 'last_error', 'last_tested_at', 'last_synced_at', 'server_info']
      IS DISTINCT FROM
    to_jsonb(NEW) - ARRAY['status', 'last_error', 'last_tested_at', 'last_synced_at', 'server_info']
  )
  EXECUTE FUNCTION "notify_governance_change"();
