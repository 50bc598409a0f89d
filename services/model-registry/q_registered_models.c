/* Queries on registered_models and registered_model_tags (migration 0002): one function
 * per statement, the statement named as the function's suffix (STYLE 9). Writers lock
 * the model row first (FOR UPDATE or an UPDATE), which serializes the changes of one
 * model and so keeps its outbox events in commit order. Returns follow db_exec: row
 * count or a negative enum db_status. */
#include <stdio.h>
#include "mr.h"

#define I64(buf, v) (snprintf((buf), sizeof(buf), "%lld", (long long)(v)), (buf))

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
	.name = "insert_model",
	.sql = "INSERT INTO registered_models (name, description, creation_time, last_updated_time) "
	       "VALUES ($1, $2, $3::bigint, $3::bigint) RETURNING id",
	.n_params = 3,
};

int mr_q_insert_model(struct db_conn *c, const char *name, const char *description, int64_t now_ms, int64_t *id_out,
		      struct core_error *err)
{
	char t[24];
	const char *params[3] = {name, description ? description : "", I64(t, now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &insert_model, params, &res, err);
	return take_ids(rc, res, id_out, NULL, err);
}

static const struct db_stmt lock_model = {
	.name = "lock_model",
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
	.name = "touch_model",
	.sql = "UPDATE registered_models SET last_updated_time = $2::bigint WHERE name = $1 RETURNING id",
	.n_params = 2,
};

int mr_q_touch_model(struct db_conn *c, const char *name, int64_t now_ms, int64_t *id_out, struct core_error *err)
{
	char t[24];
	const char *params[2] = {name, I64(t, now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &touch_model, params, &res, err);
	return take_ids(rc, res, id_out, NULL, err);
}

static const struct db_stmt next_version = {
	.name = "next_version",
	.sql = "UPDATE registered_models SET last_version = last_version + 1, last_updated_time = $2::bigint "
	       "WHERE name = $1 RETURNING id, last_version",
	.n_params = 2,
};

int mr_q_next_version(struct db_conn *c, const char *name, int64_t now_ms, int64_t *id_out, int64_t *version_out,
		      struct core_error *err)
{
	char t[24];
	const char *params[2] = {name, I64(t, now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &next_version, params, &res, err);
	return take_ids(rc, res, id_out, version_out, err);
}

static const struct db_stmt rename_model = {
	.name = "rename_model",
	.sql = "UPDATE registered_models SET name = $2, last_updated_time = $3::bigint WHERE id = $1::bigint",
	.n_params = 3,
};

int mr_q_rename_model(struct db_conn *c, int64_t id, const char *new_name, int64_t now_ms, struct core_error *err)
{
	char a[24], t[24];
	const char *params[3] = {I64(a, id), new_name, I64(t, now_ms)};
	return db_exec(c, &rename_model, params, NULL, err);
}

static const struct db_stmt update_model_description = {
	.name = "update_model_description",
	.sql = "UPDATE registered_models SET description = $2, last_updated_time = $3::bigint WHERE id = $1::bigint",
	.n_params = 3,
};

int mr_q_update_model_description(struct db_conn *c, int64_t id, const char *description, int64_t now_ms,
				  struct core_error *err)
{
	char a[24], t[24];
	const char *params[3] = {I64(a, id), description ? description : "", I64(t, now_ms)};
	return db_exec(c, &update_model_description, params, NULL, err);
}

static const struct db_stmt delete_model = {
	.name = "delete_model",
	.sql = "DELETE FROM registered_models WHERE id = $1::bigint",
	.n_params = 1,
};

int mr_q_delete_model(struct db_conn *c, int64_t id, struct core_error *err)
{
	char a[24];
	const char *params[1] = {I64(a, id)};
	return db_exec(c, &delete_model, params, NULL, err);
}

static const struct db_stmt select_model = {
	.name = "select_model",
	.sql = "SELECT " MR_MODEL_COLS " FROM registered_model_view r WHERE r.model_id = $1::bigint",
	.n_params = 1,
};

int mr_q_select_model(struct db_conn *c, int64_t id, PGresult **res_out, struct core_error *err)
{
	char a[24];
	const char *params[1] = {I64(a, id)};
	return db_exec(c, &select_model, params, res_out, err);
}

static const struct db_stmt model_exists = {
	.name = "model_exists",
	.sql = "SELECT 1 FROM registered_models WHERE name = $1",
	.n_params = 1,
};

int mr_q_model_exists(struct db_conn *c, const char *name, struct core_error *err)
{
	const char *params[1] = {name};
	return db_exec(c, &model_exists, params, NULL, err);
}

static const struct db_stmt model_id = {
	.name = "model_id",
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

/* The search statement's fixed part; the ORDER BY comes from filter.c's fixed pieces,
 * and the statement is named after its shape, so there are finitely many texts. */
#define SEARCH_MODELS_SQL                                                                                              \
	"SELECT " MR_MODEL_COLS " FROM registered_model_view r WHERE NOT EXISTS ("                                     \
	"SELECT 1 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS f(kind, key, op, val) "               \
	"WHERE (CASE f.kind WHEN 'attr' THEN mr_text_match(r.name, f.op, f.val) "                                      \
	"WHEN 'tag' THEN EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.model_id = r.model_id "                 \
	"AND t.key = f.key AND mr_text_match(t.value, f.op, f.val)) END) IS NOT TRUE) "

int mr_q_search_models(struct db_conn *c, const char *order_sql, const char *shape, const char *const arrays[4],
		       int64_t limit, int64_t offset, PGresult **res_out, struct core_error *err)
{
	char name[64], sql[1024], l[24], o[24];
	snprintf(name, sizeof name, "search_models_%s", shape);
	snprintf(sql, sizeof sql, SEARCH_MODELS_SQL "ORDER BY %s LIMIT $5::bigint OFFSET $6::bigint", order_sql);
	const struct db_stmt search_models = {.name = name, .sql = sql, .n_params = 6};
	const char *params[6] = {arrays[0], arrays[1], arrays[2], arrays[3], I64(l, limit), I64(o, offset)};
	return db_exec(c, &search_models, params, res_out, err);
}

static const struct db_stmt set_model_tag = {
	.name = "set_model_tag",
	.sql = "INSERT INTO registered_model_tags (model_id, key, value) VALUES ($1::bigint, $2, $3) "
	       "ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value",
	.n_params = 3,
};

int mr_q_set_model_tag(struct db_conn *c, int64_t id, const char *key, const char *value, struct core_error *err)
{
	char a[24];
	const char *params[3] = {I64(a, id), key, value ? value : ""};
	return db_exec(c, &set_model_tag, params, NULL, err);
}

static const struct db_stmt delete_model_tag = {
	.name = "delete_model_tag",
	.sql = "DELETE FROM registered_model_tags WHERE model_id = $1::bigint AND key = $2",
	.n_params = 2,
};

int mr_q_delete_model_tag(struct db_conn *c, int64_t id, const char *key, struct core_error *err)
{
	char a[24];
	const char *params[2] = {I64(a, id), key};
	return db_exec(c, &delete_model_tag, params, NULL, err);
}
