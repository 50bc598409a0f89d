/* Queries on tracker.tags (one function per statement, named as it; face: et.h). Tags upsert, the last of
 * duplicates in one request winning; the mlflow.runName tag is the run's name, so
 * writing it renames the run in the same statement. */
#include "et.h"

static const struct db_stmt tags_upsert = {
	.name = "et_q_tags_upsert",
	.sql = "WITH u AS (SELECT DISTINCT ON (k) k, v FROM unnest($2::text[], $3::text[]) WITH ORDINALITY "
	       "             AS a(k, v, ord) ORDER BY k, ord DESC), "
	       "ins AS (INSERT INTO tags (run_id, key, value) SELECT $1, k, v FROM u "
	       "        ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value) "
	       "UPDATE runs SET run_name = u.v FROM u WHERE runs.run_id = $1 AND u.k = '" ET_RUN_NAME_TAG "'",
	.n_params = 3,
};

int et_q_tags_upsert(struct db_conn *c, const char *run_id, const char *keys, const char *values,
		     struct core_error *err)
{
	const char *params[3] = {run_id, keys, values};
	return db_exec(c, &tags_upsert, params, NULL, err);
}

static const struct db_stmt tags_delete = {
	.name = "et_q_tags_delete",
	.sql = "DELETE FROM tags WHERE run_id = $1 AND key = $2",
	.n_params = 2,
};

int et_q_tags_delete(struct db_conn *c, const char *run_id, const char *key, struct core_error *err)
{
	const char *params[2] = {run_id, key};
	return db_exec(c, &tags_delete, params, NULL, err);
}

static const struct db_stmt tags_get = {
	.name = "et_q_tags_get",
	.sql = "SELECT value FROM tags WHERE run_id = $1 AND key = $2",
	.n_params = 2,
};

int et_q_tags_get(struct db_conn *c, const char *run_id, const char *key, PGresult **res_out, struct core_error *err)
{
	const char *params[2] = {run_id, key};
	return db_exec(c, &tags_get, params, res_out, err);
}
