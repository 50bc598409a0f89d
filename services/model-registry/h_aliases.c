/* Handlers for /api/2.0/mlflow/registered-models/alias: POST sets (or moves) an alias,
 * DELETE removes it, GET answers the version it names. One alias names one version of
 * its model; moving it is one upsert under the model's row lock, so no reader ever sees
 * the alias on two versions or on none. Each change writes lathe.model.alias.set,
 * .moved or .deleted in the same transaction; setting an alias to the version it
 * already names, or deleting an alias that does not exist, changes nothing and emits
 * nothing. As MLflow, an unknown alias on GET is 400 INVALID_PARAMETER_VALUE. */
#include <stdio.h>
#include <string.h>
#include "mr.h"

struct alias_ctx {
	const char *name, *alias;
	int64_t version;
	json_t *result; /* GET: the ModelVersion */
	struct svc_fail fail;
	struct core_error err; /* what the q_ functions record */
};

static int set_tx(struct db_conn *c, void *cls)
{
	struct alias_ctx *x = cls;
	int64_t id = 0, previous = 0;
	char stage[16];
	int rc = mr_q_lock_model(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0 || (rc = mr_q_lock_version(c, id, x->version, stage, &x->err)) < 0)
		return rc;
	if (rc == 0)
		return mr_fail_no_version(&x->fail, x->name, x->version);
	rc = mr_q_alias_version(c, id, x->alias, &previous, &x->err);
	if (rc < 0)
		return rc;
	bool moved = rc == 1;
	if (moved && previous == x->version)
		return 0;
	if ((rc = mr_q_upsert_alias(c, id, x->alias, x->version, &x->err)) < 0 ||
	    (rc = mr_q_touch_model(c, x->name, core_now_ms(), &id, &x->err)) < 0)
		return rc;
	char v[24], p[24];
	snprintf(v, sizeof v, "%lld", (long long)x->version);
	snprintf(p, sizeof p, "%lld", (long long)previous);
	json_t *data = json_pack("{s:s, s:s, s:s}", "name", x->name, "alias", x->alias, "version", v);
	if (moved)
		json_object_set_new(data, "previous_version", json_string(p));
	rc = mr_ev_write(c, moved ? "lathe.model.alias.moved" : "lathe.model.alias.set", x->name, data, &x->err);
	return rc < 0 ? rc : 0;
}

static int delete_tx(struct db_conn *c, void *cls)
{
	struct alias_ctx *x = cls;
	int64_t id = 0, version = 0;
	int rc = mr_q_lock_model(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0 || (rc = mr_q_alias_version(c, id, x->alias, &version, &x->err)) <= 0)
		return rc;
	if ((rc = mr_q_delete_alias(c, id, x->alias, &x->err)) < 0 ||
	    (rc = mr_q_touch_model(c, x->name, core_now_ms(), &id, &x->err)) < 0)
		return rc;
	char v[24];
	snprintf(v, sizeof v, "%lld", (long long)version);
	rc = mr_ev_write(c, "lathe.model.alias.deleted", x->name,
			 json_pack("{s:s, s:s, s:s}", "name", x->name, "alias", x->alias, "version", v), &x->err);
	return rc < 0 ? rc : 0;
}

static int get_tx(struct db_conn *c, void *cls)
{
	struct alias_ctx *x = cls;
	int64_t id = 0, version = 0;
	json_decref(x->result);
	x->result = NULL;
	int rc = mr_q_model_id(c, x->name, &id, &x->err);
	if (rc == 0)
		return mr_fail_no_model(&x->fail, x->name);
	if (rc < 0 || (rc = mr_q_alias_version(c, id, x->alias, &version, &x->err)) < 0)
		return rc;
	if (rc == 0)
		return svc_fail(&x->fail, HTTP_EC_INVALID_PARAMETER_VALUE, "Registered model alias %s not found.",
				x->alias);
	rc = mr_load_version(c, id, version, &x->result, &x->err);
	if (rc == 0)
		return mr_fail_no_version(&x->fail, x->name, version);
	return rc;
}

void mr_h_alias_set(struct http_request *req, void *app)
{
	struct alias_ctx x = {0};
	struct core_error err = {{0}};
	json_t *version = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name), HTTP_JS_REQ_STRING("alias", &x.alias),
					  HTTP_JS_REQ_ANY("version", &version), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (mr_check_alias(x.alias, &err) != CORE_OK || mr_version_arg(version, &x.version, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	if (svc_run_tx_or_reply(req, app, "set_registered_model_alias", DB_READ_COMMITTED, set_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}

void mr_h_alias_delete(struct http_request *req, void *app)
{
	struct alias_ctx x = {0};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name), HTTP_JS_REQ_STRING("alias", &x.alias),
					  HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (mr_check_alias(x.alias, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	if (svc_run_tx_or_reply(req, app, "delete_registered_model_alias", DB_READ_COMMITTED, delete_tx, &x, &x.fail) >=
	    0)
		http_reply_json(req, 200, json_object());
}

void mr_h_alias_get(struct http_request *req, void *app)
{
	struct alias_ctx x = {0};
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name), HTTP_JS_REQ_STRING("alias", &x.alias),
					  HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	int rc = db_run_tx(svc_db(app), "get_model_version_by_alias", DB_READ_COMMITTED, get_tx, &x, &err);
	mr_reply_entity(req, "model_version", rc, x.result, &x.fail, &err);
	json_decref(x.result);
}
