/* The model package (face: ml/package.h): model.json + weights.safetensors, written by
 * the trainer and read by the inference API, or made by hand around a PyTorch
 * state_dict. Reading trusts nothing: model.json is checked field by field, the net is
 * built (which checks that the layers fit the input), and every parameter the net has
 * must be in the weights file with its exact shape, and nothing else may be there. */
#include "ml/package.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "ml/safetensors.h"

#define MODEL_JSON_MAX (16u << 20)

void ml_package_free(struct ml_package *p)
{
	if (!p)
		return;
	ml_net_free(p->net);
	json_decref(p->preprocessing);
	json_decref(p->class_names);
	json_decref(p->metrics);
	free(p->dataset);
	memset(p, 0, sizeof *p);
}

static bool is_classification(const char *task)
{
	return strcmp(task, "classification") == 0;
}

/* --- writing ----------------------------------------------------------------------- */

/* The shortest decimal that reads back as f ("0.2", not 0.20000000298023224). */
static json_t *float_json(float f)
{
	char buf[32];
	for (int prec = 1; prec <= 9; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
		if ((float)strtod(buf, NULL) == f)
			break;
	}
	return json_real(strtod(buf, NULL));
}

static json_t *layer_json(const struct ml_layer_spec *s)
{
	json_t *o = json_pack("{s:s}", "type", ml_layer_kind_name(s->kind));
	switch (s->kind) {
	case ML_DENSE:
		json_object_set_new(o, "units", json_integer(s->units));
		break;
	case ML_CONV2D:
		json_object_set_new(o, "filters", json_integer(s->filters));
		json_object_set_new(o, "kernel", json_integer(s->kernel));
		json_object_set_new(o, "stride", json_integer(s->stride ? s->stride : 1));
		json_object_set_new(o, "padding", json_integer(s->padding));
		break;
	case ML_MAXPOOL:
		json_object_set_new(o, "pool", json_integer(s->pool));
		json_object_set_new(o, "stride", json_integer(s->pool_stride ? s->pool_stride : s->pool));
		break;
	case ML_DROPOUT:
		json_object_set_new(o, "rate", float_json(s->rate));
		break;
	default:
		break;
	}
	return o;
}

static enum core_status check_package(const struct ml_package *p, struct core_error *err)
{
	bool cls = is_classification(p->task);
	if (!cls && strcmp(p->task, "regression") != 0)
		return core_fail(err, CORE_EINVAL, "package: task must be classification or regression, got '%s'",
				 p->task);
	if (!p->net)
		return core_fail(err, CORE_EINVAL, "package: no net");
	if (ml_net_frozen(p->net))
		return core_fail(err, CORE_EINVAL, "package: the net is frozen for serving; write it before freezing");
	if (p->class_names) {
		size_t k = ml_net_n_outputs(p->net);
		if (!cls)
			return core_fail(err, CORE_EINVAL, "package: a regression package has no class_names");
		if (!json_is_array(p->class_names) || json_array_size(p->class_names) != k)
			return core_fail(err, CORE_EINVAL, "package: class_names must be an array of %zu strings", k);
		for (size_t i = 0; i < k; i++)
			if (!json_is_string(json_array_get(p->class_names, i)))
				return core_fail(err, CORE_EINVAL, "package: class_names[%zu] is not a string", i);
	}
	if (p->metrics && !json_is_object(p->metrics))
		return core_fail(err, CORE_EINVAL, "package: metrics must be an object");
	return CORE_OK;
}

static json_t *model_json(const struct ml_package *p)
{
	bool cls = is_classification(p->task);
	json_t *layers = json_array();
	size_t n = ml_net_n_layers(p->net);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(layers, layer_json(ml_net_layer(p->net, i)));
	if (cls && ml_net_layer(p->net, n - 1)->kind != ML_SOFTMAX)
		json_array_append_new(layers, json_pack("{s:s}", "type", "softmax"));
	struct ml_shape in = ml_net_input(p->net);
	json_t *o = json_object();
	json_object_set_new(o, "format_version", json_integer(ML_PACKAGE_FORMAT_VERSION));
	json_object_set_new(o, "task", json_string(p->task));
	json_object_set_new(o, "layers", layers);
	json_object_set_new(o, "input", json_pack("{s:[i,i,i], s:s}", "shape", in.c, in.h, in.w, "dtype", "float32"));
	json_object_set_new(o, "output",
			    json_pack("{s:[I], s:s, s:s}", "shape", (json_int_t)ml_net_n_outputs(p->net), "dtype",
				      "float32", "kind", cls ? "probabilities" : "values"));
	json_object_set_new(o, "preprocessing", p->preprocessing ? json_incref(p->preprocessing) : json_null());
	json_object_set_new(o, "class_names", p->class_names ? json_incref(p->class_names) : json_null());
	json_object_set_new(o, "dataset", p->dataset ? json_string(p->dataset) : json_null());
	json_object_set_new(o, "metrics", p->metrics ? json_incref(p->metrics) : json_null());
	return o;
}

