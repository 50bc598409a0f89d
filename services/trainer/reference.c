/* reference.json (face: the tr-mlflow section of tr.h): what the drift monitor compares
 * a served model's live traffic with, computed once from the validation split the model
 * was checked on, in the shape Evidently-style per-column tests (KS, chi-squared,
 * Wasserstein) and PSI over binned shares need:
 *   {"format_version": 2, "rows": n,
 *    "input": {"kind": "tabular" | "image", "shape": [c, h, w],
 *              tabular: "features": [{"index": i, <numeric>}...]   one per input column
 *              image:   "pixels": <numeric> (every value), "brightness": <numeric> (per
 *                       image: the mean of its values), "contrast": <numeric> (per image:
 *                       their population std), as the data registry's image profile},
 *    "columns": [{"name", "type": "numeric", <numeric>, "sample": [x | null...]},
 *                {"name", "type": "categorical", "count", "missing",
 *                 "value_counts": {"<value>": n...}}...],
 *    "predictions": classification: {"task": "classification",
 *                     "classes": [{"name", "count", "share"}] (argmax of the outputs),
 *                     "labels": the same shape for the split's true labels,
 *                     "confidence": {"mean", "histogram": {"edges": 0, 0.1 .. 1,
 *                                    "counts"}, "sample"} (the top probability)}
 *                   regression: {"task": "regression",
 *                                "outputs": [{"index", <numeric>, "sample"}]}}
 * <numeric> is the data registry's column statistics (proto/profile.schema.json's
 * numeric_stats without the distinct count): count, missing, min, max, mean, std
 * (ddof=1), quantiles p1..p99 (numpy's linear method while exact), quantiles_exact, and
 * a histogram of 20 equal bins over [min, max] (numpy.histogram), all from libs/stats,
 * so both references read alike.
 *
 * Two spaces. "input" describes what the net saw (after the data registry's
 * preprocessing), per input index. "columns" (format_version 2) is in the client's
 * space, what a prediction event carries (proto/events/inference.predictions): the
 * preprocessing recorded in the tensors' metadata (the package's "preprocessing") is
 * undone, so a client sending the validation rows would produce these values.
 *   tabular  one entry per column of the preprocessing, in its order (ml/tabular.h's
 *            encoding, inverted): numeric x * std + mean when "standardize" (std 0
 *            taken as 1), else x; categorical: the vocabulary entry whose one-hot float
 *            is 1, or whose index the float holds; all zeros (or -1) is missing. A
 *            value_counts member lists every vocabulary entry, in vocabulary order,
 *            zeros included. Two things the tensors cannot give back: a numeric cell
 *            missing in the data was filled with the fit split's mean before export, so
 *            it comes back as that mean, not as missing; and a categorical value
 *            outside the fit split's vocabulary comes back as missing.
 *   image    two numeric columns, "brightness" and "contrast": per validation image the
 *            mean and population std of its values in 0..255 (libs/img's img_mean_std,
 *            numpy's arr.mean() and arr.std()), from the pixels recovered by undoing
 *            "normalize" (unit: x * 255; meanstd: (x * std[c] + mean[c]) * 255;
 *            rounded to the integer they were). Exact for a client sending pixels at
 *            the model's size and channels (what the inference API summarises then).
 *            The tensors hold images already converted to the model's channels and
 *            resized, and the originals are gone, so for a client sending image files
 *            of another size or channel count these are the closest values, not the
 *            same: a bilinear resize keeps the mean nearly but smooths away some
 *            contrast, and RGB -> gray changes both.
 *   "columns" is left out when the preprocessing is missing or not one this file can
 *   undo (an unknown normalisation, columns whose encoding is not the net's width).
 * Samples (for KS and the like): the values of the same validation rows for every
 * column and for the predictions: with n rows and S = min(n, 5000, 500000 / the number
 * of sampled series), rows floor(j * n / S) for j = 0 .. S-1: every row when n <= 5000
 * (and at most 100 sampled series), evenly spaced rows from the first otherwise
 * (deterministic). The budget caps a very wide table's document at 500000 sampled
 * values. Missing values are null.
 * Pure: no I/O. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "img/img.h"
#include "ml/nn.h"
#include "ml/tabular.h"
#include "stats/stats.h"
#include "tr.h"

#define REF_BINS          20 /* as the data registry's profile (DR_PROF_BINS) */
#define REF_CONF_BINS     10 /* confidence in [0, 1], tenths */
#define REF_NQ            7
#define REF_MAX_TABLES    1024   /* per-column statistics up to this many columns */
#define REF_SAMPLE_MAX    5000   /* values per sample */
#define REF_SAMPLE_BUDGET 500000 /* sampled values per document */

