/* TEMPORARY (ia-core): weak stand-ins for what the other parts of issue 11 build in
 * parallel and this branch has not merged yet (ev_predictions.c, h_oip.c), so it links, runs end to
 * end and its lifecycle test can send requests. The lead deletes this file when merging those parts (a weak definition
 * in an archive member may still be the one linked, so it must go). The stand-ins are the simplest correct thing: no
 * prediction events, a minimal OIP infer (FP32 JSON, flat data) and readiness; everything else answers 501. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ia.h"

#define WEAK __attribute__((weak))

struct ia_events {
	int unused;
};

WEAK enum core_status ia_events_new(struct ia_app *a, struct ia_events **out, struct core_error *err)
{
	(void)a, (void)err;
	*out = core_xcalloc(1, sizeof **out);
	return CORE_OK;
}

WEAK void ia_events_free(struct ia_events *e)
{
	free(e);
}

WEAK void ia_events_emit(struct ia_events *e, const char *request_id, const struct ia_rows *rows,
			 const struct ia_result *res)
{
	(void)e, (void)request_id, (void)rows, (void)res;
}

/* --- handlers ----------------------------------------------------------------------- */

WEAK void ia_h_live(struct http_request *req, void *app)
{
	(void)app;
	http_reply_json(req, 200, json_pack("{s:b}", "live", 1));
}

WEAK void ia_h_ready(struct http_request *req, void *app)
{
	const char *why = ia_models_not_ready(ia_app(app)->models);
	if (why)
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s", why);
	else
		http_reply_json(req, 200, json_pack("{s:b}", "ready", 1));
}

/* POST /v2/models/{m}[/versions/{v}]/infer: one FP32 input, flat data of n x n_raw values. */
WEAK void ia_h_infer(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	const char *name = http_request_param(req, "model"), *version = http_request_param(req, "version");
	struct ia_pick pick = {0};
	struct ia_result res = {0};
	struct core_error err = {{0}};
	char why[300];
	size_t len = 0;
	const char *body = http_request_body(req, &len);
	json_t *doc = json_loadb(body, len, 0, NULL), *data = NULL;
	float *raw = NULL, *x = NULL;
	enum ia_find f = ia_models_pick(a->models, name, version, &pick, why, sizeof why);
	if (f != IA_FOUND) {
		http_reply_error(req,
				 f == IA_NOT_READY ? HTTP_EC_TEMPORARILY_UNAVAILABLE : HTTP_EC_RESOURCE_DOES_NOT_EXIST,
				 "%s", why);
		goto out;
	}
	const struct ia_model *m = pick.serve;
	data = json_object_get(json_array_get(json_object_get(doc, "inputs"), 0), "data");
	size_t total = json_array_size(data), n = m->n_raw ? total / m->n_raw : 0;
	if (!n || n * m->n_raw != total) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "inputs[0].data must hold rows of %zu values", m->n_raw);
		goto out;
	}
	raw = core_xcalloc(total, sizeof *raw);
	x = core_xcalloc(n * m->n_in, sizeof *x);
	for (size_t i = 0; i < total; i++)
		raw[i] = (float)json_number_value(json_array_get(data, i));
	struct ia_rows rows = {.n = n, .x = x, .raw = raw};
	if (ia_prep_pixels(m, raw, n, x, &err) != CORE_OK ||
	    ia_infer(a, &pick, "oip", http_request_id(req), &rows, &res, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "%s", err.message);
		goto out;
	}
	json_t *vals = json_array();
	for (size_t i = 0; i < res.n * res.k; i++)
		json_array_append_new(vals, json_real(res.out[i]));
	json_t *reply = json_pack("{s:s, s:s, s:[{s:s, s:s, s:[I,I], s:o}]}", "model_name", m->name, "model_version",
				  m->version, "outputs", "name", "probabilities", "datatype", "FP32", "shape",
				  (json_int_t)res.n, (json_int_t)res.k, "data", vals);
	http_reply_json(req, 200, reply);
out:
	ia_result_free(&res);
	ia_pick_release(&pick);
	json_decref(doc);
	free(raw);
	free(x);
}

WEAK void ia_h_server_meta(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}

WEAK void ia_h_model_meta(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}

WEAK void ia_h_model_ready(struct http_request *req, void *app)
{
	svc_h_not_implemented(req, app);
}
