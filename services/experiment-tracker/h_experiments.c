/* Handlers for experiments (face: tracking.h): experiments/create, get, get-by-name,
 * delete, restore, update (rename) and set-experiment-tag, with MLflow's SQL-store
 * semantics: ids are increasing integers (the migration seeds Default = 0), names are
 * unique across active and deleted experiments (the UNIQUE constraint decides, so two
 * racing creates cannot both win), delete/restore are soft and carry the experiment's
 * runs along, renaming a deleted experiment is INVALID_STATE. Reads are one statement;
 * writes one transaction (exp_tx_fn, one body for the five write operations). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tracking.h"

enum exp_op { OP_CREATE, OP_DELETE, OP_RESTORE, OP_RENAME, OP_SET_TAGS };

struct exp_tx {
	enum exp_op op;
	const char *id, *name, *artifact_location, *tag_keys, *tag_values;
	bool has_tags;
	enum et_outcome outcome;
	bool invalid_state;
	char new_id[24];
};

static int exp_tx_fn(struct db_conn *c, void *cls)
{
	struct exp_tx *t = cls;
	char stage[16];
	int64_t now = core_now_ms();
	int rc;
	t->outcome = ET_OK;
	t->invalid_state = false;
	if (t->op == OP_CREATE) {
		rc = et_q_experiments_insert(c, t->name, t->artifact_location, now, t->new_id);
		if (rc == DB_CONSTRAINT && strcmp(db_conn_constraint(c), "experiments_name_key") == 0)
			t->outcome = ET_NAME_TAKEN;
		if (rc >= 0 && t->has_tags)
			rc = et_q_experiment_tags_upsert(c, t->new_id, t->tag_keys, t->tag_values);
		return rc < 0 ? rc : 0;
	}
	rc = et_q_experiments_lock(c, t->id, stage, NULL);
	if (rc < 0)
		return rc;
	bool active = rc == 1 && strcmp(stage, "active") == 0;
	if (rc == 0 || (t->op == OP_DELETE && !active) || (t->op == OP_RESTORE && active)) {
		t->outcome = ET_EXP_NOT_FOUND;
		return DB_ROLLBACK;
	}
	switch (t->op) {
	case OP_DELETE:
	case OP_RESTORE:
		rc = et_q_experiments_set_stage(c, t->id, t->op == OP_DELETE, now);
		if (rc >= 0)
			rc = et_q_experiments_runs_set_stage(c, t->id, t->op == OP_DELETE, now);
		break;
	case OP_RENAME:
		if (!active) {
			t->invalid_state = true;
			return DB_ROLLBACK;
		}
		rc = et_q_experiments_rename(c, t->id, t->name, now);
		if (rc == DB_CONSTRAINT && strcmp(db_conn_constraint(c), "experiments_name_key") == 0)
			t->outcome = ET_NAME_TAKEN;
		break;
	case OP_SET_TAGS:
		if (!active) {
			t->outcome = ET_EXP_NOT_ACTIVE;
			return DB_ROLLBACK;
		}
		rc = et_q_experiment_tags_upsert(c, t->id, t->tag_keys, t->tag_values);
		break;
	case OP_CREATE:
		break;
	}
	return rc < 0 ? rc : 0;
}

/* Runs t and answers: 200 with body (stolen; {} when NULL) or the error. */
static void run_exp_tx(struct http_request *req, void *app, struct exp_tx *t, const char *name)
{
	struct core_error err = {{0}};
	int rc = db_run_tx(svc_db(app), name, DB_READ_COMMITTED, exp_tx_fn, t, &err);
	if (rc >= 0 && t->op == OP_CREATE)
		http_reply_json(req, 200, json_pack("{s:s}", "experiment_id", t->new_id));
	else if (rc >= 0)
		http_reply_json(req, 200, json_object());
	else if (t->invalid_state)
		http_reply_error(req, HTTP_EC_INVALID_STATE, "Cannot rename a non-active experiment.");
	else if (t->outcome != ET_OK)
		et_reply_outcome(req, t->outcome, t->outcome == ET_NAME_TAKEN ? t->name : t->id, NULL);
	else
		svc_reply_db_error(req, rc, &err);
}

/* Checks an experiment id from the client; false after replying. */
static bool id_ok_or_reply(struct http_request *req, const char *id)
{
	bool not_found;
	struct core_error err;
	if (et_validate_experiment_id(id, &not_found, &err))
		return true;
	if (not_found)
		et_reply_outcome(req, ET_EXP_NOT_FOUND, id, NULL);
	else
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
	return false;
}

/* Parses experiment tags (array of {key, value}) into two array literals; false after
 * replying 400. */
static bool tags_or_reply(struct http_request *req, json_t *tags, struct db_arr *keys, struct db_arr *values)
{
	struct core_error err;
	size_t i;
	json_t *item;
	json_array_foreach(tags, i, item)
	{
		const char *key = NULL, *value = "";
		char where[48];
		snprintf(where, sizeof where, "tags[%zu]", i);
		const struct http_jspec spec[] = {
			HTTP_JS_REQ_STRING("key", &key),
			HTTP_JS_OPT_STRING("value", &value, NULL),
			HTTP_JS_END,
		};
		if (http_jspec_parse_at(item, spec, where, &err) != CORE_OK ||
		    et_validate_key("tag", key, &err) != CORE_OK) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
			return false;
		}
		size_t n = et_utf8_chars(value);
		if (n > ET_MAX_EXP_TAG_VALUE_LEN) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "Tag value '%.40s...' had length %zu, "
					 "which exceeded length limit of %d",
					 value, n, ET_MAX_EXP_TAG_VALUE_LEN);
			return false;
		}
		db_arr_add_str(keys, key, strlen(key));
		db_arr_add_str(values, value, strlen(value));
	}
	if (!db_arr_end(keys) || !db_arr_end(values)) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "tags too large");
		return false;
	}
	return true;
}

