/* Queries on tracker.experiments and tracker.experiment_tags, one function per
 * statement, the statement named as its function (face: et.h). Experiment JSON (MLflow's Experiment message,
 * tags sorted by key, unset fields omitted) is built by PostgreSQL. Ids are bigints
 * passed as their decimal text (checked by et_validate_experiment_id first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "et.h"

#define EXPERIMENT_JSON ET_SQL_EXPERIMENT "::text, e.lifecycle_stage"

static const struct db_stmt experiments_get = {
	.name = "et_q_experiments_get",
	.sql = "SELECT " EXPERIMENT_JSON " FROM experiments e WHERE e.experiment_id = $1::bigint",
	.n_params = 1,
};

int et_q_experiments_get(struct db_conn *c, const char *id, PGresult **res_out, struct core_error *err)
{
	const char *params[1] = {id};
	return db_exec(c, &experiments_get, params, res_out, err);
}

static const struct db_stmt experiments_get_by_name = {
	.name = "et_q_experiments_get_by_name",
	.sql = "SELECT " EXPERIMENT_JSON " FROM experiments e WHERE e.name = $1",
	.n_params = 1,
};

int et_q_experiments_get_by_name(struct db_conn *c, const char *name, PGresult **res_out, struct core_error *err)
{
	const char *params[1] = {name};
	return db_exec(c, &experiments_get_by_name, params, res_out, err);
}

static const struct db_stmt experiments_insert = {
	.name = "et_q_experiments_insert",
	.sql = "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time) "
	       "SELECT s.id, $1, COALESCE($2, 'mlflow-artifacts:/' || s.id), $3::bigint, $3::bigint "
	       "FROM (SELECT nextval('experiments_id_seq') AS id) s RETURNING experiment_id::text",
	.n_params = 3,
};

int et_q_experiments_insert(struct db_conn *c, const char *name, const char *artifact_location, int64_t now,
			    char id_out[24], struct core_error *err)
{
	struct db_i64 t;
	PGresult *res = NULL;
	const char *params[3] = {name, artifact_location, db_i64(&t, now)};
	int rc = db_exec(c, &experiments_insert, params, &res, err);
	if (rc == 1)
		snprintf(id_out, 24, "%s", db_get_text(res, 0, 0));
	PQclear(res);
	return rc;
}

static const struct db_stmt experiments_lock = {
	.name = "et_q_experiments_lock",
	.sql = "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = $1::bigint "
	       "FOR SHARE",
	.n_params = 1,
};

int et_q_experiments_lock(struct db_conn *c, const char *id, char stage_out[16], char **location_out,
			  struct core_error *err)
{
	PGresult *res = NULL;
	const char *params[1] = {id};
	int rc = db_exec(c, &experiments_lock, params, &res, err);
	if (rc == 1) {
		snprintf(stage_out, 16, "%s", db_get_text(res, 0, 0));
		if (location_out)
			*location_out = core_xstrdup(db_get_text(res, 0, 1));
	}
	PQclear(res);
	return rc;
}

static const struct db_stmt experiments_lock_for_update = {
	.name = "et_q_experiments_lock_for_update",
	.sql = "SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1::bigint FOR UPDATE",
	.n_params = 1,
};

int et_q_experiments_lock_for_update(struct db_conn *c, const char *id, char stage_out[16], struct core_error *err)
{
	PGresult *res = NULL;
	const char *params[1] = {id};
	int rc = db_exec(c, &experiments_lock_for_update, params, &res, err);
	if (rc == 1)
		snprintf(stage_out, 16, "%s", db_get_text(res, 0, 0));
	PQclear(res);
	return rc;
}

static const struct db_stmt experiments_set_stage = {
	.name = "et_q_experiments_set_stage",
	.sql = "UPDATE experiments SET lifecycle_stage = $2, last_update_time = $3::bigint "
	       "WHERE experiment_id = $1::bigint",
	.n_params = 3,
};

int et_q_experiments_set_stage(struct db_conn *c, const char *id, bool deleted, int64_t now, struct core_error *err)
{
	struct db_i64 t;
	const char *params[3] = {id, deleted ? "deleted" : "active", db_i64(&t, now)};
	return db_exec(c, &experiments_set_stage, params, NULL, err);
}

/* MLflow marks every run of the experiment (deleting) or every run (restoring). */
static const struct db_stmt experiments_runs_set_stage = {
	.name = "et_q_experiments_runs_set_stage",
	.sql = "UPDATE runs SET lifecycle_stage = $2, deleted_time = CASE WHEN $2 = 'deleted' THEN $3::bigint END "
	       "WHERE experiment_id = $1::bigint AND lifecycle_stage <> $2",
	.n_params = 3,
};

int et_q_experiments_runs_set_stage(struct db_conn *c, const char *id, bool deleted, int64_t now,
				    struct core_error *err)
{
	struct db_i64 t;
	const char *params[3] = {id, deleted ? "deleted" : "active", db_i64(&t, now)};
	return db_exec(c, &experiments_runs_set_stage, params, NULL, err);
}

static const struct db_stmt experiments_rename = {
	.name = "et_q_experiments_rename",
	.sql = "UPDATE experiments SET name = $2, last_update_time = $3::bigint WHERE experiment_id = $1::bigint",
	.n_params = 3,
};

int et_q_experiments_rename(struct db_conn *c, const char *id, const char *name, int64_t now, struct core_error *err)
{
	struct db_i64 t;
	const char *params[3] = {id, name, db_i64(&t, now)};
	return db_exec(c, &experiments_rename, params, NULL, err);
}

static const struct db_stmt experiment_tags_upsert = {
	.name = "et_q_experiment_tags_upsert",
	.sql = "INSERT INTO experiment_tags (experiment_id, key, value) "
	       "SELECT DISTINCT ON (k) $1::bigint, k, v "
	       "FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(k, v, ord) ORDER BY k, ord DESC "
	       "ON CONFLICT (experiment_id, key) DO UPDATE SET value = EXCLUDED.value",
	.n_params = 3,
};

int et_q_experiment_tags_upsert(struct db_conn *c, const char *id, const char *keys, const char *values,
				struct core_error *err)
{
	const char *params[3] = {id, keys, values};
	return db_exec(c, &experiment_tags_upsert, params, NULL, err);
}
