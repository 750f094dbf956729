CREATE TABLE "audit_chain_heads" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint DEFAULT 0 NOT NULL,
	"hash" text
);
--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "chain_seq" bigint;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "hash" text;--> statement-breakpoint
ALTER TABLE "audit_chain_heads" ADD CONSTRAINT "audit_chain_heads_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_org_chain_seq_uq" ON "audit_events" USING btree ("org_id","chain_seq");
--> statement-breakpoint
-- The hash of one audit event: SHA-256 over its content, its place in the chain and the hash of
-- the event before it, so changing, removing or reordering an event breaks every link after it.
-- The one definition both the chaining trigger and the verifier (audit/chain.ts) use. The time
-- goes in as microseconds since the epoch, which no session setting changes.
CREATE FUNCTION "audit_event_digest"(
  prev_hash text, chain_seq bigint, id uuid, org_id uuid, actor_type text, actor_id text,
  action text, target_type text, target_id text, metadata jsonb, ip text, user_agent text,
  created_at timestamptz
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(jsonb_build_array(
    prev_hash, chain_seq, id, org_id, actor_type, actor_id, action, target_type, target_id,
    metadata, ip, user_agent, (extract(epoch FROM created_at) * 1000000)::bigint
  )::text, 'UTF8')), 'hex')
$$;
--> statement-breakpoint
-- Chains each new event of an organization to the one before: the org's head row is locked until
-- the inserting transaction ends, so concurrent writers (any replica) take turns per organization.
CREATE FUNCTION "audit_events_chain"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  head record;
BEGIN
  IF NEW.org_id IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT seq, hash INTO head FROM audit_chain_heads WHERE org_id = NEW.org_id FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO audit_chain_heads (org_id) VALUES (NEW.org_id) ON CONFLICT (org_id) DO NOTHING;
    SELECT seq, hash INTO head FROM audit_chain_heads WHERE org_id = NEW.org_id FOR UPDATE;
  END IF;
  NEW.chain_seq := head.seq + 1;
  NEW.prev_hash := head.hash;
  NEW.hash := audit_event_digest(NEW.prev_hash, NEW.chain_seq, NEW.id, NEW.org_id,
    NEW.actor_type::text, NEW.actor_id, NEW.action, NEW.target_type, NEW.target_id, NEW.metadata,
    NEW.ip, NEW.user_agent, NEW.created_at);
  UPDATE audit_chain_heads SET seq = NEW.chain_seq, hash = NEW.hash WHERE org_id = NEW.org_id;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_events_chain" BEFORE INSERT ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION "audit_events_chain"();
--> statement-breakpoint
-- Events written before this migration are chained in the order they were written.
DO $$
DECLARE
  event record;
  current_org uuid;
  position bigint;
  previous text;
BEGIN
  FOR event IN
    SELECT * FROM audit_events WHERE org_id IS NOT NULL ORDER BY org_id, created_at, id
  LOOP
    IF current_org IS DISTINCT FROM event.org_id THEN
      current_org := event.org_id;
      position := 0;
      previous := NULL;
    END IF;
    position := position + 1;
    UPDATE audit_events SET chain_seq = position, prev_hash = previous,
      hash = audit_event_digest(previous, position, event.id, event.org_id, event.actor_type::text,
        event.actor_id, event.action, event.target_type, event.target_id, event.metadata,
        event.ip, event.user_agent, event.created_at)
    WHERE id = event.id
    RETURNING hash INTO previous;
  END LOOP;
  INSERT INTO audit_chain_heads (org_id, seq, hash)
    SELECT DISTINCT ON (org_id) org_id, chain_seq, hash FROM audit_events
    WHERE org_id IS NOT NULL ORDER BY org_id, chain_seq DESC;
END
$$;
