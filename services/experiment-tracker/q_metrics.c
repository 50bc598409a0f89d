/* Queries on tracker.metrics and tracker.latest_metrics (one function per
 * statement, named as it; face: et.h).
 * metrics_insert appends a whole batch in one statement: the points (identical ones
 * deduplicated by the primary key) and, per key, the batch's greatest point by
 * (step, timestamp, value), which replaces the stored latest one only when greater.
 * Call it only inside the transaction that has locked the run row (et_q_runs_lock) and
 * found it active: neither table has a foreign key to runs any more (migration 0004:
 * the per-row checks were a third of PostgreSQL's CPU in a 1000-metric batch), so that
 * lock is what keeps points from outliving or preceding their run, and it serializes
 * the writers of one run.
 * metrics_history reads a history page by arrival order (seq), keyset-paged. */
#include "et.h"

static const struct db_stmt metrics_insert = {
	.name = "et_q_metrics_insert",
	.sql = "WITH m AS (SELECT * FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[]) "
	       "           WITH ORDINALITY AS u(key, value, timestamp, step, ord)), "
	       "ins AS (INSERT INTO metrics (run_id, key, value, timestamp, step) "
	       "        SELECT $1, key, value, timestamp, step FROM m ORDER BY ord ON CONFLICT DO NOTHING), "
	       "top AS (SELECT DISTINCT ON (key) key, value, timestamp, step FROM m "
	       "        ORDER BY key, step DESC, timestamp DESC, value DESC) "
	       "INSERT INTO latest_metrics AS l (run_id, key, value, timestamp, step) "
	       "SELECT $1, key, value, timestamp, step FROM top "
	       "ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, timestamp = EXCLUDED.timestamp, "
	       "step = EXCLUDED.step WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > "
	       "(l.step, l.timestamp, l.value)",
	.n_params = 5,
};

int et_q_metrics_insert(struct db_conn *c, const char *run_id, const char *keys, const char *values,
			const char *timestamps, const char *steps, struct core_error *err)
{
	const char *params[5] = {run_id, keys, values, timestamps, steps};
	return db_exec(c, &metrics_insert, params, NULL, err);
}

static const struct db_stmt metrics_history = {
	.name = "et_q_metrics_history",
	.sql = "SELECT key, value, timestamp, step, seq FROM metrics "
	       "WHERE run_id = $1 AND key = $2 AND seq > $3::bigint ORDER BY seq LIMIT $4::bigint",
	.n_params = 4,
};

int et_q_metrics_history(struct db_conn *c, const char *run_id, const char *key, int64_t after_seq, int64_t limit,
			 PGresult **res_out, struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[4] = {run_id, key, db_i64(&a, after_seq), db_i64(&l, limit)};
	return db_exec(c, &metrics_history, params, res_out, err);
}
