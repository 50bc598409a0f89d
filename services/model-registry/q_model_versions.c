/* Queries on model_versions and model_version_tags (migration 0002): one function per
 * statement, named as the function's suffix (STYLE 9). Version rows are read through
 * model_version_view (MR_VERSION_COLS), so every answer carries the model's name, the
 * tags and the aliases. Callers that change a version have locked its model first.
 * Returns follow db_exec: row count or a negative enum db_status. */
#include <stdio.h>
#include <string.h>
#include "mr.h"

#define I64(buf, v) (snprintf((buf), sizeof(buf), "%lld", (long long)(v)), (buf))

static const struct db_stmt insert_version = {
	.name = "insert_version",
	.sql = "INSERT INTO model_versions (model_id, version, creation_time, last_updated_time, source, run_id, "
	       "run_link, description) VALUES ($1::bigint, $2::bigint, $3::bigint, $3::bigint, $4, $5, $6, $7)",
	.n_params = 7,
};

int mr_q_insert_version(struct db_conn *c, int64_t model_id, int64_t version, int64_t now_ms, const char *source,
			const char *run_id, const char *run_link, const char *description, struct core_error *err)
{
	char m[24], v[24], t[24];
	const char *params[7] = {I64(m, model_id),
				 I64(v, version),
				 I64(t, now_ms),
				 source,
				 run_id ? run_id : "",
				 run_link ? run_link : "",
				 description ? description : ""};
	return db_exec(c, &insert_version, params, NULL, err);
}

static const struct db_stmt select_version = {
	.name = "select_version",
	.sql = "SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE v.model_id = $1::bigint "
	       "AND v.version = $2::bigint",
	.n_params = 2,
};

int mr_q_select_version(struct db_conn *c, int64_t model_id, int64_t version, PGresult **res_out,
			struct core_error *err)
{
	char m[24], v[24];
	const char *params[2] = {I64(m, model_id), I64(v, version)};
	return db_exec(c, &select_version, params, res_out, err);
}

static const struct db_stmt select_version_by_name = {
	.name = "select_version_by_name",
	.sql = "SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE v.name = $1 AND v.version = $2::bigint",
	.n_params = 2,
};

int mr_q_select_version_by_name(struct db_conn *c, const char *name, int64_t version, PGresult **res_out,
				struct core_error *err)
{
	char v[24];
	const char *params[2] = {name, I64(v, version)};
	return db_exec(c, &select_version_by_name, params, res_out, err);
}

static const struct db_stmt lock_version = {
	.name = "lock_version",
	.sql = "SELECT current_stage FROM model_versions WHERE model_id = $1::bigint AND version = $2::bigint "
	       "FOR UPDATE",
	.n_params = 2,
};

