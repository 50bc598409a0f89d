/* Handler for runs/log-model (face: et.h): MLflow's record of a model logged in a run.
 * MLflow keeps no table for it: the model's metadata (the request's model_json, the
 * MLmodel file as JSON) is appended to the run tag mlflow.log-model.history, a JSON
 * list of model dicts that its UI reads to show the run's models. As MLflow
 * (handlers.py _log_model, sqlalchemy_store.record_logged_model): model_json must be a
 * JSON object with artifact_path, flavors, utc_time_created and run_id, else 400
 * INVALID_PARAMETER_VALUE; the run must exist (404) and be active (400); the answer is {}.
 *
 * The append is read-modify-write of one tag, so it runs in one transaction that
 * locks the run row first (et_run_lock_active): concurrent log-model calls on a run
 * queue on that lock and each reads the list its predecessor wrote, so none is lost.
 * The list is written as Python's json.dumps writes it (", " and ": " separators). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "et.h"

#define HISTORY_TAG "mlflow.log-model.history"

/* The fields mlflow/server/handlers.py requires, in the order its message names them. */
static const char *const required_fields[] = {"artifact_path", "flavors", "utc_time_created", "run_id"};

struct log_model_tx {
	const char *run_id;
	json_t *model; /* the parsed model_json, borrowed */
	struct svc_fail f;
	struct core_error err;
};

/* The new value of the history tag: old (NULL when unset) with model appended.
 * Returns malloc'd text, or NULL after filling t->f (old is not a JSON list). */
static char *appended_history(struct log_model_tx *t, const char *old)
{
	json_t *list = old ? json_loads(old, JSON_DECODE_ANY, NULL) : json_array();
	char *text = NULL;
	if (!json_is_array(list))
		svc_fail(&t->f, HTTP_EC_INVALID_STATE, "The tag %s of run %s does not hold a JSON list of models",
			 HISTORY_TAG, t->run_id);
	else if (json_array_append(list, t->model) == 0)
		text = http_json_text(list, 0, NULL);
	json_decref(list);
	return text;
}

static int log_model_tx_fn(struct db_conn *c, void *cls)
{
	struct log_model_tx *t = cls;
	PGresult *res = NULL;
	struct db_arr keys, values;
	char *text = NULL;
	db_arr_init(&keys);
	db_arr_init(&values);
	int rc = et_run_lock_active(c, t->run_id, NULL, &t->f, &t->err);
	if (rc < 0)
		goto out;
	if ((rc = et_q_tags_get(c, t->run_id, HISTORY_TAG, &res, &t->err)) < 0)
		goto out;
	if (!(text = appended_history(t, rc > 0 ? db_get_text(res, 0, 0) : NULL))) {
		rc = t->f.code != HTTP_EC_NONE ? DB_ROLLBACK : DB_HARD_ERROR;
		goto out;
	}
	db_arr_add_str(&keys, HISTORY_TAG, strlen(HISTORY_TAG));
	db_arr_add_str(&values, text, strlen(text));
	const char *k = db_arr_end(&keys), *v = db_arr_end(&values);
	rc = k && v ? et_q_tags_upsert(c, t->run_id, k, v, &t->err) : DB_HARD_ERROR;
out:
	free(text);
	PQclear(res);
	db_arr_free(&keys);
	db_arr_free(&values);
	return rc < 0 ? rc : 0;
}

/* Replies 400 when model (parsed from text) is not a model dict; true when it is. */
static bool model_ok_or_reply(struct http_request *req, const json_t *model, const char *text)
{
	char missing[128] = "";
	if (!json_is_object(model)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Malformed model info. \n %s \n is not a valid JSON.", text);
		return false;
	}
	for (size_t i = 0; i < sizeof required_fields / sizeof required_fields[0]; i++) {
		if (json_object_get(model, required_fields[i]))
			continue;
		size_t n = strlen(missing);
		snprintf(missing + n, sizeof missing - n, "%s'%s'", n ? ", " : "", required_fields[i]);
	}
	if (missing[0]) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Model json is missing mandatory fields: {%s}",
				 missing);
		return false;
	}
	return true;
}

void et_h_models_log(struct http_request *req, void *app)
{
	const char *model_json = NULL;
	struct log_model_tx t = {0};
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("run_id", &t.run_id),
		HTTP_JS_REQ_STRING("model_json", &model_json),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	t.model = json_loads(model_json, JSON_DECODE_ANY, NULL);
	if (!model_ok_or_reply(req, t.model, model_json))
		goto out;
	if (svc_run_tx_or_reply(req, app, "log_model", DB_READ_COMMITTED, log_model_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
out:
	json_decref(t.model);
}
