/* Queries on tracker.metrics and tracker.latest_metrics (one function per
 * statement, named as it; face: et.h).
 * et_q_metrics_log is a batch's points written in one statement, run lock included, so
 * that a log-metric or a params-free log-batch costs PostgreSQL one round trip and one
 * commit (it runs without BEGIN, DB_AUTOCOMMIT). It locks the run row first and writes
 * only if the run is active: neither metrics table has a foreign key to runs any more
 * (migration 0004: the per-row checks were a third of PostgreSQL's CPU in a 1000-metric
 * batch), so that lock is what keeps points from outliving or preceding their run, and it
 * serializes the writers of one run. Points identical to stored ones are deduplicated by
 * the primary key; each key's latest point of the batch (found by the daemon,
 * et_batch_latest) replaces the stored latest one only when greater.
 * metrics_history reads a history page by arrival order (seq), keyset-paged; callers
 * have found the run first, so its id casts to metrics.run_id's uuid (migration 0005). */
#include <string.h>
#include "et.h"

/* $1 run id; $2..$5 the points (keys, values, timestamps, steps; all but the keys in
 * binary); $6..$9 each key's latest point of the batch, the same way. Answers the run's lifecycle stage, or no row
 * when there is no such run. Every write joins `ok`, so nothing is written for a missing
 * or deleted run, and the run id is cast to uuid only once a run row vouches for it.
 * on_conflict is how the points meet the primary key: "ON CONFLICT DO NOTHING" (skip
 * identical points) or "" (fail on one). */
#define METRICS_LOG_SQL(on_conflict)                                                                                   \
	"WITH r AS (SELECT run_id, lifecycle_stage FROM runs WHERE run_id = $1 FOR NO KEY UPDATE), "                   \
	"ok AS (SELECT run_id, run_id::uuid AS uid FROM r WHERE lifecycle_stage = 'active'), "                         \
	"ins AS (INSERT INTO metrics (run_id, key, value, timestamp, step) "                                           \
	"        SELECT ok.uid, m.key, m.value, m.timestamp, m.step FROM ok, "                                         \
	"        unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[]) WITH ORDINALITY "                        \
	"        AS m(key, value, timestamp, step, ord) ORDER BY m.ord " on_conflict "), "                             \
	"lat AS (INSERT INTO latest_metrics AS l (run_id, key, value, timestamp, step) "                               \
	"        SELECT ok.run_id, t.key, t.value, t.timestamp, t.step FROM ok, "                                      \
	"        unnest($6::text[], $7::float8[], $8::bigint[], $9::bigint[]) AS t(key, value, timestamp, step) "      \
	"        ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, timestamp = EXCLUDED.timestamp, "     \
	"        step = EXCLUDED.step WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > "                    \
	"        (l.step, l.timestamp, l.value)) "                                                                     \
	"SELECT lifecycle_stage FROM r"

static const struct db_stmt metrics_log = {
	.name = "et_q_metrics_log",
	.sql = METRICS_LOG_SQL("ON CONFLICT DO NOTHING"),
	.n_params = 9,
};

static const struct db_stmt metrics_log_append = {
	.name = "et_q_metrics_log_append",
	.sql = METRICS_LOG_SQL(""),
	.n_params = 9,
};

/* From this many points a batch first tries the plain insert: ON CONFLICT's
 * speculative insertion (a probe of the primary key before each row, and a confirm
 * record in the WAL after it) was ~20% of PostgreSQL's CPU and ~9% of the WAL of a
 * 1000-point batch; a failed try costs a round trip (two more inside a transaction,
 * for the savepoint), which smaller batches would not win back. */
#define APPEND_MIN_POINTS 32

int et_q_metrics_log(struct db_conn *c, const char *run_id, size_t n, const struct et_q_points *points,
		     const struct et_q_points *latest, char stage_out[16], struct core_error *err)
{
	const char *params[9] = {run_id,       points->keys,   points->values,     points->timestamps, points->steps,
				 latest->keys, latest->values, latest->timestamps, latest->steps};
	const int lengths[9] = {0,
				0,
				points->values_len,
				points->timestamps_len,
				points->steps_len,
				0,
				latest->values_len,
				latest->timestamps_len,
				latest->steps_len};
	static const int formats[9] = {0, 0, 1, 1, 1, 0, 1, 1, 1};
	bool in_tx = PQtransactionStatus(db_conn_pg(c)) != PQTRANS_IDLE;
	PGresult *res = NULL;
	int rc;

	if (n >= APPEND_MIN_POINTS) {
		/* Points are new nearly always; one that is stored already (a client retrying
		 * a batch) or repeated within the batch fails the plain insert with a unique
		 * violation, which wrote nothing (inside a transaction, once rolled back to
		 * the savepoint), and the batch goes again the deduplicating way. That
		 * statement takes the run's lock again (without BEGIN the failed one let it
		 * go) and needs nothing from the first try. */
		if (in_tx && (rc = db_exec_sql(c, "SAVEPOINT et_q_metrics_log", err)) < 0)
			return rc;
		rc = db_exec_bin(c, &metrics_log_append, params, lengths, formats, &res, err);
		if (rc != DB_CONSTRAINT || strcmp(db_conn_sqlstate(c), "23505") != 0)
			goto out;
		if (in_tx && (rc = db_exec_sql(c, "ROLLBACK TO SAVEPOINT et_q_metrics_log", err)) < 0)
			goto out;
		PQclear(res);
		res = NULL;
	}
	rc = db_exec_bin(c, &metrics_log, params, lengths, formats, &res, err);
out:
	if (rc == 1)
		snprintf(stage_out, 16, "%s", db_get_text(res, 0, 0));
	PQclear(res);
	return rc;
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