static enum core_status buf_sink(void *cls, const void *data, size_t n, struct core_error *err)
{
	if (core_buf_append(cls, data, n) != CORE_OK)
		return core_fail(err, CORE_ENOMEM, "package: no memory for the weights");
	return CORE_OK;
}

/* The weights file's bytes into out (initialised with no ceiling by the caller). */
static enum core_status weights_bytes(struct ml_net *net, struct core_buf *out, struct core_error *err)
{
	size_t n = ml_net_n_params(net);
	struct ml_st_tensor *t = core_xcalloc(n ? n : 1, sizeof *t);
	for (size_t i = 0; i < n; i++) {
		struct ml_param prm;
		ml_net_param(net, i, &prm);
		t[i].name = (char *)prm.name;
		t[i].dtype = ML_DTYPE_F32;
		t[i].ndim = (size_t)prm.ndim;
		for (int d = 0; d < prm.ndim; d++)
			t[i].shape[d] = (uint64_t)prm.shape[d];
	}
	struct ml_st_meta meta = {"format", "pt"};
	struct ml_st_writer *w = NULL;
	enum core_status st = ml_st_writer_begin(t, n, &meta, 1, buf_sink, out, &w, err);
	for (size_t i = 0; st == CORE_OK && i < n; i++) {
		struct ml_param prm;
		ml_net_param(net, i, &prm);
		st = ml_st_writer_write(w, prm.data, prm.n * sizeof(float), err);
	}
	if (st == CORE_OK) {
		st = ml_st_writer_finish(w, err);
		w = NULL;
	}
	ml_st_writer_free(w);
	free(t);
	return st;
}

static char *path_in(const char *dir, const char *name)
{
	return core_xasprintf("%s/%s", dir, name);
}

