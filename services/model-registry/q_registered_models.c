/* Queries on registered_models and registered_model_tags (migration 0002): one function
 * per statement, the statement named as the function. Writers lock
 * the model row first (FOR UPDATE or an UPDATE), which serializes the changes of one
 * model and so keeps its outbox events in commit order. Returns follow db_exec: row
 * count or a negative enum db_status. */
#include <stdio.h>
#include "mr.h"

/* Reads column 0 (and 1) of a one-row result into outs; passes rc through. */
static int take_ids(int rc, PGresult *res, int64_t *a, int64_t *b, struct core_error *err)
{
	if (rc == 1) {
		if (a && db_get_int64(res, 0, 0, a, err) != CORE_OK)
			rc = DB_HARD_ERROR;
		if (rc == 1 && b && db_get_int64(res, 0, 1, b, err) != CORE_OK)
			rc = DB_HARD_ERROR;
	}
	PQclear(res);
	return rc;
}

static const struct db_stmt insert_model = {
	.name = "mr_q_insert_model",
	.sql = "INSERT INTO registered_models (name, description, creation_time, last_updated_time) "
	       "VALUES ($1, $2, $3::bigint, $3::bigint) RETURNING id",
	.n_params = 3,
};

int mr_q_insert_model(struct db_conn *c, const char *name, const char *description, int64_t now_ms, int64_t *id_out,
		      struct core_error *err)
{
	struct db_i64 t;
	const char *params[3] = {name, description ? description : "", db_i64(&t, now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &insert_model, params, &res, err);
	return take_ids(rc, res, id_out, NULL, err);
}

static const struct db_stmt lock_model = {
	.name = "mr_q_lock_model",
	.sql = "SELECT id FROM registered_models WHERE name = $1 FOR UPDATE",
	.n_params = 1,
};

int mr_q_lock_model(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	int rc = db_exec(c, &lock_model, params, &res, err);
	return take_ids(rc, res, id_out, NULL, err);
}

static const struct db_stmt touch_model = {
	.name = "mr_q_touch_model",
	.sql = "UPDATE registered_models SET last_updated_time = $2::bigint WHERE name = $1 RETURNING id",
	.n_params = 2,
};

int mr_q_touch_model(struct db_conn *c, const char *name, int64_t now_ms, int64_t *id_out, struct core_error *err)
{
	struct db_i64 t;
	const char *params[2] = {name, db_i64(&t, now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &touch_model, params, &res, err);
	return take_ids(rc, res, id_out, NULL, err);
}

static const struct db_stmt next_version = {
	.name = "mr_q_next_version",
	.sql = "UPDATE registered_models SET last_version = last_version + 1, last_updated_time = $2::bigint "
	       "WHERE name = $1 RETURNING id, last_version",
	.n_params = 2,
};

int mr_q_next_version(struct db_conn *c, const char *name, int64_t now_ms, int64_t *id_out, int64_t *version_out,
		      struct core_error *err)
{
	struct db_i64 t;
	const char *params[2] = {name, db_i64(&t, now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &next_version, params, &res, err);
	return take_ids(rc, res, id_out, version_out, err);
}

static const struct db_stmt rename_model = {
	.name = "mr_q_rename_model",
	.sql = "UPDATE registered_models SET name = $2, last_updated_time = $3::bigint WHERE id = $1::bigint",
	.n_params = 3,
};

int mr_q_rename_model(struct db_conn *c, int64_t id, const char *new_name, int64_t now_ms, struct core_error *err)
{
	struct db_i64 a, t;
	const char *params[3] = {db_i64(&a, id), new_name, db_i64(&t, now_ms)};
	return db_exec(c, &rename_model, params, NULL, err);
}

static const struct db_stmt update_model_description = {
	.name = "mr_q_update_model_description",
	.sql = "UPDATE registered_models SET description = $2, last_updated_time = $3::bigint WHERE id = $1::bigint",
	.n_params = 3,
};

int mr_q_update_model_description(struct db_conn *c, int64_t id, const char *description, int64_t now_ms,
				  struct core_error *err)
{
	struct db_i64 a, t;
	const char *params[3] = {db_i64(&a, id), description ? description : "", db_i64(&t, now_ms)};
	return db_exec(c, &update_model_description, params, NULL, err);
}

static const struct db_stmt delete_model = {
	.name = "mr_q_delete_model",
	.sql = "DELETE FROM registered_models WHERE id = $1::bigint",
	.n_params = 1,
};

int mr_q_delete_model(struct db_conn *c, int64_t id, struct core_error *err)
{
	struct db_i64 a;
	const char *params[1] = {db_i64(&a, id)};
	return db_exec(c, &delete_model, params, NULL, err);
}

static const struct db_stmt select_model = {
	.name = "mr_q_select_model",
	.sql = "SELECT " MR_MODEL_COLS " FROM registered_model_view r WHERE r.model_id = $1::bigint",
	.n_params = 1,
};

int mr_q_select_model(struct db_conn *c, int64_t id, PGresult **res_out, struct core_error *err)
{
	struct db_i64 a;
	const char *params[1] = {db_i64(&a, id)};
	return db_exec(c, &select_model, params, res_out, err);
}

static const struct db_stmt model_id = {
	.name = "mr_q_model_id",
	.sql = "SELECT id FROM registered_models WHERE name = $1",
	.n_params = 1,
};

int mr_q_model_id(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	int rc = db_exec(c, &model_id, params, &res, err);
	return take_ids(rc, res, id_out, NULL, err);
}

static const struct db_stmt set_model_tag = {
	.name = "mr_q_set_model_tag",
	.sql = "INSERT INTO registered_model_tags (model_id, key, value) VALUES ($1::bigint, $2, $3) "
	       "ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value",
	.n_params = 3,
};

int mr_q_set_model_tag(struct db_conn *c, int64_t id, const char *key, const char *value, struct core_error *err)
{
	struct db_i64 a;
	const char *params[3] = {db_i64(&a, id), key, value ? value : ""};
	return db_exec(c, &set_model_tag, params, NULL, err);
}

static const struct db_stmt delete_model_tag = {
	.name = "mr_q_delete_model_tag",
	.sql = "DELETE FROM registered_model_tags WHERE model_id = $1::bigint AND key = $2",
	.n_params = 2,
};

int mr_q_delete_model_tag(struct db_conn *c, int64_t id, const char *key, struct core_error *err)
{
	struct db_i64 a;
	const char *params[2] = {db_i64(&a, id), key};
	return db_exec(c, &delete_model_tag, params, NULL, err);
}

static const struct db_stmt lock_model_by_id = {
	.name = "mr_q_lock_model_by_id",
	.sql = "SELECT name FROM registered_models WHERE id = $1::bigint FOR UPDATE",
	.n_params = 1,
};

int mr_q_lock_model_by_id(struct db_conn *c, int64_t id, PGresult **res_out, struct core_error *err)
{
	struct db_i64 m;
	const char *params[1] = {db_i64(&m, id)};
	return db_exec(c, &lock_model_by_id, params, res_out, err);
}
