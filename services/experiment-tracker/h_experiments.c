/* Handlers for experiments (face: et.h): experiments/create, get, get-by-name,
 * delete, restore, update (rename) and set-experiment-tag, with MLflow's SQL-store
 * semantics: ids are increasing integers (the migration seeds Default = 0), names are
 * unique across active and deleted experiments (the UNIQUE constraint decides, so two
 * racing creates cannot both win), delete/restore are soft and carry the experiment's
 * runs along, renaming a deleted experiment is INVALID_STATE. Each operation is one
 * transaction with its own body; the writes lock the experiment row first (FOR UPDATE
 * when they change it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/names.h"
#include "et.h"

/* What every experiment transaction carries; the bodies read what they need. */
struct exp_tx {
	const char *id, *name, *artifact_location, *tag_keys, *tag_values;
	bool has_tags, deleted;
	char new_id[24]; /* out: create */
	PGresult *res;   /* out: get, get-by-name */
	struct svc_fail f;
	struct core_error err;
};

static bool name_taken(struct db_conn *c, int rc)
{
	return rc == DB_CONSTRAINT && strcmp(db_conn_constraint(c), "experiments_name_key") == 0;
}

/* Locks experiment t->id: for_update when the body will write the row (rename, delete,
 * restore), so that it takes the writer's lock first. Share-locking and then updating
 * made concurrent writers of one experiment each hold the share lock and wait for the
 * other's to upgrade: a deadlock (40P01) on every pair. Tags only need the row to stay
 * as it is (a share lock). Returns 1 with *active set, DB_ROLLBACK (no such experiment)
 * or a negative db_status. */
static int lock_experiment(struct db_conn *c, struct exp_tx *t, bool for_update, bool *active)
{
	char stage[16];
	int rc = for_update ? et_q_experiments_lock_for_update(c, t->id, stage, &t->err)
			    : et_q_experiments_lock(c, t->id, stage, NULL, &t->err);
	if (rc == 0)
		return et_fail_no_experiment(&t->f, t->id);
	*active = rc > 0 && strcmp(stage, "active") == 0;
	return rc;
}

static int create_tx_fn(struct db_conn *c, void *cls)
{
	struct exp_tx *t = cls;
	int rc = et_q_experiments_insert(c, t->name, t->artifact_location, core_now_ms(), t->new_id, &t->err);
	if (name_taken(c, rc))
		return et_fail_experiment_name_taken(&t->f, t->name);
	if (rc >= 0 && t->has_tags)
		rc = et_q_experiment_tags_upsert(c, t->new_id, t->tag_keys, t->tag_values, &t->err);
	return rc < 0 ? rc : 0;
}

/* delete (t->deleted) and restore: the experiment and all its runs. */
static int set_stage_tx_fn(struct db_conn *c, void *cls)
{
	struct exp_tx *t = cls;
	bool active = false;
	int64_t now = core_now_ms();
	int rc = lock_experiment(c, t, true, &active);
	if (rc < 0)
		return rc;
	if (active != t->deleted) /* deleting a deleted one, restoring an active one */
		return et_fail_no_experiment(&t->f, t->id);
	rc = et_q_experiments_set_stage(c, t->id, t->deleted, now, &t->err);
	if (rc >= 0)
		rc = et_q_experiments_runs_set_stage(c, t->id, t->deleted, now, &t->err);
	return rc < 0 ? rc : 0;
}

static int rename_tx_fn(struct db_conn *c, void *cls)
{
	struct exp_tx *t = cls;
	bool active = false;
	int rc = lock_experiment(c, t, true, &active);
	if (rc < 0)
		return rc;
	if (!active)
		return svc_fail(&t->f, HTTP_EC_INVALID_STATE, "Cannot rename a non-active experiment.");
	rc = et_q_experiments_rename(c, t->id, t->name, core_now_ms(), &t->err);
	if (name_taken(c, rc))
		return et_fail_experiment_name_taken(&t->f, t->name);
	return rc < 0 ? rc : 0;
}