enum core_status ml_package_write(const struct ml_package *p, const char *dir, struct core_error *err)
{
	enum core_status st = check_package(p, err);
	if (st != CORE_OK)
		return st;
	if ((st = core_mkdir_p(dir, 0755, err)) != CORE_OK)
		return st;
	struct core_buf w;
	core_buf_init(&w, SIZE_MAX / 2); /* not SIZE_MAX: core_buf sizes max + 1 */
	json_t *model = model_json(p);
	/* 15 digits: what any double read from text prints back as, so write -> read ->
	 * write gives the same bytes (and 0.881 stays 0.881) */
	char *text = json_dumps(model, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	json_decref(model);
	char *mpath = path_in(dir, ML_PACKAGE_MODEL_JSON), *wpath = path_in(dir, ML_PACKAGE_WEIGHTS);
	st = weights_bytes(p->net, &w, err);
	if (st == CORE_OK)
		st = core_write_file_atomic(wpath, w.data, w.len, err);
	if (st == CORE_OK) {
		size_t len = strlen(text);
		text[len] = '\n'; /* json_dumps' NUL becomes the file's last newline */
		st = core_write_file_atomic(mpath, text, len + 1, err);
	}
	free(text);
	free(mpath);
	free(wpath);
	core_buf_free(&w);
	return st;
}

/* --- reading ----------------------------------------------------------------------- */

/* An optional non-negative integer field of a layer (absent: dflt). */
static enum core_status int_field(json_t *l, size_t i, const char *type, const char *key, int dflt, bool required,
				  int *out, struct core_error *err)
{
	json_t *v = json_object_get(l, key);
	if (!v) {
		if (required)
			return core_fail(err, CORE_EINVAL, "model.json: layers[%zu] (%s): '%s' is missing", i, type,
					 key);
		*out = dflt;
		return CORE_OK;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
		return core_fail(err, CORE_EINVAL, "model.json: layers[%zu] (%s): '%s' must be a non-negative integer",
				 i, type, key);
	*out = (int)json_integer_value(v);
	return CORE_OK;
}

/* The fields each kind may carry (besides "type"). */
static bool known_field(enum ml_layer_kind k, const char *key)
{
	static const char *const fields[][5] = {
		[ML_DENSE] = {"units"},
		[ML_CONV2D] = {"filters", "kernel", "stride", "padding"},
		[ML_MAXPOOL] = {"pool", "stride"},
		[ML_DROPOUT] = {"rate"},
	};
	if (strcmp(key, "type") == 0)
		return true;
	if ((size_t)k >= sizeof fields / sizeof fields[0])
		return false;
	for (int j = 0; j < 5 && fields[k][j]; j++)
		if (strcmp(fields[k][j], key) == 0)
			return true;
	return false;
}

static enum core_status parse_layer(json_t *l, size_t i, struct ml_layer_spec *s, struct core_error *err)
{
	memset(s, 0, sizeof *s);
	if (!json_is_object(l))
		return core_fail(err, CORE_EINVAL, "model.json: layers[%zu] is not an object", i);
	const char *type = json_string_value(json_object_get(l, "type"));
	if (!type)
		return core_fail(err, CORE_EINVAL, "model.json: layers[%zu]: 'type' must be a string", i);
	if (!ml_layer_kind_parse(type, &s->kind))
		return core_fail(err, CORE_EINVAL, "model.json: layers[%zu]: unknown layer type '%s'", i, type);
	const char *key;
	json_t *v;
	json_object_foreach(l, key, v)
	{
		if (!known_field(s->kind, key))
			return core_fail(err, CORE_EINVAL, "model.json: layers[%zu] (%s): unknown field '%s'", i, type,
					 key);
	}
	enum core_status st = CORE_OK;
	switch (s->kind) {
	case ML_DENSE:
		st = int_field(l, i, type, "units", 0, true, &s->units, err);
		break;
	case ML_CONV2D:
		if ((st = int_field(l, i, type, "filters", 0, true, &s->filters, err)) != CORE_OK ||
		    (st = int_field(l, i, type, "kernel", 0, true, &s->kernel, err)) != CORE_OK ||
		    (st = int_field(l, i, type, "stride", 1, false, &s->stride, err)) != CORE_OK)
			break;
		st = int_field(l, i, type, "padding", 0, false, &s->padding, err);
		break;
	case ML_MAXPOOL:
		if ((st = int_field(l, i, type, "pool", 0, true, &s->pool, err)) != CORE_OK)
			break;
		st = int_field(l, i, type, "stride", s->pool, false, &s->pool_stride, err);
		break;
	case ML_DROPOUT: {
		json_t *r = json_object_get(l, "rate");
		if (r && !json_is_number(r))
			return core_fail(err, CORE_EINVAL, "model.json: layers[%zu] (dropout): 'rate' must be a number",
					 i);
		s->rate = r ? (float)json_number_value(r) : 0;
		break;
	}
	default:
		break;
	}
	return st;
}

static enum core_status parse_input(json_t *in, struct ml_shape *shape, struct core_error *err)
{
	json_t *sh = json_object_get(in, "shape");
	const char *dtype = json_string_value(json_object_get(in, "dtype"));
	if (!json_is_object(in) || !json_is_array(sh))
		return core_fail(err, CORE_EINVAL,
				 "model.json: input must be {\"shape\": [c, h, w], \"dtype\": \"float32\"}");
	if (dtype && strcmp(dtype, "float32") != 0)
		return core_fail(err, CORE_EINVAL, "model.json: input.dtype must be float32, got '%s'", dtype);
	size_t n = json_array_size(sh);
	int d[3] = {1, 1, 1};
	if (n != 1 && n != 3)
		return core_fail(err, CORE_EINVAL, "model.json: input.shape must be [c, h, w] or [features]");
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(sh, i);
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000000)
			return core_fail(err, CORE_EINVAL, "model.json: input.shape[%zu] must be a positive integer",
					 i);
		d[i] = (int)json_integer_value(v);
	}
	*shape = (struct ml_shape){d[0], d[1], d[2]};
	return CORE_OK;
}

