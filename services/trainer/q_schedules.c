/* The trainer's statements on schedules and firings, one function per statement, the
 * statement named as its function (as q_jobs.c). The guards that make firing safe
 * under several replicas are in the statements: a firing's insert does nothing when
 * the (schedule, fire_key) row exists, a cron advance moves next_due_at only from the
 * due time the caller saw, and a retry moves attempt only from the attempt it saw. */
#include <stdio.h>
#include "tr.h"

static const struct db_stmt tr_q_sched_insert_stmt = {
	.name = "tr_q_sched_insert",
	.sql = "INSERT INTO schedules (id, name, spec, cron, trigger, paused, next_due_at, max_retries, backoff_ms, "
	       "created_at, updated_at) VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6::boolean, $7::bigint, $8::int, "
	       "$9::bigint, $10::bigint, $10::bigint)",
	.n_params = 10,
};

int tr_q_sched_insert(struct db_conn *c, const struct tr_sched_row *r, struct core_error *err)
{
	struct db_i64 n, m, b, t;
	const char *params[10] = {r->id,
				  r->name,
				  r->spec_json,
				  r->cron,
				  r->trigger_json,
				  r->paused ? "true" : "false",
				  r->next_due_at >= 0 ? db_i64(&n, r->next_due_at) : NULL,
				  db_i64(&m, r->max_retries),
				  db_i64(&b, r->backoff_ms),
				  db_i64(&t, r->created_at)};
	return db_exec(c, &tr_q_sched_insert_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_sched_update_stmt = {
	.name = "tr_q_sched_update",
	.sql = "UPDATE schedules SET spec = $2::jsonb, cron = $3, trigger = $4::jsonb, paused = $5::boolean, "
	       "next_due_at = $6::bigint, max_retries = $7::int, backoff_ms = $8::bigint, updated_at = $9::bigint "
	       "WHERE id = $1 AND updated_at = $10::bigint",
	.n_params = 10,
};

int tr_q_sched_update(struct db_conn *c, const struct tr_sched_row *r, int64_t old_updated, struct core_error *err)
{
	struct db_i64 n, m, b, t, o;
	const char *params[10] = {r->id,
				  r->spec_json,
				  r->cron,
				  r->trigger_json,
				  r->paused ? "true" : "false",
				  r->next_due_at >= 0 ? db_i64(&n, r->next_due_at) : NULL,
				  db_i64(&m, r->max_retries),
				  db_i64(&b, r->backoff_ms),
				  db_i64(&t, r->updated_at),
				  db_i64(&o, old_updated)};
	return db_exec(c, &tr_q_sched_update_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_sched_get_stmt = {
	.name = "tr_q_sched_get",
	.sql = "SELECT " TR_SCHED_COLS " FROM schedules s WHERE s.id = $1",
	.n_params = 1,
};

int tr_q_sched_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &tr_q_sched_get_stmt, params, res, err);
}

static const struct db_stmt tr_q_sched_delete_stmt = {
	.name = "tr_q_sched_delete",
	.sql = "DELETE FROM schedules WHERE id = $1",
	.n_params = 1,
};

int tr_q_sched_delete(struct db_conn *c, const char *id, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &tr_q_sched_delete_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_sched_list_stmt = {
	.name = "tr_q_sched_list",
	.sql = "SELECT " TR_SCHED_COLS " FROM schedules s "
	       "WHERE ($2::text IS NULL OR (s.created_at, s.id) < ($1::bigint, $2::text)) "
	       "ORDER BY s.created_at DESC, s.id DESC LIMIT $3::bigint",
	.n_params = 3,
};

int tr_q_sched_list(struct db_conn *c, int64_t after_created, const char *after_id, long limit, PGresult **res,
		    struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[3] = {after_id ? db_i64(&a, after_created) : NULL, after_id, db_i64(&l, limit)};
	return db_exec(c, &tr_q_sched_list_stmt, params, res, err);
}

static const struct db_stmt tr_q_sched_due_stmt = {
	.name = "tr_q_sched_due",
	.sql = "SELECT s.id, s.spec::text, s.cron, s.next_due_at, s.name FROM schedules s "
	       "WHERE s.cron IS NOT NULL AND NOT s.paused AND s.next_due_at <= $1::bigint "
	       "ORDER BY s.next_due_at LIMIT $2::bigint",
	.n_params = 2,
};

int tr_q_sched_due(struct db_conn *c, int64_t now, long limit, PGresult **res, struct core_error *err)
{
	struct db_i64 n, l;
	const char *params[2] = {db_i64(&n, now), db_i64(&l, limit)};
	return db_exec(c, &tr_q_sched_due_stmt, params, res, err);
}

static const struct db_stmt tr_q_sched_advance_stmt = {
	.name = "tr_q_sched_advance",
	.sql = "UPDATE schedules SET next_due_at = $3::bigint WHERE id = $1 AND next_due_at = $2::bigint",
	.n_params = 3,
};

int tr_q_sched_advance(struct db_conn *c, const char *id, int64_t due, int64_t next, struct core_error *err)
{
	struct db_i64 d, n;
	const char *params[3] = {id, db_i64(&d, due), db_i64(&n, next)};
	return db_exec(c, &tr_q_sched_advance_stmt, params, NULL, err);
}

static const struct db_stmt tr_q_sched_triggered_stmt = {
	.name = "tr_q_sched_triggered",
	.sql = "SELECT s.id, s.spec::text, s.name FROM schedules s WHERE s.trigger IS NOT NULL AND NOT s.paused "
	       "AND s.trigger->>'event' = $1 AND s.trigger->>$2::text = $3 AND s.created_at <= $4::bigint "
	       "ORDER BY s.id",
	.n_params = 4,
};

int tr_q_sched_triggered(struct db_conn *c, const char *event, const char *key, const char *value, int64_t event_ms,
			 PGresult **res, struct core_error *err)
{
	struct db_i64 t;
	const char *params[4] = {event, key, value, db_i64(&t, event_ms)};
	return db_exec(c, &tr_q_sched_triggered_stmt, params, res, err);
}

static const struct db_stmt tr_q_firing_insert_stmt = {
	.name = "tr_q_firing_insert",
	.sql = "INSERT INTO firings (id, schedule_id, fire_key, fired_at, spec, job_id, job_ids) "
	       "VALUES ($1, $2, $3, $4::bigint, $5::jsonb, $6, ARRAY[$6::text]) "
	       "ON CONFLICT (schedule_id, fire_key) DO NOTHING",
	.n_params = 6,
};

int tr_q_firing_insert(struct db_conn *c, const char *firing_id, const char *schedule_id, const char *fire_key,
		       const char *spec_json, const char *job_id, int64_t now, struct core_error *err)
{
	struct db_i64 t;
	const char *params[6] = {firing_id, schedule_id, fire_key, db_i64(&t, now), spec_json, job_id};
	return db_exec(c, &tr_q_firing_insert_stmt, params, NULL, err);
}

/* A concurrent replica's refresh waits on the row lock and then finds the status no
 * longer QUEUED/RUNNING: each change is made once. */
static const struct db_stmt tr_q_firings_refresh_stmt = {
	.name = "tr_q_firings_refresh",
	.sql = "UPDATE firings f SET status = j.status, retry_at = CASE WHEN j.status = 'FAILED' AND f.attempt <= "
	       "s.max_retries THEN COALESCE(j.ended_at, 0) + s.backoff_ms * (1::bigint << (f.attempt - 1)) END "
	       "FROM jobs j, schedules s WHERE f.status IN ('QUEUED', 'RUNNING') AND j.id = f.job_id "
	       "AND s.id = f.schedule_id AND j.status <> f.status",
	.n_params = 0,
};

int tr_q_firings_refresh(struct db_conn *c, struct core_error *err)
{
	return db_exec(c, &tr_q_firings_refresh_stmt, NULL, NULL, err);
}

static const struct db_stmt tr_q_firings_retry_due_stmt = {
	.name = "tr_q_firings_retry_due",
	.sql = "SELECT f.schedule_id, f.fire_key, f.attempt, s.name FROM firings f JOIN schedules s ON s.id = "
	       "f.schedule_id WHERE f.retry_at <= $1::bigint AND NOT s.paused ORDER BY f.retry_at LIMIT $2::bigint",
	.n_params = 2,
};

int tr_q_firings_retry_due(struct db_conn *c, int64_t now, long limit, PGresult **res, struct core_error *err)
{
	struct db_i64 n, l;
	const char *params[2] = {db_i64(&n, now), db_i64(&l, limit)};
	return db_exec(c, &tr_q_firings_retry_due_stmt, params, res, err);
}

static const struct db_stmt tr_q_firing_retry_stmt = {
	.name = "tr_q_firing_retry",
	.sql = "UPDATE firings SET attempt = attempt + 1, job_id = $4, job_ids = job_ids || $4::text, "
	       "status = 'QUEUED', retry_at = NULL "
	       "WHERE schedule_id = $1 AND fire_key = $2 AND attempt = $3::int AND retry_at IS NOT NULL "
	       "RETURNING spec::text",
	.n_params = 4,
};

int tr_q_firing_retry(struct db_conn *c, const char *schedule_id, const char *fire_key, int attempt, const char *job_id,
		      PGresult **res, struct core_error *err)
{
	struct db_i64 a;
	const char *params[4] = {schedule_id, fire_key, db_i64(&a, attempt), job_id};
	return db_exec(c, &tr_q_firing_retry_stmt, params, res, err);
}

/* The jobs' statuses are read live (the firing's status column lags by a tick). */
static const struct db_stmt tr_q_firing_list_stmt = {
	.name = "tr_q_firing_list",
	.sql = "SELECT f.id, f.fire_key, f.fired_at, f.attempt, f.retry_at, "
	       "(SELECT json_agg(json_build_object('job_id', a.id, 'attempt', a.n, 'status', j.status) ORDER BY a.n) "
	       "FROM unnest(f.job_ids) WITH ORDINALITY a(id, n) LEFT JOIN jobs j ON j.id = a.id)::text "
	       "FROM firings f WHERE f.schedule_id = $1 "
	       "AND ($3::text IS NULL OR (f.fired_at, f.id) < ($2::bigint, $3::text)) "
	       "ORDER BY f.fired_at DESC, f.id DESC LIMIT $4::bigint",
	.n_params = 4,
};

int tr_q_firing_list(struct db_conn *c, const char *schedule_id, int64_t after_fired, const char *after_id, long limit,
		     PGresult **res, struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[4] = {schedule_id, after_id ? db_i64(&a, after_fired) : NULL, after_id, db_i64(&l, limit)};
	return db_exec(c, &tr_q_firing_list_stmt, params, res, err);
}
