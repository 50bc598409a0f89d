/* Queries on versions (migration 0002): one function per statement, named as the
 * function. Version rows are read with DR_VERSION_COLS (joined with their dataset for
 * its name). Writers have row-locked the dataset first. Returns follow db_exec. */
#include <stdio.h>
#include <string.h>
#include "dr.h"

#define FROM_V " FROM versions v JOIN datasets d ON d.id = v.dataset_id "

static const struct db_stmt insert_version = {
	.name = "dr_q_insert_version",
	.sql = "INSERT INTO versions (dataset_id, number, id, parent, message, format, label_column, file_count, "
	       "bytes, created_at) VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6, $7, $8::bigint, $9::bigint, "
	       "$10::bigint) RETURNING pk",
	.n_params = 10,
};

int dr_q_insert_version(struct db_conn *c, const struct dr_version_new *v, int64_t *pk_out, struct core_error *err)
{
	struct db_i64 d, n, fc, b, t;
	const char *params[10] = {db_i64(&d, v->dataset_id),
				  db_i64(&n, v->number),
				  v->id,
				  v->parent,
				  v->message ? v->message : "",
				  v->format,
				  v->label_column,
				  db_i64(&fc, v->file_count),
				  db_i64(&b, (int64_t)v->bytes),
				  db_i64(&t, v->now_ms)};
	PGresult *res = NULL;
	int rc = db_exec(c, &insert_version, params, &res, err);
	if (rc == 1)
		db_get_int64(res, 0, 0, pk_out, NULL);
	PQclear(res);
	return rc;
}

static const struct db_stmt newest_version = {
	.name = "dr_q_newest_version",
	.sql = "SELECT number, id FROM versions WHERE dataset_id = $1::bigint ORDER BY number DESC LIMIT 1",
	.n_params = 1,
};

int dr_q_newest_version(struct db_conn *c, int64_t dataset_id, int64_t *number_out, char id_out[65],
			struct core_error *err)
{
	struct db_i64 d;
	const char *params[1] = {db_i64(&d, dataset_id)};
	PGresult *res = NULL;
	int rc = db_exec(c, &newest_version, params, &res, err);
	if (rc == 1) {
		db_get_int64(res, 0, 0, number_out, NULL);
		snprintf(id_out, 65, "%s", db_get_text(res, 0, 1));
	}
	PQclear(res);
	return rc;
}

static const struct db_stmt version_count = {
	.name = "dr_q_version_count",
	.sql = "SELECT count(*) FROM versions WHERE dataset_id = $1::bigint",
	.n_params = 1,
};

int dr_q_version_count(struct db_conn *c, int64_t dataset_id, int64_t *count_out, struct core_error *err)
{
	struct db_i64 d;
	const char *params[1] = {db_i64(&d, dataset_id)};
	PGresult *res = NULL;
	int rc = db_exec(c, &version_count, params, &res, err);
	if (rc == 1)
		db_get_int64(res, 0, 0, count_out, NULL);
	PQclear(res);
	return rc;
}

static const struct db_stmt version_by_pk = {
	.name = "dr_q_version_by_pk",
	.sql = "SELECT " DR_VERSION_COLS FROM_V "WHERE v.pk = $1::bigint",
	.n_params = 1,
};

int dr_q_version_by_pk(struct db_conn *c, int64_t pk, PGresult **res_out, struct core_error *err)
{
	struct db_i64 p;
	const char *params[1] = {db_i64(&p, pk)};
	return db_exec(c, &version_by_pk, params, res_out, err);
}

static const struct db_stmt version_by_number = {
	.name = "dr_q_version_by_number",
	.sql = "SELECT " DR_VERSION_COLS FROM_V "WHERE v.dataset_id = $1::bigint AND v.number = $2::bigint",
	.n_params = 2,
};

int dr_q_version_by_number(struct db_conn *c, int64_t dataset_id, int64_t number, PGresult **res_out,
			   struct core_error *err)
{
	struct db_i64 d, n;
	const char *params[2] = {db_i64(&d, dataset_id), db_i64(&n, number)};
	return db_exec(c, &version_by_number, params, res_out, err);
}

static const struct db_stmt version_by_id = {
	.name = "dr_q_version_by_id",
	.sql = "SELECT " DR_VERSION_COLS FROM_V "WHERE v.dataset_id = $1::bigint AND v.id = $2",
	.n_params = 2,
};

int dr_q_version_by_id(struct db_conn *c, int64_t dataset_id, const char *id, PGresult **res_out,
		       struct core_error *err)
{
	struct db_i64 d;
	const char *params[2] = {db_i64(&d, dataset_id), id};
	return db_exec(c, &version_by_id, params, res_out, err);
}

/* The unique (dataset_id, id) index answers the range; two rows are enough to tell an
 * ambiguous prefix. */
static const struct db_stmt version_by_prefix = {
	.name = "dr_q_version_by_prefix",
	.sql = "SELECT " DR_VERSION_COLS FROM_V "WHERE v.dataset_id = $1::bigint AND v.id >= $2 AND v.id < $2 || 'g' "
	       "ORDER BY v.id LIMIT 2",
	.n_params = 2,
};

int dr_q_version_by_prefix(struct db_conn *c, int64_t dataset_id, const char *prefix, PGresult **res_out,
			   struct core_error *err)
{
	struct db_i64 d;
	const char *params[2] = {db_i64(&d, dataset_id), prefix};
	return db_exec(c, &version_by_prefix, params, res_out, err);
}

static const struct db_stmt version_latest = {
	.name = "dr_q_version_latest",
	.sql = "SELECT " DR_VERSION_COLS FROM_V "WHERE v.dataset_id = $1::bigint AND v.status = 'READY' "
	       "ORDER BY v.number DESC LIMIT 1",
	.n_params = 1,
};

int dr_q_version_latest(struct db_conn *c, int64_t dataset_id, PGresult **res_out, struct core_error *err)
{
	struct db_i64 d;
	const char *params[1] = {db_i64(&d, dataset_id)};
	return db_exec(c, &version_latest, params, res_out, err);
}

static const struct db_stmt list_versions = {
	.name = "dr_q_list_versions",
	.sql = "SELECT " DR_VERSION_COLS FROM_V "WHERE v.dataset_id = $1::bigint AND ($2::bigint = 0 OR v.number < "
	       "$2::bigint) ORDER BY v.number DESC LIMIT $3::bigint",
	.n_params = 3,
};

int dr_q_list_versions(struct db_conn *c, int64_t dataset_id, int64_t before, int64_t limit, PGresult **res_out,
		       struct core_error *err)
{
	struct db_i64 d, b, l;
	const char *params[3] = {db_i64(&d, dataset_id), db_i64(&b, before), db_i64(&l, limit)};
	return db_exec(c, &list_versions, params, res_out, err);
}
