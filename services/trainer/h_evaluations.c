/* The evaluations resource (tr.h, tr-promotion): POST /v1/evaluations {"model",
 * "version"} queues an evaluation of that version against the champion of now
 * (models_in.c's tr_promo_queue, the consumer's own path: 201 with the new one, 200
 * with the one already queued for the same pair), GET /v1/evaluations?model= lists
 * them newest first in keyset pages, GET /v1/evaluations/{id} reads one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

struct eval_ctx {
	const char *id, *model;
	struct svc_page page;
	json_t *out;
	char *next;
	struct svc_fail fail;
	struct core_error err;
};

static int get_tx(struct db_conn *c, void *cls)
{
	struct eval_ctx *x = cls;
	PGresult *res = NULL;
	json_decref(x->out);
	x->out = NULL;
	int rc = tr_q_eval_get(c, x->id, &res, &x->err);
	if (rc == 0)
		rc = svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Evaluation '%s' not found", x->id);
	if (rc > 0 && !(x->out = tr_eval_json(res, 0)))
		rc = DB_HARD_ERROR;
	PQclear(res);
	return rc;
}

static void reply_one(struct http_request *req, void *app, const char *id, unsigned status)
{
	struct eval_ctx x = {.id = id};
	if (svc_run_tx_or_reply(req, app, "tr_h_eval_get", DB_READ_COMMITTED, get_tx, &x, &x.fail) >= 0)
		http_reply_json(req, status, json_pack("{s:o}", "evaluation", x.out));
	else
		json_decref(x.out);
}

void tr_h_eval_get(struct http_request *req, void *app)
{
	reply_one(req, app, http_request_param(req, "id"), 200);
}

void tr_h_eval_create(struct http_request *req, void *app)
{
	const char *model = NULL, *version = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("model", &model), HTTP_JS_REQ_STRING("version", &version),
					  HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (!*model || !*version || strlen(version) > 20 || strspn(version, "0123456789") != strlen(version)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 *model ? "version: must be a version number" : "model: must not be empty");
		return;
	}
	struct core_error err = {{0}};
	bool created = false;
	char id[TR_JOB_ID_LEN + 1];
	enum core_status rc = tr_promo_queue(app, http_request_id(req), model, version, &created, id, &err);
	if (rc == CORE_ENOENT)
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Model '%s' has no version %s", model, version);
	else if (rc == CORE_EINVAL)
		http_reply_invalid(req, &err);
	else if (rc != CORE_OK)
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s", err.message);
	else
		reply_one(req, app, id, created ? 201 : 200);
}

static int list_tx(struct db_conn *c, void *cls)
{
	struct eval_ctx *x = cls;
	json_array_clear(x->out);
	free(x->next);
	x->next = NULL;
	PGresult *res = NULL;
	int rc = tr_q_eval_list(c, x->model, x->page.after_created, x->page.after_id, x->page.limit + 1, &res, &x->err);
	for (int i = 0; rc > 0 && i < rc && i < x->page.limit; i++) {
		json_t *j = tr_eval_json(res, i);
		if (!j) {
			rc = DB_HARD_ERROR;
			break;
		}
		json_array_append_new(x->out, j);
	}
	if (rc > x->page.limit)
		x->next = svc_page_token(db_get_text(res, (int)x->page.limit - 1, 9),
					 db_get_text(res, (int)x->page.limit - 1, 0));
	PQclear(res);
	return rc;
}

void tr_h_eval_list(struct http_request *req, void *app)
{
	struct eval_ctx x = {.model = http_request_query(req, "model")};
	struct core_error err = {{0}};
	if (x.model && !*x.model)
		x.model = NULL;
	if (svc_page_parse(http_request_query(req, "max_results"), http_request_query(req, "page_token"), &x.page,
			   &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	x.out = json_array();
	if (svc_run_tx_or_reply(req, app, "tr_h_eval_list", DB_READ_COMMITTED, list_tx, &x, &x.fail) >= 0) {
		json_t *body = json_pack("{s:O}", "evaluations", x.out);
		if (x.next)
			json_object_set_new(body, "next_page_token", json_string(x.next));
		http_reply_json(req, 200, body);
	}
	json_decref(x.out);
	free(x.next);
}