static const double ref_q[REF_NQ] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
static const char *const ref_qn[REF_NQ] = {"p1", "p5", "p25", "p50", "p75", "p95", "p99"};

/* A number, or null when it does not exist (the mean of nothing, the std of one). */
static json_t *num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

/* One numeric column's accumulators. */
struct col {
	struct stats_moments m;
	struct stats_quantiles *q;
};

static void col_init(struct col *c)
{
	stats_moments_init(&c->m);
	c->q = stats_quantiles_new(0);
}

static void col_add(struct col *c, double x)
{
	if (isinf(x))
		x = NAN; /* the statistics of a value that is not a number: count it as missing */
	stats_moments_add(&c->m, x);
	stats_quantiles_add(c->q, x);
}

/* Sets the numeric members on obj and frees c's accumulators. */
static void col_json(struct col *c, json_t *obj)
{
	json_object_set_new(obj, "count", json_integer((json_int_t)c->m.count));
	json_object_set_new(obj, "missing", json_integer((json_int_t)c->m.missing));
	json_object_set_new(obj, "min", num(stats_moments_min(&c->m)));
	json_object_set_new(obj, "max", num(stats_moments_max(&c->m)));
	json_object_set_new(obj, "mean", num(stats_moments_mean(&c->m)));
	json_object_set_new(obj, "std", num(stats_moments_std(&c->m)));
	json_object_set_new(obj, "quantiles_exact", json_boolean(stats_quantiles_exact(c->q)));
	if (c->m.count == 0) {
		json_object_set_new(obj, "quantiles", json_null());
		json_object_set_new(obj, "histogram", json_null());
		goto out;
	}
	double qs[REF_NQ];
	stats_quantiles_get(c->q, ref_q, REF_NQ, qs);
	json_t *qo = json_object();
	for (size_t i = 0; i < REF_NQ; i++)
		json_object_set_new(qo, ref_qn[i], num(qs[i]));
	json_object_set_new(obj, "quantiles", qo);
	double edges[REF_BINS + 1];
	struct stats_histogram h;
	stats_edges_linspace(stats_moments_min(&c->m), stats_moments_max(&c->m), REF_BINS, edges);
	if (!stats_histogram_init(&h, edges, REF_BINS)) {
		json_object_set_new(obj, "histogram", json_null());
		goto out;
	}
	stats_quantiles_fill_histogram(c->q, &h);
	json_t *e = json_array(), *n = json_array();
	for (size_t i = 0; i <= REF_BINS; i++)
		json_array_append_new(e, json_real(h.edges[i]));
	for (size_t i = 0; i < REF_BINS; i++)
		json_array_append_new(n, json_integer((json_int_t)h.counts[i]));
	json_object_set_new(obj, "histogram", json_pack("{s:o,s:o}", "edges", e, "counts", n));
	stats_histogram_free(&h);
out:
	stats_quantiles_free(c->q);
	c->q = NULL;
}

/* The sampled rows: s of n, the j-th being row floor(j * n / s) (see the opening
 * comment). */
struct sample {
	size_t n, s;
};

static struct sample sample_of(size_t n, size_t series)
{
	size_t s = n < REF_SAMPLE_MAX ? n : REF_SAMPLE_MAX;
	size_t cap = REF_SAMPLE_BUDGET / (series ? series : 1);
	return (struct sample){n, s < cap ? s : cap};
}

static size_t sample_row(const struct sample *sm, size_t j)
{
	return (size_t)((uint64_t)j * (uint64_t)sm->n / (uint64_t)sm->s);
}

/* Sets <numeric> of v[0..sm->n) (NaN: missing) and "sample" on obj. */
static void numeric_json(const double *v, const struct sample *sm, json_t *obj)
{
	struct col c;
	col_init(&c);
	for (size_t i = 0; i < sm->n; i++)
		col_add(&c, v[i]);
	col_json(&c, obj);
	json_t *a = json_array();
	for (size_t j = 0; j < sm->s; j++)
		json_array_append_new(a, num(v[sample_row(sm, j)]));
	json_object_set_new(obj, "sample", a);
}

