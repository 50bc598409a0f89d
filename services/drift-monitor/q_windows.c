/* The drift monitor's statements on windows and retraining requests, one function per
 * statement, the statement named as its function. A window's state goes in as a binary
 * parameter (bytea) and comes back in text format, which dm_q_window_state decodes. */
#include <stdlib.h>
#include <string.h>
#include "dm.h"

static const struct db_stmt dm_q_window_get_stmt = {
	.name = "dm_q_window_get",
	.sql = "SELECT w.model_version, w.state FROM windows w WHERE w.monitor_id = $1",
	.n_params = 1,
};

int dm_q_window_get(struct db_conn *c, const char *monitor_id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {monitor_id};
	return db_exec(c, &dm_q_window_get_stmt, params, res, err);
}

unsigned char *dm_q_window_state(const PGresult *res, int row, size_t *len)
{
	const char *text = db_get_text(res, row, 1);
	return text ? PQunescapeBytea((const unsigned char *)text, len) : NULL;
}

static const struct db_stmt dm_q_window_put_stmt = {
	.name = "dm_q_window_put",
	.sql = "INSERT INTO windows (monitor_id, model_version, rows, state, updated_at) VALUES ($1, $2, $3::bigint, "
	       "$4::bytea, $5::bigint) ON CONFLICT (monitor_id) DO UPDATE SET model_version = EXCLUDED.model_version, "
	       "rows = EXCLUDED.rows, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
	.n_params = 5,
};

int dm_q_window_put(struct db_conn *c, const char *monitor_id, const char *version, int64_t rows, const void *state,
		    size_t len, int64_t now, struct core_error *err)
{
	struct db_i64 r, at;
	const char *values[5] = {monitor_id, version, db_i64(&r, rows), state, db_i64(&at, now)};
	int lengths[5] = {0, 0, 0, (int)len, 0};
	int formats[5] = {0, 0, 0, 1, 0};
	return db_exec_bin(c, &dm_q_window_put_stmt, values, lengths, formats, NULL, err);
}

static const struct db_stmt dm_q_retrain_insert_stmt = {
	.name = "dm_q_retrain_insert",
	.sql = "INSERT INTO retrains (id, monitor_id, report_id, model, model_version, created_at, updated_at) "
	       "VALUES ($1, $2, $3, $4, $5, $6::bigint, $6::bigint)",
	.n_params = 6,
};

int dm_q_retrain_insert(struct db_conn *c, const char *id, const char *monitor_id, const char *report_id,
			const char *model, const char *version, int64_t now, struct core_error *err)
{
	struct db_i64 at;
	const char *params[6] = {id, monitor_id, report_id, model, version, db_i64(&at, now)};
	return db_exec(c, &dm_q_retrain_insert_stmt, params, NULL, err);
}

/* One pending request, locked for the caller's transaction; a second task skips it. */
static const struct db_stmt dm_q_retrain_next_stmt = {
	.name = "dm_q_retrain_next",
	.sql = "SELECT r.id, r.model, r.model_version, r.attempts FROM retrains r WHERE r.status = 'PENDING' "
	       "ORDER BY r.created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
	.n_params = 0,
};

int dm_q_retrain_next(struct db_conn *c, PGresult **res, struct core_error *err)
{
	return db_exec(c, &dm_q_retrain_next_stmt, NULL, res, err);
}

static const struct db_stmt dm_q_retrain_update_stmt = {
	.name = "dm_q_retrain_update",
	.sql = "UPDATE retrains SET status = $2, job_id = $3, failure = $4, attempts = attempts + 1, "
	       "updated_at = $5::bigint WHERE id = $1",
	.n_params = 5,
};

int dm_q_retrain_update(struct db_conn *c, const char *id, const char *status, const char *job_id, const char *failure,
			int64_t now, struct core_error *err)
{
	struct db_i64 at;
	const char *params[5] = {id, status, job_id, failure, db_i64(&at, now)};
	return db_exec(c, &dm_q_retrain_update_stmt, params, NULL, err);
}

static const struct db_stmt dm_q_retrain_of_report_stmt = {
	.name = "dm_q_retrain_of_report",
	.sql = "SELECT r.id, r.status, r.job_id, r.failure FROM retrains r WHERE r.report_id = $1",
	.n_params = 1,
};

int dm_q_retrain_of_report(struct db_conn *c, const char *report_id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {report_id};
	return db_exec(c, &dm_q_retrain_of_report_stmt, params, res, err);
}
