/* Queries on tracker.metrics and tracker.latest_metrics (one function per
 * statement, named as it; face: et.h).
 * et_q_metrics_insert appends a whole batch in one statement: the points (identical
 * ones deduplicated by the primary key) and, per key, the batch's greatest point by
 * (step, timestamp, value), which replaces the stored latest one only when greater.
 * Call it only inside the transaction that has locked the run row (et_run_lock_active)
 * and found it active: neither table has a foreign key to runs any more (migration
 * 0004: the per-row checks were a third of PostgreSQL's CPU in a 1000-metric batch), so
 * that lock is what keeps points from outliving or preceding their run, and it
 * serializes the writers of one run.
 * metrics_history reads a history page by arrival order (seq), keyset-paged; callers
 * have found the run first, so its id casts to metrics.run_id's uuid (migration 0005). */
#include <string.h>
#include "et.h"

/* The batch's points with their arrival order (seq), and per key the batch's greatest
 * point by (step, timestamp, value), which replaces the stored latest one only when
 * greater. on_conflict is how the points meet the primary key: "ON CONFLICT DO NOTHING"
 * (skip identical points) or "" (fail on one). */
#define METRICS_INSERT_SQL(on_conflict)                                                                                \
	"WITH m AS (SELECT * FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[]) "                       \
	"           WITH ORDINALITY AS u(key, value, timestamp, step, ord)), "                                         \
	"ins AS (INSERT INTO metrics (run_id, key, value, timestamp, step) "                                           \
	"        SELECT $1::text::uuid, key, value, timestamp, step FROM m ORDER BY ord " on_conflict "), "            \
	"top AS (SELECT DISTINCT ON (key) key, value, timestamp, step FROM m "                                         \
	"        ORDER BY key, step DESC, timestamp DESC, value DESC) "                                                \
	"INSERT INTO latest_metrics AS l (run_id, key, value, timestamp, step) "                                       \
	"SELECT $1::text, key, value, timestamp, step FROM top "                                                       \
	"ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, timestamp = EXCLUDED.timestamp, "             \
	"step = EXCLUDED.step WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > "                            \
	"(l.step, l.timestamp, l.value)"

static const struct db_stmt metrics_insert = {
	.name = "et_q_metrics_insert",
	.sql = METRICS_INSERT_SQL("ON CONFLICT DO NOTHING"),
	.n_params = 5,
};

static const struct db_stmt metrics_append = {
	.name = "et_q_metrics_append",
	.sql = METRICS_INSERT_SQL(""),
	.n_params = 5,
};

/* From this many points a batch first tries the plain insert: ON CONFLICT's
 * speculative insertion (a probe of the primary key before each row, and a confirm
 * record in the WAL after it) was ~20% of PostgreSQL's CPU and ~9% of the WAL of a
 * 1000-point batch, and the savepoint that makes the plain try safe costs one round
 * trip, which smaller batches would not win back. */
#define APPEND_MIN_POINTS 32

int et_q_metrics_insert(struct db_conn *c, const char *run_id, size_t n, const char *keys, const char *values,
			const char *timestamps, const char *steps, struct core_error *err)
{
	const char *params[5] = {run_id, keys, values, timestamps, steps};
	if (n < APPEND_MIN_POINTS)
		return db_exec(c, &metrics_insert, params, NULL, err);
	/* Points are new nearly always; one that is stored already (a client retrying a
	 * batch) or repeated within the batch fails the plain insert with a unique
	 * violation, and the batch goes again the deduplicating way. The run's row lock
	 * (held by the caller) keeps other writers of the run out meanwhile. */
	int rc = db_exec_sql(c, "SAVEPOINT et_q_metrics_append", err);
	if (rc < 0)
		return rc;
	rc = db_exec(c, &metrics_append, params, NULL, err);
	if (rc != DB_CONSTRAINT || strcmp(db_conn_sqlstate(c), "23505") != 0)
		return rc;
	if ((rc = db_exec_sql(c, "ROLLBACK TO SAVEPOINT et_q_metrics_append", err)) < 0)
		return rc;
	return db_exec(c, &metrics_insert, params, NULL, err);
}

static const struct db_stmt metrics_history = {
	.name = "et_q_metrics_history",
	.sql = "SELECT key, value, timestamp, step, seq FROM metrics "
	       "WHERE run_id = $1::text::uuid AND key = $2 AND seq > $3::bigint ORDER BY seq LIMIT $4::bigint",
	.n_params = 4,
};

int et_q_metrics_history(struct db_conn *c, const char *run_id, const char *key, int64_t after_seq, int64_t limit,
			 PGresult **res_out, struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[4] = {run_id, key, db_i64(&a, after_seq), db_i64(&l, limit)};
	return db_exec(c, &metrics_history, params, res_out, err);
}
