/* Queries on tensor_exports (migration 0003): one function per statement, named as the
 * function. Returns follow db_exec (row count or a negative db_status). */
#include <stdio.h>
#include "dr.h"

static const struct db_stmt tensor_export = {
	.name = "dr_q_tensor_export",
	.sql = "SELECT blob_sha, size FROM tensor_exports WHERE version_pk = $1::bigint AND options_key = $2",
	.n_params = 2,
};

int dr_q_tensor_export(struct db_conn *c, int64_t version_pk, const char *options_key, char sha_out[65],
		       int64_t *size_out, struct core_error *err)
{
	struct db_i64 v;
	const char *params[2] = {db_i64(&v, version_pk), options_key};
	PGresult *res = NULL;
	int rc = db_exec(c, &tensor_export, params, &res, err);
	if (rc == 1) {
		snprintf(sha_out, 65, "%s", db_get_text(res, 0, 0));
		db_get_int64(res, 0, 1, size_out, NULL);
	}
	PQclear(res);
	return rc;
}

/* The first export of (version, options) wins; a concurrent one computed the same
 * bytes (the export is deterministic), so losing the race changes nothing. */
static const struct db_stmt insert_tensor_export = {
	.name = "dr_q_insert_tensor_export",
	.sql = "INSERT INTO tensor_exports (version_pk, options_key, blob_sha, size, created_at) "
	       "VALUES ($1::bigint, $2, $3, $4::bigint, $5::bigint) ON CONFLICT (version_pk, options_key) DO NOTHING",
	.n_params = 5,
};

int dr_q_insert_tensor_export(struct db_conn *c, int64_t version_pk, const char *options_key, const char *sha,
			      int64_t size, int64_t now_ms, struct core_error *err)
{
	struct db_i64 v, s, t;
	const char *params[5] = {db_i64(&v, version_pk), options_key, sha, db_i64(&s, size), db_i64(&t, now_ms)};
	return db_exec(c, &insert_tensor_export, params, NULL, err);
}
