/* The job spec: parse and check everything a job asks for before it is queued (pure:
 * no I/O), so a bad spec is a 400 at submit naming the field, never a FAILED job an
 * hour later. Unknown members are refused too (a typo such as "epoch" would otherwise
 * silently train the default). The data-dependent checks (the dataset exists, its
 * columns, the input shape) are dataset.c's. Field names and defaults are documented
 * in the README and in proto/openapi/trainer.yaml's JobSpec. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

static enum core_status bad(struct core_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum core_status bad(struct core_error *err, const char *field, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return core_fail(err, CORE_EINVAL, "%s: %s", field, msg);
}

/* Refuses members of obj not in allowed (NULL-terminated); where names obj ("" top). */
static enum core_status only_known(json_t *obj, const char *where, const char *const *allowed, struct core_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		bool ok = false;
		for (size_t i = 0; !ok && allowed[i]; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok) {
			char f[200];
			snprintf(f, sizeof f, "%s%s%.100s", where, *where ? "." : "", key);
			return bad(err, f, "unknown field");
		}
	}
	return CORE_OK;
}

/* An optional integer member in [lo, hi]; absent (or null) leaves *out. */
static enum core_status get_int(json_t *obj, const char *key, const char *field, long long lo, long long hi,
				long long *out, struct core_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return CORE_OK;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return bad(err, field, "must be an integer from %lld to %lld", lo, hi);
	*out = json_integer_value(v);
	return CORE_OK;
}

static enum core_status get_intv(json_t *obj, const char *key, const char *field, int lo, int hi, int *out,
				 struct core_error *err)
{
	long long v = *out;
	enum core_status rc = get_int(obj, key, field, lo, hi, &v, err);
	*out = (int)v;
	return rc;
}

/* An optional number in [lo, hi] (lo excluded when lo_open, hi excluded when hi_open). */
static enum core_status get_num(json_t *obj, const char *key, const char *field, double lo, bool lo_open, double hi,
				bool hi_open, double *out, struct core_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return CORE_OK;
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	if (!isfinite(d) || d < lo || (lo_open && d == lo) || d > hi || (hi_open && d == hi))
		return bad(err, field, "must be a number %s %g and %s %g", lo_open ? ">" : ">=", lo,
			   hi_open ? "<" : "<=", hi);
	*out = d;
	return CORE_OK;
}

/* An optional string (non-empty, at most max bytes); absent leaves *out. */
static enum core_status get_str(json_t *obj, const char *key, const char *field, size_t max, const char **out,
				struct core_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return CORE_OK;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return bad(err, field, "must be a non-empty string of at most %zu bytes", max);
	*out = json_string_value(v);
	return CORE_OK;
}

/* An optional object member; a non-object is an error. */
static enum core_status get_obj(json_t *obj, const char *key, const char *field, json_t **out, struct core_error *err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return CORE_OK;
	if (!json_is_object(v))
		return bad(err, field, "must be an object");
	*out = v;
	return CORE_OK;
}