static json_t *input_profile(const struct ml_data *val)
{
	size_t c = (size_t)val->shape.c, hw = (size_t)val->shape.h * (size_t)val->shape.w;
	size_t d = c * hw;
	bool tabular = hw == 1 && c <= REF_MAX_TABLES;
	json_t *in = json_pack("{s:s,s:[i,i,i]}", "kind", hw == 1 ? "tabular" : "image", "shape", val->shape.c,
			       val->shape.h, val->shape.w);
	if (tabular) {
		json_t *features = json_array();
		for (size_t j = 0; j < d; j++) {
			struct col col;
			col_init(&col);
			for (size_t i = 0; i < val->n; i++)
				col_add(&col, val->x[i * d + j]);
			json_t *f = json_pack("{s:I}", "index", (json_int_t)j);
			col_json(&col, f);
			json_array_append_new(features, f);
		}
		json_object_set_new(in, "features", features);
		return in;
	}
	struct col pixels, bright, contrast;
	col_init(&pixels);
	col_init(&bright);
	col_init(&contrast);
	for (size_t i = 0; i < val->n; i++) {
		const float *row = val->x + i * d;
		struct stats_moments m;
		stats_moments_init(&m);
		for (size_t j = 0; j < d; j++) {
			col_add(&pixels, row[j]);
			stats_moments_add(&m, row[j]);
		}
		/* numpy's arr.mean() and arr.std() (ddof=0) of the image */
		double mean = stats_moments_mean(&m);
		double pstd = m.count > 0 ? sqrt(m.m2 / (double)m.count) : NAN;
		col_add(&bright, mean);
		col_add(&contrast, pstd);
	}
	json_t *p = json_object(), *b = json_object(), *ct = json_object();
	col_json(&pixels, p);
	col_json(&bright, b);
	col_json(&contrast, ct);
	json_object_set_new(in, "pixels", p);
	json_object_set_new(in, "brightness", b);
	json_object_set_new(in, "contrast", ct);
	return in;
}

/* --- the client's space ("columns") ------------------------------------------------ */

/* A categorical cell's vocabulary index from its encoding at x, or -1 (missing). */
static long category_of(const struct ml_tabular *t, const struct ml_tab_column *c, const float *x)
{
	if (t->one_hot) {
		for (size_t j = 0; j < c->n_vocab; j++)
			if (x[j] == 1.0f)
				return (long)j;
		return -1;
	}
	float v = x[0];
	return v >= 0 && v < (float)c->n_vocab && v == floorf(v) ? (long)v : -1;
}

static json_t *tabular_columns(const struct ml_data *val, const struct ml_tabular *t, const struct sample *sm)
{
	size_t d = (size_t)val->shape.c, o = 0;
	double *v = malloc((val->n ? val->n : 1) * sizeof *v);
	json_t *cols = json_array();
	if (!v)
		goto fail;
	for (size_t ci = 0; ci < t->n_cols; ci++) {
		const struct ml_tab_column *c = &t->cols[ci];
		json_t *col = json_pack("{s:s,s:s}", "name", c->name, "type", c->numeric ? "numeric" : "categorical");
		if (!col)
			goto fail;
		json_array_append_new(cols, col);
		if (c->numeric) {
			double scale = t->standardize ? (c->std > 0 ? c->std : 1) : 1,
			       shift = t->standardize ? c->mean : 0;
			for (size_t i = 0; i < val->n; i++) {
				float x = val->x[i * d + o];
				v[i] = isfinite(x) ? (double)x * scale + shift : NAN;
			}
			numeric_json(v, sm, col);
			o++;
			continue;
		}
		size_t *counts = calloc(c->n_vocab ? c->n_vocab : 1, sizeof *counts), missing = 0;
		if (!counts)
			goto fail;
		for (size_t i = 0; i < val->n; i++) {
			long k = category_of(t, c, val->x + i * d + o);
			if (k < 0)
				missing++;
			else
				counts[k]++;
		}
		json_t *vc = json_object();
		for (size_t j = 0; j < c->n_vocab; j++)
			json_object_set_new(vc, c->vocab[j], json_integer((json_int_t)counts[j]));
		free(counts);
		json_object_set_new(col, "count", json_integer((json_int_t)(val->n - missing)));
		json_object_set_new(col, "missing", json_integer((json_int_t)missing));
		json_object_set_new(col, "value_counts", vc);
		o += t->one_hot ? c->n_vocab : 1;
	}
	free(v);
	return cols;
fail:
	free(v);
	json_decref(cols);
	return NULL;
}

