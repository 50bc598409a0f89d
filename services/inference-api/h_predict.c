/* POST /v1/models/{model}/predict: one image in, its label and class probabilities out,
 * the seed's FastAPI /predict in the inference API's frame.
 *
 * The image comes as the body (Content-Type image/png or image/jpeg; also
 * application/octet-stream, sniffed) or as a multipart/form-data form with a file field
 * (`curl -F file=@x.png`; the route has .multipart_or_body, so libs/http parses forms
 * with libmicrohttpd's post processor and buffers anything else). Checks run cheapest
 * first, each with its own status: the byte limit (IMAGE_MAX_BYTES, 413), a media type
 * that is not an image (415), data that is not a PNG or JPEG (400, from the header
 * alone), the pixel limit (IMAGE_MAX_PIXELS, 413, before any pixel buffer exists), a
 * model that takes no images (400); then ia_prep_image (the data registry's
 * preprocessing) and ia_infer (the one inference path: batching, metrics, shadow,
 * prediction events with the image's statistics). The answer:
 *   {"model", "version", "label", "probabilities": {class: p}} (classifiers)
 *   {"model", "version", "predictions": [...]}                 (regressors)
 * with "canary": true when the challenger answered. Errors are {"error": "..."}. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/time.h"
#include "ia.h"

/* The media type of ct without parameters equals want (case-insensitive). */
static bool media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	if (!ct || strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static bool image_media(const char *ct)
{
	return media_is(ct, "image/png") || media_is(ct, "image/jpeg") || media_is(ct, "image/jpg") ||
	       media_is(ct, "application/octet-stream");
}

/* The upload's bytes: the form's file part ("file", else the first part with a file
 * name, else the only part) or the plain body. Returns 0, or the status it replied. */
static unsigned upload_bytes(struct http_request *req, const struct ia_settings *s, const char **data, size_t *len)
{
	size_t n = 0;
	const struct http_part *parts = http_request_parts(req, &n);
	if (n > 0) {
		const struct http_part *f = http_request_part(req, "file");
		for (size_t i = 0; !f && i < n; i++)
			if (parts[i].filename)
				f = &parts[i];
		if (!f && n == 1)
			f = &parts[0];
		if (!f) {
			http_reply_error(req, HTTP_EC_BAD_REQUEST,
					 "the multipart/form-data body has no file part (send the image as field "
					 "'file')");
			return 400;
		}
		if (f->content_type && !image_media(f->content_type) && !media_is(f->content_type, "text/plain")) {
			http_reply_error(req, HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
					 "the file part is '%s'; send an image/png or image/jpeg", f->content_type);
			return 415;
		}
		*data = f->data;
		*len = f->len;
	} else {
		const char *ct = http_request_header(req, "Content-Type");
		*data = http_request_body(req, len);
		if (!image_media(ct)) {
			http_reply_error(req, HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
					 "Content-Type must be image/png, image/jpeg or multipart/form-data (got '%s')",
					 ct ? ct : "");
			return 415;
		}
	}
	if (*len == 0) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "the image is empty");
		return 400;
	}
	if (*len > (size_t)s->image_max_bytes) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "the image is %zu bytes, over the limit of %ld", *len,
				 s->image_max_bytes);
		return 413;
	}
	return 0;
}

static json_t *answer(const struct ia_pick *pick, const struct ia_result *res)
{
	const struct ia_model *m = res->model;
	json_t *o = json_pack("{s:s, s:s}", "model", m->name, "version", m->version);
	if (m->labels && res->label) {
		json_t *probs = json_object();
		for (size_t j = 0; j < res->k; j++)
			json_object_set_new(probs, m->labels[j], json_real(res->out[j]));
		json_object_set_new(o, "label", json_string(m->labels[res->label[0]]));
		json_object_set_new(o, "probabilities", probs);
	} else {
		json_t *vals = json_array();
		for (size_t j = 0; j < res->k; j++)
			json_array_append_new(vals, json_real(res->out[j]));
		json_object_set_new(o, "predictions", vals);
	}
	if (pick->canary)
		json_object_set_new(o, "canary", json_true());
	return o;
}

/* Everything after the pick. Returns the status it replied with. */
static unsigned predict(struct http_request *req, struct ia_app *a, const struct ia_pick *pick)
{
	const struct ia_settings *s = a->settings;
	const struct ia_model *m = pick->serve;
	const char *data = NULL;
	size_t len = 0;
	unsigned st = upload_bytes(req, s, &data, &len);
	if (st)
		return st;

	struct core_error err = {0};
	struct img_info info;
	if (img_probe(data, len, &info, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "the upload is not a readable PNG or JPEG image: %s",
				 err.message);
		return 400;
	}
	struct img_limits lim = {.max_pixels = (uint64_t)s->image_max_pixels};
	if (img_limits_check(&info, &lim, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "the image is too large: %s", err.message);
		return 413;
	}
	if (m->kind != IA_INPUT_IMAGE) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST,
				 "model '%s' takes table rows, not images: send them to /v2/models/%s/invocations "
				 "or /v2/models/%s/infer",
				 m->name, m->name, m->name);
		return 400;
	}

	float *x = calloc(m->n_in ? m->n_in : 1, sizeof *x);
	if (!x) {
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "no memory for the image's tensor");
		return 503;
	}
	struct ia_img_stats stats;
	struct ia_result res = {0};
	enum core_status rc = ia_prep_image(m, data, len, &lim, x, &stats, &err);
	if (rc == CORE_ELIMIT) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "the image is too large: %s", err.message);
		st = 413;
	} else if (rc == CORE_EINVAL) {
		http_reply_error(req, HTTP_EC_BAD_REQUEST, "the image cannot be used: %s", err.message);
		st = 400;
	} else if (rc != CORE_OK) {
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "the image could not be decoded: %s",
				 err.message);
		st = 503;
	}
	if (st) {
		free(x);
		return st;
	}
	struct ia_rows rows = {.n = 1, .x = x, .imgs = &stats};
	rc = ia_infer(a, pick, "image", http_request_id(req), &rows, &res, &err);
	free(x);
	if (rc != CORE_OK) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "inference failed: %s", err.message);
		return 500;
	}
	http_reply_json(req, 200, answer(pick, &res));
	ia_result_free(&res);
	return 200;
}

void ia_h_predict(struct http_request *req, void *app)
{
	struct ia_app *a = ia_app(app);
	uint64_t t0 = core_monotonic_ns();
	const char *name = http_request_param(req, "model");
	struct ia_pick pick = {0};
	char why[256] = "";
	enum ia_find f = ia_models_pick(a->models, name, NULL, &pick, why, sizeof why);
	if (f != IA_FOUND) {
		unsigned status = 404;
		if (f == IA_NOT_READY) {
			http_reply_header(req, "Retry-After", "1");
			http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s",
					 why[0] ? why : "the model is loading");
			status = 503;
		} else {
			http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "%s", why[0] ? why : "model not found");
		}
		/* no label of a name the client made up: no series per typo */
		ia_count_request(a, NULL, NULL, "image", status, (double)(core_monotonic_ns() - t0) / 1e9);
		return;
	}
	unsigned status = predict(req, a, &pick);
	ia_count_request(a, pick.serve->name, pick.serve->version, "image", status,
			 (double)(core_monotonic_ns() - t0) / 1e9);
	ia_pick_release(&pick);
}
