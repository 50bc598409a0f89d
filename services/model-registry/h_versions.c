/* Handlers for /api/2.0/mlflow/model-versions/... (MLflow model_registry.proto): create,
 * get, update, delete, search, transition-stage, get-download-uri, set-tag and
 * delete-tag.
 *
 * create: checks the source (validate.c), then in one transaction takes the next
 * number from the model's last_version counter (the UPDATE row-locks the model, so
 * concurrent creators queue and numbers stay 1, 2, 3, ... without gaps), inserts the
 * version with its tags and writes lathe.model.version.created. It never waits for the
 * tracker: a source only the tracker can judge gets lathe.servable = "pending" and a
 * queued check (servable_queue.c), answered in the background; any other gets
 * lathe.servable = "false" and its lathe.servable_reason at once (servable.c). transition-stage and delete write
 * lathe.model.version.stage_changed (one per version whose stage changed, archived
 * ones included) and lathe.model.version.deleted the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/names.h"
#include "mr.h"

#define VERSIONS_MAX_RESULTS_DEFAULT 10000
#define VERSIONS_MAX_RESULTS_MAX     200000

/* Arguments most version routes take: name and version. */
struct nv_args {
	const char *name;
	json_t *version_arg;
	int64_t version;
};

/* Completes nv after parsing; replies 400 and returns false when version is bad. */
static bool nv_check(struct http_request *req, struct nv_args *nv)
{
	struct core_error err = {{0}};
	if (mr_check_model_name(nv->name, &err) != CORE_OK ||
	    mr_version_arg(nv->version_arg, &nv->version, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return false;
	}
	return true;
}

/* Locks the model (bumping its last_updated_time when touch) and the version; fills
 * *id and stage. Returns 1, or a negative status (fail set for 404s, err for the rest). */
static int lock_both(struct db_conn *c, const struct nv_args *nv, bool touch, int64_t now, int64_t *id, char stage[16],
		     struct svc_fail *fail, struct core_error *err)
{
	int rc = touch ? mr_q_touch_model(c, nv->name, now, id, err) : mr_q_lock_model(c, nv->name, id, err);
	if (rc == 0)
		return mr_fail_no_model(fail, nv->name);
	if (rc < 0 || (rc = mr_q_lock_version(c, *id, nv->version, stage, err)) < 0)
		return rc;
	if (rc == 0)
		return mr_fail_no_version(fail, nv->name, nv->version);
	return 1;
}

/* --- create ------------------------------------------------------------------------ */

struct create_ctx {
	const char *name, *source, *run_id, *run_link, *description, *request_id;
	json_t *tags;
	bool pending;                /* the tracker must be asked: queued */
	struct mr_servable servable; /* the answer when not pending */
	json_t *result;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int create_tx(struct db_conn *c, void *cls)
{
	struct create_ctx *x = cls;
	int64_t id = 0, version = 0, now = core_now_ms();
	size_t i;
	json_t *t;
	json_decref(x->result);
	x->result = NULL;
	int rc = mr_q_next_version(c, x->name, now, &id, &version, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0 || (rc = mr_q_insert_version(c, id, version, now, x->source, x->run_id, x->run_link, x->description,
						&x->err)) < 0)
		return rc;
	json_array_foreach(x->tags, i, t)
	{
		rc = mr_q_set_version_tag(c, id, version, json_string_value(json_object_get(t, "key")),
					  json_string_value(json_object_get(t, "value")), &x->err);
		if (rc < 0)
			return rc;
	}
	/* A client's own lathe.servable* tags are overwritten: the registry owns them. */
	if (x->pending) {
		rc = mr_q_delete_version_tag(c, id, version, MR_TAG_SERVABLE_REASON, &x->err);
		if (rc >= 0)
			rc = mr_servable_enqueue(c, id, version, x->request_id, &x->err);
	} else {
		rc = mr_q_set_version_tag(c, id, version, MR_TAG_SERVABLE, "false", &x->err);
		if (rc >= 0)
			rc = mr_q_set_version_tag(c, id, version, MR_TAG_SERVABLE_REASON, x->servable.reason, &x->err);
	}
	if (rc < 0)
		return rc;
	char v[24];
	snprintf(v, sizeof v, "%lld", (long long)version);
	json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", x->name, "version", v, "stage", "None",
				 "source", x->source, "run_id", x->run_id, "run_link", x->run_link, "servable", false);
	if (x->pending)
		json_object_set_new(data, "servable_pending", json_true());
	else
		json_object_set_new(data, "servable_reason", json_string(x->servable.reason));
	if ((rc = mr_ev_write(c, "lathe.model.version.created", x->name, data, &x->err)) < 0)
		return rc;
	return mr_load_version(c, id, version, &x->result, &x->err);
}

void mr_h_version_create(struct http_request *req, void *app)
{
	struct create_ctx x = {.run_id = "", .run_link = "", .description = ""};
	struct core_error err = {{0}};
	const char *run_uuid = NULL;
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("name", &x.name),
		HTTP_JS_REQ_STRING("source", &x.source),
		HTTP_JS_OPT_STRING("run_id", &x.run_id, NULL),
		HTTP_JS_OPT_STRING("run_uuid", &run_uuid, NULL),
		HTTP_JS_OPT_ARRAY("tags", &x.tags, NULL),
		HTTP_JS_OPT_STRING("run_link", &x.run_link, NULL),
		HTTP_JS_OPT_STRING("description", &x.description, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (!*x.run_id && run_uuid)
		x.run_id = run_uuid;
	if (mr_check_model_name(x.name, &err) != CORE_OK ||
	    mlflow_check_registered_model_name(x.name, &err) != CORE_OK ||
	    mr_check_source(x.source, x.run_id, &err) != CORE_OK ||
	    mr_check_tags("Model version", x.tags, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	x.request_id = http_request_id(req);
	x.pending = !mr_servable_local(mr_app(app)->settings, x.source, &x.servable);
	int rc = db_run_tx(svc_db(app), "create_model_version", DB_READ_COMMITTED, create_tx, &x, &err);
	mr_reply_entity(req, "model_version", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}

/* --- get, get-download-uri ------------------------------------------------------------ */

struct get_ctx {
	struct nv_args nv;
	json_t *result;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int get_tx(struct db_conn *c, void *cls)
{
	struct get_ctx *x = cls;
	PGresult *res = NULL;
	json_decref(x->result);
	x->result = NULL;
	int rc = mr_q_select_version_by_name(c, x->nv.name, x->nv.version, &res, &x->err);
	if (rc == 1)
		x->result = mr_version_json(res, 0);
	PQclear(res);
	if (rc == 0)
		return mr_fail_no_version(&x->fail, x->nv.name, x->nv.version);
	return rc;
}

static void get_handler(struct http_request *req, void *app, bool download_uri)
{
	struct get_ctx x = {0};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.nv.name),
					  HTTP_JS_REQ_ANY("version", &x.nv.version_arg), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !nv_check(req, &x.nv))
		return;
	int rc = db_run_tx(svc_db(app), "get_model_version", DB_READ_COMMITTED, get_tx, &x, &err);
	if (rc < 0 || !x.result)
		svc_reply_tx(req, rc < 0 ? rc : DB_HARD_ERROR, &x.fail, &err);
	else if (download_uri)
		http_reply_json(req, 200, json_pack("{s:O}", "artifact_uri", json_object_get(x.result, "source")));
	else
		http_reply_json(req, 200, json_pack("{s:O}", "model_version", x.result));
	json_decref(x.result);
}

void mr_h_version_get(struct http_request *req, void *app)
{
	get_handler(req, app, false);
}

void mr_h_version_download_uri(struct http_request *req, void *app)
{
	get_handler(req, app, true);
}

/* --- update ------------------------------------------------------------------------ */

struct update_ctx {
	struct nv_args nv;
	const char *description;
	json_t *result;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int update_tx(struct db_conn *c, void *cls)
{
	struct update_ctx *x = cls;
	int64_t id = 0, now = core_now_ms();
	char stage[16];
	json_decref(x->result);
	x->result = NULL;
	int rc = lock_both(c, &x->nv, false, now, &id, stage, &x->fail, &x->err);
	if (rc < 0 || (rc = mr_q_update_version_description(c, id, x->nv.version, x->description, now, &x->err)) < 0)
		return rc;
	return mr_load_version(c, id, x->nv.version, &x->result, &x->err);
}

void mr_h_version_update(struct http_request *req, void *app)
{
	struct update_ctx x = {.description = ""};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.nv.name),
					  HTTP_JS_REQ_ANY("version", &x.nv.version_arg),
					  HTTP_JS_OPT_STRING("description", &x.description, NULL), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !nv_check(req, &x.nv))
		return;
	int rc = db_run_tx(svc_db(app), "update_model_version", DB_READ_COMMITTED, update_tx, &x, &err);
	mr_reply_entity(req, "model_version", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}

/* --- delete ------------------------------------------------------------------------ */

struct delete_ctx {
	struct nv_args nv;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int delete_tx(struct db_conn *c, void *cls)
{
	struct delete_ctx *x = cls;
	int64_t id = 0;
	char stage[16];
	json_t *mv = NULL;
	int rc = lock_both(c, &x->nv, true, core_now_ms(), &id, stage, &x->fail, &x->err);
	if (rc < 0 || (rc = mr_load_version(c, id, x->nv.version, &mv, &x->err)) < 0)
		return rc;
	rc = mr_q_delete_version(c, id, x->nv.version, &x->err);
	if (rc < 0) {
		json_decref(mv);
		return rc;
	}
	json_t *aliases = json_object_get(mv, "aliases");
	json_t *data = json_pack("{s:O, s:O, s:O, s:O, s:O, s:o}", "name", json_object_get(mv, "name"), "version",
				 json_object_get(mv, "version"), "stage", json_object_get(mv, "current_stage"),
				 "source", json_object_get(mv, "source"), "run_id", json_object_get(mv, "run_id"),
				 "aliases", aliases ? json_incref(aliases) : json_array());
	json_decref(mv);
	rc = mr_ev_write(c, "lathe.model.version.deleted", x->nv.name, data, &x->err);
	return rc < 0 ? rc : 0;
}

void mr_h_version_delete(struct http_request *req, void *app)
{
	struct delete_ctx x = {0};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.nv.name),
					  HTTP_JS_REQ_ANY("version", &x.nv.version_arg), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !nv_check(req, &x.nv))
		return;
	if (svc_run_tx_or_reply(req, app, "delete_model_version", DB_READ_COMMITTED, delete_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}

/* --- transition-stage ------------------------------------------------------------------ */

struct transition_ctx {
	struct nv_args nv;
	const char *stage; /* canonical */
	bool archive;
	json_t *result;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static json_t *stage_event(const char *name, const char *version, const char *stage, const char *previous,
			   const char *source, const char *run_id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "version", version, "stage", stage,
			 "previous_stage", previous, "source", source, "run_id", run_id);
}

static int transition_tx(struct db_conn *c, void *cls)
{
	struct transition_ctx *x = cls;
	int64_t id = 0, now = core_now_ms();
	char previous[16];
	PGresult *res = NULL;
	json_decref(x->result);
	x->result = NULL;
	int rc = lock_both(c, &x->nv, true, now, &id, previous, &x->fail, &x->err);
	if (rc < 0 || (rc = mr_q_set_version_stage(c, id, x->nv.version, x->stage, now, &x->err)) < 0)
		return rc;
	if (x->archive && (rc = mr_q_archive_stage(c, id, x->nv.version, x->stage, now, &res, &x->err)) < 0)
		return rc;
	if ((rc = mr_load_version(c, id, x->nv.version, &x->result, &x->err)) < 0)
		goto out;
	/* The target first, then the versions it pushed out: a consumer serving "the
	 * Production version" never sees a moment without one. */
	if (strcmp(previous, x->stage) != 0) {
		rc = mr_ev_write(c, "lathe.model.version.stage_changed", x->nv.name,
				 stage_event(x->nv.name, json_string_value(json_object_get(x->result, "version")),
					     x->stage, previous,
					     json_string_value(json_object_get(x->result, "source")),
					     json_string_value(json_object_get(x->result, "run_id"))),
				 &x->err);
		if (rc < 0)
			goto out;
	}
	for (int r = 0; res && r < PQntuples(res); r++) {
		rc = mr_ev_write(c, "lathe.model.version.stage_changed", x->nv.name,
				 stage_event(x->nv.name, PQgetvalue(res, r, 0), "Archived", x->stage,
					     PQgetvalue(res, r, 1), PQgetvalue(res, r, 2)),
				 &x->err);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

void mr_h_version_transition(struct http_request *req, void *app)
{
	struct transition_ctx x = {0};
	struct core_error err = {{0}};
	const char *stage = NULL;
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("name", &x.nv.name),
		HTTP_JS_REQ_ANY("version", &x.nv.version_arg),
		HTTP_JS_REQ_STRING("stage", &stage),
		HTTP_JS_REQ_BOOL("archive_existing_versions", &x.archive),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !nv_check(req, &x.nv))
		return;
	if (mr_check_stage(stage, &x.stage, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	if (x.archive && strcmp(x.stage, "Staging") != 0 && strcmp(x.stage, "Production") != 0) {
		http_reply_error(
			req, HTTP_EC_INVALID_PARAMETER_VALUE,
			"Model version transition cannot archive existing model versions because '%s' is not an "
			"Active stage. Valid stages are ['Staging', 'Production']",
			stage);
		return;
	}
	int rc = db_run_tx(svc_db(app), "transition_model_version_stage", DB_READ_COMMITTED, transition_tx, &x, &err);
	mr_reply_entity(req, "model_version", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}

/* --- search ------------------------------------------------------------------------ */

struct search_ctx {
	struct mr_search_args a;
	size_t max_bytes;
	json_t *versions;
	bool more;
	struct core_error err; /* what the q_ functions record */
};

static void take_version(const PGresult *res, int row, void *cls)
{
	struct search_ctx *x = cls;
	json_array_append_new(x->versions, mr_version_json(res, row));
}

static int search_tx(struct db_conn *c, void *cls)
{
	struct search_ctx *x = cls;
	json_decref(x->versions);
	x->versions = json_array();
	return mr_search_stream(c, &x->a, x->max_bytes, take_version, x, &x->more, &x->err);
}

void mr_h_version_search(struct http_request *req, void *app)
{
	struct search_ctx x = {0};
	struct svc_fail fail;
	if (mr_search_args_parse_or_reply(req, MR_SEARCH_VERSIONS, VERSIONS_MAX_RESULTS_DEFAULT,
					  VERSIONS_MAX_RESULTS_MAX, &x.a) != HTTP_PARSE_OK)
		return;
	x.max_bytes = (size_t)svc_settings(app)->search_page_max_bytes;
	if (svc_run_tx_or_reply(req, app, "search_model_versions", DB_READ_COMMITTED, search_tx, &x, &fail) >= 0)
		mr_reply_search_page(req, "model_versions", x.versions, x.more, &x.a);
	json_decref(x.versions);
	mr_search_args_free(&x.a);
}

/* --- tags -------------------------------------------------------------------------- */

struct tag_ctx {
	struct nv_args nv;
	const char *key, *value;
	bool delete;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int tag_tx(struct db_conn *c, void *cls)
{
	struct tag_ctx *x = cls;
	int64_t id = 0;
	char stage[16];
	int rc = lock_both(c, &x->nv, false, 0, &id, stage, &x->fail, &x->err);
	if (rc < 0)
		return rc;
	rc = x->delete ? mr_q_delete_version_tag(c, id, x->nv.version, x->key, &x->err)
		       : mr_q_set_version_tag(c, id, x->nv.version, x->key, x->value, &x->err);
	return rc < 0 ? rc : 0;
}

static void tag_handler(struct http_request *req, void *app, bool delete)
{
	struct tag_ctx x = {.value = "", .delete = delete};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("name", &x.nv.name), HTTP_JS_REQ_ANY("version", &x.nv.version_arg),
		HTTP_JS_REQ_STRING("key", &x.key), HTTP_JS_OPT_STRING("value", &x.value, NULL), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK || !nv_check(req, &x.nv))
		return;
	if ((delete ? mr_check_tag_key("Model version", x.key, &err)
		    : mr_check_tag("Model version", x.key, x.value, &err)) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	if (svc_run_tx_or_reply(req, app, delete ? "delete_model_version_tag" : "set_model_version_tag",
				DB_READ_COMMITTED, tag_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}

void mr_h_version_set_tag(struct http_request *req, void *app)
{
	tag_handler(req, app, false);
}

void mr_h_version_delete_tag(struct http_request *req, void *app)
{
	tag_handler(req, app, true);
}
