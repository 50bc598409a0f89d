/* Handlers for runs (face: et.h): runs/create, get, update, delete, restore,
 * log-parameter, set-tag, delete-tag. Each parses with a jspec table, validates the
 * whole request, then runs one transaction (svc_run_tx_or_reply). Writes lock the run
 * row first (et_run_lock_active) so a deleted run is refused (400) and concurrent
 * writers to one run serialise. Run JSON comes from entities.c; runs/create writes in
 * one statement (et_q_runs_create) that hands back the rows of the new Run, sent
 * without BEGIN (DB_AUTOCOMMIT): that saves two of its three round trips. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/names.h"
#include "et.h"

/* --- runs/create ---------------------------------------------------------------------- */

struct create_tx {
	const char *exp_id, *run_name, *user_id, *tag_keys, *tag_values;
	int64_t start_time;
	char run_id[CORE_ID_HEX_LEN + 1];
	json_t *run; /* out: the Run */
	struct svc_fail f;
	struct core_error err;
};

static int create_tx_fn(struct db_conn *c, void *cls)
{
	struct create_tx *t = cls;
	char stage[16];
	PGresult *res = NULL;
	json_decref(t->run);
	t->run = NULL;
	int rc = et_q_runs_create(c, t->run_id, t->exp_id, t->run_name, t->user_id, t->start_time, t->tag_keys,
				  t->tag_values, &res, &t->err);
	if (rc > 0) {
		json_t *runs = json_array();
		rc = et_runs_from_rows(res, runs, &t->err);
		if (rc == 1)
			t->run = json_incref(json_array_get(runs, 0));
		json_decref(runs);
	} else if (rc == 0) {
		/* nothing inserted: say why. An experiment active again by now was restored
		 * between the two statements: try the whole transaction again. */
		rc = et_q_experiments_lock(c, t->exp_id, stage, NULL, &t->err);
		if (rc == 0)
			rc = et_fail_no_experiment(&t->f, t->exp_id);
		else if (rc > 0 && strcmp(stage, "active") != 0)
			rc = et_fail_experiment_not_active(&t->f, t->exp_id);
		else if (rc > 0)
			rc = DB_SOFT_ERROR;
	}
	PQclear(res);
	if (rc < 0)
		return rc;
	return t->run ? 0 : DB_HARD_ERROR;
}

void et_h_runs_create(struct http_request *req, void *app)
{
	const char *exp_id = "0", *user_id = "", *run_name = NULL;
	int64_t start_time = 0;
	bool has_start = false, not_found;
	json_t *tags = NULL, *item;
	struct core_error err = {{0}};
	struct et_kv *kv = NULL;
	struct db_arr tk, tv;
	char random_name[64];
	size_t i, n_tags;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("experiment_id", &exp_id, NULL),
		HTTP_JS_OPT_STRING("user_id", &user_id, NULL),
		HTTP_JS_OPT_STRING("run_name", &run_name, NULL),
		HTTP_JS_OPT_INT64("start_time", &start_time, &has_start),
		HTTP_JS_OPT_ARRAY("tags", &tags, NULL),
		HTTP_JS_END,
	};
	db_arr_init(&tk);
	db_arr_init(&tv);
	struct create_tx t = {0};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (!et_validate_experiment_id(exp_id, &not_found, &err)) {
		if (not_found)
			svc_reply_tx(req, et_fail_no_experiment(&t.f, exp_id), &t.f, NULL);
		else
			http_reply_invalid(req, &err);
		goto out;
	}
	n_tags = tags ? json_array_size(tags) : 0;
	kv = core_xcalloc(n_tags + 1, sizeof *kv);
	const char *tag_name = NULL;
	json_array_foreach(tags, i, item)
	{
		char where[48];
		snprintf(where, sizeof where, "tags[%zu]", i);
		kv[i].value = "";
		const struct http_jspec tspec[] = {
			HTTP_JS_REQ_STRING("key", &kv[i].key),
			HTTP_JS_OPT_STRING("value", &kv[i].value, NULL),
			HTTP_JS_END,
		};
		if (http_jspec_parse_at(item, tspec, where, &err) != CORE_OK ||
		    et_validate_key("tag", kv[i].key, &err) != CORE_OK) {
			http_reply_invalid(req, &err);
			goto out;
		}
		kv[i].value_len = mlflow_utf8_prefix(kv[i].value, ET_MAX_TAG_VALUE_LEN);
		if (strcmp(kv[i].key, ET_RUN_NAME_TAG) == 0)
			tag_name = kv[i].value;
	}
	if (run_name && tag_name && strcmp(run_name, tag_name) != 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Both 'run_name' argument and 'mlflow.runName' "
				 "tag are specified, but with different values (run_name='%s', mlflow.runName='%s').",
				 run_name, tag_name);
		goto out;
	}
	if (!run_name)
		run_name = tag_name;
	if (mlflow_check_run_name(run_name, &err) != CORE_OK) { /* the run_name or the tag's */
		http_reply_invalid(req, &err);
		goto out;
	}
	if (!run_name) {
		et_random_run_name(random_name);
		run_name = random_name;
	}
	for (i = 0; i < n_tags; i++) {
		db_arr_add_str(&tk, kv[i].key, strlen(kv[i].key));
		db_arr_add_str(&tv, kv[i].value, kv[i].value_len);
	}
	if (!tag_name) {
		db_arr_add_str(&tk, ET_RUN_NAME_TAG, strlen(ET_RUN_NAME_TAG));
		db_arr_add_str(&tv, run_name, strlen(run_name));
	}
	t.exp_id = exp_id;
	t.run_name = run_name;
	t.user_id = user_id;
	t.start_time = has_start ? start_time : core_now_ms();
	t.tag_keys = db_arr_end(&tk);
	t.tag_values = db_arr_end(&tv);
	if (!t.tag_keys || !t.tag_values) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "tags too large");
		goto out;
	}
	core_id_uuid_hex(t.run_id);
	if (svc_run_tx_or_reply(req, app, "create_run", DB_AUTOCOMMIT, create_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_pack("{s:O}", "run", t.run));
out:
	json_decref(t.run);
	free(kv);
	db_arr_free(&tk);
	db_arr_free(&tv);
}