/* How an image's tensor values go back to 0..255: raw = x * mul[c] + add[c]. */
struct img_undo {
	double mul[3], add[3];
};

/* Reads the image preprocessing's "normalize" (and "mean", "std"); false when it is
 * not one to undo for c channels. */
static bool img_undo_parse(const json_t *prep, size_t c, struct img_undo *u)
{
	const char *norm = json_string_value(json_object_get(prep, "normalize"));
	const json_t *mean = json_object_get(prep, "mean"), *std = json_object_get(prep, "std");
	if (!norm || c == 0 || c > 3)
		return false;
	for (size_t ch = 0; ch < c; ch++) {
		u->mul[ch] = 1;
		u->add[ch] = 0;
		if (strcmp(norm, "unit") == 0) {
			u->mul[ch] = 255;
		} else if (strcmp(norm, "meanstd") == 0) {
			const json_t *m = json_array_get(mean, ch), *sd = json_array_get(std, ch);
			if (!json_is_number(m) || !json_is_number(sd) || !(json_number_value(sd) > 0))
				return false;
			u->mul[ch] = json_number_value(sd) * 255;
			u->add[ch] = json_number_value(m) * 255;
		} else if (strcmp(norm, "none") != 0) {
			return false;
		}
	}
	return true;
}

static json_t *image_columns(const struct ml_data *val, const struct img_undo *u, const struct sample *sm)
{
	size_t c = (size_t)val->shape.c, hw = (size_t)val->shape.h * (size_t)val->shape.w;
	double *bright = malloc((val->n ? val->n : 1) * sizeof *bright);
	double *contrast = malloc((val->n ? val->n : 1) * sizeof *contrast);
	json_t *cols = NULL;
	if (!bright || !contrast)
		goto out;
	for (size_t i = 0; i < val->n; i++) {
		const float *x = val->x + i * c * hw;
		uint64_t sum = 0;
		unsigned __int128 sumsq = 0;
		bool finite = true;
		for (size_t ch = 0; ch < c; ch++)
			for (size_t k = 0; k < hw; k++) {
				double raw = nearbyint((double)x[ch * hw + k] * u->mul[ch] + u->add[ch]);
				finite &= isfinite(raw);
				uint64_t p = !(raw > 0) ? 0 : raw > 255 ? 255 : (uint64_t)raw;
				sum += p;
				sumsq += p * p;
			}
		img_mean_std(c * hw, sum, sumsq, &bright[i], &contrast[i]);
		if (!finite)
			bright[i] = contrast[i] = NAN;
	}
	json_t *b = json_pack("{s:s,s:s}", "name", "brightness", "type", "numeric");
	json_t *ct = json_pack("{s:s,s:s}", "name", "contrast", "type", "numeric");
	numeric_json(bright, sm, b);
	numeric_json(contrast, sm, ct);
	cols = json_pack("[o,o]", b, ct);
out:
	free(bright);
	free(contrast);
	return cols;
}

/* --- predictions ------------------------------------------------------------------- */

/* [{"name", "count", "share"}] of counts over n. */
static json_t *shares(const size_t *counts, size_t k, size_t n, const char *const *class_names)
{
	json_t *a = json_array();
	for (size_t j = 0; j < k; j++) {
		char name[32];
		snprintf(name, sizeof name, "%zu", j);
		json_array_append_new(a, json_pack("{s:s,s:I,s:o}", "name", class_names ? class_names[j] : name,
						   "count", (json_int_t)counts[j], "share",
						   n ? json_real((double)counts[j] / (double)n) : json_null()));
	}
	return a;
}

