/* A job's data: the train, validation and test parts of its dataset version, fetched
 * from the data registry's tensors endpoint (safetensors, see services/data-registry's
 * README) into struct ml_data the trainer can run on.
 *
 *   split {fractions, seed}  POST .../splits {"name": "lathe-<fractions>-s<seed>"}
 *                            first (the same name and arguments answer the stored
 *                            split, so a retried or taken-over job makes no second one)
 *   split {name}             that split, as is
 *   images                   size= (when asked), channels=, normalize=unit
 *   tabular                  standardize=true, features= (the spec's, else every
 *                            column but the target); a regression target is fetched
 *                            as a one-column tensor of its own (standardize=false)
 *
 * A part the split does not have (a two-way split has no "val") falls back: validation
 * on the test part, or the other way round. Every call is a blocking HTTP request with
 * the job id as X-Request-Id: never inside a transaction. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "http/client.h"
#include "ml/safetensors.h"
#include "tr.h"

#define TENSORS_MAX ((size_t)2 << 30) /* one part's safetensors body */

/* Percent-encodes s (a path segment or query value) onto b. */
static void escape_onto(struct core_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			core_buf_append(b, p, 1);
		else
			core_buf_printf(b, "%%%02X", *p);
	}
}

/* The version's path at the data registry: /v1/datasets/{name}/versions/{ref}. */
static void version_path(const struct tr_spec *spec, struct core_buf *b)
{
	core_buf_append_str(b, "/v1/datasets/");
	escape_onto(b, spec->dataset_name);
	core_buf_append_str(b, "/versions/");
	escape_onto(b, spec->dataset_ref);
}

/* One request to the data registry. CORE_OK with *resp filled for any answer below 500;
 * CORE_EIO when none came (the caller's job is then retried). */
static enum core_status dr_call(const struct tr_settings *s, const char *request_id, const char *method,
				const char *path, const char *body, struct httpc_response *resp, struct core_error *err)
{
	/* a tensors export is computed on the first ask: ten times the plain timeout */
	const struct httpc_peer peer = {
		.name = "the data registry",
		.base_url = s->data_registry_url,
		.token = s->data_registry_token,
		.timeout_ms = s->data_registry_timeout_ms > 0 ? s->data_registry_timeout_ms * 10 : 0,
		.retries = 3,
		.max_response = TENSORS_MAX,
	};
	return httpc_peer_call(&peer, method, path, "application/json", body, body ? strlen(body) : 0, request_id, resp,
			       err);
}

/* The peer's message of an error answer, for the job's failure reason. */
static enum core_status peer_fail(const struct httpc_response *r, const char *what, struct core_error *err)
{
	json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
	const char *m = json_string_value(json_object_get(doc, "message"));
	core_fail(err, CORE_EINVAL, "%s: data registry answered %ld: %.400s", what, r->status, m ? m : "(no message)");
	json_decref(doc);
	return CORE_EINVAL;
}

void tr_split_name(const struct tr_spec *spec, char name[64])
{
	snprintf(name, 64, "lathe-%g-%g-%g-s%llu", spec->fractions[0], spec->fractions[1], spec->fractions[2],
		 (unsigned long long)spec->split_seed);
}

/* Makes (or finds) the split the fractions name; its name into name. */
static enum core_status ensure_split(const struct tr_settings *s, const char *request_id, const struct tr_spec *spec,
				     char name[64], struct core_error *err)
{
	static const char *const parts[3] = {"train", "val", "test"};
	tr_split_name(spec, name);
	json_t *fr = json_object();
	for (int i = 0; i < 3; i++)
		if (spec->fractions[i] > 0)
			json_object_set_new(fr, parts[i], json_real(spec->fractions[i]));
	json_t *body =
		json_pack("{s:s, s:o, s:I}", "name", name, "fractions", fr, "seed", (json_int_t)spec->split_seed);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct core_buf url;
	core_buf_init(&url, 1 << 16);
	version_path(spec, &url);
	core_buf_append_str(&url, "/splits");
	struct httpc_response r = {0};
	enum core_status rc = dr_call(s, request_id, "POST", url.data, text, &r, err);
	if (rc == CORE_OK && r.status != 200 && r.status != 201)
		rc = peer_fail(&r, "split", err);
	httpc_response_free(&r);
	core_buf_free(&url);
	free(text);
	return rc;
}

