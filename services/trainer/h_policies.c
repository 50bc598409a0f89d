/* The policies resource (tr.h, tr-promotion): GET /v1/policies/{model} answers the
 * stored policy or the default one (stored: false), PUT creates or replaces it (every
 * field checked by policy.c; a 400 names the field), DELETE removes it (the default
 * applies again; 404 when none was stored). */
#include <stdio.h>
#include <string.h>
#include "tr.h"

struct policy_ctx {
	const char *model;
	const struct tr_policy *put; /* PUT: the new policy */
	bool del;
	struct tr_policy p;
	bool stored;
	struct svc_fail fail;
	struct core_error err;
};

static int policy_tx(struct db_conn *c, void *cls)
{
	struct policy_ctx *x = cls;
	int rc;
	if (x->put) {
		rc = tr_q_policy_put(c, x->model, x->put, core_now_ms(), &x->err);
		x->p = *x->put;
		x->stored = true;
		return rc;
	}
	if (x->del) {
		rc = tr_q_policy_delete(c, x->model, &x->err);
		if (rc == 0)
			return svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Model '%s' has no stored policy",
					x->model);
		tr_policy_default(&x->p);
		return rc;
	}
	PGresult *res = NULL;
	rc = tr_q_policy_get(c, x->model, &res, &x->err);
	x->stored = rc > 0;
	tr_policy_from_row(rc > 0 ? res : NULL, &x->p);
	PQclear(res);
	return rc < 0 ? rc : 1;
}

static void run(struct http_request *req, void *app, struct policy_ctx *x)
{
	if (svc_run_tx_or_reply(req, app, "tr_h_policy", DB_READ_COMMITTED, policy_tx, x, &x->fail) >= 0)
		http_reply_json(req, 200, json_pack("{s:o}", "policy", tr_policy_json(x->model, &x->p, x->stored)));
}

void tr_h_policy_get(struct http_request *req, void *app)
{
	struct policy_ctx x = {.model = http_request_param(req, "model")};
	run(req, app, &x);
}

void tr_h_policy_delete(struct http_request *req, void *app)
{
	struct policy_ctx x = {.model = http_request_param(req, "model"), .del = true};
	run(req, app, &x);
}

void tr_h_policy_put(struct http_request *req, void *app)
{
	struct policy_ctx x = {.model = http_request_param(req, "model")};
	struct tr_policy p;
	struct core_error err = {{0}};
	json_error_t jerr;
	size_t len = 0;
	const char *body = http_request_body(req, &len);
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "the policy is not JSON: %s", jerr.text);
		return;
	}
	if (tr_policy_parse(doc, &p, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
	} else {
		x.put = &p;
		run(req, app, &x);
	}
	json_decref(doc);
}