/* Everything but the weights: the metadata into out, the net built (parameters 0). */
static enum core_status parse_model(json_t *m, struct ml_package *out, struct core_error *err)
{
	if (!json_is_object(m))
		return core_fail(err, CORE_EINVAL, "model.json: not a JSON object");
	json_t *fv = json_object_get(m, "format_version");
	if (!json_is_integer(fv) || json_integer_value(fv) != ML_PACKAGE_FORMAT_VERSION)
		return core_fail(err, CORE_EINVAL, "model.json: format_version must be %d", ML_PACKAGE_FORMAT_VERSION);
	const char *task = json_string_value(json_object_get(m, "task"));
	if (!task || (strcmp(task, "classification") != 0 && strcmp(task, "regression") != 0))
		return core_fail(err, CORE_EINVAL, "model.json: task must be \"classification\" or \"regression\"");
	snprintf(out->task, sizeof out->task, "%s", task);

	json_t *layers = json_object_get(m, "layers");
	size_t n = json_array_size(layers);
	if (!json_is_array(layers) || n == 0)
		return core_fail(err, CORE_EINVAL, "model.json: layers must be a non-empty array");
	struct ml_shape in;
	enum core_status st = parse_input(json_object_get(m, "input"), &in, err);
	if (st != CORE_OK)
		return st;
	struct ml_layer_spec *specs = core_xcalloc(n + 1, sizeof *specs);
	for (size_t i = 0; st == CORE_OK && i < n; i++)
		st = parse_layer(json_array_get(layers, i), i, &specs[i], err);
	/* a classifier's outputs are probabilities: one that ends with logits (a PyTorch
	 * model trained with CrossEntropyLoss) gets the softmax write would have recorded */
	if (st == CORE_OK && is_classification(task) && specs[n - 1].kind != ML_SOFTMAX)
		specs[n++].kind = ML_SOFTMAX;
	if (st == CORE_OK) {
		struct core_error nerr;
		if ((st = ml_net_new(specs, n, in, &out->net, &nerr)) != CORE_OK)
			core_fail(err, st, "model.json: %s", nerr.message);
	}
	free(specs);
	if (st != CORE_OK)
		return st;
	json_t *osh = json_object_get(json_object_get(m, "output"), "shape");
	if (osh) {
		size_t k = ml_net_n_outputs(out->net);
		if (!json_is_array(osh) || json_array_size(osh) != 1 ||
		    json_integer_value(json_array_get(osh, 0)) != (json_int_t)k)
			return core_fail(err, CORE_EINVAL,
					 "model.json: output.shape must be [%zu], what the layers give", k);
	}

	json_t *v = json_object_get(m, "class_names");
	if (v && !json_is_null(v)) {
		size_t k = ml_net_n_outputs(out->net);
		if (!is_classification(task))
			return core_fail(err, CORE_EINVAL, "model.json: class_names in a regression package");
		if (!json_is_array(v) || json_array_size(v) != k)
			return core_fail(err, CORE_EINVAL, "model.json: class_names must be %zu strings (the outputs)",
					 k);
		for (size_t i = 0; i < k; i++)
			if (!json_is_string(json_array_get(v, i)))
				return core_fail(err, CORE_EINVAL, "model.json: class_names[%zu] is not a string", i);
		out->class_names = json_incref(v);
	}
	v = json_object_get(m, "dataset");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			return core_fail(err, CORE_EINVAL, "model.json: dataset must be a string");
		out->dataset = core_xstrdup(json_string_value(v));
	}
	v = json_object_get(m, "metrics");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v))
			return core_fail(err, CORE_EINVAL, "model.json: metrics must be an object");
		out->metrics = json_incref(v);
	}
	v = json_object_get(m, "preprocessing");
	if (v && !json_is_null(v))
		out->preprocessing = json_incref(v);
	return CORE_OK;
}

static void shape_text(char *buf, size_t cap, int ndim, const uint64_t *shape)
{
	size_t off = (size_t)snprintf(buf, cap, "[");
	for (int d = 0; d < ndim && off < cap; d++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%" PRIu64, d ? ", " : "", shape[d]);
	if (off < cap)
		snprintf(buf + off, cap - off, "]");
}

/* Reads n bytes at off of fd, all of them. */
static enum core_status read_at(int fd, void *buf, size_t n, uint64_t off, struct core_error *err)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return core_fail(err, CORE_EIO, "weights.safetensors: read failed: %s",
					 r < 0 ? strerror(errno) : "unexpected end of file");
		done += (size_t)r;
	}
	return CORE_OK;
}