static enum core_status one_of(const char *v, const char *field, const char *const *choices, struct core_error *err)
{
	char list[200] = "";
	for (size_t i = 0; choices[i]; i++) {
		if (strcmp(v, choices[i]) == 0)
			return CORE_OK;
		size_t n = strlen(list);
		snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", choices[i]);
	}
	return bad(err, field, "unknown value '%.60s' (one of %s)", v, list);
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* --- parts -------------------------------------------------------------------------- */

static enum core_status parse_dataset(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	json_t *v = json_object_get(spec, "dataset");
	if (!v || json_is_null(v))
		return bad(err, "dataset", "required (\"<name>@<version>\", e.g. \"fmnist@1\")");
	if (!json_is_string(v))
		return bad(err, "dataset", "must be a string \"<name>@<version>\"");
	s->dataset = json_string_value(v);
	const char *at = strchr(s->dataset, '@');
	size_t nlen = at ? (size_t)(at - s->dataset) : strlen(s->dataset);
	if (nlen == 0 || nlen >= sizeof s->dataset_name)
		return bad(err, "dataset", "'%.200s' is not \"<name>@<version>\"", s->dataset);
	memcpy(s->dataset_name, s->dataset, nlen);
	s->dataset_name[nlen] = '\0';
	if (!name_ok(s->dataset_name, 128))
		return bad(err, "dataset", "'%.200s' is not a dataset name", s->dataset_name);
	const char *ref = at ? at + 1 : "latest";
	size_t rlen = strlen(ref);
	bool ok = rlen > 0 && rlen < sizeof s->dataset_ref;
	for (size_t i = 0; ok && i < rlen; i++)
		ok = isalnum((unsigned char)ref[i]);
	if (!ok)
		return bad(err, "dataset", "'%.80s' is not a version (a number, an id or id prefix, or latest)", ref);
	snprintf(s->dataset_ref, sizeof s->dataset_ref, "%s", ref);
	return CORE_OK;
}

static enum core_status parse_split(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	static const char *const keys[] = {"name", "fractions", "seed", NULL};
	json_t *split;
	enum core_status rc;
	s->fractions[0] = 0.8;
	s->fractions[1] = 0.1;
	s->fractions[2] = 0.1;
	if ((rc = get_obj(spec, "split", "split", &split, err)) != CORE_OK || !split)
		return rc;
	if ((rc = only_known(split, "split", keys, err)) != CORE_OK ||
	    (rc = get_str(split, "name", "split.name", 128, &s->split_name, err)) != CORE_OK)
		return rc;
	if (s->split_name && !name_ok(s->split_name, 128))
		return bad(err, "split.name", "'%.100s' is not a split name", s->split_name);
	long long seed = 0;
	if ((rc = get_int(split, "seed", "split.seed", 0, INT64_MAX, &seed, err)) != CORE_OK)
		return rc;
	s->split_seed = (uint64_t)seed;
	json_t *f = json_object_get(split, "fractions");
	if (s->split_name && f)
		return bad(err, "split", "give either name (a named split) or fractions, not both");
	if (!f || json_is_null(f))
		return CORE_OK;
	if (!json_is_array(f) || json_array_size(f) != 3)
		return bad(err, "split.fractions", "must be [train, val, test], three numbers");
	double sum = 0;
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_array_get(f, i);
		double d = json_is_number(x) ? json_number_value(x) : NAN;
		if (!isfinite(d) || d < 0 || d > 1)
			return bad(err, "split.fractions", "[%zu] must be a number from 0 to 1", i);
		s->fractions[i] = d;
		sum += d;
	}
	if (s->fractions[0] <= 0)
		return bad(err, "split.fractions", "the training part (first) must be above 0");
	if (fabs(sum - 1.0) > 1e-6)
		return bad(err, "split.fractions", "must add up to 1 (they add up to %g)", sum);
	return CORE_OK;
}

static enum core_status parse_data(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	static const char *const img_keys[] = {"size", "channels", NULL};
	enum core_status rc;
	if ((rc = get_str(spec, "target", "target", 1024, &s->target, err)) != CORE_OK)
		return rc;
	json_t *f = json_object_get(spec, "features");
	if (f && !json_is_null(f)) {
		if (!s->target)
			return bad(err, "features", "only for tabular data, with a target");
		if (!json_is_array(f) || json_array_size(f) == 0 || json_array_size(f) > 100000)
			return bad(err, "features", "must be a non-empty array of column names");
		for (size_t i = 0; i < json_array_size(f); i++) {
			json_t *c = json_array_get(f, i);
			if (!json_is_string(c) || json_string_length(c) == 0)
				return bad(err, "features", "[%zu] must be a column name", i);
			if (strcmp(json_string_value(c), s->target) == 0)
				return bad(err, "features", "[%zu] is the target '%.100s'", i, s->target);
		}
		s->features = f;
	}
	json_t *img;
	s->image_channels = 1;
	if ((rc = get_obj(spec, "image", "image", &img, err)) != CORE_OK || !img)
		return rc;
	if (s->target)
		return bad(err, "image", "not for tabular data (the spec has a target)");
	if ((rc = only_known(img, "image", img_keys, err)) != CORE_OK ||
	    (rc = get_intv(img, "size", "image.size", 1, 1024, &s->image_size, err)) != CORE_OK ||
	    (rc = get_intv(img, "channels", "image.channels", 1, 3, &s->image_channels, err)) != CORE_OK)
		return rc;
	if (s->image_channels == 2)
		return bad(err, "image.channels", "must be 1 (grey) or 3 (RGB)");
	return CORE_OK;
}

