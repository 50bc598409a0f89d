/* The Open Inference Protocol v2 routes (KServe's required_api.md, Triton's binary
 * tensor data extension): health, server and model metadata, model readiness, infer.
 * An infer request goes: pick the version (models.c: canary, shadow) -> parse the
 * tensors (oip.c, pure) -> raw values into the net's rows with the package's own
 * preprocessing (prep.c) -> ia_infer (infer.c: batcher, metrics, events) -> outputs
 * rendered as JSON or binary (oip.c) -> counted (ia_count_request). Inputs are raw:
 * image models take one tensor of pixel values 0..255, [N, C, H, W], [N, H, W] (one
 * channel) or [N, C*H*W], as UINT8 or any numeric datatype holding the same values;
 * tabular models take one numeric tensor [N, columns] or one tensor per column named
 * as the column ([N] or [N, 1]; BYTES for categorical values). Outputs: "probabilities"
 * FP32 [N, K] and "label" BYTES [N] for classifiers, "predictions" FP32 [N, K] for
 * regressors. Errors are {"error": "..."} (main.c's error prefix for /v2/): 400 for a
 * bad request, 404 for an unknown model or version, 503 while a model loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/time.h"
#include "core/version.h"
#include "ia.h"
#include "oip.h"

/* Bytes an infer response may take (a 10,000-image batch of 10 classes is ~2 MB). */
#define IA_OIP_REPLY_MAX ((size_t)256 << 20)

void ia_h_server_meta(struct http_request *req, void *app)
{
	(void)app;
	http_reply_json(req, 200,
			json_pack("{s:s, s:s, s:[s, s]}", "name", "lathe-inference-api", "version", core_version,
				  "extensions", "binary_tensor_data", "model_repository"));
}

void ia_h_live(struct http_request *req, void *app)
{
	(void)app;
	http_reply_json(req, 200, json_pack("{s:b}", "live", 1));
}

/* 200 once every model that should serve is loaded; 503 (not ready) before. */
void ia_h_ready(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	const char *why = ia_models_not_ready(a->models);
	if (why) {
		http_reply_json(req, 503, json_pack("{s:b, s:s}", "ready", 0, "error", why));
		return;
	}
	http_reply_json(req, 200, json_pack("{s:b}", "ready", 1));
}

/* Picks the version a request names. Returns 0, or the status it replied with itself
 * when there is none (404 unknown model or version, 503 still loading). */
static unsigned pick_or_reply(struct http_request *req, struct ia_app *a, struct ia_pick *pick)
{
	const char *model = http_request_param(req, "model"), *version = http_request_param(req, "version");
	char why[256] = "";
	enum ia_find f = ia_models_pick(a->models, model, version, pick, why, sizeof why);
	if (f == IA_FOUND)
		return 0;
	if (f == IA_NOT_READY) {
		http_reply_header(req, "Retry-After", "1");
		http_reply_json(req, 503, json_pack("{s:s}", "error", why[0] ? why : "the model is loading"));
		return 503;
	}
	if (!why[0])
		snprintf(why, sizeof why,
			 f == IA_NO_VERSION ? "model '%s' version '%s' is not loaded" : "model '%s' not found", model,
			 version ? version : "");
	http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "%s", why);
	return 404;
}

static json_t *tensor_meta(const char *name, const char *dtype, size_t ndim, const int64_t *shape)
{
	json_t *s = json_array();
	for (size_t i = 0; i < ndim; i++)
		json_array_append_new(s, json_integer(shape[i]));
	return json_pack("{s:s, s:s, s:o}", "name", name, "datatype", dtype, "shape", s);
}

/* The model's inputs as its metadata declares them (-1: any batch size). */
static json_t *inputs_meta(const struct ia_model *m)
{
	json_t *in = json_array();
	if (m->kind == IA_INPUT_IMAGE) {
		int64_t shape[] = {-1, m->c, m->h, m->w};
		json_array_append_new(in, tensor_meta("image", "FP32", 4, shape));
		return in;
	}
	for (size_t i = 0; i < m->n_columns; i++) {
		int64_t shape[] = {-1};
		json_array_append_new(
			in, tensor_meta(m->columns[i].name, m->columns[i].numeric ? "FP64" : "BYTES", 1, shape));
	}
	return in;
}

