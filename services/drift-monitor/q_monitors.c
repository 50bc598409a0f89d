/* The drift monitor's statements on monitors, one function per statement, the statement
 * named as its function (docs/service-layout.md). A create is one INSERT that yields to
 * an existing monitor of the same model (ON CONFLICT DO NOTHING: two creates racing for
 * one model end in one row and one 409, never a constraint error); a patch is one
 * UPDATE whose flags say which members it sets, so a member not given keeps its stored
 * value without a read first. */
#include <stdio.h>
#include <stdlib.h>
#include "core/fmt.h"
#include "http/http.h"
#include "dm.h"

static const struct db_stmt dm_q_monitor_insert_stmt = {
	.name = "dm_q_monitor_insert",
	.sql = "INSERT INTO monitors (id, model, window_size, window_seconds, features, drift_share, alert_policy, "
	       "alert_cooldown_s, created_at, updated_at) VALUES ($1, $2, $3::bigint, $4::bigint, $5::jsonb, "
	       "$6::float8, $7, $8::bigint, $9::bigint, $9::bigint) ON CONFLICT ON CONSTRAINT monitors_model_key "
	       "DO NOTHING",
	.n_params = 9,
};

/* A window member as a parameter: NULL (SQL NULL) for the kind the window is not. */
static const char *window_param(struct db_i64 *t, int64_t v)
{
	return v > 0 ? db_i64(t, v) : NULL;
}

int dm_q_monitor_insert(struct db_conn *c, const char *id, const struct dm_spec *s, int64_t now, struct core_error *err)
{
	struct db_i64 size, seconds, cool, at;
	char share[CORE_FMT_DOUBLE_MAX];
	core_fmt_double(s->drift_share, 0, share);
	char *features = http_json_text(s->features, JSON_COMPACT, NULL);
	if (!features) {
		core_fail(err, CORE_ENOMEM, "dm_q_monitor_insert: no memory for the features");
		return DB_HARD_ERROR;
	}
	const char *params[9] = {id,
				 s->model,
				 window_param(&size, s->window_size),
				 window_param(&seconds, s->window_seconds),
				 features,
				 share,
				 s->alert_policy,
				 db_i64(&cool, s->cooldown_s),
				 db_i64(&at, now)};
	int rc = db_exec(c, &dm_q_monitor_insert_stmt, params, NULL, err);
	free(features);
	return rc;
}

static const struct db_stmt dm_q_monitor_get_stmt = {
	.name = "dm_q_monitor_get",
	.sql = "SELECT " DM_MONITOR_COLS " FROM monitors m WHERE m.id = $1",
	.n_params = 1,
};

int dm_q_monitor_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &dm_q_monitor_get_stmt, params, res, err);
}

/* $1 model or NULL, ($2, $3) the keyset of the previous page's last row or NULL. */
static const struct db_stmt dm_q_monitor_list_stmt = {
	.name = "dm_q_monitor_list",
	.sql = "SELECT " DM_MONITOR_COLS " FROM monitors m WHERE ($1::text IS NULL OR m.model = $1) "
	       "AND ($3::text IS NULL OR (m.created_at, m.id) < ($2::bigint, $3::text)) "
	       "ORDER BY m.created_at DESC, m.id DESC LIMIT $4::bigint",
	.n_params = 4,
};

int dm_q_monitor_list(struct db_conn *c, const char *model, const struct svc_page *page, long limit, PGresult **res,
		      struct core_error *err)
{
	struct db_i64 a, l;
	const char *params[4] = {model, page->after_id ? db_i64(&a, page->after_created) : NULL, page->after_id,
				 db_i64(&l, limit)};
	return db_exec(c, &dm_q_monitor_list_stmt, params, res, err);
}

/* $2 window given (then $3, $4 replace both members, one of them NULL); $5..$8 NULL
 * keep the stored value. */
static const struct db_stmt dm_q_monitor_update_stmt = {
	.name = "dm_q_monitor_update",
	.sql = "UPDATE monitors m SET "
	       "window_size = CASE WHEN $2::boolean THEN $3::bigint ELSE m.window_size END, "
	       "window_seconds = CASE WHEN $2::boolean THEN $4::bigint ELSE m.window_seconds END, "
	       "features = COALESCE($5::jsonb, m.features), drift_share = COALESCE($6::float8, m.drift_share), "
	       "alert_policy = COALESCE($7, m.alert_policy), "
	       "alert_cooldown_s = COALESCE($8::bigint, m.alert_cooldown_s), updated_at = $9::bigint "
	       "WHERE m.id = $1 RETURNING " DM_MONITOR_COLS,
	.n_params = 9,
};

int dm_q_monitor_update(struct db_conn *c, const char *id, const struct dm_spec *p, int64_t now, PGresult **res,
			struct core_error *err)
{
	struct db_i64 size, seconds, cool, at;
	char share[CORE_FMT_DOUBLE_MAX];
	core_fmt_double(p->drift_share, 0, share);
	char *features = p->has_features ? http_json_text(p->features, JSON_COMPACT, NULL) : NULL;
	if (p->has_features && !features) {
		core_fail(err, CORE_ENOMEM, "dm_q_monitor_update: no memory for the features");
		return DB_HARD_ERROR;
	}
	const char *params[9] = {id,
				 p->has_window ? "true" : "false",
				 window_param(&size, p->window_size),
				 window_param(&seconds, p->window_seconds),
				 features,
				 p->has_drift_share ? share : NULL,
				 p->has_policy ? p->alert_policy : NULL,
				 p->has_cooldown ? db_i64(&cool, p->cooldown_s) : NULL,
				 db_i64(&at, now)};
	int rc = db_exec(c, &dm_q_monitor_update_stmt, params, res, err);
	free(features);
	return rc;
}

static const struct db_stmt dm_q_monitor_delete_stmt = {
	.name = "dm_q_monitor_delete",
	.sql = "DELETE FROM monitors WHERE id = $1",
	.n_params = 1,
};

int dm_q_monitor_delete(struct db_conn *c, const char *id, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &dm_q_monitor_delete_stmt, params, NULL, err);
}

/* The stream's read of a model's monitor: DM_MONITOR_COLS, then last_alert_at. */
static const struct db_stmt dm_q_monitor_of_model_stmt = {
	.name = "dm_q_monitor_of_model",
	.sql = "SELECT " DM_MONITOR_COLS ", m.last_alert_at FROM monitors m WHERE m.model = $1",
	.n_params = 1,
};

int dm_q_monitor_of_model(struct db_conn *c, const char *model, PGresult **res, struct core_error *err)
{
	const char *params[1] = {model};
	return db_exec(c, &dm_q_monitor_of_model_stmt, params, res, err);
}

static const struct db_stmt dm_q_monitor_alerted_stmt = {
	.name = "dm_q_monitor_alerted",
	.sql = "UPDATE monitors SET last_alert_at = $2::bigint WHERE id = $1",
	.n_params = 2,
};

int dm_q_monitor_alerted(struct db_conn *c, const char *id, int64_t at, struct core_error *err)
{
	struct db_i64 t;
	const char *params[2] = {id, db_i64(&t, at)};
	return db_exec(c, &dm_q_monitor_alerted_stmt, params, NULL, err);
}