static const char *const tr_activations[] = {"relu", "tanh", "sigmoid", NULL};
static const char *const tr_cnn_layer_types[] = {"conv2d",  "maxpool", "dense",   "relu", "tanh",
						 "sigmoid", "flatten", "dropout", NULL};

static enum core_status parse_cnn_layer(json_t *l, size_t i, struct core_error *err)
{
	static const char *const conv_keys[] = {"type", "filters", "kernel", "stride", "padding", "activation", NULL};
	static const char *const pool_keys[] = {"type", "pool", "stride", NULL};
	static const char *const dense_keys[] = {"type", "units", "activation", NULL};
	static const char *const drop_keys[] = {"type", "rate", NULL};
	static const char *const plain_keys[] = {"type", NULL};
	static const char *const layer_acts[] = {"relu", "tanh", "sigmoid", "none", NULL};
	char where[64], f[96];
	snprintf(where, sizeof where, "model.layers[%zu]", i);
	if (!json_is_object(l))
		return bad(err, where, "must be an object {\"type\": ...}");
	const char *type = NULL, *act = NULL;
	enum core_status rc;
	snprintf(f, sizeof f, "%s.type", where);
	if ((rc = get_str(l, "type", f, 32, &type, err)) != CORE_OK)
		return rc;
	if (!type)
		return bad(err, f, "required");
	if ((rc = one_of(type, f, tr_cnn_layer_types, err)) != CORE_OK)
		return rc;
	snprintf(f, sizeof f, "%s.activation", where);
	if ((rc = get_str(l, "activation", f, 16, &act, err)) != CORE_OK ||
	    (act && (rc = one_of(act, f, layer_acts, err)) != CORE_OK))
		return rc;
	int v = 0;
	if (strcmp(type, "conv2d") == 0) {
		if ((rc = only_known(l, where, conv_keys, err)) != CORE_OK)
			return rc;
		snprintf(f, sizeof f, "%s.filters", where);
		if (!json_object_get(l, "filters"))
			return bad(err, f, "required");
		if ((rc = get_intv(l, "filters", f, 1, 4096, &v, err)) != CORE_OK)
			return rc;
		snprintf(f, sizeof f, "%s.kernel", where);
		if (!json_object_get(l, "kernel"))
			return bad(err, f, "required");
		int k = 0;
		if ((rc = get_intv(l, "kernel", f, 1, 64, &k, err)) != CORE_OK)
			return rc;
		snprintf(f, sizeof f, "%s.stride", where);
		if ((rc = get_intv(l, "stride", f, 1, 64, &v, err)) != CORE_OK)
			return rc;
		snprintf(f, sizeof f, "%s.padding", where);
		return get_intv(l, "padding", f, 0, k, &v, err);
	}
	if (strcmp(type, "maxpool") == 0) {
		if ((rc = only_known(l, where, pool_keys, err)) != CORE_OK)
			return rc;
		snprintf(f, sizeof f, "%s.pool", where);
		if (!json_object_get(l, "pool"))
			return bad(err, f, "required");
		if ((rc = get_intv(l, "pool", f, 1, 64, &v, err)) != CORE_OK)
			return rc;
		snprintf(f, sizeof f, "%s.stride", where);
		return get_intv(l, "stride", f, 1, 64, &v, err);
	}
	if (strcmp(type, "dense") == 0) {
		if ((rc = only_known(l, where, dense_keys, err)) != CORE_OK)
			return rc;
		snprintf(f, sizeof f, "%s.units", where);
		if (!json_object_get(l, "units"))
			return bad(err, f, "required");
		return get_intv(l, "units", f, 1, 65536, &v, err);
	}
	if (strcmp(type, "dropout") == 0) {
		if ((rc = only_known(l, where, drop_keys, err)) != CORE_OK)
			return rc;
		double r = 0;
		snprintf(f, sizeof f, "%s.rate", where);
		if (!json_object_get(l, "rate"))
			return bad(err, f, "required");
		return get_num(l, "rate", f, 0, false, 1, true, &r, err);
	}
	return only_known(l, where, plain_keys, err);
}

