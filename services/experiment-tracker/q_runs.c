/* Queries on tracker.runs, one function per statement, the statement named as its
 * function (face: et.h). et_q_runs_load_rows is what runs/get and et_runs_load (search
 * pages) use: one statement for any number of runs, reading runs, latest_metrics,
 * params, tags and inputs as plain columns that entities.c turns into MLflow's Run
 * objects. et_q_runs_create is runs/create's whole write in one statement. */
#include <stdio.h>
#include <string.h>
#include "et.h"

static const struct db_stmt runs_lock = {
	.name = "et_q_runs_lock",
	.sql = "SELECT lifecycle_stage, experiment_id::text FROM runs WHERE run_id = $1 FOR NO KEY UPDATE",
	.n_params = 1,
};

int et_q_runs_lock(struct db_conn *c, const char *run_id, char stage_out[16], char exp_out[24], struct core_error *err)
{
	PGresult *res = NULL;
	const char *params[1] = {run_id};
	int rc = db_exec(c, &runs_lock, params, &res, err);
	if (rc == 1) {
		snprintf(stage_out, 16, "%s", db_get_text(res, 0, 0));
		if (exp_out)
			snprintf(exp_out, 24, "%s", db_get_text(res, 0, 1));
	}
	PQclear(res);
	return rc;
}

/* One statement (one snapshot) for any number of runs, as plain columns rather than
 * JSON: building each Run with json_build_object cost PostgreSQL ~0.3 ms per run, and the
 * daemon then had to parse that text again. Rows come sorted by (ord, kind, key); kinds:
 *   0 the run:        k run_id, v run_name, c2 experiment_id, c3 user_id, c4 status,
 *                     c5 start_time, c6 end_time, c7 artifact_uri, c8 lifecycle_stage
 *   1 latest metric:  k key, v value (float8 text), c2 timestamp, c3 step
 *   2 param, 3 tag:   k key, v value
 *   4 inputs:         v the whole "inputs" object as JSON text (runs that have inputs
 *                     only: rare, so PostgreSQL still renders it)
 * The keys sort in the columns' collation, as the JSON aggregates did. */
static const struct db_stmt runs_load_rows = {
	.name = "et_q_runs_load_rows",
	.sql = "WITH u AS (SELECT id, ord FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord)) "
	       "SELECT u.ord, 0 AS kind, r.run_id AS k, r.run_name AS v, r.experiment_id::text, r.user_id, r.status,"
	       " r.start_time::text, r.end_time::text, r.artifact_uri, r.lifecycle_stage "
	       "FROM u JOIN runs r ON r.run_id = u.id "
	       "UNION ALL SELECT u.ord, 1, m.key, m.value::text, m.timestamp::text, m.step::text, NULL, NULL, NULL,"
	       " NULL, NULL FROM u JOIN latest_metrics m ON m.run_id = u.id "
	       "UNION ALL SELECT u.ord, 2, p.key, p.value, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
	       "FROM u JOIN params p ON p.run_id = u.id "
	       "UNION ALL SELECT u.ord, 3, t.key, t.value, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
	       "FROM u JOIN tags t ON t.run_id = u.id "
	       "UNION ALL SELECT u.ord, 4, NULL, json_strip_nulls(json_build_object('dataset_inputs',"
	       "   (SELECT json_agg(json_build_object("
	       "      'tags', (SELECT json_agg(json_build_object('key', it.key, 'value', it.value) ORDER BY it.key)"
	       "               FROM input_tags it WHERE it.input_id = i.input_id),"
	       "      'dataset', json_build_object('name', d.name, 'digest', d.digest, 'source_type',"
	       "         d.source_type, 'source', d.source, 'schema', d.schema, 'profile', d.profile))"
	       "      ORDER BY i.input_id)"
	       "    FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_id = u.id)))::text,"
	       " NULL, NULL, NULL, NULL, NULL, NULL, NULL "
	       "FROM u WHERE EXISTS (SELECT 1 FROM inputs i WHERE i.run_id = u.id) "
	       "ORDER BY 1, 2, 3",
	.n_params = 1,
};

int et_q_runs_load_rows(struct db_conn *c, const char *ids_array, PGresult **res_out, struct core_error *err)
{
	const char *params[1] = {ids_array};
	return db_exec(c, &runs_load_rows, params, res_out, err);
}