void et_h_experiments_create(struct http_request *req, void *app)
{
	json_t *tags = NULL;
	struct exp_tx t = {.op = OP_CREATE};
	struct db_arr keys, values;
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("name", &t.name),
		HTTP_JS_OPT_STRING("artifact_location", &t.artifact_location, NULL),
		HTTP_JS_OPT_ARRAY("tags", &tags, NULL),
		HTTP_JS_END,
	};
	db_arr_init(&keys);
	db_arr_init(&values);
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		goto out;
	if (t.artifact_location &&
	    (strncmp(t.artifact_location, "runs:", 5) == 0 || strchr(t.artifact_location, '#'))) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid artifact location '%s': runs:/ URIs "
				 "and URIs with fragments are not allowed.",
				 t.artifact_location);
		goto out;
	}
	if (tags && !tags_or_reply(req, tags, &keys, &values))
		goto out;
	t.has_tags = tags && json_array_size(tags) > 0;
	t.tag_keys = keys.b.data;
	t.tag_values = values.b.data;
	run_exp_tx(req, app, &t, "create_experiment");
out:
	db_arr_free(&keys);
	db_arr_free(&values);
}

/* Replies {"experiment": ...} from a get query's result (rc rows), or the 404. */
static void reply_experiment(struct http_request *req, int rc, PGresult *res, bool by_name, const char *what)
{
	struct core_error err = {{0}};
	if (rc < 0) {
		core_fail(&err, CORE_EIO, "reading the experiment failed");
		svc_reply_db_error(req, rc, &err);
		return;
	}
	if (rc == 0) {
		if (by_name)
			http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Could not find experiment with name %s",
					 what);
		else
			http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists", what);
		return;
	}
	json_t *exp = json_loads(db_get_text(res, 0, 0), 0, NULL);
	if (!exp) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "could not decode the experiment");
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "experiment", exp));
}

void et_h_experiments_get(struct http_request *req, void *app)
{
	const char *id = NULL;
	struct core_error err = {{0}};
	PGresult *res = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("experiment_id", &id), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !id_ok_or_reply(req, id))
		return;
	struct db_conn *c = db_acquire(svc_db(app), &err);
	if (!c) {
		svc_reply_db_error(req, DB_UNAVAILABLE, &err);
		return;
	}
	int rc = et_q_experiments_get(c, id, &res);
	reply_experiment(req, rc, res, false, id);
	PQclear(res);
	db_release(c);
}

void et_h_experiments_get_by_name(struct http_request *req, void *app)
{
	const char *name = NULL;
	struct core_error err = {{0}};
	PGresult *res = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("experiment_name", &name), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	struct db_conn *c = db_acquire(svc_db(app), &err);
	if (!c) {
		svc_reply_db_error(req, DB_UNAVAILABLE, &err);
		return;
	}
	int rc = et_q_experiments_get_by_name(c, name, &res);
	reply_experiment(req, rc, res, true, name);
	PQclear(res);
	db_release(c);
}

static void stage_op(struct http_request *req, void *app, enum exp_op op, const char *name)
{
	struct exp_tx t = {.op = op};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("experiment_id", &t.id), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !id_ok_or_reply(req, t.id))
		return;
	run_exp_tx(req, app, &t, name);
}

void et_h_experiments_delete(struct http_request *req, void *app)
{
	stage_op(req, app, OP_DELETE, "delete_experiment");
}
void et_h_experiments_restore(struct http_request *req, void *app)
{
	stage_op(req, app, OP_RESTORE, "restore_experiment");
}

void et_h_experiments_update(struct http_request *req, void *app)
{
	struct exp_tx t = {.op = OP_RENAME};
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("experiment_id", &t.id),
		HTTP_JS_REQ_STRING("new_name", &t.name),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !id_ok_or_reply(req, t.id))
		return;
	run_exp_tx(req, app, &t, "rename_experiment");
}

void et_h_experiments_set_tag(struct http_request *req, void *app)
{
	struct exp_tx t = {.op = OP_SET_TAGS, .has_tags = true};
	const char *key = NULL, *value = "";
	struct db_arr keys, values;
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("experiment_id", &t.id),
		HTTP_JS_REQ_STRING("key", &key),
		HTTP_JS_OPT_STRING("value", &value, NULL),
		HTTP_JS_END,
	};
	db_arr_init(&keys);
	db_arr_init(&values);
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !id_ok_or_reply(req, t.id))
		goto out;
	json_t *one = json_pack("[{s:s,s:s}]", "key", key, "value", value);
	bool ok = tags_or_reply(req, one, &keys, &values);
	json_decref(one);
	if (!ok)
		goto out;
	t.tag_keys = keys.b.data;
	t.tag_values = values.b.data;
	run_exp_tx(req, app, &t, "set_experiment_tag");
out:
	db_arr_free(&keys);
	db_arr_free(&values);
}