static enum core_status parse_model(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	static const char *const families[] = {"mlp", "cnn", "logistic_regression", "linear_regression", NULL};
	static const char *const mlp_keys[] = {"type", "hidden", "activation", "dropout", NULL};
	static const char *const cnn_keys[] = {"type", "layers", NULL};
	static const char *const lin_keys[] = {"type", NULL};
	json_t *m;
	enum core_status rc;
	if ((rc = get_obj(spec, "model", "model", &m, err)) != CORE_OK)
		return rc;
	if (!m)
		return bad(err, "model",
			   "required ({\"type\": \"mlp\" | \"cnn\" | \"logistic_regression\" | "
			   "\"linear_regression\", ...})");
	json_t *t = json_object_get(m, "type");
	if (!t || json_is_null(t))
		return bad(err, "model.type", "required");
	if (!json_is_string(t))
		return bad(err, "model.type", "must be a string");
	s->model_type = json_string_value(t);
	bool known = false;
	for (size_t i = 0; families[i] && !known; i++)
		if (strcmp(s->model_type, families[i]) == 0) {
			known = true;
			s->family = (enum tr_family)(i + 1);
		}
	if (!known)
		return bad(err, "model.type",
			   "unknown family '%.60s' (one of mlp, cnn, logistic_regression, linear_regression)",
			   s->model_type);
	switch (s->family) {
	case TR_MLP: {
		if ((rc = only_known(m, "model", mlp_keys, err)) != CORE_OK)
			return rc;
		json_t *h = json_object_get(m, "hidden");
		s->activation = "relu";
		if (!h || json_is_null(h)) {
			s->hidden[0] = 128;
			s->n_hidden = 1;
		} else {
			if (!json_is_array(h) || json_array_size(h) > TR_MAX_HIDDEN)
				return bad(err, "model.hidden", "must be an array of at most %d layer sizes",
					   TR_MAX_HIDDEN);
			for (size_t i = 0; i < json_array_size(h); i++) {
				json_t *u = json_array_get(h, i);
				if (!json_is_integer(u) || json_integer_value(u) < 1 || json_integer_value(u) > 65536)
					return bad(err, "model.hidden", "[%zu] must be an integer from 1 to 65536", i);
				s->hidden[s->n_hidden++] = (int)json_integer_value(u);
			}
		}
		if ((rc = get_str(m, "activation", "model.activation", 16, &s->activation, err)) != CORE_OK ||
		    (rc = one_of(s->activation, "model.activation", tr_activations, err)) != CORE_OK)
			return rc;
		return get_num(m, "dropout", "model.dropout", 0, false, 1, true, &s->dropout, err);
	}
	case TR_CNN: {
		if ((rc = only_known(m, "model", cnn_keys, err)) != CORE_OK)
			return rc;
		json_t *l = json_object_get(m, "layers");
		if (!l || json_is_null(l))
			return bad(err, "model.layers",
				   "required for a cnn (a list of conv2d, maxpool, dense ... layers)");
		if (!json_is_array(l) || json_array_size(l) == 0 || json_array_size(l) > TR_MAX_LAYERS / 2)
			return bad(err, "model.layers", "must be an array of 1 to %d layers", TR_MAX_LAYERS / 2);
		for (size_t i = 0; i < json_array_size(l); i++)
			if ((rc = parse_cnn_layer(json_array_get(l, i), i, err)) != CORE_OK)
				return rc;
		s->layers = l;
		return CORE_OK;
	}
	default:
		if ((rc = only_known(m, "model", lin_keys, err)) != CORE_OK)
			return rc;
		if (s->family == TR_LINREG && !s->target)
			return bad(err, "model.type", "linear_regression needs tabular data with a numeric target");
		return CORE_OK;
	}
}

