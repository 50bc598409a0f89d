/* Queries on tracker.runs, one function per statement (STYLE 9); the statement's
 * name is the function's suffix. Face: tracking.h. runs_load_json is what runs/get
 * and et_runs_load (search pages) use: one statement for any number of runs, the Run
 * JSON assembled by PostgreSQL from runs, latest_metrics, params, tags and inputs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "tracking.h"

static const struct db_stmt runs_lock = {
	.name = "et_runs_lock",
	.sql = "SELECT lifecycle_stage, experiment_id::text FROM runs WHERE run_id = $1 FOR NO KEY UPDATE",
	.n_params = 1,
};

int et_q_runs_lock(struct db_conn *c, const char *run_id, char stage_out[16], char exp_out[24])
{
	PGresult *res = NULL;
	const char *params[1] = {run_id};
	int rc = db_exec(c, &runs_lock, params, &res, NULL);
	if (rc == 1) {
		snprintf(stage_out, 16, "%s", db_get_text(res, 0, 0));
		if (exp_out)
			snprintf(exp_out, 24, "%s", db_get_text(res, 0, 1));
	}
	PQclear(res);
	return rc;
}

static const struct db_stmt runs_load_json = {
	.name = "et_runs_load_json",
	.sql = "SELECT json_build_object("
	       " 'info', " ET_SQL_RUN_INFO ","
	       " 'data', json_strip_nulls(json_build_object("
	       "   'metrics', (SELECT json_agg(json_build_object('key', m.key, 'value', m.value, 'timestamp',"
	       "                m.timestamp, 'step', m.step) ORDER BY m.key)"
	       "               FROM latest_metrics m WHERE m.run_id = r.run_id),"
	       "   'params', (SELECT json_agg(json_build_object('key', p.key, 'value', p.value) ORDER BY p.key)"
	       "              FROM params p WHERE p.run_id = r.run_id),"
	       "   'tags', (SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)"
	       "            FROM tags t WHERE t.run_id = r.run_id))),"
	       " 'inputs', json_strip_nulls(json_build_object('dataset_inputs',"
	       "   (SELECT json_agg(json_build_object("
	       "      'tags', (SELECT json_agg(json_build_object('key', it.key, 'value', it.value) ORDER BY it.key)"
	       "               FROM input_tags it WHERE it.input_id = i.input_id),"
	       "      'dataset', json_build_object('name', d.name, 'digest', d.digest, 'source_type',"
	       "         d.source_type, 'source', d.source, 'schema', d.schema, 'profile', d.profile))"
	       "      ORDER BY i.input_id)"
	       "    FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_id = r.run_id)))"
	       ")::text "
	       "FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord) JOIN runs r ON r.run_id = u.id "
	       "ORDER BY u.ord",
	.n_params = 1,
};

int et_q_runs_load_json(struct db_conn *c, const char *ids_array, PGresult **res_out, struct core_error *err)
{
	const char *params[1] = {ids_array};
	return db_exec(c, &runs_load_json, params, res_out, err);
}

static const struct db_stmt runs_insert = {
	.name = "et_runs_insert",
	.sql = "INSERT INTO runs (run_id, experiment_id, run_name, user_id, start_time, artifact_uri) "
	       "VALUES ($1, $2::bigint, $3, $4, $5::bigint, $6 || '/' || $1 || '/artifacts')",
	.n_params = 6,
};

int et_q_runs_insert(struct db_conn *c, const char *run_id, const char *exp_id, const char *run_name,
		     const char *user_id, int64_t start_time, const char *artifact_location)
{
	char st[24];
	snprintf(st, sizeof st, "%" PRId64, start_time);
	const char *params[6] = {run_id, exp_id, run_name, user_id, st, artifact_location};
	return db_exec(c, &runs_insert, params, NULL, NULL);
}

static const struct db_stmt runs_update = {
	.name = "et_runs_update",
	.sql = "UPDATE runs r SET status = COALESCE($2, r.status), end_time = COALESCE($3::bigint, r.end_time) "
	       "WHERE r.run_id = $1 RETURNING " ET_SQL_RUN_INFO "::text",
	.n_params = 3,
};

int et_q_runs_update(struct db_conn *c, const char *run_id, const char *status, const char *end_time,
		     PGresult **res_out)
{
	const char *params[3] = {run_id, status, end_time};
	return db_exec(c, &runs_update, params, res_out, NULL);
}

static const struct db_stmt runs_set_stage = {
	.name = "et_runs_set_stage",
	.sql = "UPDATE runs SET lifecycle_stage = $2, deleted_time = CASE WHEN $2 = 'deleted' THEN $3::bigint END "
	       "WHERE run_id = $1",
	.n_params = 3,
};

int et_q_runs_set_stage(struct db_conn *c, const char *run_id, bool deleted, int64_t now)
{
	char t[24];
	snprintf(t, sizeof t, "%" PRId64, now);
	const char *params[3] = {run_id, deleted ? "deleted" : "active", t};
	return db_exec(c, &runs_set_stage, params, NULL, NULL);
}

static const struct db_stmt runs_exists = {
	.name = "et_runs_exists",
	.sql = "SELECT 1 FROM runs WHERE run_id = $1",
	.n_params = 1,
};

int et_q_runs_exists(struct db_conn *c, const char *run_id)
{
	const char *params[1] = {run_id};
	return db_exec(c, &runs_exists, params, NULL, NULL);
}
