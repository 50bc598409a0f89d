/* Handler for runs/log-inputs (face: et.h): dataset inputs of a run, with
 * MLflow's limits (dataset name 500, digest 36, source and schema 65535, profile
 * 16777215 characters; input tag key 255, value 500). The whole request is checked,
 * then written in one transaction of three statements whatever the number of datasets
 * (lock the run; datasets; inputs with their tags). */
#include <stdio.h>
#include <string.h>
#include "et.h"

struct ds_limit {
	const char *field;
	size_t max;
};

static const struct ds_limit ds_limits[] = {
	{"name", 500}, {"digest", 36}, {"source", 65535}, {"schema", 65535}, {"profile", 16777215},
};

struct inputs_tx {
	const char *run_id;
	const char *names, *digests, *types, *sources, *schemas, *profiles, *tag_idx, *tag_keys, *tag_values;
	struct svc_fail f;
	struct core_error err;
};

static int inputs_tx_fn(struct db_conn *c, void *cls)
{
	struct inputs_tx *t = cls;
	char exp[24];
	int rc = et_run_lock_active(c, t->run_id, exp, &t->f, &t->err);
	if (rc >= 0)
		rc = et_q_inputs_datasets_insert(c, exp, t->names, t->digests, t->types, t->sources, t->schemas,
						 t->profiles, &t->err);
	if (rc >= 0)
		rc = et_q_inputs_insert(c, t->run_id, exp, t->names, t->digests, t->tag_idx, t->tag_keys, t->tag_values,
					&t->err);
	return rc < 0 ? rc : 0;
}

enum { A_NAME, A_DIGEST, A_TYPE, A_SOURCE, A_SCHEMA, A_PROFILE, A_TIDX, A_TKEY, A_TVALUE, A_N };

/* Checks one DatasetInput (index i) and adds it to the arrays; CORE_EINVAL with err. */
static enum core_status add_input(json_t *item, size_t i, struct db_arr *a, struct core_error *err)
{
	json_t *dataset = NULL, *tags = NULL, *tag;
	const char *v[6] = {NULL, NULL, NULL, NULL, NULL, NULL}; /* name digest source_type source schema profile */
	char where[80];
	size_t j;
	snprintf(where, sizeof where, "datasets[%zu]", i);
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_OBJECT("dataset", &dataset),
		HTTP_JS_OPT_ARRAY("tags", &tags, NULL),
		HTTP_JS_END,
	};
	if (http_jspec_parse_at(item, spec, where, err) != CORE_OK)
		return CORE_EINVAL;
	snprintf(where, sizeof where, "datasets[%zu].dataset", i);
	const struct http_jspec dspec[] = {
		HTTP_JS_REQ_STRING("name", &v[0]),
		HTTP_JS_REQ_STRING("digest", &v[1]),
		HTTP_JS_REQ_STRING("source_type", &v[2]),
		HTTP_JS_REQ_STRING("source", &v[3]),
		HTTP_JS_OPT_STRING("schema", &v[4], NULL),
		HTTP_JS_OPT_STRING("profile", &v[5], NULL),
		HTTP_JS_END,
	};
	if (http_jspec_parse_at(dataset, dspec, where, err) != CORE_OK)
		return CORE_EINVAL;
	static const int limit_of[6] = {0, 1, -1, 2, 3, 4};
	for (int k = 0; k < 6; k++) {
		if (limit_of[k] >= 0 && v[k]) {
			const struct ds_limit *l = &ds_limits[limit_of[k]];
			size_t n = mlflow_utf8_chars(v[k]);
			if (n > l->max)
				return core_fail(err, CORE_EINVAL,
						 "Dataset %s '%.40s...' had length %zu, which exceeded "
						 "length limit of %zu",
						 l->field, v[k], n, l->max);
		}
		db_arr_add_str(&a[A_NAME + k], v[k], v[k] ? strlen(v[k]) : 0);
	}
	json_array_foreach(tags, j, tag)
	{
		const char *key = NULL, *value = NULL;
		snprintf(where, sizeof where, "datasets[%zu].tags[%zu]", i, j);
		const struct http_jspec tspec[] = {
			HTTP_JS_REQ_STRING("key", &key),
			HTTP_JS_REQ_STRING("value", &value),
			HTTP_JS_END,
		};
		if (http_jspec_parse_at(tag, tspec, where, err) != CORE_OK)
			return CORE_EINVAL;
		if (mlflow_utf8_chars(key) > 255)
			return core_fail(err, CORE_EINVAL,
					 "Input tag key '%.40s...' had length %zu, which exceeded length "
					 "limit of 255",
					 key, mlflow_utf8_chars(key));
		if (mlflow_utf8_chars(value) > 500)
			return core_fail(err, CORE_EINVAL,
					 "Input tag value '%.40s...' had length %zu, which exceeded "
					 "length limit of 500",
					 value, mlflow_utf8_chars(value));
		db_arr_add_i64(&a[A_TIDX], (int64_t)i + 1);
		db_arr_add_str(&a[A_TKEY], key, strlen(key));
		db_arr_add_str(&a[A_TVALUE], value, strlen(value));
	}
	return CORE_OK;
}

void et_h_inputs_log(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL;
	json_t *datasets = NULL, *item;
	struct core_error err = {{0}};
	struct db_arr a[A_N];
	struct inputs_tx t = {0};
	const char *lit[A_N];
	size_t i;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_OPT_ARRAY("datasets", &datasets, NULL),
		HTTP_JS_END,
	};
	for (i = 0; i < A_N; i++)
		db_arr_init(&a[i]);
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (!(t.run_id = et_run_id_or_reply(req, run_id, run_uuid)))
		goto out;
	if (!datasets) {
		http_jspec_missing(&err, NULL, "datasets");
		http_reply_invalid(req, &err);
		goto out;
	}
	json_array_foreach(datasets, i, item)
	{
		if (add_input(item, i, a, &err) != CORE_OK) {
			http_reply_invalid(req, &err);
			goto out;
		}
	}
	for (i = 0; i < A_N; i++) {
		if (!(lit[i] = db_arr_end(&a[i]))) {
			http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "inputs too large");
			goto out;
		}
	}
	if (json_array_size(datasets) == 0) {
		http_reply_json(req, 200, json_object());
		goto out;
	}
	t.names = lit[A_NAME], t.digests = lit[A_DIGEST], t.types = lit[A_TYPE], t.sources = lit[A_SOURCE];
	t.schemas = lit[A_SCHEMA], t.profiles = lit[A_PROFILE];
	t.tag_idx = lit[A_TIDX], t.tag_keys = lit[A_TKEY], t.tag_values = lit[A_TVALUE];
	if (svc_run_tx_or_reply(req, app, "log_inputs", DB_READ_COMMITTED, inputs_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
out:
	for (i = 0; i < A_N; i++)
		db_arr_free(&a[i]);
}
