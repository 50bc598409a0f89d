/* Queries on model_versions and model_version_tags (migration 0002): one function per
 * statement, named as the function (docs/style.md §9). Version rows are read through
 * model_version_view (MR_VERSION_COLS), so every answer carries the model's name, the
 * tags and the aliases. Callers that change a version have locked its model first.
 * Returns follow db_exec: row count or a negative enum db_status. */
#include <stdio.h>
#include <string.h>
#include "mr.h"

static const struct db_stmt insert_version = {
	.name = "mr_q_insert_version",
	.sql = "INSERT INTO model_versions (model_id, version, creation_time, last_updated_time, source, run_id, "
	       "run_link, description) VALUES ($1::bigint, $2::bigint, $3::bigint, $3::bigint, $4, $5, $6, $7)",
	.n_params = 7,
};

int mr_q_insert_version(struct db_conn *c, int64_t model_id, int64_t version, int64_t now_ms, const char *source,
			const char *run_id, const char *run_link, const char *description, struct core_error *err)
{
	struct db_i64 m, v, t;
	const char *params[7] = {db_i64(&m, model_id),
				 db_i64(&v, version),
				 db_i64(&t, now_ms),
				 source,
				 run_id ? run_id : "",
				 run_link ? run_link : "",
				 description ? description : ""};
	return db_exec(c, &insert_version, params, NULL, err);
}

static const struct db_stmt select_version = {
	.name = "mr_q_select_version",
	.sql = "SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE v.model_id = $1::bigint "
	       "AND v.version = $2::bigint",
	.n_params = 2,
};

int mr_q_select_version(struct db_conn *c, int64_t model_id, int64_t version, PGresult **res_out,
			struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[2] = {db_i64(&m, model_id), db_i64(&v, version)};
	return db_exec(c, &select_version, params, res_out, err);
}

static const struct db_stmt select_version_by_name = {
	.name = "mr_q_select_version_by_name",
	.sql = "SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE v.name = $1 AND v.version = $2::bigint",
	.n_params = 2,
};

int mr_q_select_version_by_name(struct db_conn *c, const char *name, int64_t version, PGresult **res_out,
				struct core_error *err)
{
	struct db_i64 v;
	const char *params[2] = {name, db_i64(&v, version)};
	return db_exec(c, &select_version_by_name, params, res_out, err);
}

static const struct db_stmt lock_version = {
	.name = "mr_q_lock_version",
	.sql = "SELECT current_stage FROM model_versions WHERE model_id = $1::bigint AND version = $2::bigint "
	       "FOR UPDATE",
	.n_params = 2,
};

