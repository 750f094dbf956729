CREATE TABLE "run_rollups" (
	"org_id" uuid NOT NULL,
	"hour" timestamp (3) with time zone NOT NULL,
	"tool_id" uuid,
	"tool_name" text NOT NULL,
	"agent_id" uuid,
	"status" "run_status" NOT NULL,
	"runs" bigint NOT NULL,
	"latencies" bigint[] NOT NULL,
	CONSTRAINT "run_rollups_key" UNIQUE NULLS NOT DISTINCT("org_id","hour","tool_id","tool_name","agent_id","status")
);
--> statement-breakpoint
ALTER TABLE "run_rollups" ADD CONSTRAINT "run_rollups_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Exact below 16 ms, then buckets 1/8 of a doubling wide: a bucket's middle is within 4.4 % of
-- every duration in it.
CREATE FUNCTION "run_latency_bucket"(ms integer) RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT CASE WHEN ms IS NULL THEN NULL WHEN ms < 16 THEN greatest(ms, 0)
		ELSE 16 + floor(8 * log(2, ms / 16.0))::integer END $$;
--> statement-breakpoint
-- Counts per bucket as a histogram array: element i + 1 holds bucket i's count.
CREATE FUNCTION "run_latency_histogram"(buckets integer[], counts bigint[]) RETURNS bigint[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT coalesce(array_agg(coalesce(h.n, 0) ORDER BY g), '{}')
		FROM generate_series(0, (SELECT max(b) FROM unnest(buckets) b)) g
		LEFT JOIN (SELECT b, sum(n) AS n FROM unnest(buckets, counts) u(b, n) WHERE b IS NOT NULL GROUP BY b) h
			ON h.b = g $$;
--> statement-breakpoint
CREATE FUNCTION "run_latency_add"(a bigint[], b bigint[]) RETURNS bigint[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
		FROM unnest(a, b) WITH ORDINALITY u(x, y, i) $$;
--> statement-breakpoint
-- Statement-level, with transition tables: one grouped upsert per statement, whatever its size.
-- Keys are upserted in key order, so two replicas' concurrent batches lock rows in the same order.
CREATE FUNCTION "run_rollups_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO run_rollups AS r (org_id, hour, tool_id, tool_name, agent_id, status, runs, latencies)
	SELECT org_id, hour, tool_id, tool_name, agent_id, status, sum(n),
		run_latency_histogram(array_agg(bucket), array_agg(n))
	FROM (
		SELECT org_id, date_trunc('hour', started_at, 'UTC') AS hour, tool_id, tool_name, agent_id,
			status, run_latency_bucket(duration_ms) AS bucket, count(*) AS n
		FROM new_runs GROUP BY 1, 2, 3, 4, 5, 6, 7
	) added
	GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT ON CONSTRAINT run_rollups_key DO UPDATE
		SET runs = r.runs + excluded.runs, latencies = run_latency_add(r.latencies, excluded.latencies);
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "run_rollups_after_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO run_rollups AS r (org_id, hour, tool_id, tool_name, agent_id, status, runs, latencies)
	SELECT org_id, hour, tool_id, tool_name, agent_id, status, sum(n),
		run_latency_histogram(array_agg(bucket), array_agg(n))
	FROM (
		SELECT org_id, hour, tool_id, tool_name, agent_id, status, bucket, sum(delta) AS n
		FROM (
			SELECT org_id, date_trunc('hour', started_at, 'UTC') AS hour, tool_id, tool_name, agent_id,
				status, run_latency_bucket(duration_ms) AS bucket, 1 AS delta FROM new_runs
			UNION ALL
			SELECT org_id, date_trunc('hour', started_at, 'UTC'), tool_id, tool_name, agent_id,
				status, run_latency_bucket(duration_ms), -1 FROM old_runs
		) moved
		GROUP BY 1, 2, 3, 4, 5, 6, 7
	) net
	WHERE n <> 0
	GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT ON CONSTRAINT run_rollups_key DO UPDATE
		SET runs = r.runs + excluded.runs, latencies = run_latency_add(r.latencies, excluded.latencies);
	-- Rows a run left (an outcome replacing a running row, a deleted run) are dropped at zero.
	DELETE FROM run_rollups r
	USING (SELECT DISTINCT org_id, date_trunc('hour', started_at, 'UTC') AS hour FROM old_runs) left_hours
	WHERE r.org_id = left_hours.org_id AND r.hour = left_hours.hour AND r.runs = 0;
	RETURN NULL;
END $$;
--> statement-breakpoint
-- An update, not an upsert: when an org is deleted its runs go by cascade, and its rollup rows
-- may already be gone (inserting would then break the foreign key).
CREATE FUNCTION "run_rollups_after_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE run_rollups r
	SET runs = r.runs - gone.runs, latencies = run_latency_add(r.latencies, gone.latencies)
	FROM (
		SELECT org_id, hour, tool_id, tool_name, agent_id, status, sum(n) AS runs,
			run_latency_histogram(array_agg(bucket), array_agg(-n)) AS latencies
		FROM (
			SELECT org_id, date_trunc('hour', started_at, 'UTC') AS hour, tool_id, tool_name, agent_id,
				status, run_latency_bucket(duration_ms) AS bucket, count(*) AS n
			FROM old_runs GROUP BY 1, 2, 3, 4, 5, 6, 7
		) counted
		GROUP BY 1, 2, 3, 4, 5, 6
	) gone
	WHERE r.org_id = gone.org_id AND r.hour = gone.hour
		AND r.tool_id IS NOT DISTINCT FROM gone.tool_id AND r.tool_name = gone.tool_name
		AND r.agent_id IS NOT DISTINCT FROM gone.agent_id AND r.status = gone.status;
	DELETE FROM run_rollups r
	USING (SELECT DISTINCT org_id, date_trunc('hour', started_at, 'UTC') AS hour FROM old_runs) left_hours
	WHERE r.org_id = left_hours.org_id AND r.hour = left_hours.hour AND r.runs = 0;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "run_rollups_insert" AFTER INSERT ON "runs" REFERENCING NEW TABLE AS new_runs
	FOR EACH STATEMENT EXECUTE FUNCTION run_rollups_after_insert();
--> statement-breakpoint
CREATE TRIGGER "run_rollups_update" AFTER UPDATE ON "runs" REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
	FOR EACH STATEMENT EXECUTE FUNCTION run_rollups_after_update();
--> statement-breakpoint
CREATE TRIGGER "run_rollups_delete" AFTER DELETE ON "runs" REFERENCING OLD TABLE AS old_runs
	FOR EACH STATEMENT EXECUTE FUNCTION run_rollups_after_delete();
--> statement-breakpoint
INSERT INTO run_rollups (org_id, hour, tool_id, tool_name, agent_id, status, runs, latencies)
SELECT org_id, hour, tool_id, tool_name, agent_id, status, sum(n),
	run_latency_histogram(array_agg(bucket), array_agg(n))
FROM (
	SELECT org_id, date_trunc('hour', started_at, 'UTC') AS hour, tool_id, tool_name, agent_id,
		status, run_latency_bucket(duration_ms) AS bucket, count(*) AS n
	FROM runs GROUP BY 1, 2, 3, 4, 5, 6, 7
) counted
GROUP BY 1, 2, 3, 4, 5, 6;
