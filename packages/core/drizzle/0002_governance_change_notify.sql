-- Processes cache what a governed call reads (agent keys, agents, tools, connections, policies) and
-- drop an organization's entries when PostgreSQL tells them it changed. The notification is sent
-- on commit, once per organization per transaction (identical payloads are folded), and a trigger
-- cannot be bypassed by any write path, including manual SQL.
CREATE FUNCTION "notify_governance_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mcp_governance', COALESCE(NEW.org_id, OLD.org_id)::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "agents_governance_change" AFTER INSERT OR UPDATE OR DELETE ON "agents"
  FOR EACH ROW EXECUTE FUNCTION "notify_governance_change"();
--> statement-breakpoint
-- Not on updates of last_used_at alone, which authentication writes about once a minute per key.
CREATE TRIGGER "agent_keys_governance_change" AFTER INSERT OR DELETE OR UPDATE OF "org_id", "agent_id", "key_hash", "revoked_at" ON "agent_keys"
  FOR EACH ROW EXECUTE FUNCTION "notify_governance_change"();
--> statement-breakpoint
CREATE TRIGGER "tools_governance_change" AFTER INSERT OR UPDATE OR DELETE ON "tools"
  FOR EACH ROW EXECUTE FUNCTION "notify_governance_change"();
--> statement-breakpoint
CREATE TRIGGER "connections_governance_change" AFTER INSERT OR UPDATE OR DELETE ON "connections"
  FOR EACH ROW EXECUTE FUNCTION "notify_governance_change"();
--> statement-breakpoint
CREATE TRIGGER "policies_governance_change" AFTER INSERT OR UPDATE OR DELETE ON "policies"
  FOR EACH ROW EXECUTE FUNCTION "notify_governance_change"();