/* One parameter from the file: its tensor must exist, be F32 or F64, and have its shape. */
static enum core_status load_param(int fd, const struct ml_st_header *h, struct ml_net *net, size_t i,
				   struct core_error *err)
{
	struct ml_param prm;
	ml_net_param(net, i, &prm);
	const struct ml_st_tensor *t = ml_st_header_tensor(h, prm.name);
	char want[128], got[128];
	uint64_t wshape[4];
	for (int d = 0; d < prm.ndim; d++)
		wshape[d] = (uint64_t)prm.shape[d];
	shape_text(want, sizeof want, prm.ndim, wshape);
	/* layer index = the name's number, as PyTorch names it */
	long layer = strtol(prm.name, NULL, 10);
	const char *kind = ml_layer_kind_name(ml_net_layer(net, (size_t)layer)->kind);
	if (!t)
		return core_fail(err, CORE_EINVAL,
				 "weights.safetensors: tensor '%s' is missing (layer %ld (%s), shape %s)", prm.name,
				 layer, kind, want);
	shape_text(got, sizeof got, (int)t->ndim, t->shape);
	bool same = t->ndim == (size_t)prm.ndim;
	for (int d = 0; same && d < prm.ndim; d++)
		same = t->shape[d] == wshape[d];
	if (!same)
		return core_fail(err, CORE_EINVAL,
				 "weights.safetensors: tensor '%s' has shape %s, layer %ld (%s) needs %s", prm.name,
				 got, layer, kind, want);
	if (t->dtype == ML_DTYPE_F32)
		return read_at(fd, prm.data, prm.n * sizeof(float), h->data_start + t->begin, err);
	if (t->dtype != ML_DTYPE_F64)
		return core_fail(err, CORE_EINVAL, "weights.safetensors: tensor '%s' is %s, not F32 or F64", prm.name,
				 ml_dtype_name(t->dtype));
	double *tmp = malloc(prm.n * sizeof(double));
	if (!tmp)
		return core_fail(err, CORE_ENOMEM, "weights.safetensors: no memory for tensor '%s'", prm.name);
	enum core_status st = read_at(fd, tmp, prm.n * sizeof(double), h->data_start + t->begin, err);
	for (size_t j = 0; st == CORE_OK && j < prm.n; j++)
		prm.data[j] = (float)tmp[j];
	free(tmp);
	return st;
}

static enum core_status load_weights(const char *path, struct ml_net *net, struct core_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return core_fail(err, errno == ENOENT ? CORE_ENOENT : CORE_EIO, "%s: %s", ML_PACKAGE_WEIGHTS,
				 strerror(errno));
	struct ml_st_header h;
	struct core_error herr;
	enum core_status st = ml_st_read_header(fd, &h, &herr);
	if (st != CORE_OK) {
		close(fd);
		return core_fail(err, st, "weights.safetensors: %s", herr.message);
	}
	size_t n = ml_net_n_params(net);
	for (size_t i = 0; st == CORE_OK && i < n; i++)
		st = load_param(fd, &h, net, i, err);
	/* a tensor the layers do not have means model.json and the weights disagree */
	for (size_t j = 0; st == CORE_OK && j < h.n_tensors; j++) {
		bool used = false;
		for (size_t i = 0; !used && i < n; i++) {
			struct ml_param prm;
			ml_net_param(net, i, &prm);
			used = strcmp(prm.name, h.tensors[j].name) == 0;
		}
		if (!used)
			st = core_fail(
				err, CORE_EINVAL,
				"weights.safetensors: tensor '%s' is not a parameter of the layers in model.json",
				h.tensors[j].name);
	}
	ml_st_header_free(&h);
	close(fd);
	return st;
}

enum core_status ml_package_read(const char *dir, struct ml_package *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	char *mpath = path_in(dir, ML_PACKAGE_MODEL_JSON), *wpath = path_in(dir, ML_PACKAGE_WEIGHTS);
	char *text = NULL;
	size_t len = 0;
	json_t *m = NULL;
	struct core_error ferr;
	enum core_status st = core_read_file(mpath, MODEL_JSON_MAX, &text, &len, &ferr);
	if (st != CORE_OK) {
		core_fail(err, st, "model.json: %s", ferr.message);
	} else {
		json_error_t jerr;
		m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!m)
			st = core_fail(err, CORE_EINVAL, "model.json: not JSON: %s (line %d)", jerr.text, jerr.line);
	}
	if (st == CORE_OK)
		st = parse_model(m, out, err);
	if (st == CORE_OK)
		st = load_weights(wpath, out->net, err);
	if (st != CORE_OK)
		ml_package_free(out);
	json_decref(m);
	free(text);
	free(mpath);
	free(wpath);
	return st;
}
