/* The monitors resource. What its operations promise:
 * - create checks the whole spec (spec.c) before anything is written, then writes the
 *   monitor with one INSERT: a model that already has a monitor is a 409 naming it,
 *   and a refused request leaves no row behind;
 * - patch checks the patch as a create would, then sets exactly the members given in
 *   one UPDATE (window and features whole, alert member by member); updated_at moves;
 * - delete removes the monitor and its reports in one statement (the reports' foreign
 *   key cascades);
 * - list is newest first in keyset pages (svc_page_parse), optionally of one model; get, patch
 *   and delete of an unknown id are 404. */
#include <stdlib.h>
#include "core/id.h"
#include "core/time.h"
#include "dm.h"

/* The monitor a query (rc, res) read, into *out; 0 rows: a 404 for id. An unreadable
 * row rolls the transaction back, so a create never commits what it cannot answer. */
static int one_monitor(int rc, PGresult *res, const char *id, json_t **out, struct svc_fail *f, struct core_error *err)
{
	if (rc > 0)
		*out = dm_monitor_json(res, 0);
	if (rc > 0 && !*out) {
		core_fail(err, CORE_EINVAL, "monitor %s: unreadable row", id);
		rc = DB_HARD_ERROR;
	}
	PQclear(res);
	if (rc == 0)
		return dm_fail_no_monitor(f, id);
	return rc;
}

/* --- create ----------------------------------------------------------------------- */

struct create_ctx {
	char id[DM_ID_LEN + 1];
	const struct dm_spec *spec;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int create_tx(struct db_conn *c, void *cls)
{
	struct create_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	PGresult *res = NULL;
	int rc = dm_q_monitor_insert(c, x->id, x->spec, core_now_ms(), &x->err);
	if (rc == 0) {
		struct svc_page first = {.limit = 1};
		rc = dm_q_monitor_list(c, x->spec->model, &first, 1, &res, &x->err);
		const char *other = rc > 0 ? db_get_text(res, 0, 0) : NULL;
		if (rc >= 0)
			rc = svc_fail(&x->fail, HTTP_EC_RESOURCE_CONFLICT, "Model '%.200s' already has a monitor%s%s%s",
				      x->spec->model, other ? " ('" : "", other ? other : "", other ? "')" : "");
		PQclear(res);
		return rc;
	}
	if (rc > 0)
		rc = dm_q_monitor_get(c, x->id, &res, &x->err);
	return rc < 0 ? rc : one_monitor(rc, res, x->id, &x->out, &x->fail, &x->err);
}

void dm_h_monitor_create(struct http_request *req, void *app)
{
	struct create_ctx x = {0};
	struct core_error err = {{0}};
	struct dm_spec spec;
	json_t *body = NULL;
	const struct http_jspec none[] = {HTTP_JS_END};
	if (http_parse_args_or_reply(req, none, &body) != HTTP_PARSE_OK)
		return;
	if (dm_spec_parse(body, &spec, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	core_id_uuid_hex(x.id);
	x.spec = &spec;
	int rc = svc_run_tx_or_reply(req, app, "dm_h_monitor_create", DB_READ_COMMITTED, create_tx, &x, &x.fail);
	if (rc >= 0)
		dm_reply_entity(req, 201, "monitor", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
	dm_spec_clear(&spec);
}

/* --- get -------------------------------------------------------------------------- */

struct get_ctx {
	const char *id;
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
	int rc = dm_q_monitor_get(c, x->id, &res, &x->err);
	return rc < 0 ? rc : one_monitor(rc, res, x->id, &x->out, &x->fail, &x->err);
}

void dm_h_monitor_get(struct http_request *req, void *app)
{
	struct get_ctx x = {.id = http_request_param(req, "id")};
	int rc = svc_run_tx_or_reply(req, app, "dm_h_monitor_get", DB_READ_COMMITTED, get_tx, &x, &x.fail);
	if (rc >= 0)
		dm_reply_entity(req, 200, "monitor", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
}

/* --- list ------------------------------------------------------------------------- */

struct list_ctx {
	const char *model;
	struct svc_page page;
	json_t *items;
	char *next; /* the token after this page when more remain, owned */
	struct core_error err;
};

static int list_tx(struct db_conn *c, void *cls)
{
	struct list_ctx *x = cls;
	json_array_clear(x->items);
	free(x->next);
	x->next = NULL;
	PGresult *res = NULL;
	int rc = dm_q_monitor_list(c, x->model, &x->page, x->page.limit + 1, &res, &x->err);
	rc = dm_page_collect(rc, res, &x->page, dm_monitor_json, 8, x->items, &x->next, &x->err);
	PQclear(res);
	return rc < 0 ? rc : 0;
}

void dm_h_monitor_list(struct http_request *req, void *app)
{
	struct list_ctx x = {.model = http_request_query(req, "model")};
	struct svc_fail fail;
	struct core_error err = {{0}};
	if (svc_page_parse(http_request_query(req, "max_results"), http_request_query(req, "page_token"), &x.page,
			   &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	if (x.model && !*x.model)
		x.model = NULL;
	x.items = json_array();
	if (svc_run_tx_or_reply(req, app, "dm_h_monitor_list", DB_READ_COMMITTED, list_tx, &x, &fail) >= 0)
		dm_reply_page(req, "monitors", x.items, x.next);
	json_decref(x.items);
	free(x.next);
}

/* --- patch ------------------------------------------------------------------------ */

struct patch_ctx {
	const char *id;
	const struct dm_spec *patch;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int patch_tx(struct db_conn *c, void *cls)
{
	struct patch_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	PGresult *res = NULL;
	int rc = dm_q_monitor_update(c, x->id, x->patch, core_now_ms(), &res, &x->err);
	return rc < 0 ? rc : one_monitor(rc, res, x->id, &x->out, &x->fail, &x->err);
}

void dm_h_monitor_patch(struct http_request *req, void *app)
{
	struct patch_ctx x = {.id = http_request_param(req, "id")};
	struct core_error err = {{0}};
	struct dm_spec patch;
	json_t *body = NULL;
	const struct http_jspec none[] = {HTTP_JS_END};
	if (http_parse_args_or_reply(req, none, &body) != HTTP_PARSE_OK)
		return;
	if (dm_spec_parse_patch(body, &patch, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	x.patch = &patch;
	int rc = svc_run_tx_or_reply(req, app, "dm_h_monitor_patch", DB_READ_COMMITTED, patch_tx, &x, &x.fail);
	if (rc >= 0)
		dm_reply_entity(req, 200, "monitor", rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
	dm_spec_clear(&patch);
}

/* --- delete ----------------------------------------------------------------------- */

struct delete_ctx {
	const char *id;
	struct svc_fail fail;
	struct core_error err;
};

static int delete_tx(struct db_conn *c, void *cls)
{
	struct delete_ctx *x = cls;
	int rc = dm_q_monitor_delete(c, x->id, &x->err);
	if (rc == 0)
		return dm_fail_no_monitor(&x->fail, x->id);
	return rc;
}

void dm_h_monitor_delete(struct http_request *req, void *app)
{
	struct delete_ctx x = {.id = http_request_param(req, "id")};
	if (svc_run_tx_or_reply(req, app, "dm_h_monitor_delete", DB_READ_COMMITTED, delete_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}
