/* Queries on tracker.tags (one function per statement, named as it; face: et.h). Tags upsert, the last of
 * duplicates in one request winning; the mlflow.runName tag is the run's name, so
 * writing it renames the run in the same statement. et_q_tags_log also locks the run
 * and checks it is active in that statement, so set-tag is one round trip. */
#include <stdio.h>
#include "et.h"

/* The tags $2 (keys) and $3 (values) upserted for the run in CTE `ok` (one column,
 * run_id; no row: nothing written), the last of duplicate keys winning; CTE `t` holds
 * them for the rename that follows. */
#define TAGS_UPSERT_CTES                                                                                               \
	"t AS (SELECT DISTINCT ON (k) k, v FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS a(k, v, ord) "       \
	"      ORDER BY k, ord DESC), "                                                                                \
	"tg AS (INSERT INTO tags (run_id, key, value) SELECT ok.run_id, t.k, t.v FROM ok, t "                          \
	"       ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value) "

static const struct db_stmt tags_upsert = {
	.name = "et_q_tags_upsert",
	.sql = "WITH ok AS (SELECT $1::text AS run_id), " TAGS_UPSERT_CTES
	       "UPDATE runs SET run_name = t.v FROM t WHERE runs.run_id = $1 AND t.k = '" ET_RUN_NAME_TAG "'",
	.n_params = 3,
};

int et_q_tags_upsert(struct db_conn *c, const char *run_id, const char *keys, const char *values,
		     struct core_error *err)
{
	const char *params[3] = {run_id, keys, values};
	return db_exec(c, &tags_upsert, params, NULL, err);
}

static const struct db_stmt tags_log = {
	.name = "et_q_tags_log",
	.sql = "WITH r AS (SELECT run_id, lifecycle_stage FROM runs WHERE run_id = $1 FOR NO KEY UPDATE), "
	       "ok AS (SELECT run_id FROM r WHERE lifecycle_stage = 'active'), " TAGS_UPSERT_CTES
	       ", rn AS (UPDATE runs SET run_name = t.v FROM ok, t "
	       "         WHERE runs.run_id = ok.run_id AND t.k = '" ET_RUN_NAME_TAG "') "
	       "SELECT lifecycle_stage FROM r",
	.n_params = 3,
};

int et_q_tags_log(struct db_conn *c, const char *run_id, const char *keys, const char *values, char stage_out[16],
		  struct core_error *err)
{
	const char *params[3] = {run_id, keys, values};
	PGresult *res = NULL;
	int rc = db_exec(c, &tags_log, params, &res, err);
	if (rc == 1)
		snprintf(stage_out, 16, "%s", db_get_text(res, 0, 0));
	PQclear(res);
	return rc;
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