static enum core_status parse_optimizer(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	static const char *const keys[] = {"type", "lr", "momentum", "weight_decay", "beta1", "beta2", "eps", NULL};
	static const char *const kinds[] = {"adam", "sgd", NULL};
	json_t *o;
	enum core_status rc;
	s->optimizer = "adam";
	s->beta1 = 0.9;
	s->beta2 = 0.999;
	s->eps = 1e-8;
	if ((rc = get_obj(spec, "optimizer", "optimizer", &o, err)) != CORE_OK)
		return rc;
	if (o && ((rc = only_known(o, "optimizer", keys, err)) != CORE_OK ||
		  (rc = get_str(o, "type", "optimizer.type", 16, &s->optimizer, err)) != CORE_OK))
		return rc;
	if ((rc = one_of(s->optimizer, "optimizer.type", kinds, err)) != CORE_OK)
		return rc;
	s->lr = strcmp(s->optimizer, "sgd") == 0 ? 0.01 : 0.001;
	if (!o)
		return CORE_OK;
	if ((rc = get_num(o, "lr", "optimizer.lr", 0, true, 10, false, &s->lr, err)) != CORE_OK ||
	    (rc = get_num(o, "momentum", "optimizer.momentum", 0, false, 1, true, &s->momentum, err)) != CORE_OK ||
	    (rc = get_num(o, "weight_decay", "optimizer.weight_decay", 0, false, 1, false, &s->weight_decay, err)) !=
		    CORE_OK ||
	    (rc = get_num(o, "beta1", "optimizer.beta1", 0, false, 1, true, &s->beta1, err)) != CORE_OK ||
	    (rc = get_num(o, "beta2", "optimizer.beta2", 0, false, 1, true, &s->beta2, err)) != CORE_OK ||
	    (rc = get_num(o, "eps", "optimizer.eps", 0, true, 1, false, &s->eps, err)) != CORE_OK)
		return rc;
	if (s->momentum > 0 && strcmp(s->optimizer, "sgd") != 0)
		return bad(err, "optimizer.momentum", "only for sgd (adam has beta1, beta2)");
	return CORE_OK;
}

static const char *const tr_metrics[] = {"val_loss", "val_accuracy", "loss", "accuracy", NULL};

static bool metric_is_accuracy(const char *m)
{
	return strstr(m, "accuracy") != NULL;
}

static enum core_status parse_training(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	static const char *const es_keys[] = {"metric", "patience", "min_delta", NULL};
	enum core_status rc;
	long long seed = 0;
	s->epochs = 10;
	s->batch_size = 32;
	if ((rc = get_intv(spec, "epochs", "epochs", 1, 100000, &s->epochs, err)) != CORE_OK ||
	    (rc = get_intv(spec, "batch_size", "batch_size", 1, 65536, &s->batch_size, err)) != CORE_OK ||
	    (rc = get_int(spec, "seed", "seed", 0, INT64_MAX, &seed, err)) != CORE_OK)
		return rc;
	s->seed = (uint64_t)seed;
	json_t *es;
	if ((rc = get_obj(spec, "early_stopping", "early_stopping", &es, err)) != CORE_OK || !es)
		return rc;
	s->early_stopping = true;
	s->es_metric = "val_loss";
	s->es_patience = 3;
	if ((rc = only_known(es, "early_stopping", es_keys, err)) != CORE_OK ||
	    (rc = get_str(es, "metric", "early_stopping.metric", 32, &s->es_metric, err)) != CORE_OK ||
	    (rc = one_of(s->es_metric, "early_stopping.metric", tr_metrics, err)) != CORE_OK ||
	    (rc = get_intv(es, "patience", "early_stopping.patience", 1, 100000, &s->es_patience, err)) != CORE_OK ||
	    (rc = get_num(es, "min_delta", "early_stopping.min_delta", 0, false, 1e9, false, &s->es_min_delta, err)) !=
		    CORE_OK)
		return rc;
	if (s->family == TR_LINREG && metric_is_accuracy(s->es_metric))
		return bad(err, "early_stopping.metric", "'%s' is not a regression metric", s->es_metric);
	return CORE_OK;
}

