/* The trainer's statements on jobs and job_events, one function per statement, the
 * statement named as its function (docs/service-layout.md). The API's submit, reads and
 * cancel and the worker's claim / heartbeat / progress / finish all live here, so every
 * state transition of a job is one visible UPDATE with its guard in the WHERE clause:
 * a worker's write counts only while it holds the lease (status RUNNING, worker = it),
 * so a worker whose job was taken over cannot overwrite the new owner's progress. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "tr.h"

static const struct db_stmt tr_q_job_insert_stmt = {
	.name = "tr_q_job_insert",
	.sql = "INSERT INTO jobs (id, status, spec, model_name, created_at) VALUES ($1, 'QUEUED', $2::jsonb, $3, "
	       "$4::bigint)",
	.n_params = 4,
};

int tr_q_job_insert(struct db_conn *c, const char *id, const char *spec_json, const char *model_name,
		    int64_t created_at, struct core_error *err)
{
	struct db_i64 t;
	const char *params[4] = {id, spec_json, model_name, db_i64(&t, created_at)};
	return db_exec(c, &tr_q_job_insert_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_job_get_stmt = {
	.name = "tr_q_job_get",
	.sql = "SELECT " TR_JOB_COLS " FROM jobs j WHERE j.id = $1",
	.n_params = 1,
};

int tr_q_job_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &tr_q_job_get_stmt, params, res, err);
}

static const struct db_stmt tr_q_job_lock_stmt = {
	.name = "tr_q_job_lock",
	.sql = "SELECT " TR_JOB_COLS " FROM jobs j WHERE j.id = $1 FOR UPDATE",
	.n_params = 1,
};

int tr_q_job_lock(struct db_conn *c, const char *id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &tr_q_job_lock_stmt, params, res, err);
}

/* $1 status or NULL, ($2, $3) the keyset of the last job of the previous page or NULL. */
static const struct db_stmt tr_q_job_list_stmt = {
	.name = "tr_q_job_list",
	.sql = "SELECT " TR_JOB_COLS " FROM jobs j WHERE ($1::text IS NULL OR j.status = $1) "
	       "AND ($3::text IS NULL OR (j.created_at, j.id) < ($2::bigint, $3::text)) "
	       "ORDER BY j.created_at DESC, j.id DESC LIMIT $4::bigint",
	.n_params = 4,
};

int tr_q_job_list(struct db_conn *c, const char *status, int64_t after_created, const char *after_id, long limit,
		  PGresult **res, struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[4] = {status, after_id ? db_i64(&a, after_created) : NULL, after_id, db_i64(&l, limit)};
	return db_exec(c, &tr_q_job_list_stmt, params, res, err);
}

static const struct db_stmt tr_q_job_claim_stmt = {
	.name = "tr_q_job_claim",
	.sql = "UPDATE jobs j SET status = 'RUNNING', worker = $2, lease_until = $3::bigint + $4::bigint, "
	       "attempt = j.attempt + 1, started_at = COALESCE(j.started_at, $3::bigint) "
	       "WHERE j.id = $1 AND (j.status = 'QUEUED' OR (j.status = 'RUNNING' AND j.lease_until < $3::bigint)) "
	       "RETURNING " TR_JOB_COLS,
	.n_params = 4,
};

int tr_q_job_claim(struct db_conn *c, const char *id, const char *worker, int64_t now, long lease_ms, PGresult **res,
		   struct core_error *err)
{
	struct db_i64 n, l;
	const char *params[4] = {id, worker, db_i64(&n, now), db_i64(&l, lease_ms)};
	return db_exec(c, &tr_q_job_claim_stmt, params, res, err);
}

static const struct db_stmt tr_q_job_heartbeat_stmt = {
	.name = "tr_q_job_heartbeat",
	.sql = "UPDATE jobs SET lease_until = $3::bigint + $4::bigint WHERE id = $1 AND status = 'RUNNING' "
	       "AND worker = $2 RETURNING cancel_requested",
	.n_params = 4,
};