int mr_q_lock_version(struct db_conn *c, int64_t model_id, int64_t version, char stage_out[16], struct core_error *err)
{
	char m[24], v[24];
	const char *params[2] = {I64(m, model_id), I64(v, version)};
	PGresult *res = NULL;
	int rc = db_exec(c, &lock_version, params, &res, err);
	if (rc == 1 && stage_out)
		snprintf(stage_out, 16, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static const struct db_stmt update_version_description = {
	.name = "update_version_description",
	.sql = "UPDATE model_versions SET description = $3, last_updated_time = $4::bigint "
	       "WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 4,
};

int mr_q_update_version_description(struct db_conn *c, int64_t model_id, int64_t version, const char *description,
				    int64_t now_ms, struct core_error *err)
{
	char m[24], v[24], t[24];
	const char *params[4] = {I64(m, model_id), I64(v, version), description ? description : "", I64(t, now_ms)};
	return db_exec(c, &update_version_description, params, NULL, err);
}

static const struct db_stmt set_version_stage = {
	.name = "set_version_stage",
	.sql = "UPDATE model_versions SET current_stage = $3, last_updated_time = $4::bigint "
	       "WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 4,
};

int mr_q_set_version_stage(struct db_conn *c, int64_t model_id, int64_t version, const char *stage, int64_t now_ms,
			   struct core_error *err)
{
	char m[24], v[24], t[24];
	const char *params[4] = {I64(m, model_id), I64(v, version), stage, I64(t, now_ms)};
	return db_exec(c, &set_version_stage, params, NULL, err);
}

static const struct db_stmt archive_stage = {
	.name = "archive_stage",
	.sql = "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $4::bigint "
	       "WHERE model_id = $1::bigint AND version <> $2::bigint AND current_stage = $3 RETURNING version, "
	       "source, run_id",
	.n_params = 4,
};

int mr_q_archive_stage(struct db_conn *c, int64_t model_id, int64_t keep_version, const char *stage, int64_t now_ms,
		       PGresult **res_out, struct core_error *err)
{
	char m[24], v[24], t[24];
	const char *params[4] = {I64(m, model_id), I64(v, keep_version), stage, I64(t, now_ms)};
	return db_exec(c, &archive_stage, params, res_out, err);
}

static const struct db_stmt delete_version = {
	.name = "delete_version",
	.sql = "DELETE FROM model_versions WHERE model_id = $1::bigint AND version = $2::bigint",
	.n_params = 2,
};

int mr_q_delete_version(struct db_conn *c, int64_t model_id, int64_t version, struct core_error *err)
{
	char m[24], v[24];
	const char *params[2] = {I64(m, model_id), I64(v, version)};
	return db_exec(c, &delete_version, params, NULL, err);
}

static const struct db_stmt touch_versions = {
	.name = "touch_versions",
	.sql = "UPDATE model_versions SET last_updated_time = $2::bigint WHERE model_id = $1::bigint",
	.n_params = 2,
};

int mr_q_touch_versions(struct db_conn *c, int64_t model_id, int64_t now_ms, struct core_error *err)
{
	char m[24], t[24];
	const char *params[2] = {I64(m, model_id), I64(t, now_ms)};
	return db_exec(c, &touch_versions, params, NULL, err);
}

static const struct db_stmt model_versions = {
	.name = "model_versions",
	.sql = "SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE v.model_id = $1::bigint ORDER BY v.version",
	.n_params = 1,
};

int mr_q_model_versions(struct db_conn *c, int64_t model_id, PGresult **res_out, struct core_error *err)
{
	char m[24];
	const char *params[1] = {I64(m, model_id)};
	return db_exec(c, &model_versions, params, res_out, err);
}

/* MLflow's latest_versions: the highest version in each stage, the stages in the order
 * their first version appears (SqlRegisteredModel.to_mlflow_entity walks versions in
 * ascending order and keeps a dict per stage). */
static const struct db_stmt latest_versions = {
	.name = "latest_versions",
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

#define SEARCH_VERSIONS_SQL                                                                                            \
	"SELECT " MR_VERSION_COLS " FROM model_version_view v WHERE NOT EXISTS ("                                      \
	"SELECT 1 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS f(kind, key, op, val) "               \
	"WHERE (CASE f.kind "                                                                                          \
	"WHEN 'attr' THEN mr_text_match(CASE f.key WHEN 'name' THEN v.name WHEN 'run_id' THEN v.run_id "               \
	"ELSE v.source END, f.op, f.val) "                                                                             \
	"WHEN 'num' THEN mr_num_match(v.version, f.op, f.val) "                                                        \
	"WHEN 'tag' THEN EXISTS (SELECT 1 FROM model_version_tags t WHERE t.model_id = v.model_id "                    \
	"AND t.version = v.version AND t.key = f.key AND mr_text_match(t.value, f.op, f.val)) END) IS NOT TRUE) "

int mr_q_search_versions(struct db_conn *c, const char *order_sql, const char *shape, const char *const arrays[4],
			 int64_t limit, int64_t offset, PGresult **res_out, struct core_error *err)
{
	char name[64], sql[1400], l[24], o[24];
	snprintf(name, sizeof name, "search_versions_%s", shape);
	snprintf(sql, sizeof sql, SEARCH_VERSIONS_SQL "ORDER BY %s LIMIT $5::bigint OFFSET $6::bigint", order_sql);
	const struct db_stmt search_versions = {.name = name, .sql = sql, .n_params = 6};
	const char *params[6] = {arrays[0], arrays[1], arrays[2], arrays[3], I64(l, limit), I64(o, offset)};
	return db_exec(c, &search_versions, params, res_out, err);
}

static const struct db_stmt set_version_tag = {
	.name = "set_version_tag",
	.sql = "INSERT INTO model_version_tags (model_id, version, key, value) VALUES ($1::bigint, $2::bigint, $3, $4) "
	       "ON CONFLICT (model_id, version, key) DO UPDATE SET value = EXCLUDED.value",
	.n_params = 4,
};

int mr_q_set_version_tag(struct db_conn *c, int64_t model_id, int64_t version, const char *key, const char *value,
			 struct core_error *err)
{
	char m[24], v[24];
	const char *params[4] = {I64(m, model_id), I64(v, version), key, value ? value : ""};
	return db_exec(c, &set_version_tag, params, NULL, err);
}

static const struct db_stmt delete_version_tag = {
	.name = "delete_version_tag",
	.sql = "DELETE FROM model_version_tags WHERE model_id = $1::bigint AND version = $2::bigint AND key = $3",
	.n_params = 3,
};

int mr_q_delete_version_tag(struct db_conn *c, int64_t model_id, int64_t version, const char *key,
			    struct core_error *err)
{
	char m[24], v[24];
	const char *params[3] = {I64(m, model_id), I64(v, version), key};
	return db_exec(c, &delete_version_tag, params, NULL, err);
}