static json_t *outputs_meta(const struct ia_model *m)
{
	json_t *out = json_array();
	int64_t shape[] = {-1, (int64_t)m->n_out};
	if (m->labels) {
		json_array_append_new(out, tensor_meta("probabilities", "FP32", 2, shape));
		json_array_append_new(out, tensor_meta("label", "BYTES", 1, shape));
	} else {
		json_array_append_new(out, tensor_meta("predictions", "FP32", 2, shape));
	}
	return out;
}

void ia_h_model_meta(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	struct ia_pick pick;
	if (pick_or_reply(req, a, &pick))
		return;
	const struct ia_model *m = pick.serve;
	json_t *params = json_pack("{s:s}", "task", m->pkg.task);
	if (m->labels)
		json_object_set(params, "class_names", m->pkg.class_names);
	if (m->alias)
		json_object_set_new(params, "alias", json_string(m->alias));
	json_object_set_new(params, "input_kind", json_string(m->kind == IA_INPUT_IMAGE ? "image" : "tabular"));
	http_reply_json(req, 200,
			json_pack("{s:s, s:[s], s:s, s:o, s:o, s:o}", "name", m->name, "versions", m->version,
				  "platform", "lathe", "inputs", inputs_meta(m), "outputs", outputs_meta(m),
				  "parameters", params));
	ia_pick_release(&pick);
}

void ia_h_model_ready(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	struct ia_pick pick;
	if (pick_or_reply(req, a, &pick))
		return;
	http_reply_json(
		req, 200,
		json_pack("{s:s, s:s, s:b}", "name", pick.serve->name, "version", pick.serve->version, "ready", 1));
	ia_pick_release(&pick);
}

/* --- infer ------------------------------------------------------------------------ */

/* What one infer request owns, freed in one place. */
struct infer_job {
	struct ia_oip_request r;
	float *raw;            /* images: [n, n_raw] pixel values */
	float *x;              /* [n, n_in] the net's rows */
	struct ia_cell *cells; /* tabular: [n, n_columns] */
	struct ia_img_stats *imgs;
	const char **label_names; /* [n] */
};

static void infer_job_free(struct infer_job *j)
{
	ia_oip_request_free(&j->r);
	free(j->raw);
	free(j->x);
	free(j->cells);
	free(j->imgs);
	free(j->label_names);
}

static bool pixel_dtype(enum ia_oip_dtype t)
{
	return t != IA_OIP_BOOL && t != IA_OIP_BYTES;
}

/* An image model's one input -> raw pixels [n, c*h*w] (CHW). */
static enum core_status image_rows(const struct ia_model *m, struct infer_job *j, size_t *n, struct core_error *err)
{
	if (j->r.n_inputs != 1)
		return core_fail(err, CORE_EINVAL, "model '%s' takes one input (images), the request has %zu", m->name,
				 j->r.n_inputs);
	const struct ia_oip_input *in = &j->r.inputs[0];
	if (!pixel_dtype(in->dtype))
		return core_fail(err, CORE_EINVAL, "input '%s': datatype %s; images are pixel values (UINT8 or FP32)",
				 in->name, ia_oip_dtype_name(in->dtype));
	const int64_t C = m->c, H = m->h, W = m->w;
	bool ok = (in->ndim == 4 && in->shape[1] == C && in->shape[2] == H && in->shape[3] == W) ||
		  (in->ndim == 3 && C == 1 && in->shape[1] == H && in->shape[2] == W) ||
		  (in->ndim == 2 && in->shape[1] == C * H * W);
	if (!ok)
		return core_fail(err, CORE_EINVAL,
				 "input '%s': shape must be [N, %lld, %lld, %lld]%s or [N, %lld] for model '%s'",
				 in->name, (long long)C, (long long)H, (long long)W, C == 1 ? ", [N, H, W]" : "",
				 (long long)(C * H * W), m->name);
	if (in->shape[0] < 1)
		return core_fail(err, CORE_EINVAL, "input '%s': no images (batch size 0)", in->name);
	*n = (size_t)in->shape[0];
	j->raw = malloc(in->count * sizeof *j->raw);
	if (!j->raw)
		return core_fail(err, CORE_ENOMEM, "no memory for %zu pixel values", in->count);
	for (size_t i = 0; i < in->count; i++) {
		double v = in->num[i];
		if (!(v >= 0 && v <= 255))
			return core_fail(
				err, CORE_EINVAL,
				"input '%s': element %zu is %g; pixel values are 0..255 (the server normalises)",
				in->name, i, v);
		j->raw[i] = (float)v;
	}
	return CORE_OK;
}