static json_t *class_predictions(const struct ml_data *val, const float *probs, size_t k,
				 const char *const *class_names, const struct sample *sm)
{
	size_t *pred = calloc(k, sizeof *pred), *label = calloc(k, sizeof *label);
	double edges_v[REF_CONF_BINS + 1], conf_sum = 0;
	double *top = malloc((val->n ? val->n : 1) * sizeof *top);
	struct stats_histogram conf = {0};
	size_t conf_n = 0;
	json_t *out = NULL;
	/* numpy.histogram(top, bins=10, range=(0, 1)), the edges compared as numpy does */
	stats_edges_linspace(0, 1, REF_CONF_BINS, edges_v);
	if (!pred || !label || !top || !stats_histogram_init(&conf, edges_v, REF_CONF_BINS))
		goto out;
	for (size_t i = 0; i < val->n; i++) {
		const float *row = probs + i * k;
		size_t best = 0;
		for (size_t j = 1; j < k; j++)
			if (row[j] > row[best]) /* the first on ties, as numpy.argmax */
				best = j;
		pred[best]++;
		if (val->y && val->y[i] >= 0 && (size_t)val->y[i] < k)
			label[val->y[i]]++;
		double p = row[best];
		top[i] = p;
		if (!isfinite(p))
			continue;
		stats_histogram_add(&conf, p);
		conf_sum += p;
		conf_n++;
	}
	json_t *edges = json_array(), *counts = json_array();
	for (size_t b = 0; b <= REF_CONF_BINS; b++)
		json_array_append_new(edges, json_real(conf.edges[b]));
	for (size_t b = 0; b < REF_CONF_BINS; b++)
		json_array_append_new(counts, json_integer((json_int_t)conf.counts[b]));
	out = json_pack("{s:s,s:o,s:{s:o,s:{s:o,s:o}}}", "task", "classification", "classes",
			shares(pred, k, val->n, class_names), "confidence", "mean",
			conf_n ? json_real(conf_sum / (double)conf_n) : json_null(), "histogram", "edges", edges,
			"counts", counts);
	if (val->y)
		json_object_set_new(out, "labels", shares(label, k, val->n, class_names));
	json_t *sample = json_array();
	for (size_t j = 0; j < sm->s; j++)
		json_array_append_new(sample, num(top[sample_row(sm, j)]));
	json_object_set_new(json_object_get(out, "confidence"), "sample", sample);
out:
	stats_histogram_free(&conf);
	free(pred);
	free(label);
	free(top);
	return out;
}

static json_t *regression_predictions(const struct ml_data *val, const float *out_values, size_t k,
				      const struct sample *sm)
{
	double *v = malloc((val->n ? val->n : 1) * sizeof *v);
	if (!v)
		return NULL;
	json_t *outputs = json_array();
	for (size_t j = 0; j < k; j++) {
		for (size_t i = 0; i < val->n; i++)
			v[i] = out_values[i * k + j];
		json_t *o = json_pack("{s:I}", "index", (json_int_t)j);
		numeric_json(v, sm, o);
		json_array_append_new(outputs, o);
	}
	free(v);
	return json_pack("{s:s,s:o}", "task", "regression", "outputs", outputs);
}

json_t *tr_reference_build(const struct ml_data *val, const float *probs, size_t k, const char *const *class_names,
			   const json_t *preprocessing)
{
	if (!val || !val->x || !probs || k == 0)
		return NULL;
	bool classes = class_names || (val->y && !val->yr);
	bool tabular = val->shape.h == 1 && val->shape.w == 1;
	struct ml_tabular tab = {0};
	struct img_undo undo = {{0}, {0}};
	json_t *doc = NULL;
	/* which client columns can be given back, and how many numeric series they sample */
	size_t series = classes ? 1 : k;
	bool columns = false;
	if (tabular && preprocessing && ml_tabular_compile(preprocessing, &tab, NULL) == CORE_OK &&
	    tab.width == (size_t)val->shape.c) {
		columns = true;
		for (size_t i = 0; i < tab.n_cols; i++)
			series += tab.cols[i].numeric;
	} else if (!tabular && preprocessing && img_undo_parse(preprocessing, (size_t)val->shape.c, &undo)) {
		columns = true;
		series += 2;
	}
	struct sample sm = sample_of(val->n, series);
	json_t *preds = classes ? class_predictions(val, probs, k, class_names, &sm)
				: regression_predictions(val, probs, k, &sm);
	if (!preds)
		goto out;
	doc = json_pack("{s:i,s:I,s:o,s:o}", "format_version", 2, "rows", (json_int_t)val->n, "input",
			input_profile(val), "predictions", preds);
	if (doc && columns) {
		json_t *cols = tabular ? tabular_columns(val, &tab, &sm) : image_columns(val, &undo, &sm);
		if (json_object_set_new(doc, "columns", cols) != 0) { /* cols NULL: out of memory */
			json_decref(doc);
			doc = NULL;
		}
	}
out:
	ml_tabular_free(&tab);
	return doc;
}