/* --- runs/get ------------------------------------------------------------------------ */

struct get_tx {
	const char *run_id;
	json_t *runs; /* out: [Run] */
	struct svc_fail f;
	struct core_error err;
};

static int get_tx_fn(struct db_conn *c, void *cls)
{
	struct get_tx *t = cls;
	const char *ids[1] = {t->run_id};
	json_array_clear(t->runs);
	int rc = et_runs_load(c, ids, 1, t->runs, &t->err);
	if (rc == 0)
		return et_fail_no_run(&t->f, t->run_id);
	return rc;
}

void et_h_runs_get(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct get_tx t = {0};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (!(t.run_id = et_run_id_or_reply(req, run_id, run_uuid)))
		return;
	t.runs = json_array();
	if (svc_run_tx_or_reply(req, app, "get_run", DB_READ_COMMITTED, get_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_pack("{s:O}", "run", json_array_get(t.runs, 0)));
	json_decref(t.runs);
}

/* --- runs/update ---------------------------------------------------------------------- */

struct update_tx {
	const char *run_id, *status, *end_time, *run_name;
	const char *name_key, *name_value; /* mlflow.runName as one-element arrays */
	char *info;                        /* out: RunInfo JSON text */
	struct svc_fail f;
	struct core_error err;
};

static int update_tx_fn(struct db_conn *c, void *cls)
{
	struct update_tx *t = cls;
	PGresult *res = NULL;
	free(t->info);
	t->info = NULL;
	int rc = et_run_lock_active(c, t->run_id, NULL, &t->f, &t->err);
	if (rc < 0)
		return rc;
	if (t->run_name && (rc = et_q_tags_upsert(c, t->run_id, t->name_key, t->name_value, &t->err)) < 0)
		return rc;
	rc = et_q_runs_update(c, t->run_id, t->status, t->end_time, &res, &t->err);
	if (rc == 1)
		t->info = core_xstrdup(db_get_text(res, 0, 0));
	PQclear(res);
	if (rc < 0)
		return rc;
	return t->info ? 0 : DB_HARD_ERROR;
}

void et_h_runs_update(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL, *run_name = NULL;
	json_t *status = NULL;
	int64_t end_time = 0;
	bool has_end = false;
	struct db_i64 end_text;
	struct db_arr nk, nv;
	struct update_tx t = {0};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),     HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_OPT_ANY("status", &status, NULL),        HTTP_JS_OPT_INT64("end_time", &end_time, &has_end),
		HTTP_JS_OPT_STRING("run_name", &run_name, NULL), HTTP_JS_END,
	};
	db_arr_init(&nk);
	db_arr_init(&nv);
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (!(t.run_id = et_run_id_or_reply(req, run_id, run_uuid)))
		goto out;
	if (status && !(t.status = et_run_status_name(status))) {
		char *dump = http_json_text(status, 0, NULL);
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid value %s for parameter 'status' "
				 "supplied. It must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.",
				 dump ? dump : "?");
		free(dump);
		goto out;
	}
	if (mlflow_check_run_name(run_name, &t.err) != CORE_OK) {
		http_reply_invalid(req, &t.err);
		goto out;
	}
	if (has_end)
		t.end_time = db_i64(&end_text, end_time);
	if (run_name) {
		t.run_name = run_name;
		db_arr_add_str(&nk, ET_RUN_NAME_TAG, strlen(ET_RUN_NAME_TAG));
		db_arr_add_str(&nv, run_name, mlflow_utf8_prefix(run_name, ET_MAX_TAG_VALUE_LEN));
		t.name_key = db_arr_end(&nk);
		t.name_value = db_arr_end(&nv);
	}
	if (svc_run_tx_or_reply(req, app, "update_run", DB_READ_COMMITTED, update_tx_fn, &t, &t.f) >= 0) {
		json_t *info = json_loads(t.info, 0, NULL);
		http_reply_json(req, 200, json_pack("{s:o}", "run_info", info ? info : json_object()));
	}