static int set_tags_tx_fn(struct db_conn *c, void *cls)
{
	struct exp_tx *t = cls;
	bool active = false;
	int rc = lock_experiment(c, t, false, &active);
	if (rc < 0)
		return rc;
	if (!active)
		return et_fail_experiment_not_active(&t->f, t->id);
	rc = et_q_experiment_tags_upsert(c, t->id, t->tag_keys, t->tag_values, &t->err);
	return rc < 0 ? rc : 0;
}

static int get_tx_fn(struct db_conn *c, void *cls)
{
	struct exp_tx *t = cls;
	PQclear(t->res);
	t->res = NULL;
	int rc = t->id ? et_q_experiments_get(c, t->id, &t->res, &t->err)
		       : et_q_experiments_get_by_name(c, t->name, &t->res, &t->err);
	if (rc == 0 && t->id)
		return et_fail_no_experiment(&t->f, t->id);
	if (rc == 0)
		return svc_fail(&t->f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Could not find experiment with name %s",
				t->name);
	return rc;
}

/* Checks an experiment id from the client; false after replying. */
static bool id_ok_or_reply(struct http_request *req, const char *id)
{
	bool not_found;
	struct core_error err;
	struct svc_fail f;
	if (et_validate_experiment_id(id, &not_found, &err))
		return true;
	if (not_found)
		svc_reply_tx(req, et_fail_no_experiment(&f, id), &f, NULL);
	else
		http_reply_invalid(req, &err);
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
			http_reply_invalid(req, &err);
			return false;
		}
		size_t n = mlflow_utf8_chars(value);
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
	struct exp_tx t = {0};
	struct core_error err = {{0}};
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
	if (mlflow_check_experiment_name(t.name, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		goto out;
	}
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
	if (svc_run_tx_or_reply(req, app, "create_experiment", DB_READ_COMMITTED, create_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_pack("{s:s}", "experiment_id", t.new_id));
out:
	db_arr_free(&keys);
	db_arr_free(&values);
}

/* Runs get_tx_fn for t (id or name set) and replies {"experiment": ...}. */
static void get_and_reply(struct http_request *req, void *app, struct exp_tx *t)
{
	if (svc_run_tx_or_reply(req, app, "get_experiment", DB_READ_COMMITTED, get_tx_fn, t, &t->f) >= 0) {
		json_t *exp = json_loads(db_get_text(t->res, 0, 0), 0, NULL);
		if (exp)
			http_reply_json(req, 200, json_pack("{s:o}", "experiment", exp));
		else
			http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "could not decode the experiment");
	}
	PQclear(t->res);
}

void et_h_experiments_get(struct http_request *req, void *app)
{
	struct exp_tx t = {0};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("experiment_id", &t.id), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !id_ok_or_reply(req, t.id))
		return;
	get_and_reply(req, app, &t);
}

void et_h_experiments_get_by_name(struct http_request *req, void *app)
{
	struct exp_tx t = {0};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("experiment_name", &t.name), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	get_and_reply(req, app, &t);
}

static void set_stage(struct http_request *req, void *app, bool deleted, const char *name)
{
	struct exp_tx t = {.deleted = deleted};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("experiment_id", &t.id), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !id_ok_or_reply(req, t.id))
		return;
	if (svc_run_tx_or_reply(req, app, name, DB_READ_COMMITTED, set_stage_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
}

void et_h_experiments_delete(struct http_request *req, void *app)
{
	set_stage(req, app, true, "delete_experiment");
}
void et_h_experiments_restore(struct http_request *req, void *app)
{
	set_stage(req, app, false, "restore_experiment");
}

void et_h_experiments_update(struct http_request *req, void *app)
{
	struct exp_tx t = {0};
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("experiment_id", &t.id),
		HTTP_JS_REQ_STRING("new_name", &t.name),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !id_ok_or_reply(req, t.id))
		return;
	if (mlflow_check_experiment_name(t.name, &t.err) != CORE_OK) {
		http_reply_invalid(req, &t.err);
		return;
	}
	if (svc_run_tx_or_reply(req, app, "rename_experiment", DB_READ_COMMITTED, rename_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
}

void et_h_experiments_set_tag(struct http_request *req, void *app)
{
	struct exp_tx t = {.has_tags = true};
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
	if (svc_run_tx_or_reply(req, app, "set_experiment_tag", DB_READ_COMMITTED, set_tags_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
out:
	db_arr_free(&keys);
	db_arr_free(&values);
}