/* MLflow's alias rule: [\w-]+, not "latest" nor v<digits> (those name versions). */
static bool alias_ok(const char *a)
{
	size_t n = strlen(a);
	if (n == 0 || n > 255 || strcasecmp(a, "latest") == 0)
		return false;
	bool vdigits = n > 1 && (a[0] == 'v' || a[0] == 'V');
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)a[i]) && a[i] != '_' && a[i] != '-')
			return false;
		if (i > 0 && !isdigit((unsigned char)a[i]))
			vdigits = false;
	}
	return !vdigits;
}

static enum core_status parse_tracking(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	static const char *const reg_keys[] = {"model", "alias", NULL};
	enum core_status rc;
	s->experiment = "Default";
	if ((rc = get_str(spec, "experiment", "experiment", 500, &s->experiment, err)) != CORE_OK ||
	    (rc = get_str(spec, "run_name", "run_name", 250, &s->run_name, err)) != CORE_OK)
		return rc;
	json_t *r;
	if ((rc = get_obj(spec, "register", "register", &r, err)) != CORE_OK || !r)
		return rc;
	if ((rc = only_known(r, "register", reg_keys, err)) != CORE_OK ||
	    (rc = get_str(r, "model", "register.model", 256, &s->register_model, err)) != CORE_OK ||
	    (rc = get_str(r, "alias", "register.alias", 255, &s->register_alias, err)) != CORE_OK)
		return rc;
	if (!s->register_model)
		return bad(err, "register.model", "required (the registered model's name)");
	if (strchr(s->register_model, '/') || strchr(s->register_model, ':'))
		return bad(err, "register.model", "'%.100s' may not contain '/' or ':'", s->register_model);
	if (s->register_alias && !alias_ok(s->register_alias))
		return bad(err, "register.alias",
			   "'%.100s' is not an alias (letters, digits, _ and -; not 'latest' nor v<number>)",
			   s->register_alias);
	return CORE_OK;
}

/* Members a sweep may vary: any hyper-parameter, never what names the data, the
 * run's place in the tracker or the sweep itself. */
static bool sweepable(const char *path)
{
	static const char *const fixed[] = {"dataset",    "split",    "target",   "features", "image",
					    "experiment", "run_name", "register", "sweep",    NULL};
	size_t n = strcspn(path, ".");
	for (size_t i = 0; fixed[i]; i++)
		if (strlen(fixed[i]) == n && strncmp(path, fixed[i], n) == 0)
			return false;
	return n > 0 && path[strlen(path) - 1] != '.' && !strstr(path, "..");
}

#define TR_SWEEP_MAX_TRIALS 1000