int tr_q_job_heartbeat(struct db_conn *c, const char *id, const char *worker, int64_t now, long lease_ms, bool *cancel,
		       struct core_error *err)
{
	struct db_i64 n, l;
	const char *params[4] = {id, worker, db_i64(&n, now), db_i64(&l, lease_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &tr_q_job_heartbeat_stmt, params, &res, err);
	if (cancel) {
		const char *v = rc > 0 ? db_get_text(res, 0, 0) : NULL;
		*cancel = v && v[0] == 't';
	}
	PQclear(res);
	return rc;
}

static const struct db_stmt tr_q_job_progress_stmt = {
	.name = "tr_q_job_progress",
	.sql = "UPDATE jobs SET epoch = $3::int, step = $4::bigint, loss = COALESCE($5::float8, loss), "
	       "metrics = COALESCE($6::jsonb, metrics), checkpoint = COALESCE($7, checkpoint), "
	       "lease_until = $8::bigint + $9::bigint WHERE id = $1 AND status = 'RUNNING' AND worker = $2",
	.n_params = 9,
};

int tr_q_job_progress(struct db_conn *c, const char *id, const char *worker, int epoch, int64_t step, double loss,
		      json_t *metrics, const char *checkpoint, int64_t now, long lease_ms, struct core_error *err)
{
	struct db_i64 e, s, n, l;
	char loss_text[40];
	if (isfinite(loss))
		snprintf(loss_text, sizeof loss_text, "%.17g", loss);
	char *m = metrics ? json_dumps(metrics, JSON_COMPACT) : NULL;
	const char *params[9] = {
		id, worker,     db_i64(&e, epoch), db_i64(&s, step),    isfinite(loss) ? loss_text : NULL,
		m,  checkpoint, db_i64(&n, now),   db_i64(&l, lease_ms)};
	int rc = db_exec(c, &tr_q_job_progress_stmt, params, NULL, err);
	free(m);
	return rc;
}

static const struct db_stmt tr_q_job_set_run_stmt = {
	.name = "tr_q_job_set_run",
	.sql = "UPDATE jobs SET run_id = $3, parent_run_id = $4 WHERE id = $1 AND status = 'RUNNING' AND worker = $2",
	.n_params = 4,
};

int tr_q_job_set_run(struct db_conn *c, const char *id, const char *worker, const char *run_id,
		     const char *parent_run_id, struct core_error *err)
{
	const char *params[4] = {id, worker, run_id, parent_run_id};
	return db_exec(c, &tr_q_job_set_run_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_job_set_registered_stmt = {
	.name = "tr_q_job_set_registered",
	.sql = "UPDATE jobs SET model_version = $3, registered = true WHERE id = $1 AND status = 'RUNNING' "
	       "AND worker = $2",
	.n_params = 3,
};

int tr_q_job_set_registered(struct db_conn *c, const char *id, const char *worker, const char *model_version,
			    struct core_error *err)
{
	const char *params[3] = {id, worker, model_version};
	return db_exec(c, &tr_q_job_set_registered_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_job_finish_stmt = {
	.name = "tr_q_job_finish",
	.sql = "UPDATE jobs SET status = $3, failure = $4, metrics = COALESCE($5::jsonb, metrics), "
	       "ended_at = $6::bigint, lease_until = NULL WHERE id = $1 AND status = 'RUNNING' AND worker = $2",
	.n_params = 6,
};

int tr_q_job_finish(struct db_conn *c, const char *id, const char *worker, const char *status, const char *failure,
		    json_t *metrics, int64_t now, struct core_error *err)
{
	struct db_i64 n;
	char *m = metrics ? json_dumps(metrics, JSON_COMPACT) : NULL;
	const char *params[6] = {id, worker, status, failure, m, db_i64(&n, now)};
	int rc = db_exec(c, &tr_q_job_finish_stmt, params, NULL, err);
	free(m);
	return rc;
}

static const struct db_stmt tr_q_job_cancel_requested_stmt = {
	.name = "tr_q_job_cancel_requested",
	.sql = "SELECT cancel_requested FROM jobs WHERE id = $1",
	.n_params = 1,
};

int tr_q_job_cancel_requested(struct db_conn *c, const char *id, bool *out, struct core_error *err)
{
	const char *params[1] = {id};
	PGresult *res = NULL;
	int rc = db_exec(c, &tr_q_job_cancel_requested_stmt, params, &res, err);
	const char *v = rc > 0 ? db_get_text(res, 0, 0) : NULL;
	*out = v && v[0] == 't';
	PQclear(res);
	return rc;
}

static const struct db_stmt tr_q_jobs_requeue_expired_stmt = {
	.name = "tr_q_jobs_requeue_expired",
	.sql = "UPDATE jobs SET status = 'QUEUED', worker = NULL, lease_until = NULL "
	       "WHERE status = 'RUNNING' AND lease_until < $1::bigint RETURNING id",
	.n_params = 1,
};

int tr_q_jobs_requeue_expired(struct db_conn *c, int64_t now, PGresult **res, struct core_error *err)
{
	struct db_i64 n;
	const char *params[1] = {db_i64(&n, now)};
	return db_exec(c, &tr_q_jobs_requeue_expired_stmt, params, res, err);
}

static const struct db_stmt tr_q_job_release_stmt = {
	.name = "tr_q_job_release",
	.sql = "UPDATE jobs SET status = 'QUEUED', worker = NULL, lease_until = NULL "
	       "WHERE id = $1 AND status = 'RUNNING' AND worker = $2",
	.n_params = 2,
};

int tr_q_job_release(struct db_conn *c, const char *id, const char *worker, struct core_error *err)
{
	const char *params[2] = {id, worker};
	return db_exec(c, &tr_q_job_release_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_job_cancel_queued_stmt = {
	.name = "tr_q_job_cancel_queued",
	.sql = "UPDATE jobs SET status = 'CANCELLED', cancel_requested = true, ended_at = $2::bigint, "
	       "failure = 'cancelled before it started' WHERE id = $1 AND status = 'QUEUED'",
	.n_params = 2,
};

int tr_q_job_cancel_queued(struct db_conn *c, const char *id, int64_t now, struct core_error *err)
{
	struct db_i64 n;
	const char *params[2] = {id, db_i64(&n, now)};
	return db_exec(c, &tr_q_job_cancel_queued_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_job_request_cancel_stmt = {
	.name = "tr_q_job_request_cancel",
	.sql = "UPDATE jobs SET cancel_requested = true WHERE id = $1 AND status = 'RUNNING'",
	.n_params = 1,
};

int tr_q_job_request_cancel(struct db_conn *c, const char *id, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &tr_q_job_request_cancel_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_job_event_append_stmt = {
	.name = "tr_q_job_event_append",
	.sql = "INSERT INTO job_events (job_id, at, level, line) VALUES ($1, $2::bigint, $3, $4)",
	.n_params = 4,
};

int tr_q_job_event_append(struct db_conn *c, const char *id, const char *level, const char *line, int64_t at,
			  struct core_error *err)
{
	struct db_i64 a;
	const char *params[4] = {id, db_i64(&a, at), level, line};
	return db_exec(c, &tr_q_job_event_append_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_job_events_stmt = {
	.name = "tr_q_job_events",
	.sql = "SELECT seq, at, level, line FROM job_events WHERE job_id = $1 AND seq > $2::bigint "
	       "ORDER BY seq LIMIT $3::bigint",
	.n_params = 3,
};

int tr_q_job_events(struct db_conn *c, const char *id, int64_t after, long limit, PGresult **res,
		    struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[3] = {id, db_i64(&a, after), db_i64(&l, limit)};
	return db_exec(c, &tr_q_job_events_stmt, params, res, err);
}
