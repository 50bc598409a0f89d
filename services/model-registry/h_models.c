/* Handlers for /api/2.0/mlflow/registered-models/... (MLflow model_registry.proto):
 * create, get, rename, update, delete, search, get-latest-versions, set-tag and
 * delete-tag. Each parses its arguments with a spec table (GET: query string, else the
 * JSON body), checks MLflow's rules (validate.c), runs one db_run_tx whose body locks
 * the model row before changing anything, writes the event of a serving-relevant change
 * (rename, delete) in that same transaction, and answers MLflow's JSON. A client
 * mistake found inside the transaction is carried out in a struct svc_fail. */
#include <stdlib.h>
#include <string.h>
#include "mlflow/names.h"
#include "mr.h"

#define MODELS_MAX_RESULTS_DEFAULT 100
#define MODELS_MAX_RESULTS_MAX     1000

static struct db_pool *pool_of(void *app)
{
	return svc_db(app);
}

/* --- create ------------------------------------------------------------------------ */

struct create_ctx {
	const char *name, *description;
	json_t *tags;
	json_t *result; /* RegisteredModel */
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int create_tx(struct db_conn *c, void *cls)
{
	struct create_ctx *x = cls;
	int64_t id = 0;
	size_t i;
	json_t *t;
	json_decref(x->result);
	x->result = NULL;
	int rc = mr_q_insert_model(c, x->name, x->description, core_now_ms(), &id, &x->err);
	if (rc == DB_CONSTRAINT && strcmp(db_conn_constraint(c), "registered_models_name_key") == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_ALREADY_EXISTS, "Registered Model (name=%s) already exists.",
				x->name);
	if (rc < 0)
		return rc;
	json_array_foreach(x->tags, i, t)
	{
		const char *value = json_string_value(json_object_get(t, "value"));
		rc = mr_q_set_model_tag(c, id, json_string_value(json_object_get(t, "key")), value, &x->err);
		if (rc < 0)
			return rc;
	}
	return mr_load_model(c, id, &x->result, &x->err);
}

void mr_h_model_create(struct http_request *req, void *app)
{
	struct create_ctx x = {.description = ""};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {
		HTTP_JS_REQ_STRING("name", &x.name),
		HTTP_JS_OPT_ARRAY("tags", &x.tags, NULL),
		HTTP_JS_OPT_STRING("description", &x.description, NULL),
		HTTP_JS_END,
	};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (mr_check_model_name(x.name, &err) != CORE_OK ||
	    mlflow_check_registered_model_name(x.name, &err) != CORE_OK ||
	    mr_check_tags("Registered model", x.tags, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	int rc = db_run_tx(pool_of(app), "create_registered_model", DB_READ_COMMITTED, create_tx, &x, &err);
	mr_reply_entity(req, "registered_model", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}

/* --- get --------------------------------------------------------------------------- */

struct get_ctx {
	const char *name;
	json_t *result;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int get_tx(struct db_conn *c, void *cls)
{
	struct get_ctx *x = cls;
	int64_t id = 0;
	json_decref(x->result);
	x->result = NULL;
	int rc = mr_q_model_id(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0)
		return rc;
	return mr_load_model(c, id, &x->result, &x->err);
}

void mr_h_model_get(struct http_request *req, void *app)
{
	struct get_ctx x = {0};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	int rc = db_run_tx(pool_of(app), "get_registered_model", DB_READ_COMMITTED, get_tx, &x, &err);
	mr_reply_entity(req, "registered_model", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}

/* --- rename ------------------------------------------------------------------------ */

struct rename_ctx {
	const char *name, *new_name;
	json_t *result;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int rename_tx(struct db_conn *c, void *cls)
{
	struct rename_ctx *x = cls;
	int64_t id = 0, now = core_now_ms();
	json_decref(x->result);
	x->result = NULL;
	int rc = mr_q_lock_model(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0)
		return rc;
	rc = mr_q_rename_model(c, id, x->new_name, now, &x->err);
	if (rc == DB_CONSTRAINT && strcmp(db_conn_constraint(c), "registered_models_name_key") == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_ALREADY_EXISTS, "Registered Model (name=%s) already exists.",
				x->new_name);
	if (rc < 0 || (rc = mr_q_touch_versions(c, id, now, &x->err)) < 0)
		return rc;
	/* Keyed by the old name: the last event of the old name's story (see the schema). */
	rc = mr_ev_write(
		c, "lathe.model.renamed", x->name,
		json_pack("{s:s, s:s, s:s}", "name", x->new_name, "old_name", x->name, "new_name", x->new_name),
		&x->err);
	if (rc < 0)
		return rc;
	return mr_load_model(c, id, &x->result, &x->err);
}

void mr_h_model_rename(struct http_request *req, void *app)
{
	struct rename_ctx x = {0};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name),
					  HTTP_JS_REQ_STRING("new_name", &x.new_name), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (mlflow_check_registered_model_name(x.new_name, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	int rc = db_run_tx(pool_of(app), "rename_registered_model", DB_READ_COMMITTED, rename_tx, &x, &err);
	mr_reply_entity(req, "registered_model", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}

/* --- update ------------------------------------------------------------------------ */

struct update_ctx {
	const char *name, *description;
	json_t *result;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int update_tx(struct db_conn *c, void *cls)
{
	struct update_ctx *x = cls;
	int64_t id = 0, now = core_now_ms();
	json_decref(x->result);
	x->result = NULL;
	int rc = mr_q_lock_model(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0 || (rc = mr_q_update_model_description(c, id, x->description, now, &x->err)) < 0)
		return rc;
	return mr_load_model(c, id, &x->result, &x->err);
}

void mr_h_model_update(struct http_request *req, void *app)
{
	struct update_ctx x = {.description = ""};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name),
					  HTTP_JS_OPT_STRING("description", &x.description, NULL), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	int rc = db_run_tx(pool_of(app), "update_registered_model", DB_READ_COMMITTED, update_tx, &x, &err);
	mr_reply_entity(req, "registered_model", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}

/* --- delete ------------------------------------------------------------------------ */

struct delete_ctx {
	const char *name;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int delete_tx(struct db_conn *c, void *cls)
{
	struct delete_ctx *x = cls;
	int64_t id = 0;
	PGresult *res = NULL;
	int rc = mr_q_lock_model(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0 || (rc = mr_q_model_versions(c, id, &res, &x->err)) < 0)
		return rc;
	json_t *versions = json_array();
	for (int r = 0; r < PQntuples(res); r++)
		json_array_append_new(versions, json_string(PQgetvalue(res, r, 1)));
	PQclear(res);
	rc = mr_q_delete_model(c, id, &x->err);
	if (rc < 0) {
		json_decref(versions);
		return rc;
	}
	return mr_ev_write(c, "lathe.model.deleted", x->name,
			   json_pack("{s:s, s:o}", "name", x->name, "versions", versions), &x->err);
}

void mr_h_model_delete(struct http_request *req, void *app)
{
	struct delete_ctx x = {0};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (svc_run_tx_or_reply(req, app, "delete_registered_model", DB_READ_COMMITTED, delete_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}

/* --- search ------------------------------------------------------------------------ */

struct search_ctx {
	struct mr_search_args a;
	size_t max_bytes;
	json_t *models; /* array of RegisteredModel */
	int64_t *ids;   /* of the models, a.limit of room */
	size_t n;
	bool more;
	struct core_error err; /* what the q_ functions record */
};

static void take_model(const PGresult *res, int row, void *cls)
{
	struct search_ctx *x = cls;
	x->ids[x->n++] = mr_model_row_id(res, row);
	json_array_append_new(x->models, mr_model_json(res, row));
}

static int search_tx(struct db_conn *c, void *cls)
{
	struct search_ctx *x = cls;
	json_decref(x->models);
	x->models = json_array();
	x->n = 0;
	int rc = mr_search_stream(c, &x->a, x->max_bytes, take_model, x, &x->more, &x->err);
	if (rc >= 0)
		rc = mr_models_add_latest(c, x->models, x->ids, x->n, &x->err);
	return rc < 0 ? rc : 0;
}

void mr_h_model_search(struct http_request *req, void *app)
{
	struct search_ctx x = {0};
	struct svc_fail fail;
	if (mr_search_args_parse_or_reply(req, MR_SEARCH_MODELS, MODELS_MAX_RESULTS_DEFAULT, MODELS_MAX_RESULTS_MAX,
					  &x.a) != HTTP_PARSE_OK)
		return;
	x.max_bytes = (size_t)svc_settings(app)->search_page_max_bytes;
	x.ids = core_xcalloc((size_t)x.a.limit + 1, sizeof *x.ids);
	if (svc_run_tx_or_reply(req, app, "search_registered_models", DB_READ_COMMITTED, search_tx, &x, &fail) >= 0)
		mr_reply_search_page(req, "registered_models", x.models, x.more, &x.a);
	json_decref(x.models);
	free(x.ids);
	mr_search_args_free(&x.a);
}

/* --- get-latest-versions ----------------------------------------------------------- */

struct latest_ctx {
	const char *name;
	const char *stages[8];
	size_t n_stages;
	json_t *versions;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int latest_tx(struct db_conn *c, void *cls)
{
	struct latest_ctx *x = cls;
	int64_t id = 0;
	json_t *rm = NULL;
	json_decref(x->versions);
	x->versions = json_array();
	int rc = mr_q_model_id(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0 || (rc = mr_load_model(c, id, &rm, &x->err)) < 0)
		return rc;
	size_t i;
	json_t *mv;
	json_array_foreach(json_object_get(rm, "latest_versions"), i, mv)
	{
		const char *stage = json_string_value(json_object_get(mv, "current_stage"));
		bool wanted = x->n_stages == 0;
		for (size_t k = 0; k < x->n_stages && !wanted; k++)
			wanted = stage && strcmp(stage, x->stages[k]) == 0;
		if (wanted)
			json_array_append(x->versions, mv);
	}
	json_decref(rm);
	return 0;
}

void mr_h_model_latest_versions(struct http_request *req, void *app)
{
	struct latest_ctx x = {0};
	struct core_error err = {{0}};
	json_t *stages = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name),
					  HTTP_JS_OPT_ARRAY("stages", &stages, NULL), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	size_t i;
	json_t *s;
	json_array_foreach(stages, i, s)
	{
		const char *canonical = NULL;
		if (mr_check_stage(json_string_value(s), &canonical, &err) != CORE_OK) {
			http_reply_invalid(req, &err);
			return;
		}
		bool seen = false;
		for (size_t k = 0; k < x.n_stages; k++)
			seen = seen || x.stages[k] == canonical;
		if (!seen)
			x.stages[x.n_stages++] = canonical;
	}
	int rc = db_run_tx(pool_of(app), "get_latest_versions", DB_READ_COMMITTED, latest_tx, &x, &err);
	if (rc < 0) {
		svc_reply_tx(req, rc, &x.fail, &err);
	} else {
		json_t *body = json_object();
		if (json_array_size(x.versions) > 0)
			json_object_set(body, "model_versions", x.versions);
		http_reply_json(req, 200, body);
	}
	json_decref(x.versions);
}

/* --- tags -------------------------------------------------------------------------- */

struct tag_ctx {
	const char *name, *key, *value;
	bool delete;
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int tag_tx(struct db_conn *c, void *cls)
{
	struct tag_ctx *x = cls;
	int64_t id = 0;
	int rc = mr_q_lock_model(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0)
		return rc;
	rc = x->delete ? mr_q_delete_model_tag(c, id, x->key, &x->err)
		       : mr_q_set_model_tag(c, id, x->key, x->value, &x->err);
	return rc < 0 ? rc : 0;
}

static void tag_handler(struct http_request *req, void *app, bool delete)
{
	struct tag_ctx x = {.value = "", .delete = delete};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name), HTTP_JS_REQ_STRING("key", &x.key),
					  HTTP_JS_OPT_STRING("value", &x.value, NULL), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if ((delete ? mr_check_tag_key("Registered model", x.key, &err)
		    : mr_check_tag("Registered model", x.key, x.value, &err)) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	if (svc_run_tx_or_reply(req, app, delete ? "delete_registered_model_tag" : "set_registered_model_tag",
				DB_READ_COMMITTED, tag_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}

void mr_h_model_set_tag(struct http_request *req, void *app)
{
	tag_handler(req, app, false);
}

void mr_h_model_delete_tag(struct http_request *req, void *app)
{
	tag_handler(req, app, true);
}
