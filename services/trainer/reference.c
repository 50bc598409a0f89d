/* reference.json (face: the tr-mlflow section of tr.h): what the drift monitor compares
 * a served model's live traffic with, computed once from the validation split the model
 * was checked on, in the shape Evidently-style per-column tests (KS, chi-squared,
 * Wasserstein) and PSI over binned shares need:
 *   {"format_version": 1, "rows": n,
 *    "input": {"kind": "tabular" | "image", "shape": [c, h, w],
 *              tabular: "features": [{"index": i, <numeric>}...]   one per input column
 *              image:   "pixels": <numeric> (every value), "brightness": <numeric> (per
 *                       image: the mean of its values), "contrast": <numeric> (per image:
 *                       their population std), as the data registry's image profile},
 *    "predictions": classification: {"task": "classification",
 *                     "classes": [{"name", "count", "share"}] (argmax of the outputs),
 *                     "labels": the same shape for the split's true labels,
 *                     "confidence": {"mean", "histogram": {"edges": 0, 0.1 .. 1,
 *                                    "counts"}} (the top probability)}
 *                   regression: {"task": "regression", "outputs": [{"index", <numeric>}]}}
 * <numeric> is the data registry's column statistics (proto/profile.schema.json's
 * numeric_stats without the distinct count): count, missing, min, max, mean, std
 * (ddof=1), quantiles p1..p99 (numpy's linear method while exact), quantiles_exact, and
 * a histogram of 20 equal bins over [min, max] (numpy.histogram), all from libs/stats,
 * so both references read alike. Inputs are the values the model saw (after the data
 * registry's preprocessing). Pure: no I/O. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ml/nn.h"
#include "stats/stats.h"
#include "tr.h"

#define REF_BINS       20 /* as the data registry's profile (DR_PROF_BINS) */
#define REF_CONF_BINS  10 /* confidence in [0, 1], tenths */
#define REF_NQ         7
#define REF_MAX_TABLES 1024 /* per-column statistics up to this many columns */

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
				 const char *const *class_names)
{
	size_t *pred = calloc(k, sizeof *pred), *label = calloc(k, sizeof *label);
	double edges_v[REF_CONF_BINS + 1], conf_sum = 0;
	struct stats_histogram conf = {0};
	size_t conf_n = 0;
	json_t *out = NULL;
	/* numpy.histogram(top, bins=10, range=(0, 1)), the edges compared as numpy does */
	stats_edges_linspace(0, 1, REF_CONF_BINS, edges_v);
	if (!pred || !label || !stats_histogram_init(&conf, edges_v, REF_CONF_BINS))
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
out:
	stats_histogram_free(&conf);
	free(pred);
	free(label);
	return out;
}

static json_t *regression_predictions(const struct ml_data *val, const float *out_values, size_t k)
{
	json_t *outputs = json_array();
	for (size_t j = 0; j < k; j++) {
		struct col col;
		col_init(&col);
		for (size_t i = 0; i < val->n; i++)
			col_add(&col, out_values[i * k + j]);
		json_t *o = json_pack("{s:I}", "index", (json_int_t)j);
		col_json(&col, o);
		json_array_append_new(outputs, o);
	}
	return json_pack("{s:s,s:o}", "task", "regression", "outputs", outputs);
}

json_t *tr_reference_build(const struct ml_data *val, const float *probs, size_t k, const char *const *class_names)
{
	if (!val || !val->x || !probs || k == 0)
		return NULL;
	bool classes = class_names || (val->y && !val->yr);
	json_t *preds = classes ? class_predictions(val, probs, k, class_names) : regression_predictions(val, probs, k);
	if (!preds)
		return NULL;
	return json_pack("{s:i,s:I,s:o,s:o}", "format_version", 1, "rows", (json_int_t)val->n, "input",
			 input_profile(val), "predictions", preds);
}