out:
	free(t.info);
	db_arr_free(&nk);
	db_arr_free(&nv);
}

/* --- runs/delete, runs/restore -------------------------------------------------------- */

struct stage_tx {
	const char *run_id;
	bool deleted;
	int64_t now;
	struct svc_fail f;
	struct core_error err;
};

static int stage_tx_fn(struct db_conn *c, void *cls)
{
	struct stage_tx *t = cls;
	int rc = et_q_runs_set_stage(c, t->run_id, t->deleted, t->now, &t->err);
	if (rc == 0)
		return et_fail_no_run(&t->f, t->run_id);
	return rc < 0 ? rc : 0;
}

static void set_stage(struct http_request *req, void *app, bool deleted, const char *name)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct stage_tx t = {.deleted = deleted, .now = core_now_ms()};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (!(t.run_id = et_run_id_or_reply(req, run_id, run_uuid)))
		return;
	if (svc_run_tx_or_reply(req, app, name, DB_READ_COMMITTED, stage_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
}

void et_h_runs_delete(struct http_request *req, void *app)
{
	set_stage(req, app, true, "delete_run");
}
void et_h_runs_restore(struct http_request *req, void *app)
{
	set_stage(req, app, false, "restore_run");
}

/* --- runs/log-parameter, runs/set-tag: batches of one ---------------------------------- */

static void log_one(struct http_request *req, void *app, bool param)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct et_kv kv = {.value = ""};
	struct core_error err;
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_REQ_STRING("key", &kv.key),
		HTTP_JS_OPT_STRING("value", &kv.value, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	kv.value_len = strlen(kv.value);
	struct et_batch b = {.run_id = et_run_id_or_reply(req, run_id, run_uuid)};
	if (!b.run_id)
		return;
	if (param)
		b.params = &kv, b.n_params = 1;
	else
		b.tags = &kv, b.n_tags = 1;
	if (et_batch_validate(&b, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	et_batch_write_and_reply(req, app, &b);
}

void et_h_runs_log_parameter(struct http_request *req, void *app)
{
	log_one(req, app, true);
}
void et_h_runs_set_tag(struct http_request *req, void *app)
{
	log_one(req, app, false);
}

/* --- runs/delete-tag ------------------------------------------------------------------- */

struct delete_tag_tx {
	const char *run_id, *key;
	struct svc_fail f;
	struct core_error err;
};

static int delete_tag_tx_fn(struct db_conn *c, void *cls)
{
	struct delete_tag_tx *t = cls;
	int rc = et_run_lock_active(c, t->run_id, NULL, &t->f, &t->err);
	if (rc >= 0 && (rc = et_q_tags_delete(c, t->run_id, t->key, &t->err)) == 0)
		return svc_fail(&t->f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "No tag with name: %s in run with id %s",
				t->key, t->run_id);
	return rc < 0 ? rc : 0;
}

void et_h_runs_delete_tag(struct http_request *req, void *app)
{
	const char *run_id = NULL, *run_uuid = NULL;
	struct delete_tag_tx t = {0};
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("run_id", &run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_REQ_STRING("key", &t.key),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (!(t.run_id = et_run_id_or_reply(req, run_id, run_uuid)))
		return;
	if (svc_run_tx_or_reply(req, app, "delete_tag", DB_READ_COMMITTED, delete_tag_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
}
