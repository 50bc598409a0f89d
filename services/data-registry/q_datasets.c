/* Queries on datasets (migration 0002): one function per statement, named as the
 * function (docs/style.md §9). Datasets are read with DR_DATASET_COLS, which carry the
 * version count and the newest READY number. Returns follow db_exec. */
#include <stdio.h>
#include <string.h>
#include "dr.h"

static const struct db_stmt insert_dataset = {
	.name = "dr_q_insert_dataset",
	.sql = "INSERT INTO datasets (name, description, tags, created_at, updated_at) "
	       "VALUES ($1, $2, $3::jsonb, $4::bigint, $4::bigint) ON CONFLICT (name) DO NOTHING RETURNING id",
	.n_params = 4,
};

int dr_q_insert_dataset(struct db_conn *c, const char *name, const char *description, const char *tags_json,
			int64_t now_ms, int64_t *id_out, struct core_error *err)
{
	struct db_i64 t;
	const char *params[4] = {name, description ? description : "", tags_json ? tags_json : "{}",
				 db_i64(&t, now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &insert_dataset, params, &res, err);
	if (rc == 1)
		db_get_int64(res, 0, 0, id_out, NULL);
	PQclear(res);
	return rc;
}

static const struct db_stmt ensure_dataset = {
	.name = "dr_q_ensure_dataset",
	.sql = "INSERT INTO datasets (name, created_at, updated_at) VALUES ($1, $2::bigint, $2::bigint) "
	       "ON CONFLICT (name) DO NOTHING",
	.n_params = 2,
};

int dr_q_ensure_dataset(struct db_conn *c, const char *name, int64_t now_ms, struct core_error *err)
{
	struct db_i64 t;
	const char *params[2] = {name, db_i64(&t, now_ms)};
	return db_exec(c, &ensure_dataset, params, NULL, err);
}

static const struct db_stmt lock_dataset = {
	.name = "dr_q_lock_dataset",
	.sql = "SELECT id FROM datasets WHERE name = $1 FOR UPDATE",
	.n_params = 1,
};

int dr_q_lock_dataset(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	int rc = db_exec(c, &lock_dataset, params, &res, err);
	if (rc == 1)
		db_get_int64(res, 0, 0, id_out, NULL);
	PQclear(res);
	return rc;
}

static const struct db_stmt select_dataset = {
	.name = "dr_q_select_dataset",
	.sql = "SELECT " DR_DATASET_COLS " FROM datasets d WHERE d.id = $1::bigint",
	.n_params = 1,
};

int dr_q_select_dataset(struct db_conn *c, int64_t id, PGresult **res_out, struct core_error *err)
{
	struct db_i64 i;
	const char *params[1] = {db_i64(&i, id)};
	return db_exec(c, &select_dataset, params, res_out, err);
}

static const struct db_stmt dataset_by_name = {
	.name = "dr_q_dataset_by_name",
	.sql = "SELECT " DR_DATASET_COLS " FROM datasets d WHERE d.name = $1",
	.n_params = 1,
};

int dr_q_dataset_by_name(struct db_conn *c, const char *name, PGresult **res_out, struct core_error *err)
{
	const char *params[1] = {name};
	return db_exec(c, &dataset_by_name, params, res_out, err);
}

static const struct db_stmt list_datasets = {
	.name = "dr_q_list_datasets",
	.sql = "SELECT " DR_DATASET_COLS " FROM datasets d WHERE ($1::text IS NULL OR starts_with(d.name, $1)) "
	       "AND ($2::text IS NULL OR d.name > $2) ORDER BY d.name LIMIT $3::bigint",
	.n_params = 3,
};

int dr_q_list_datasets(struct db_conn *c, const char *prefix, const char *after, int64_t limit, PGresult **res_out,
		       struct core_error *err)
{
	struct db_i64 l;
	const char *params[3] = {prefix, after, db_i64(&l, limit)};
	return db_exec(c, &list_datasets, params, res_out, err);
}

static const struct db_stmt update_dataset = {
	.name = "dr_q_update_dataset",
	.sql = "UPDATE datasets SET description = coalesce($2, description), tags = coalesce($3::jsonb, tags), "
	       "updated_at = $4::bigint WHERE id = $1::bigint",
	.n_params = 4,
};

int dr_q_update_dataset(struct db_conn *c, int64_t id, const char *description, const char *tags_json, int64_t now_ms,
			struct core_error *err)
{
	struct db_i64 i, t;
	const char *params[4] = {db_i64(&i, id), description, tags_json, db_i64(&t, now_ms)};
	return db_exec(c, &update_dataset, params, NULL, err);
}

static const struct db_stmt touch_dataset = {
	.name = "dr_q_touch_dataset",
	.sql = "UPDATE datasets SET updated_at = greatest(updated_at, $2::bigint) WHERE id = $1::bigint",
	.n_params = 2,
};

int dr_q_touch_dataset(struct db_conn *c, int64_t id, int64_t now_ms, struct core_error *err)
{
	struct db_i64 i, t;
	const char *params[2] = {db_i64(&i, id), db_i64(&t, now_ms)};
	return db_exec(c, &touch_dataset, params, NULL, err);
}

static const struct db_stmt delete_dataset = {
	.name = "dr_q_delete_dataset",
	.sql = "DELETE FROM datasets WHERE id = $1::bigint",
	.n_params = 1,
};

int dr_q_delete_dataset(struct db_conn *c, int64_t id, struct core_error *err)
{
	struct db_i64 i;
	const char *params[1] = {db_i64(&i, id)};
	return db_exec(c, &delete_dataset, params, NULL, err);
}

static const struct db_stmt dataset_id = {
	.name = "dr_q_dataset_id",
	.sql = "SELECT id FROM datasets WHERE name = $1",
	.n_params = 1,
};

int dr_q_dataset_id(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	int rc = db_exec(c, &dataset_id, params, &res, err);
	if (rc == 1)
		db_get_int64(res, 0, 0, id_out, NULL);
	PQclear(res);
	return rc;
}
