/* Handlers of /v1/datasets (face: dr.h; routes in routes.c). A dataset is a name, a
 * description and tags over a line of versions. Creating one is an INSERT that answers
 * RESOURCE_ALREADY_EXISTS when the name is taken; updating replaces description and/or
 * the whole tag map; deleting removes the row under its row lock, refusing (409) while
 * versions exist unless force=true, and never touches blobs (the collector removes
 * those no version references any more). Listings page by name (keyset: the token is
 * the last name answered), so a page costs the same wherever it starts. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/time.h"
#include "dr.h"

static bool name_param_or_reply(struct http_request *req, const char **out)
{
	struct core_error err = {{0}};
	*out = http_request_param(req, "name");
	if (dr_check_dataset_name(*out, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return false;
	}
	return true;
}

/* --- create ----------------------------------------------------------------------- */

struct create_ctx {
	const char *name, *description;
	char *tags; /* JSON text, owned */
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int create_tx(struct db_conn *c, void *cls)
{
	struct create_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	int64_t id = 0;
	int rc = dr_q_insert_dataset(c, x->name, x->description, x->tags, core_now_ms(), &id, &x->err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_ALREADY_EXISTS, "Dataset '%s' already exists", x->name);
	if ((rc = dr_ev_write(c, "lathe.dataset.created", x->name, json_pack("{s:s}", "name", x->name), &x->err)) < 0)
		return rc;
	PGresult *res = NULL;
	rc = dr_q_select_dataset(c, id, &res, &x->err);
	if (rc > 0)
		x->out = dr_dataset_json(res, 0);
	PQclear(res);
	return rc;
}

void dr_h_dataset_create(struct http_request *req, void *app)
{
	struct create_ctx x = {0};
	json_t *tags = NULL;
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("name", &x.name),
					  HTTP_JS_OPT_STRING("description", &x.description, NULL),
					  HTTP_JS_OPT_OBJECT("tags", &tags, NULL), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (dr_check_dataset_name(x.name, &err) != CORE_OK || (tags && dr_check_tags(tags, &err) != CORE_OK)) {
		http_reply_invalid(req, &err);
		return;
	}
	x.tags = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
	int rc = svc_run_tx_or_reply(req, app, "dr_h_dataset_create", DB_READ_COMMITTED, create_tx, &x, &x.fail);
	if (rc >= 0)
		dr_reply_entity(req, 201, "dataset", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
	free(x.tags);
}

/* --- get -------------------------------------------------------------------------- */

struct get_ctx {
	const char *name;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int get_tx(struct db_conn *c, void *cls)
{
	struct get_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	PGresult *res = NULL;
	int rc = dr_q_dataset_by_name(c, x->name, &res, &x->err);
	if (rc > 0)
		x->out = dr_dataset_json(res, 0);
	PQclear(res);
	if (rc == 0)
		return dr_fail_no_dataset(&x->fail, x->name);
	return rc;
}

void dr_h_dataset_get(struct http_request *req, void *app)
{
	struct get_ctx x = {0};
	if (!name_param_or_reply(req, &x.name))
		return;
	int rc = svc_run_tx_or_reply(req, app, "dr_h_dataset_get", DB_READ_COMMITTED, get_tx, &x, &x.fail);
	if (rc >= 0)
		dr_reply_entity(req, 200, "dataset", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
}

/* --- list ------------------------------------------------------------------------- */

struct list_ctx {
	const char *prefix, *after;
	long limit;
	json_t *items;
	char *next; /* the last name when more remain, owned */
	struct svc_fail fail;
	struct core_error err;
};

static int list_tx(struct db_conn *c, void *cls)
{
	struct list_ctx *x = cls;
	json_array_clear(x->items);
	free(x->next);
	x->next = NULL;
	PGresult *res = NULL;
	int rc = dr_q_list_datasets(c, x->prefix, x->after, x->limit + 1, &res, &x->err);
	for (int i = 0; i < rc && i < x->limit; i++)
		json_array_append_new(x->items, dr_dataset_json(res, i));
	if (rc > x->limit)
		x->next = core_xstrdup(db_get_text(res, (int)x->limit - 1, 1));
	PQclear(res);
	return rc < 0 ? rc : 0;
}

void dr_h_dataset_list(struct http_request *req, void *app)
{
	struct list_ctx x = {.prefix = http_request_query(req, "name_prefix")};
	struct core_error err = {{0}};
	char after[DR_NAME_MAX * 4 + 1];
	const char *token = http_request_query(req, "page_token");
	if (dr_check_max_results(http_request_query(req, "max_results"), 100, 1000, &x.limit, &err) != CORE_OK ||
	    (token && *token && dr_token_to_name(token, after, sizeof after, &err) != CORE_OK)) {
		http_reply_invalid(req, &err);
		return;
	}
	if (x.prefix && !*x.prefix)
		x.prefix = NULL;
	x.after = token && *token ? after : NULL;
	x.items = json_array();
	if (svc_run_tx_or_reply(req, app, "dr_h_dataset_list", DB_READ_COMMITTED, list_tx, &x, &x.fail) >= 0) {
		json_t *body = json_pack("{s:O}", "datasets", x.items);
		if (x.next) {
			char *t = dr_token_from_name(x.next);
			json_object_set_new(body, "next_page_token", json_string(t));
			free(t);
		}
		http_reply_json(req, 200, body);
	}
	json_decref(x.items);
	free(x.next);
}

/* --- update ----------------------------------------------------------------------- */

struct update_ctx {
	const char *name, *description;
	char *tags; /* owned */
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int update_tx(struct db_conn *c, void *cls)
{
	struct update_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	int64_t id = 0;
	int rc = dr_q_lock_dataset(c, x->name, &id, &x->err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return dr_fail_no_dataset(&x->fail, x->name);
	if ((rc = dr_q_update_dataset(c, id, x->description, x->tags, core_now_ms(), &x->err)) < 0)
		return rc;
	PGresult *res = NULL;
	rc = dr_q_select_dataset(c, id, &res, &x->err);
	if (rc > 0)
		x->out = dr_dataset_json(res, 0);
	PQclear(res);
	return rc;
}

void dr_h_dataset_update(struct http_request *req, void *app)
{
	struct update_ctx x = {0};
	json_t *tags = NULL, *desc = NULL;
	struct core_error err = {{0}};
	const struct http_jspec spec[] = {HTTP_JS_OPT_ANY("description", &desc, NULL),
					  HTTP_JS_OPT_OBJECT("tags", &tags, NULL), HTTP_JS_END};
	if (!name_param_or_reply(req, &x.name) || http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (desc && !json_is_string(desc)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid value for parameter 'description': must be a string");
		return;
	}
	if (tags && dr_check_tags(tags, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	x.description = desc ? json_string_value(desc) : NULL;
	x.tags = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
	int rc = svc_run_tx_or_reply(req, app, "dr_h_dataset_update", DB_READ_COMMITTED, update_tx, &x, &x.fail);
	if (rc >= 0)
		dr_reply_entity(req, 200, "dataset", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
	free(x.tags);
}

/* --- delete ----------------------------------------------------------------------- */

struct delete_ctx {
	const char *name;
	bool force;
	struct svc_fail fail;
	struct core_error err;
};

static int delete_tx(struct db_conn *c, void *cls)
{
	struct delete_ctx *x = cls;
	int64_t id = 0, count = 0;
	int rc = dr_q_lock_dataset(c, x->name, &id, &x->err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return dr_fail_no_dataset(&x->fail, x->name);
	if ((rc = dr_q_version_count(c, id, &count, &x->err)) < 0)
		return rc;
	if (count > 0 && !x->force)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT,
				"Dataset '%s' has %lld versions: delete with force=true to remove them too", x->name,
				(long long)count);
	if ((rc = dr_q_delete_dataset(c, id, &x->err)) < 0)
		return rc;
	return dr_ev_write(c, "lathe.dataset.deleted", x->name,
			   json_pack("{s:s, s:I}", "name", x->name, "versions", (json_int_t)count), &x->err);
}

void dr_h_dataset_delete(struct http_request *req, void *app)
{
	struct delete_ctx x = {0};
	if (!name_param_or_reply(req, &x.name))
		return;
	const char *force = http_request_query(req, "force");
	if (force && strcmp(force, "true") != 0 && strcmp(force, "false") != 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid value '%.32s' for parameter 'force': true or false", force);
		return;
	}
	x.force = force && strcmp(force, "true") == 0;
	if (svc_run_tx_or_reply(req, app, "dr_h_dataset_delete", DB_READ_COMMITTED, delete_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}