static enum core_status parse_sweep(json_t *spec, struct tr_spec *s, struct core_error *err)
{
	static const char *const keys[] = {"method", "space", "trials", "metric", "goal", "parallelism", NULL};
	static const char *const methods[] = {"grid", "random", NULL};
	static const char *const goals[] = {"max", "min", NULL};
	json_t *sw, *space;
	enum core_status rc;
	if ((rc = get_obj(spec, "sweep", "sweep", &sw, err)) != CORE_OK || !sw)
		return rc;
	s->sweep_method = "grid";
	s->sweep_parallelism = 1;
	s->sweep_metric = tr_spec_is_regression(s) ? "val_loss" : "val_accuracy";
	if ((rc = only_known(sw, "sweep", keys, err)) != CORE_OK ||
	    (rc = get_str(sw, "method", "sweep.method", 16, &s->sweep_method, err)) != CORE_OK ||
	    (rc = one_of(s->sweep_method, "sweep.method", methods, err)) != CORE_OK ||
	    (rc = get_str(sw, "metric", "sweep.metric", 32, &s->sweep_metric, err)) != CORE_OK ||
	    (rc = one_of(s->sweep_metric, "sweep.metric", tr_metrics, err)) != CORE_OK ||
	    (rc = get_intv(sw, "parallelism", "sweep.parallelism", 1, 64, &s->sweep_parallelism, err)) != CORE_OK ||
	    (rc = get_intv(sw, "trials", "sweep.trials", 1, TR_SWEEP_MAX_TRIALS, &s->sweep_trials, err)) != CORE_OK)
		return rc;
	if (tr_spec_is_regression(s) && metric_is_accuracy(s->sweep_metric))
		return bad(err, "sweep.metric", "'%s' is not a regression metric", s->sweep_metric);
	s->sweep_goal = metric_is_accuracy(s->sweep_metric) ? "max" : "min";
	if ((rc = get_str(sw, "goal", "sweep.goal", 8, &s->sweep_goal, err)) != CORE_OK ||
	    (rc = one_of(s->sweep_goal, "sweep.goal", goals, err)) != CORE_OK ||
	    (rc = get_obj(sw, "space", "sweep.space", &space, err)) != CORE_OK)
		return rc;
	if (!space || json_object_size(space) == 0)
		return bad(err, "sweep.space", "required: an object of \"<field path>\": [values...]");
	double grid = 1;
	const char *path;
	json_t *values;
	json_object_foreach(space, path, values)
	{
		char f[200];
		snprintf(f, sizeof f, "sweep.space.%.100s", path);
		if (!sweepable(path))
			return bad(err, f,
				   "cannot be swept (only hyper-parameters: model.*, optimizer.*, epochs, "
				   "batch_size, seed, early_stopping.*)");
		if (!json_is_array(values) || json_array_size(values) == 0 ||
		    json_array_size(values) > TR_SWEEP_MAX_TRIALS)
			return bad(err, f, "must be a non-empty array of values to try");
		grid *= (double)json_array_size(values);
		/* Each value must make a valid spec on its own. */
		for (size_t i = 0; i < json_array_size(values); i++) {
			json_t *copy = json_deep_copy(spec);
			json_object_del(copy, "sweep");
			struct tr_spec trial;
			struct core_error e = {{0}};
			rc = http_json_set_path(copy, path, json_array_get(values, i), &e);
			if (rc == CORE_OK)
				rc = tr_spec_parse(copy, &trial, &e);
			json_decref(copy);
			if (rc != CORE_OK)
				return bad(err, f, "[%zu]: %s", i, e.message);
		}
	}
	if (strcmp(s->sweep_method, "grid") == 0) {
		if (grid > TR_SWEEP_MAX_TRIALS)
			return bad(err, "sweep.space", "the grid has %.0f points (at most %d)", grid,
				   TR_SWEEP_MAX_TRIALS);
		if (!s->sweep_trials)
			s->sweep_trials = (int)grid;
		else if (s->sweep_trials > (int)grid)
			return bad(err, "sweep.trials", "%d is more than the grid's %.0f points", s->sweep_trials,
				   grid);
	} else if (!s->sweep_trials) {
		return bad(err, "sweep.trials", "required for a random sweep");
	}
	s->sweep = sw;
	return CORE_OK;
}

/* --- faces ------------------------------------------------------------------------ */

bool tr_spec_is_regression(const struct tr_spec *s)
{
	return s->family == TR_LINREG;
}