/* One fetched tensors file: x as floats [n, width], y (may be NULL), its metadata. */
struct fetched {
	float *x;
	int64_t *y;
	size_t n, width;
	int c, h, w; /* x's example shape (tabular: width, 1, 1) */
	json_t *classes, *prep, *features;
	char version[65];
};

static void fetched_free(struct fetched *f)
{
	free(f->x);
	free(f->y);
	json_decref(f->classes);
	json_decref(f->prep);
	json_decref(f->features);
	memset(f, 0, sizeof *f);
}

static json_t *meta_json(const struct ml_st_header *h, const char *key)
{
	const char *v = ml_st_header_meta(h, key);
	return v ? json_loads(v, 0, NULL) : NULL;
}

/* Parses a safetensors body into *f: x F32 [N, C, H, W] or [N, F], y I64 [N]. */
static enum core_status parse_tensors(const char *body, size_t len, struct fetched *f, struct core_error *err)
{
	struct ml_st_header h = {0};
	uint64_t hl = 0;
	if (len < 8)
		return core_fail(err, CORE_EINVAL, "tensors: a %zu-byte answer is no safetensors file", len);
	for (int i = 7; i >= 0; i--)
		hl = (hl << 8) | (unsigned char)body[i];
	if (hl > len - 8)
		return core_fail(err, CORE_EINVAL, "tensors: header length %llu past the answer's end",
				 (unsigned long long)hl);
	enum core_status rc = ml_st_parse_header(body + 8, (size_t)hl, len, &h, err);
	if (rc != CORE_OK)
		return rc;
	const struct ml_st_tensor *x = ml_st_header_tensor(&h, "x"), *y = ml_st_header_tensor(&h, "y");
	if (!x || x->dtype != ML_DTYPE_F32 || (x->ndim != 2 && x->ndim != 4)) {
		rc = core_fail(err, CORE_EINVAL, "tensors: no float32 x of 2 or 4 dimensions");
		goto out;
	}
	f->n = (size_t)x->shape[0];
	f->width = 1;
	for (size_t i = 1; i < x->ndim; i++)
		f->width *= (size_t)x->shape[i];
	f->c = x->ndim == 4 ? (int)x->shape[1] : (int)f->width;
	f->h = x->ndim == 4 ? (int)x->shape[2] : 1;
	f->w = x->ndim == 4 ? (int)x->shape[3] : 1;
	f->x = core_xmalloc((f->n * f->width + 1) * sizeof(float));
	memcpy(f->x, body + h.data_start + x->begin, x->end - x->begin);
	if (y && y->dtype == ML_DTYPE_I64 && y->ndim == 1 && y->shape[0] == x->shape[0]) {
		f->y = core_xmalloc((f->n + 1) * sizeof(int64_t));
		memcpy(f->y, body + h.data_start + y->begin, y->end - y->begin);
	}
	f->classes = meta_json(&h, "classes");
	f->prep = meta_json(&h, "preprocessing");
	f->features = meta_json(&h, "features");
	const char *v = ml_st_header_meta(&h, "version");
	snprintf(f->version, sizeof f->version, "%s", v ? v : "");
out:
	ml_st_header_free(&h);
	return rc;
}

/* GETs one part's tensors with the query options opts ("&size=28..."). CORE_ENOENT
 * when the split has no such part. */
static enum core_status fetch_part(const struct tr_settings *s, const char *request_id, const struct tr_spec *spec,
				   const char *split_name, const char *part, const char *opts, struct fetched *f,
				   struct core_error *err)
{
	struct core_buf url;
	core_buf_init(&url, 1 << 16);
	version_path(spec, &url);
	core_buf_append_str(&url, "/tensors?split=");
	escape_onto(&url, part);
	core_buf_append_str(&url, "&split_name=");
	escape_onto(&url, split_name);
	core_buf_append_str(&url, opts);
	struct httpc_response r = {0};
	enum core_status rc = dr_call(s, request_id, "GET", url.data, NULL, &r, err);
	if (rc == CORE_OK) {
		if (r.status == 404 && strstr(r.body, "has a part"))
			rc = core_fail(err, CORE_ENOENT, "split '%s' has no part '%s'", split_name, part);
		else if (r.status != 200)
			rc = peer_fail(&r, part, err);
		else
			rc = parse_tensors(r.body, r.body_len, f, err);
	}
	if (rc != CORE_OK && rc != CORE_ENOENT && rc != CORE_EIO)
		core_fail(err, rc, "%s part: %s", part, err->message);
	httpc_response_free(&r);
	core_buf_free(&url);
	return rc;
}

