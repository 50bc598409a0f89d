/* POST /v1/models/{model}/rollback (tr.h, tr-promotion): the champion goes back to the
 * version alias previous names, and previous to the champion rolled back, so a second
 * call undoes the first. 400 when the model has no previous (or no champion); 404 when
 * the registry does not know it; 503 when it does not answer. The registry's aliases
 * move first (blocking HTTP), then lathe.training.rollback is written through the
 * outbox; the answer names both versions. */
#include <stdio.h>
#include "tr.h"

struct rb_ctx {
	const char *model;
	const struct tr_aliases *al;
	struct svc_fail fail;
	struct core_error err;
};

static int event_tx(struct db_conn *c, void *cls)
{
	struct rb_ctx *x = cls;
	json_t *data = json_pack("{s:s, s:s, s:s}", "model", x->model, "champion_version", x->al->previous,
				 "previous_version", x->al->champion);
	return tr_ev_promotion(c, "lathe.training.rollback", x->model, data, &x->err);
}

void tr_h_rollback(struct http_request *req, void *app)
{
	const struct tr_settings *s = tr_app(app)->settings;
	const char *model = http_request_param(req, "model"), *rid = http_request_id(req);
	struct tr_aliases al;
	struct core_error err = {{0}};
	enum core_status rc = tr_peer_aliases(s, rid, model, &al, &err);
	if (rc == CORE_ENOENT) {
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Model '%s' not found", model);
		return;
	}
	if (rc == CORE_OK && (!al.previous[0] || !al.champion[0])) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Model '%s' has no %s version to roll back to",
				 model, al.previous[0] ? "champion" : "previous");
		return;
	}
	if (rc == CORE_OK)
		rc = tr_peer_set_alias(s, rid, model, "champion", al.previous, &err);
	if (rc == CORE_OK)
		rc = tr_peer_set_alias(s, rid, model, "previous", al.champion, &err);
	if (rc != CORE_OK) {
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s", err.message);
		return;
	}
	struct rb_ctx x = {.model = model, .al = &al};
	if (svc_run_tx_or_reply(req, app, "tr_h_rollback", DB_READ_COMMITTED, event_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200,
				json_pack("{s:s, s:s, s:s}", "model", model, "champion_version", al.previous,
					  "previous_version", al.champion));
}
