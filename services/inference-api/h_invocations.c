/* MLflow's scoring protocol (`mlflow models serve`, 2.12): POST /invocations (the model
 * DEFAULT_MODEL names, else the only one served, else 400 listing them), POST
 * /v2/models/{model}/invocations (a named model), GET /ping and /health (200 once every
 * model that should serve is loaded, else 404, as MLflow's answer when its model is not
 * loaded), GET /version (the MLflow version whose protocol this is, as the tracker's
 * /version). The body is parsed by mlflow_in.c, prepared by prep.c with the package's
 * own preprocessing, and run on the one inference path (infer.c).
 *
 * The answer is MLflow's {"predictions": [...]}, one entry per row: for a classifier
 * the predicted class name, as the pyfunc flavour of a scikit-learn classifier answers
 * (probabilities are what OIP's /infer and the image route give); for a regressor its
 * value (a number for one output, a list for several). The version that answered (a
 * canary's challenger, say) is in the X-Model-Version header, the model in
 * X-Model-Name. Errors are MLflow's {"error_code", "message"}. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/time.h"
#include "ia.h"
#include "mlflow_in.h"

#define MLFLOW_VERSION "2.12.2"
#define MAX_LISTED     32

/* The model a bare /invocations means: DEFAULT_MODEL, else the only one served. On
 * failure replies (and returns the status). *name malloc'd. */
static unsigned choose_model(struct ia_app *a, struct http_request *req, char **name)
{
	if (a->settings->default_model && *a->settings->default_model) {
		*name = core_xstrdup(a->settings->default_model);
		return 0;
	}
	char *names[MAX_LISTED];
	size_t all = ia_models_names(a->models, names, MAX_LISTED), n = all < MAX_LISTED ? all : MAX_LISTED;
	unsigned status = 0;
	if (all == 1) {
		*name = names[0];
		return 0;
	}
	if (all == 0) {
		const char *why = ia_models_not_ready(a->models);
		if (why) {
			http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "no model is loaded yet (%s)", why);
			status = 503;
		} else {
			http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "no model is being served");
			status = 404;
		}
		return status;
	}
	struct core_buf b;
	core_buf_init(&b, 4096);
	for (size_t i = 0; i < n; i++)
		core_buf_printf(&b, "%s'%s'", i ? ", " : "", names[i]);
	if (all > n)
		core_buf_printf(&b, " and %zu more", all - n);
	http_reply_error(req, HTTP_EC_BAD_REQUEST,
			 "%zu models are served: %s. Name one with POST /v2/models/{model}/invocations, or set "
			 "DEFAULT_MODEL for /invocations",
			 all, b.data ? b.data : "");
	core_buf_free(&b);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return 400;
}

static json_t *predictions(const struct ia_result *r)
{
	json_t *p = json_array();
	const struct ia_model *m = r->model;
	for (size_t i = 0; i < r->n; i++) {
		if (r->label && m->labels) {
			json_array_append_new(p, json_string(m->labels[r->label[i]]));
		} else if (r->k == 1) {
			json_array_append_new(p, json_real(r->out[i]));
		} else {
			json_t *row = json_array();
			for (size_t j = 0; j < r->k; j++)
				json_array_append_new(row, json_real(r->out[i * r->k + j]));
			json_array_append_new(p, row);
		}
	}
	return json_pack("{s:o}", "predictions", p);
}

static unsigned reply_error(struct http_request *req, enum http_error_code code, const char *msg)
{
	http_reply_error(req, code, "%s", msg);
	return http_error_statuses[code];
}

void ia_h_invocations(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	uint64_t t0 = core_monotonic_ns();
	const char *param = http_request_param(req, "model");
	char *name = param ? core_xstrdup(param) : NULL, why[512];
	struct ia_pick pick = {0};
	struct ia_mlflow_input in = {0};
	struct ia_mlflow_error e;
	struct ia_result res = {0};
	struct core_error err = {{0}};
	float *x = NULL;
	unsigned status = 0;
	if (!name && (status = choose_model(a, req, &name)) != 0)
		goto out;
	enum ia_find f = ia_models_pick(a->models, name, NULL, &pick, why, sizeof why);
	if (f != IA_FOUND) {
		status = reply_error(
			req, f == IA_NOT_READY ? HTTP_EC_TEMPORARILY_UNAVAILABLE : HTTP_EC_RESOURCE_DOES_NOT_EXIST,
			why);
		goto out;
	}
	const struct ia_model *m = pick.serve;
	size_t len = 0;
	const char *body = http_request_body(req, &len);
	if (ia_mlflow_parse(m, http_request_header(req, "Content-Type"), body, len, &in, &e) != CORE_OK) {
		status = reply_error(req, e.code, e.message);
		goto out;
	}
	if (!in.n) {
		http_reply_json(req, 200, json_pack("{s:[]}", "predictions"));
		status = 200;
		goto out;
	}
	x = core_xmalloc(in.n * m->n_in * sizeof *x);
	enum core_status rc = m->kind == IA_INPUT_TABULAR ? ia_prep_rows(m, in.cells, in.n, x, &err)
							  : ia_prep_pixels(m, in.raw, in.n, x, &err);
	if (rc != CORE_OK) {
		status = reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, err.message);
		goto out;
	}
	struct ia_rows rows = {.n = in.n, .x = x, .cells = in.cells, .raw = in.raw};
	if ((rc = ia_infer(a, &pick, "mlflow", http_request_id(req), &rows, &res, &err)) != CORE_OK) {
		if (rc == CORE_EINVAL) {
			status = reply_error(req, HTTP_EC_BAD_REQUEST, err.message);
		} else {
			http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message,
						"Encountered an unexpected error while evaluating the model");
			status = 500;
		}
		goto out;
	}
	http_reply_header(req, "X-Model-Name", res.model->name);
	http_reply_header(req, "X-Model-Version", res.model->version);
	http_reply_json(req, 200, predictions(&res));
	status = 200;
out:
	const struct ia_model *who = res.model ? res.model : pick.serve;
	ia_count_request(a, who ? who->name : NULL, who ? who->version : NULL, "mlflow", status,
			 (double)(core_monotonic_ns() - t0) / 1e9);
	ia_result_free(&res);
	ia_pick_release(&pick);
	ia_mlflow_input_free(&in);
	free(x);
	free(name);
}

/* MLflow answers "\n" on its probes, 404 while its model is not loaded. */
static void probe(struct http_request *req, void *app)
{
	const char *why = ia_models_not_ready(ia_app(app)->models);
	http_reply_raw(req, why ? 404 : 200, "text/plain; charset=utf-8", "\n", 1);
}

void ia_h_ping(struct http_request *req, void *app)
{
	probe(req, app);
}

void ia_h_health(struct http_request *req, void *app)
{
	probe(req, app);
}

void ia_h_version(struct http_request *req, void *app)
{
	(void)app;
	http_reply_raw(req, 200, "text/plain; charset=utf-8", MLFLOW_VERSION, strlen(MLFLOW_VERSION));
}