/* The query options of the x tensors. A regression on a table without a features
 * list needs the columns first: cols (the preprocessing's column list) then gives
 * every column but the target. */
static void x_options(const struct tr_spec *spec, json_t *cols, struct core_buf *b)
{
	if (!spec->target) {
		if (spec->image_size > 0)
			core_buf_printf(b, "&size=%d", spec->image_size);
		core_buf_printf(b, "&channels=%d&normalize=unit", spec->image_channels > 0 ? spec->image_channels : 1);
		return;
	}
	core_buf_append_str(b, "&standardize=true");
	json_t *names = spec->features;
	size_t i;
	json_t *v;
	if (names) {
		core_buf_append_str(b, "&features=");
		json_array_foreach(names, i, v)
		{
			if (i)
				core_buf_append_str(b, ",");
			escape_onto(b, json_string_value(v));
		}
	} else if (cols) {
		core_buf_append_str(b, "&features=");
		bool first = true;
		json_array_foreach(cols, i, v)
		{
			const char *n = json_string_value(json_object_get(v, "name"));
			if (!n || strcmp(n, spec->target) == 0)
				continue;
			if (!first)
				core_buf_append_str(b, ",");
			escape_onto(b, n);
			first = false;
		}
	}
}

/* Turns f into the part p; y or yr from f (classification) or target (regression). */
static enum core_status take_part(struct fetched *f, struct fetched *target, bool regression, size_t k,
				  struct tr_part *p, const char *part, struct core_error *err)
{
	p->x = f->x;
	f->x = NULL;
	p->d = (struct ml_data){.x = p->x, .n = f->n, .shape = {f->c, f->h, f->w}};
	if (regression) {
		p->yr = core_xmalloc((f->n + 1) * sizeof(float));
		for (size_t i = 0; i < f->n; i++)
			p->yr[i] = target ? target->x[i] : (f->y ? (float)f->y[i] : 0.0f);
		p->d.yr = p->yr;
		return CORE_OK;
	}
	if (!f->y)
		return core_fail(err, CORE_EINVAL, "%s part: the tensors carry no labels", part);
	for (size_t i = 0; i < f->n; i++)
		if (f->y[i] < 0 || (size_t)f->y[i] >= k)
			return core_fail(err, CORE_EINVAL, "%s part: item %zu has no class", part, i);
	p->y = f->y;
	f->y = NULL;
	p->d.y = p->y;
	return CORE_OK;
}

/* Fetches part into p (the first call sets out's metadata from train). */
static enum core_status load_part(const struct tr_settings *s, const char *request_id, const struct tr_spec *spec,
				  const char *split_name, const char *part, struct tr_data *out, struct tr_part *p,
				  struct core_error *err)
{
	bool regression = tr_spec_is_regression(spec);
	struct fetched f = {0}, t = {0};
	struct core_buf opts;
	core_buf_init(&opts, 1 << 16);
	core_buf_append_str(&opts, "");
	x_options(spec, out->columns, &opts);
	enum core_status rc = fetch_part(s, request_id, spec, split_name, part, opts.data, &f, err);
	if (rc == CORE_OK && regression && spec->target) {
		char *o = NULL;
		struct core_buf tb;
		core_buf_init(&tb, 4096);
		core_buf_append_str(&tb, "&standardize=false&one_hot=false&features=");
		escape_onto(&tb, spec->target);
		o = core_buf_steal(&tb, NULL);
		rc = fetch_part(s, request_id, spec, split_name, part, o, &t, err);
		free(o);
		if (rc == CORE_OK && (t.width != 1 || t.n != f.n))
			rc = core_fail(err, CORE_EINVAL, "target '%s' is not one numeric column", spec->target);
	}
	if (rc == CORE_OK && !out->preprocessing) {
		snprintf(out->version_id, sizeof out->version_id, "%s", f.version);
		out->preprocessing = json_incref(f.prep);
		out->shape = (struct ml_shape){f.c, f.h, f.w};
		if (regression) {
			out->k = 1;
		} else {
			out->classes = json_array();
			size_t i;
			json_t *v;
			json_array_foreach(f.classes, i, v)
			{
				if (json_is_string(v)) {
					json_array_append(out->classes, v);
				} else {
					char *t2 = json_dumps(v, JSON_ENCODE_ANY);
					json_array_append_new(out->classes, json_string(t2 ? t2 : "?"));
					free(t2);
				}
			}
			out->k = json_array_size(out->classes);
			if (out->k < 2)
				rc = core_fail(err, CORE_EINVAL, "the training part has %zu classes: at least 2 needed",
					       out->k);
		}
	}
	if (rc == CORE_OK && (f.c != out->shape.c || f.h != out->shape.h || f.w != out->shape.w))
		rc = core_fail(err, CORE_EINVAL, "%s part: its shape differs from the training part's", part);
	if (rc == CORE_OK)
		rc = take_part(&f, regression && spec->target ? &t : NULL, regression, out->k, p, part, err);
	fetched_free(&f);
	fetched_free(&t);
	core_buf_free(&opts);
	return rc;
}