/* runs/create used to take five round trips (lock the experiment, insert, upsert the
 * tags, rename from the tag, read the Run back); this is all of it, and it returns the
 * Run as et_q_runs_load_rows rows so nothing written is read again. The tags are new,
 * so they are plain inserts; the name is the mlflow.runName tag's value when there is
 * one (as the former rename-by-tag made it). */
static const struct db_stmt runs_create = {
	.name = "et_q_runs_create",
	.sql = "WITH e AS (SELECT lifecycle_stage, artifact_location FROM experiments "
	       "           WHERE experiment_id = $2::bigint FOR SHARE), "
	       "u AS (SELECT DISTINCT ON (k) k, v FROM unnest($6::text[], $7::text[]) WITH ORDINALITY "
	       "      AS a(k, v, ord) ORDER BY k, ord DESC), "
	       "r AS (INSERT INTO runs (run_id, experiment_id, run_name, user_id, start_time, artifact_uri) "
	       "      SELECT $1, $2::bigint, COALESCE((SELECT v FROM u WHERE k = '" ET_RUN_NAME_TAG "'), $3), $4, "
	       "             $5::bigint, e.artifact_location || '/' || $1 || '/artifacts' "
	       "      FROM e WHERE e.lifecycle_stage = 'active' "
	       "      RETURNING run_id, run_name, experiment_id, user_id, status, start_time, end_time, artifact_uri,"
	       "                lifecycle_stage), "
	       "t AS (INSERT INTO tags (run_id, key, value) SELECT r.run_id, u.k, u.v FROM r, u) "
	       "SELECT 1::bigint, 0, r.run_id, r.run_name, r.experiment_id::text, r.user_id, r.status,"
	       " r.start_time::text, r.end_time::text, r.artifact_uri, r.lifecycle_stage FROM r "
	       "UNION ALL SELECT 1, 3, u.k, u.v, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM r, u "
	       "ORDER BY 1, 2, 3",
	.n_params = 7,
};

int et_q_runs_create(struct db_conn *c, const char *run_id, const char *exp_id, const char *run_name,
		     const char *user_id, int64_t start_time, const char *tag_keys, const char *tag_values,
		     PGresult **res_out, struct core_error *err)
{
	struct db_i64 st;
	const char *params[7] = {run_id, exp_id, run_name, user_id, db_i64(&st, start_time), tag_keys, tag_values};
	return db_exec(c, &runs_create, params, res_out, err);
}

static const struct db_stmt runs_update = {
	.name = "et_q_runs_update",
	.sql = "UPDATE runs r SET status = COALESCE($2, r.status), end_time = COALESCE($3::bigint, r.end_time) "
	       "WHERE r.run_id = $1 RETURNING " ET_SQL_RUN_INFO "::text",
	.n_params = 3,
};

int et_q_runs_update(struct db_conn *c, const char *run_id, const char *status, const char *end_time,
		     PGresult **res_out, struct core_error *err)
{
	const char *params[3] = {run_id, status, end_time};
	return db_exec(c, &runs_update, params, res_out, err);
}

static const struct db_stmt runs_set_stage = {
	.name = "et_q_runs_set_stage",
	.sql = "UPDATE runs SET lifecycle_stage = $2, deleted_time = CASE WHEN $2 = 'deleted' THEN $3::bigint END "
	       "WHERE run_id = $1",
	.n_params = 3,
};

int et_q_runs_set_stage(struct db_conn *c, const char *run_id, bool deleted, int64_t now, struct core_error *err)
{
	struct db_i64 t;
	const char *params[3] = {run_id, deleted ? "deleted" : "active", db_i64(&t, now)};
	return db_exec(c, &runs_set_stage, params, NULL, err);
}

static const struct db_stmt runs_exists = {
	.name = "et_q_runs_exists",
	.sql = "SELECT 1 FROM runs WHERE run_id = $1",
	.n_params = 1,
};

int et_q_runs_exists(struct db_conn *c, const char *run_id, struct core_error *err)
{
	const char *params[1] = {run_id};
	return db_exec(c, &runs_exists, params, NULL, err);
}
