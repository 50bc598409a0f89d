/* MLflow's registry entities as JSON (protobuf JSON mapping, model_registry.proto):
 * RegisteredModel and ModelVersion objects built from the rows of the two views
 * (model_version_view, registered_model_view; columns MR_VERSION_COLS / MR_MODEL_COLS
 * in mr.h). Versions are strings, timestamps numbers, unset repeated fields omitted,
 * description/run_id/run_link "" when unset, user_id and status_message omitted (the
 * SQL store never sets them). Also the small helpers every handler uses to turn a
 * failed transaction into MLflow's error reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mr.h"

int mr_fail_no_model(struct svc_fail *f, const char *name)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Registered Model with name=%s not found", name);
}

int mr_fail_no_version(struct svc_fail *f, const char *name, int64_t version)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Model Version (name=%s, version=%lld) not found", name,
			(long long)version);
}

void mr_reply_entity(struct http_request *req, const char *key, int rc, json_t *entity, const struct svc_fail *f,
		     const struct core_error *err)
{
	if (rc < 0 || !entity)
		svc_reply_tx(req, rc < 0 ? rc : DB_HARD_ERROR, f, err);
	else
		http_reply_json(req, 200, json_pack("{s:O}", key, entity));
}

static int64_t col_int(const PGresult *res, int row, int col)
{
	int64_t v = 0;
	db_get_int64(res, row, col, &v, NULL);
	return v;
}

static const char *col_text(const PGresult *res, int row, int col)
{
	const char *s = db_get_text(res, row, col);
	return s ? s : "";
}

/* A JSON-array column (NULL when empty): the parsed array, or NULL. */
static json_t *col_json(const PGresult *res, int row, int col)
{
	const char *s = db_get_text(res, row, col);
	if (!s)
		return NULL;
	json_t *v = json_loads(s, 0, NULL);
	if (v && json_is_array(v) && json_array_size(v) > 0)
		return v;
	json_decref(v);
	return NULL;
}

json_t *mr_version_json(const PGresult *res, int row)
{
	if (!res || row >= PQntuples(res) || PQnfields(res) < 13)
		return NULL;
	json_t *mv = json_object();
	json_object_set_new(mv, "name", json_string(col_text(res, row, 0)));
	json_object_set_new(mv, "version", json_string(col_text(res, row, 1)));
	json_object_set_new(mv, "creation_timestamp", json_integer(col_int(res, row, 2)));
	json_object_set_new(mv, "last_updated_timestamp", json_integer(col_int(res, row, 3)));
	json_object_set_new(mv, "current_stage", json_string(col_text(res, row, 4)));
	json_object_set_new(mv, "description", json_string(col_text(res, row, 5)));
	json_object_set_new(mv, "source", json_string(col_text(res, row, 6)));
	json_object_set_new(mv, "run_id", json_string(col_text(res, row, 7)));
	json_object_set_new(mv, "status", json_string(col_text(res, row, 9)));
	json_t *tags = col_json(res, row, 10);
	if (tags)
		json_object_set_new(mv, "tags", tags);
	json_object_set_new(mv, "run_link", json_string(col_text(res, row, 8)));
	json_t *aliases = col_json(res, row, 11);
	if (aliases)
		json_object_set_new(mv, "aliases", aliases);
	return mv;
}

int64_t mr_version_model_id(const PGresult *res, int row)
{
	return col_int(res, row, 12);
}

json_t *mr_model_json(const PGresult *res, int row)
{
	if (!res || row >= PQntuples(res) || PQnfields(res) < 7)
		return NULL;
	json_t *rm = json_object();
	json_object_set_new(rm, "name", json_string(col_text(res, row, 1)));
	json_object_set_new(rm, "creation_timestamp", json_integer(col_int(res, row, 2)));
	json_object_set_new(rm, "last_updated_timestamp", json_integer(col_int(res, row, 3)));
	json_object_set_new(rm, "description", json_string(col_text(res, row, 4)));
	json_t *tags = col_json(res, row, 5);
	if (tags)
		json_object_set_new(rm, "tags", tags);
	json_t *aliases = col_json(res, row, 6);
	if (aliases)
		json_object_set_new(rm, "aliases", aliases);
	return rm;
}

int64_t mr_model_row_id(const PGresult *res, int row)
{
	return col_int(res, row, 0);
}

int mr_models_add_latest(struct db_conn *c, json_t *models, const int64_t *ids, size_t n, struct core_error *err)
{
	PGresult *res = NULL;
	struct db_arr array;
	int rc = 0;

	if (n == 0)
		return 0;
	db_arr_init(&array);
	for (size_t i = 0; i < n; i++)
		db_arr_add_i64(&array, ids[i]);
	const char *ids_array = db_arr_end(&array);
	if (!ids_array) {
		rc = DB_HARD_ERROR;
		core_fail(err, CORE_ENOMEM, "the model id array could not be built");
		goto out;
	}
	rc = mr_q_latest_versions(c, ids_array, &res, err);
	if (rc < 0)
		goto out;
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t model_id = mr_version_model_id(res, r);
		for (size_t i = 0; i < n; i++) {
			if (ids[i] != model_id)
				continue;
			json_t *rm = json_array_get(models, i);
			json_t *list = json_object_get(rm, "latest_versions");
			if (!list) {
				list = json_array();
				json_object_set_new(rm, "latest_versions", list);
			}
			json_array_append_new(list, mr_version_json(res, r));
		}
	}
out:
	PQclear(res);
	db_arr_free(&array);
	return rc;
}

int mr_load_model(struct db_conn *c, int64_t id, json_t **out, struct core_error *err)
{
	PGresult *res = NULL;
	json_t *list = NULL;
	*out = NULL;
	int rc = mr_q_select_model(c, id, &res, err);
	if (rc != 1)
		goto out;
	list = json_array();
	json_array_append_new(list, mr_model_json(res, 0));
	rc = mr_models_add_latest(c, list, &id, 1, err);
	if (rc < 0)
		goto out;
	*out = json_incref(json_array_get(list, 0));
	rc = 1;
out:
	json_decref(list);
	PQclear(res);
	return rc;
}

int mr_load_version(struct db_conn *c, int64_t model_id, int64_t version, json_t **out, struct core_error *err)
{
	PGresult *res = NULL;
	*out = NULL;
	int rc = mr_q_select_version(c, model_id, version, &res, err);
	if (rc == 1)
		*out = mr_version_json(res, 0);
	PQclear(res);
	return rc;
}

enum core_status mr_check_tags(const char *entity, json_t *tags, struct core_error *err)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *key = NULL, *value = "";
		const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("key", &key),
						  HTTP_JS_OPT_STRING("value", &value, NULL), HTTP_JS_END};
		char where[32];
		snprintf(where, sizeof where, "tags[%zu]", i);
		enum core_status rc = http_jspec_parse_at(t, spec, where, err);
		if (rc == CORE_OK)
			rc = mr_check_tag(entity, key, value, err);
		if (rc != CORE_OK)
			return rc;
	}
	return CORE_OK;
}

enum core_status mr_version_arg(json_t *v, int64_t *out, struct core_error *err)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return CORE_OK;
	}
	if (json_is_string(v))
		return mr_check_version(json_string_value(v), out, err);
	char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	enum core_status rc =
		core_fail(err, CORE_EINVAL, "Model version must be an integer, got '%s'", text ? text : "");
	free(text);
	return rc;
}