/* For a regression on a table without a features list: the version's columns, from
 * a first fetch of the training part (the export is cached by the registry). */
static enum core_status load_columns(const struct tr_settings *s, const char *request_id, const struct tr_spec *spec,
				     const char *split_name, struct tr_data *out, struct core_error *err)
{
	struct fetched f = {0};
	enum core_status rc =
		fetch_part(s, request_id, spec, split_name, "train", "&standardize=false&one_hot=false", &f, err);
	if (rc == CORE_OK) {
		out->columns = json_incref(json_object_get(f.prep, "columns"));
		if (!json_is_array(out->columns))
			rc = core_fail(err, CORE_EINVAL, "tensors: the preprocessing lists no columns");
	}
	fetched_free(&f);
	return rc;
}

static void part_free(struct tr_part *p)
{
	free(p->x);
	free(p->y);
	free(p->yr);
	memset(p, 0, sizeof *p);
}

enum core_status tr_data_fetch(const struct tr_settings *s, const char *request_id, const struct tr_spec *spec,
			       struct tr_data *out, struct core_error *err)
{
	char split[64];
	enum core_status rc = CORE_OK;
	memset(out, 0, sizeof *out);
	snprintf(out->dataset, sizeof out->dataset, "%s", spec->dataset_name);
	if (spec->split_name)
		snprintf(split, sizeof split, "%s", spec->split_name);
	else
		rc = ensure_split(s, request_id, spec, split, err);
	if (rc == CORE_OK && spec->target && !spec->features && tr_spec_is_regression(spec))
		rc = load_columns(s, request_id, spec, split, out, err);
	if (rc == CORE_OK)
		rc = load_part(s, request_id, spec, split, "train", out, &out->train, err);
	if (rc == CORE_ENOENT)
		rc = core_fail(err, CORE_EINVAL, "split '%s' has no train part", split);
	enum core_status rv = CORE_OK, rt = CORE_OK;
	if (rc == CORE_OK)
		rv = load_part(s, request_id, spec, split, "val", out, &out->val, err);
	if (rc == CORE_OK && rv != CORE_OK && rv != CORE_ENOENT)
		rc = rv;
	if (rc == CORE_OK)
		rt = load_part(s, request_id, spec, split, "test", out, &out->test, err);
	if (rc == CORE_OK && rt != CORE_OK && rt != CORE_ENOENT)
		rc = rt;
	if (rc == CORE_OK && rv == CORE_ENOENT && rt == CORE_ENOENT)
		rc = core_fail(err, CORE_EINVAL, "split '%s' has neither a val nor a test part", split);
	if (rc == CORE_OK && rv == CORE_ENOENT) {
		out->val_is_test = true; /* validation on the test part */
		out->val.d = out->test.d;
	} else if (rc == CORE_OK && rt == CORE_ENOENT) {
		out->test_is_val = true;
		out->test.d = out->val.d;
	}
	if (rc == CORE_OK && out->train.d.n == 0)
		rc = core_fail(err, CORE_EINVAL, "the training part of split '%s' is empty", split);
	if (rc != CORE_OK)
		tr_data_free(out);
	return rc;
}

void tr_data_free(struct tr_data *d)
{
	part_free(&d->train);
	if (!d->val_is_test)
		part_free(&d->val);
	if (!d->test_is_val)
		part_free(&d->test);
	json_decref(d->classes);
	json_decref(d->preprocessing);
	json_decref(d->columns);
	memset(d, 0, sizeof *d);
}
