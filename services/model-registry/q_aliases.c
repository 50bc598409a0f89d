/* Queries on registered_model_aliases (migration 0002): one function per statement,
 * named as the function (STYLE 9). (model_id, alias) is the key, so one alias
 * names one version, and setting it is a single upsert: moving an alias is atomic.
 * Callers have locked the model row first. Returns follow db_exec. */
#include <stdio.h>
#include "mr.h"

static const struct db_stmt alias_version = {
	.name = "mr_q_alias_version",
	.sql = "SELECT version FROM registered_model_aliases WHERE model_id = $1::bigint AND alias = $2",
	.n_params = 2,
};

int mr_q_alias_version(struct db_conn *c, int64_t model_id, const char *alias, int64_t *version_out,
		       struct core_error *err)
{
	struct db_i64 m;
	const char *params[2] = {db_i64(&m, model_id), alias};
	PGresult *res = NULL;
	int rc = db_exec(c, &alias_version, params, &res, err);
	if (rc == 1 && db_get_int64(res, 0, 0, version_out, err) != CORE_OK)
		rc = DB_HARD_ERROR;
	PQclear(res);
	return rc;
}

static const struct db_stmt upsert_alias = {
	.name = "mr_q_upsert_alias",
	.sql = "INSERT INTO registered_model_aliases (model_id, alias, version) VALUES ($1::bigint, $2, $3::bigint) "
	       "ON CONFLICT (model_id, alias) DO UPDATE SET version = EXCLUDED.version",
	.n_params = 3,
};

int mr_q_upsert_alias(struct db_conn *c, int64_t model_id, const char *alias, int64_t version, struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[3] = {db_i64(&m, model_id), alias, db_i64(&v, version)};
	return db_exec(c, &upsert_alias, params, NULL, err);
}

static const struct db_stmt delete_alias = {
	.name = "mr_q_delete_alias",
	.sql = "DELETE FROM registered_model_aliases WHERE model_id = $1::bigint AND alias = $2",
	.n_params = 2,
};

int mr_q_delete_alias(struct db_conn *c, int64_t model_id, const char *alias, struct core_error *err)
{
	struct db_i64 m;
	const char *params[2] = {db_i64(&m, model_id), alias};
	return db_exec(c, &delete_alias, params, NULL, err);
}

static const struct db_stmt version_aliases = {
	.name = "mr_q_version_aliases",
	.sql = "SELECT alias FROM registered_model_aliases WHERE model_id = $1::bigint AND version = $2::bigint "
	       "ORDER BY alias",
	.n_params = 2,
};

int mr_q_version_aliases(struct db_conn *c, int64_t model_id, int64_t version, PGresult **res_out,
			 struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[2] = {db_i64(&m, model_id), db_i64(&v, version)};
	return db_exec(c, &version_aliases, params, res_out, err);
}