int mr_q_lock_version(struct db_conn *c, int64_t model_id, int64_t version, char stage_out[16], struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[2] = {db_i64(&m, model_id), db_i64(&v, version)};
	PGresult *res = NULL;
	int rc = db_exec(c, &lock_version, params, &res, err);
	if (rc == 1 && stage_out)
		snprintf(stage_out, 16, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static const struct db_stmt update_version_description = {
	.name = "mr_q_update_version_description",
	.sql = "UPDATE model_versions SET description = $3, last_updated_time = $4::bigint "
	       "WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 4,
};

int mr_q_update_version_description(struct db_conn *c, int64_t model_id, int64_t version, const char *description,
				    int64_t now_ms, struct core_error *err)
{
	struct db_i64 m, v, t;
	const char *params[4] = {db_i64(&m, model_id), db_i64(&v, version), description ? description : "",
				 db_i64(&t, now_ms)};
	return db_exec(c, &update_version_description, params, NULL, err);
}

static const struct db_stmt set_version_stage = {
	.name = "mr_q_set_version_stage",
	.sql = "UPDATE model_versions SET current_stage = $3, last_updated_time = $4::bigint "
	       "WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 4,
};

int mr_q_set_version_stage(struct db_conn *c, int64_t model_id, int64_t version, const char *stage, int64_t now_ms,
			   struct core_error *err)
{
	struct db_i64 m, v, t;
	const char *params[4] = {db_i64(&m, model_id), db_i64(&v, version), stage, db_i64(&t, now_ms)};
	return db_exec(c, &set_version_stage, params, NULL, err);
}

static const struct db_stmt archive_stage = {
	.name = "mr_q_archive_stage",
	.sql = "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $4::bigint "
	       "WHERE model_id = $1::bigint AND version <> $2::bigint AND current_stage = $3 RETURNING version, "
	       "source, run_id",
	.n_params = 4,
};

int mr_q_archive_stage(struct db_conn *c, int64_t model_id, int64_t keep_version, const char *stage, int64_t now_ms,
		       PGresult **res_out, struct core_error *err)
{
	struct db_i64 m, v, t;
	const char *params[4] = {db_i64(&m, model_id), db_i64(&v, keep_version), stage, db_i64(&t, now_ms)};
	return db_exec(c, &archive_stage, params, res_out, err);
}

static const struct db_stmt delete_version = {
	.name = "mr_q_delete_version",
	.sql = "DELETE FROM model_versions WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 2,
};

int mr_q_delete_version(struct db_conn *c, int64_t model_id, int64_t version, struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[2] = {db_i64(&m, model_id), db_i64(&v, version)};
	return db_exec(c, &delete_version, params, NULL, err);
}

static const struct db_stmt touch_versions = {
	.name = "mr_q_touch_versions",
	.sql = "UPDATE model_versions SET last_updated_time = $2::bigint WHERE model_id = $1::bigint",
	.n_params = 2,
};

int mr_q_touch_versions(struct db_conn *c, int64_t model_id, int64_t now_ms, struct core_error *err)
{
	struct db_i64 m, t;
	const char *params[2] = {db_i64(&m, model_id), db_i64(&t, now_ms)};
	return db_exec(c, &touch_versions, params, NULL, err);
}

static const struct db_stmt model_versions = {
	.name = "mr_q_model_versions",
	.sql = "SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE v.model_id = $1::bigint ORDER BY v.version",
	.n_params = 1,
};

int mr_q_model_versions(struct db_conn *c, int64_t model_id, PGresult **res_out, struct core_error *err)
{
	struct db_i64 m;
	const char *params[1] = {db_i64(&m, model_id)};
	return db_exec(c, &model_versions, params, res_out, err);
}

/* MLflow's latest_versions: the highest version in each stage, the stages in the order
 * their first version appears (SqlRegisteredModel.to_mlflow_entity walks versions in
 * ascending order and keeps a dict per stage). */
static const struct db_stmt latest_versions = {
	.name = "mr_q_latest_versions",
	.sql = "SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE v.model_id = ANY($1::bigint[]) "
	       "AND v.version = (SELECT max(w.version) FROM model_versions w WHERE w.model_id = v.model_id "
	       "AND w.current_stage = v.current_stage) "
	       "ORDER BY v.model_id, (SELECT min(w.version) FROM model_versions w WHERE w.model_id = v.model_id "
	       "AND w.current_stage = v.current_stage)",
	.n_params = 1,
};

int mr_q_latest_versions(struct db_conn *c, const char *ids_array, PGresult **res_out, struct core_error *err)
{
	const char *params[1] = {ids_array};
	return db_exec(c, &latest_versions, params, res_out, err);
}

static const struct db_stmt set_version_tag = {
	.name = "mr_q_set_version_tag",
	.sql = "INSERT INTO model_version_tags (model_id, version, key, value) VALUES ($1::bigint, $2::bigint, $3, $4) "
	       "ON CONFLICT (model_id, version, key) DO UPDATE SET value = EXCLUDED.value",
	.n_params = 4,
};

int mr_q_set_version_tag(struct db_conn *c, int64_t model_id, int64_t version, const char *key, const char *value,
			 struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[4] = {db_i64(&m, model_id), db_i64(&v, version), key, value ? value : ""};
	return db_exec(c, &set_version_tag, params, NULL, err);
}

static const struct db_stmt delete_version_tag = {
	.name = "mr_q_delete_version_tag",
	.sql = "DELETE FROM model_version_tags WHERE model_id = $1::bigint AND version = $2::bigint AND key = $3",
	.n_params = 3,
};

int mr_q_delete_version_tag(struct db_conn *c, int64_t model_id, int64_t version, const char *key,
			    struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[3] = {db_i64(&m, model_id), db_i64(&v, version), key};
	return db_exec(c, &delete_version_tag, params, NULL, err);
}

/* --- servable_checks (migration 0004) ------------------------------------------- */

static const struct db_stmt insert_servable_check = {
	.name = "mr_q_insert_servable_check",
	.sql = "INSERT INTO servable_checks (model_id, version, next_at, request_id) "
	       "VALUES ($1::bigint, $2::bigint, $3::bigint, $4)",
	.n_params = 4,
};

int mr_q_insert_servable_check(struct db_conn *c, int64_t model_id, int64_t version, int64_t due_ms,
			       const char *request_id, struct core_error *err)
{
	struct db_i64 m, v, t;
	const char *params[4] = {db_i64(&m, model_id), db_i64(&v, version), db_i64(&t, due_ms),
				 request_id ? request_id : ""};
	return db_exec(c, &insert_servable_check, params, NULL, err);
}

/* SKIP LOCKED and the lease in next_at let several replicas share the queue: a check
 * is claimed by one of them, and comes due again if its claimer died. */
static const struct db_stmt claim_servable_checks = {
	.name = "mr_q_claim_servable_checks",
	.sql = "UPDATE servable_checks s SET attempts = s.attempts + 1, next_at = $2::bigint "
	       "FROM (SELECT model_id, version FROM servable_checks WHERE next_at <= $1::bigint "
	       "      ORDER BY next_at LIMIT $3::int FOR UPDATE SKIP LOCKED) d, model_versions v "
	       "WHERE s.model_id = d.model_id AND s.version = d.version "
	       "AND v.model_id = s.model_id AND v.version = s.version "
	       "RETURNING s.model_id, s.version, s.attempts, v.source, s.request_id",
	.n_params = 3,
};

int mr_q_claim_servable_checks(struct db_conn *c, int64_t now_ms, int64_t lease_until_ms, int limit, PGresult **res_out,
			       struct core_error *err)
{
	struct db_i64 n, l, k;
	const char *params[3] = {db_i64(&n, now_ms), db_i64(&l, lease_until_ms), db_i64(&k, limit)};
	return db_exec(c, &claim_servable_checks, params, res_out, err);
}

static const struct db_stmt reschedule_servable_check = {
	.name = "mr_q_reschedule_servable_check",
	.sql = "UPDATE servable_checks SET next_at = $3::bigint WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 3,
};

int mr_q_reschedule_servable_check(struct db_conn *c, int64_t model_id, int64_t version, int64_t due_ms,
				   struct core_error *err)
{
	struct db_i64 m, v, t;
	const char *params[3] = {db_i64(&m, model_id), db_i64(&v, version), db_i64(&t, due_ms)};
	return db_exec(c, &reschedule_servable_check, params, NULL, err);
}

static const struct db_stmt delete_servable_check = {
	.name = "mr_q_delete_servable_check",
	.sql = "DELETE FROM servable_checks WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 2,
};

int mr_q_delete_servable_check(struct db_conn *c, int64_t model_id, int64_t version, struct core_error *err)
{
	struct db_i64 m, v;
	const char *params[2] = {db_i64(&m, model_id), db_i64(&v, version)};
	return db_exec(c, &delete_servable_check, params, NULL, err);
}