static void cell_from(const struct ia_oip_input *in, size_t i, struct ia_cell *c)
{
	if (in->dtype == IA_OIP_BYTES) {
		c->is_str = true;
		c->str = in->str[i];
	} else {
		c->num = in->num[i];
	}
}

/* A tabular model's inputs -> cells [n, n_columns]: one per column, or one [N, cols]. */
static enum core_status tabular_rows(const struct ia_model *m, struct infer_job *j, size_t *n, struct core_error *err)
{
	size_t cols = m->n_columns;
	bool by_column = j->r.n_inputs == cols;
	for (size_t i = 0; by_column && i < cols; i++)
		by_column = ia_oip_input_find(&j->r, m->columns[i].name) != NULL;
	if (by_column) {
		int64_t rows = -1;
		for (size_t i = 0; i < cols; i++) {
			const struct ia_oip_input *in = ia_oip_input_find(&j->r, m->columns[i].name);
			if (!(in->ndim == 1 || (in->ndim == 2 && in->shape[1] == 1)))
				return core_fail(err, CORE_EINVAL, "input '%s': shape must be [N] or [N, 1]", in->name);
			if (rows >= 0 && in->shape[0] != rows)
				return core_fail(err, CORE_EINVAL, "input '%s' has %lld rows, another input %lld",
						 in->name, (long long)in->shape[0], (long long)rows);
			rows = in->shape[0];
		}
		if (rows < 1)
			return core_fail(err, CORE_EINVAL, "no rows (batch size 0)");
		*n = (size_t)rows;
		j->cells = calloc(*n * cols, sizeof *j->cells);
		if (!j->cells)
			return core_fail(err, CORE_ENOMEM, "no memory for %zu rows", *n);
		for (size_t c = 0; c < cols; c++) {
			const struct ia_oip_input *in = ia_oip_input_find(&j->r, m->columns[c].name);
			for (size_t r = 0; r < *n; r++)
				cell_from(in, r, &j->cells[r * cols + c]);
		}
		return CORE_OK;
	}
	const struct ia_oip_input *in = &j->r.inputs[0];
	if (j->r.n_inputs != 1 || in->ndim != 2 || in->shape[1] != (int64_t)cols) {
		char first[128] = "";
		if (cols)
			snprintf(first, sizeof first, " (e.g. '%s')", m->columns[0].name);
		return core_fail(err, CORE_EINVAL,
				 "model '%s' takes one input of shape [N, %zu] or one input per column named as the "
				 "column%s, shape [N]",
				 m->name, cols, first);
	}
	if (in->shape[0] < 1)
		return core_fail(err, CORE_EINVAL, "input '%s': no rows (batch size 0)", in->name);
	*n = (size_t)in->shape[0];
	j->cells = calloc(in->count, sizeof *j->cells);
	if (!j->cells)
		return core_fail(err, CORE_ENOMEM, "no memory for %zu rows", *n);
	for (size_t i = 0; i < in->count; i++)
		cell_from(in, i, &j->cells[i]);
	return CORE_OK;
}

