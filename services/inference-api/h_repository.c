/* Triton's model repository extension: GET or POST /v2/repository/index lists every
 * model the replica knows with its state (READY, LOADING, UNAVAILABLE) and why; POST
 * /v2/repository/models/{m}/load resolves and loads m now (a version refused before is
 * tried again), answering once it serves or saying why not; .../unload stops serving m
 * until an explicit load (events and resyncs leave it unloaded). Errors in the OIP shape
 * ({"error": ...}): 404 for a model the registry does not know, 400 for a refused
 * package or a model with nothing to serve, 503 when the registry or tracker did not
 * answer. */
#include <string.h>
#include "ia.h"

void ia_h_repo_index(struct http_request *req, void *app)
{
	size_t len = 0;
	const char *body = http_request_body(req, &len);
	bool ready_only = false;
	if (len) {
		json_t *doc = json_loadb(body, len, 0, NULL);
		json_t *ready = json_object_get(doc, "ready");
		if (!json_is_object(doc) || (ready && !json_is_boolean(ready))) {
			json_decref(doc);
			http_reply_error(req, HTTP_EC_BAD_REQUEST,
					 "the body must be a JSON object whose \"ready\" is a boolean");
			return;
		}
		ready_only = json_is_true(ready);
		json_decref(doc);
	}
	json_t *rows = ia_models_index(ia_app(app)->models);
	if (ready_only) {
		json_t *kept = json_array();
		size_t i;
		json_t *r;
		json_array_foreach(rows, i, r)
		{
			if (strcmp(json_string_value(json_object_get(r, "state")), "READY") == 0)
				json_array_append(kept, r);
		}
		json_decref(rows);
		rows = kept;
	}
	http_reply_json(req, 200, rows);
}

void ia_h_repo_load(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	const char *name = http_request_param(req, "model");
	struct core_error err = {{0}};
	bool gone = false;
	ia_models_set_unloaded(a->models, name, false);
	enum core_status rc = ia_loader_sync_model(a, name, true, http_request_id(req), &gone, &err);
	if (rc == CORE_OK && gone)
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "model '%s' not found", name);
	else if (rc == CORE_OK)
		http_reply_json(req, 200, json_object());
	else if (rc == CORE_EIO)
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "failed to load '%s': %s", name, err.message);
	else
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "failed to load '%s': %s", name, err.message);
}

void ia_h_repo_unload(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	const char *name = http_request_param(req, "model");
	if (!ia_models_known(a->models, name)) {
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "model '%s' not found", name);
		return;
	}
	ia_models_load_lock(a->models); /* not in the middle of a load of the same model */
	ia_models_set_unloaded(a->models, name, true);
	ia_models_load_unlock(a->models);
	http_reply_json(req, 200, json_object());
}