enum core_status tr_spec_parse(json_t *spec, struct tr_spec *out, struct core_error *err)
{
	static const char *const keys[] = {
		"dataset",    "split", "target",         "features",   "image",    "model",    "optimizer", "epochs",
		"batch_size", "seed",  "early_stopping", "experiment", "run_name", "register", "sweep",     NULL};
	memset(out, 0, sizeof *out);
	if (!json_is_object(spec))
		return core_fail(err, CORE_EINVAL, "the job spec must be a JSON object");
	enum core_status rc;
	if ((rc = only_known(spec, "", keys, err)) != CORE_OK || (rc = parse_dataset(spec, out, err)) != CORE_OK ||
	    (rc = parse_split(spec, out, err)) != CORE_OK || (rc = parse_data(spec, out, err)) != CORE_OK ||
	    (rc = parse_model(spec, out, err)) != CORE_OK || (rc = parse_optimizer(spec, out, err)) != CORE_OK ||
	    (rc = parse_training(spec, out, err)) != CORE_OK || (rc = parse_tracking(spec, out, err)) != CORE_OK ||
	    (rc = parse_sweep(spec, out, err)) != CORE_OK)
		return rc;
	return CORE_OK;
}

/* Parameters a model may have (float32: 1 GiB of weights, and as much again for the
 * optimiser's state): a bigger one is refused at submit rather than failing a worker. */
#define TR_MAX_PARAMS ((double)(1 << 28))

static int layer_int(json_t *l, const char *key, int def)
{
	json_t *v = json_object_get(l, key);
	return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

enum core_status tr_spec_check_fit(const struct tr_spec *s, int c, int h, int w, int k, struct core_error *err)
{
	if (c < 1 || h < 1 || w < 1 || k < 1)
		return core_fail(err, CORE_EINVAL, "model: the input shape %dx%dx%d (%d outputs) is empty", c, h, w, k);
	double params = 0, in = (double)c * h * w;
	const int c0 = c, h0 = h, w0 = w;
	switch (s->family) {
	case TR_MLP:
		for (int i = 0; i < s->n_hidden; i++) {
			params += in * s->hidden[i] + s->hidden[i];
			in = s->hidden[i];
		}
		params += in * k + k;
		break;
	case TR_CNN: {
		bool spatial = true;
		size_t n = json_array_size(s->layers);
		for (size_t i = 0; i < n; i++) {
			json_t *l = json_array_get(s->layers, i);
			const char *type = json_string_value(json_object_get(l, "type"));
			if (strcmp(type, "conv2d") == 0 || strcmp(type, "maxpool") == 0) {
				bool conv = type[0] == 'c';
				int kern = conv ? layer_int(l, "kernel", 1) : layer_int(l, "pool", 1);
				int stride = layer_int(l, "stride", conv ? 1 : kern),
				    pad = conv ? layer_int(l, "padding", 0) : 0;
				if (!spatial)
					return core_fail(
						err, CORE_EINVAL,
						"model.layers[%zu] (%s): comes after a dense or flatten layer, "
						"whose output has no height and width",
						i, type);
				if (h + 2 * pad < kern || w + 2 * pad < kern)
					return core_fail(
						err, CORE_EINVAL,
						"model.layers[%zu] (%s): %s %d is larger than its %dx%d input%s", i,
						type, conv ? "kernel" : "pool", kern, h, w, pad ? " (padded)" : "");
				if (conv) {
					int f = layer_int(l, "filters", 1);
					params += (double)f * c * kern * kern + f;
					c = f;
				}
				h = (h + 2 * pad - kern) / stride + 1;
				w = (w + 2 * pad - kern) / stride + 1;
				in = (double)c * h * w;
			} else if (strcmp(type, "dense") == 0) {
				int units = layer_int(l, "units", 1);
				params += in * units + units;
				in = units;
				spatial = false;
			} else if (strcmp(type, "flatten") == 0) {
				spatial = false;
			}
		}
		/* The output layer, unless the list ends with a dense layer of k units. */
		json_t *last = json_array_get(s->layers, n - 1);
		bool has_out = strcmp(json_string_value(json_object_get(last, "type")), "dense") == 0 &&
			       layer_int(last, "units", 0) == k;
		if (!has_out)
			params += in * k + k;
		break;
	}
	default:
		params = in * k + k;
		break;
	}
	if (params > TR_MAX_PARAMS)
		return core_fail(err, CORE_EINVAL, "model: %.0f parameters on a %dx%dx%d input; at most %.0f", params,
				 c0, h0, w0, TR_MAX_PARAMS);
	return CORE_OK;
}