/* Parses, prepares and runs the request; replies itself. Returns the HTTP status. */
static unsigned infer(struct http_request *req, struct ia_app *a, const struct ia_pick *pick, struct infer_job *j,
		      const char **version)
{
	struct core_error err = {""};
	const struct ia_model *m = pick->serve;
	size_t len, n = 0;
	const char *body = http_request_body(req, &len);
	enum core_status rc =
		ia_oip_parse(body, len, http_request_header(req, "Inference-Header-Content-Length"), &j->r, &err);
	if (rc == CORE_OK)
		rc = m->kind == IA_INPUT_IMAGE ? image_rows(m, j, &n, &err) : tabular_rows(m, j, &n, &err);
	if (rc == CORE_OK && m->kind == IA_INPUT_IMAGE) {
		/* the pixels are in j->raw now: their doubles (twice the floats' size) need
		 * not be held while the net's input is made (a 10,000-image batch: 63 MB) */
		free(j->r.inputs[0].num);
		j->r.inputs[0].num = NULL;
	}
	if (rc == CORE_OK && n > SIZE_MAX / sizeof(float) / (m->n_in ? m->n_in : 1))
		rc = core_fail(&err, CORE_EINVAL, "%zu rows are too many", n);
	if (rc == CORE_OK && !(j->x = malloc(n * m->n_in * sizeof *j->x)))
		rc = core_fail(&err, CORE_ENOMEM, "no memory for %zu rows", n);
	if (rc == CORE_OK)
		rc = m->kind == IA_INPUT_IMAGE ? ia_prep_pixels(m, j->raw, n, j->x, &err)
					       : ia_prep_rows(m, j->cells, n, j->x, &err);
	/* which outputs, before the forward pass: a bad name is the client's */
	const char *const cls_names[] = {"probabilities", "label"}, *const reg_names[] = {"predictions"};
	const char *const *names = m->labels ? cls_names : reg_names;
	size_t n_names = m->labels ? 2 : 1, order[2], count = 0;
	bool binary[2];
	if (rc == CORE_OK)
		rc = ia_oip_pick_outputs(&j->r, names, n_names, order, binary, &count, &err);
	if (rc != CORE_OK) {
		if (rc == CORE_EINVAL) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
			return 400;
		}
		http_reply_error(req, rc == CORE_ENOMEM ? HTTP_EC_REQUEST_TOO_LARGE : HTTP_EC_INTERNAL_ERROR, "%s",
				 err.message);
		return rc == CORE_ENOMEM ? 413 : 500;
	}
	struct ia_rows rows = {.n = n,
			       .x = j->x,
			       .cells = m->kind == IA_INPUT_IMAGE ? NULL : j->cells,
			       .raw = m->kind == IA_INPUT_IMAGE ? j->raw : NULL};
	struct ia_result res;
	rc = ia_infer(a, pick, "oip", j->r.id ? j->r.id : http_request_id(req), &rows, &res, &err);
	if (rc != CORE_OK) {
		http_reply_error(req, rc == CORE_EINVAL ? HTTP_EC_INVALID_PARAMETER_VALUE : HTTP_EC_INTERNAL_ERROR,
				 "%s", err.message);
		return rc == CORE_EINVAL ? 400 : 500;
	}
	*version = res.model->version;
	struct ia_oip_output outs[2];
	for (size_t i = 0; i < count; i++) {
		size_t o = order[i];
		outs[i] = (struct ia_oip_output){.name = names[o], .binary = binary[o]};
		if (m->labels && o == 1) {
			j->label_names = malloc(res.n * sizeof *j->label_names);
			if (!j->label_names) {
				ia_result_free(&res);
				http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "no memory for the labels");
				return 500;
			}
			for (size_t r = 0; r < res.n; r++)
				j->label_names[r] = res.model->labels[res.label[r]];
			outs[i].dtype = IA_OIP_BYTES;
			outs[i].ndim = 1;
			outs[i].shape[0] = (int64_t)res.n;
			outs[i].strs = j->label_names;
		} else {
			outs[i].dtype = IA_OIP_FP32;
			outs[i].ndim = 2;
			outs[i].shape[0] = (int64_t)res.n;
			outs[i].shape[1] = (int64_t)res.k;
			outs[i].f32 = res.out;
		}
	}
	struct core_buf b;
	size_t json_len = 0;
	core_buf_init(&b, IA_OIP_REPLY_MAX);
	rc = ia_oip_render(res.model->name, res.model->version, j->r.id, outs, count, &b, &json_len, &err);
	unsigned status = 200;
	if (rc != CORE_OK) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "%s", err.message);
		status = 500;
	} else if (json_len == b.len) {
		http_reply_raw(req, 200, "application/json", b.data, b.len);
	} else {
		char hl[32];
		snprintf(hl, sizeof hl, "%zu", json_len);
		http_reply_header(req, "Inference-Header-Content-Length", hl);
		http_reply_raw(req, 200, "application/octet-stream", b.data, b.len);
	}
	core_buf_free(&b);
	/* the version's name outlives res through the pick's reference */
	ia_result_free(&res);
	return status;
}

void ia_h_infer(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	uint64_t t0 = core_monotonic_ns();
	struct ia_pick pick;
	unsigned refused = pick_or_reply(req, a, &pick);
	if (refused) { /* no label of a name the client made up: no series per typo */
		ia_count_request(a, NULL, NULL, "oip", refused, (double)(core_monotonic_ns() - t0) / 1e9);
		return;
	}
	struct infer_job j = {0};
	const char *version = pick.serve->version;
	unsigned status = infer(req, a, &pick, &j, &version);
	infer_job_free(&j);
	/* version: the one that answered (the challenger's under a canary), still held */
	ia_count_request(a, pick.serve->name, version, "oip", status, (double)(core_monotonic_ns() - t0) / 1e9);
	ia_pick_release(&pick);
}
