/* Evidently's data-drift table (face: dm.h, table.c section): one row per column from
 * its two samples, and the dataset verdict over the rows. Pure. Both producers of
 * reports call it, so a batch comparison and a monitor's window read alike: batch.c
 * (two CSV texts: raw cells in order) and window.c (a window's reservoir of numbers
 * and counted categories against the model's reference).
 * Evidently's rules followed: missing values are dropped before anything else
 * (get_one_column_drift drops NaN), n_unique counts ref ∪ cur, chisquare and z on a
 * numerical column with few values count each value as a category (stats_bins_numeric
 * gives one bin per value when there are at most 20), psi, kl_div and jensenshannon
 * use get_binned_data's bins (stats_bins_numeric; a categorical column's categories
 * arrive counted). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "stats/distance.h"
#include "stats/drift.h"
#include "stats/stats.h"
#include "stats/stattest.h"
#include "dm.h"

/* A categorical distribution in a report lists at most this many values (the most
 * frequent over both samples); the rest are summed in "other". */
#define TOP_VALUES 100

static const char *const sample_names[2] = {"reference", "current"};

static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Distinct values of a ∪ b, counted up to DISTINCT_ENOUGH: Evidently's default choice
 * (n_unique) only tells <= 2, 3..5 and more apart, so the count stops at 6 and a column
 * of a million values costs one pass, not a sort. */
#define DISTINCT_ENOUGH 6

static uint64_t distinct_numbers(const double *a, size_t na, const double *b, size_t nb)
{
	double seen[DISTINCT_ENOUGH];
	size_t k = 0;
	for (size_t i = 0; i < na + nb && k < DISTINCT_ENOUGH; i++) {
		double x = i < na ? a[i] : b[i - na];
		bool known = false;
		for (size_t j = 0; j < k && !known; j++)
			known = seen[j] == x;
		if (!known)
			seen[k++] = x;
	}
	return k;
}

static size_t sample_size(const struct dm_col *c, int s)
{
	if (c->type == STATS_COLUMN_NUMERICAL)
		return c->n_num[s];
	uint64_t n = 0;
	for (size_t i = 0; i < c->cats->k; i++)
		n += s ? c->cats->cur[i] : c->cats->ref[i];
	return (size_t)n;
}

/* A numerical sample's histogram on Sturges' bins over the pooled range, the same edges
 * for both samples so the two read side by side. */
static enum core_status num_distributions(const struct dm_col *c, json_t *dist[2], struct core_error *err)
{
	size_t n0 = c->n_num[0], n1 = c->n_num[1];
	double lo = c->num[0][0], hi = lo;
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < c->n_num[s]; i++) {
			lo = fmin(lo, c->num[s][i]);
			hi = fmax(hi, c->num[s][i]);
		}
	size_t k = stats_sturges_bins(lo, hi, n0 + n1);
	double *edges = core_xmalloc((k + 1) * sizeof *edges);
	stats_edges_linspace(lo, hi, k, edges);
	struct stats_bins b = {0};
	enum core_status rc = stats_bins_on_edges(edges, k, c->num[0], n0, c->num[1], n1, &b);
	if (rc != CORE_OK) {
		free(edges);
		return core_fail(err, rc, "column '%.100s': cannot draw its histogram (%s)", c->name,
				 core_strerror(rc));
	}
	for (int s = 0; s < 2; s++) {
		json_t *je = json_array(), *jc = json_array();
		for (size_t i = 0; i <= k; i++)
			json_array_append_new(je, json_real(edges[i]));
		for (size_t i = 0; i < k; i++)
			json_array_append_new(jc, json_integer((json_int_t)(s ? b.cur[i] : b.ref[i])));
		json_object_set_new(dist[s], "histogram", json_pack("{s:o, s:o}", "edges", je, "counts", jc));
	}
	stats_bins_free(&b);
	free(edges);
	return CORE_OK;
}

/* qsort has no context argument: the bins being ordered, per thread. */
static _Thread_local const struct stats_bins *tl_bins;

static int by_pooled_count(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	uint64_t ci = tl_bins->ref[i] + tl_bins->cur[i], cj = tl_bins->ref[j] + tl_bins->cur[j];
	if (ci != cj)
		return ci > cj ? -1 : 1;
	return (i > j) - (i < j);
}

/* A categorical sample's value counts: every category when there are at most
 * TOP_VALUES, else the most frequent over both samples and the rest as "other". */
static void cat_distributions(const struct stats_bins *b, json_t *dist[2])
{
	size_t *order = core_xmalloc((b->k ? b->k : 1) * sizeof *order);
	for (size_t i = 0; i < b->k; i++)
		order[i] = i;
	tl_bins = b;
	qsort(order, b->k, sizeof *order, by_pooled_count);
	size_t shown = b->k < TOP_VALUES ? b->k : TOP_VALUES;
	for (int s = 0; s < 2; s++) {
		const uint64_t *counts = s ? b->cur : b->ref;
		json_t *vc = json_object();
		uint64_t other = 0;
		for (size_t i = 0; i < b->k; i++) {
			if (i < shown)
				json_object_set_new(vc, b->labels[order[i]],
						    json_integer((json_int_t)counts[order[i]]));
			else
				other += counts[order[i]];
		}
		json_object_set_new(dist[s], "value_counts", vc);
		if (b->k > shown)
			json_object_set_new(dist[s], "other", json_integer((json_int_t)other));
	}
	free(order);
}

/* Each sample's values in order for TVD's permutations: the caller's cells, else the
 * categories repeated by their counts (the same multiset; a shuffle does not care
 * about the order it starts from, only its draws do). */
static enum core_status tvd(const struct dm_col *c, double *out)
{
	const char **v[2] = {NULL, NULL};
	size_t n[2];
	for (int s = 0; s < 2; s++) {
		if (c->cells[s]) {
			n[s] = c->n_cells[s];
			continue;
		}
		n[s] = sample_size(c, s);
		v[s] = core_xmalloc((n[s] ? n[s] : 1) * sizeof *v[s]);
		size_t j = 0;
		for (size_t i = 0; i < c->cats->k; i++)
			for (uint64_t r = s ? c->cats->cur[i] : c->cats->ref[i]; r > 0; r--)
				v[s][j++] = c->cats->labels[i];
	}
	enum core_status rc =
		stats_tvd_pvalue(c->cells[0] ? c->cells[0] : v[0], n[0], c->cells[1] ? c->cells[1] : v[1], n[1], out);
	free(v[0]);
	free(v[1]);
	return rc;
}

/* The score of method m on the column into *out (NaN: the method gives none). */
static enum core_status score(const struct dm_col *c, enum stats_method m, double *out, struct core_error *err)
{
	size_t n0 = c->n_num[0], n1 = c->n_num[1];
	bool num = c->type == STATS_COLUMN_NUMERICAL;
	struct stats_test t = {NAN, NAN};
	enum core_status rc = CORE_OK;
	struct stats_bins nb = {0};
	/* The binned methods on a numerical column need Evidently's bins for it; a
	 * categorical column has its categories already. */
	bool binned = m == STATS_METHOD_CHISQUARE || m == STATS_METHOD_Z || m == STATS_METHOD_PSI ||
		      m == STATS_METHOD_KL_DIV || m == STATS_METHOD_JENSENSHANNON ||
		      (m == STATS_METHOD_HELLINGER && !num);
	if (binned && num)
		rc = stats_bins_numeric(c->num[0], n0, c->num[1], n1, &nb);
	if (rc != CORE_OK)
		goto out;
	const struct stats_bins *b = num ? &nb : c->cats;
	switch (m) {
	case STATS_METHOD_KS:
		rc = stats_ks_2samp(c->num[0], n0, c->num[1], n1, &t);
		*out = t.pvalue;
		break;
	case STATS_METHOD_WASSERSTEIN:
		rc = stats_wasserstein_norm(c->num[0], n0, c->num[1], n1, out);
		break;
	case STATS_METHOD_CHISQUARE:
		rc = stats_chisquare_evidently(b->ref, b->cur, b->k, &t);
		*out = t.pvalue;
		break;
	case STATS_METHOD_Z:
		rc = stats_ztest_evidently(b->ref, b->cur, b->k, &t);
		*out = t.pvalue;
		break;
	case STATS_METHOD_PSI:
		rc = stats_psi(b->ref, b->k, b->cur, b->k, out);
		break;
	case STATS_METHOD_KL_DIV:
		rc = stats_kl_div(b->ref, b->k, b->cur, b->k, out);
		break;
	case STATS_METHOD_JENSENSHANNON:
		rc = stats_jensenshannon(b->ref, b->k, b->cur, b->k, out);
		break;
	case STATS_METHOD_HELLINGER:
		rc = num ? stats_hellinger_numeric(c->num[0], n0, c->num[1], n1, out)
			 : stats_hellinger(b->ref, b->k, b->cur, b->k, out);
		break;
	case STATS_METHOD_TVD:
		rc = tvd(c, out);
		break;
	default:
		rc = CORE_EINVAL;
	}
out:
	stats_bins_free(&nb);
	if (rc != CORE_OK)
		return core_fail(err, rc, "column '%.100s': %s cannot be computed on it (%s)", c->name,
				 stats_method_name(m), core_strerror(rc));
	return CORE_OK;
}

/* The method and threshold for the column: the override's, else Evidently's. */
static enum core_status choose(const struct dm_col *c, json_t *override, const char *field, enum stats_method *m,
			       double *threshold, struct core_error *err)
{
	const char *method = json_string_value(json_object_get(override, "method"));
	json_t *th = json_object_get(override, "threshold");
	if (method) {
		stats_method_by_name(method, m); /* dm_overrides_parse checked the name */
		if (!stats_method_applies(*m, c->type))
			return core_fail(err, CORE_EINVAL, "%s.%.100s.method: %s does not apply to a %s column", field,
					 c->name, method,
					 c->type == STATS_COLUMN_NUMERICAL ? "numerical" : "categorical");
	} else {
		bool num = c->type == STATS_COLUMN_NUMERICAL;
		uint64_t n_unique = num ? distinct_numbers(c->num[0], c->n_num[0], c->num[1], c->n_num[1]) : c->cats->k;
		*m = stats_default_method(c->type, c->n_ref ? c->n_ref : sample_size(c, 0), n_unique);
	}
	*threshold = th ? json_real_value(th) : stats_method_default_threshold(*m);
	return CORE_OK;
}

enum core_status dm_col_report(const struct dm_col *c, json_t *override, const char *field, json_t **row, bool *drifted,
			       struct core_error *err)
{
	json_t *dist[2] = {NULL, NULL};
	enum core_status rc = CORE_OK;
	for (int s = 0; s < 2; s++)
		if (sample_size(c, s) == 0)
			return core_fail(err, CORE_EINVAL,
					 "column '%.100s': no values in the %s (every one is missing), nothing to "
					 "compare",
					 c->name, sample_names[s]);
	/* A numerical column's samples sorted once: the statistic and the histogram each
	 * sort what they are given, and find these sorted (the report's largest cost) */
	struct dm_col sorted = *c;
	double *own[2] = {NULL, NULL};
	for (int s = 0; c->type == STATS_COLUMN_NUMERICAL && s < 2; s++) {
		own[s] = core_xmalloc((c->n_num[s] ? c->n_num[s] : 1) * sizeof *own[s]);
		memcpy(own[s], c->num[s], c->n_num[s] * sizeof *own[s]);
		if (stats_sort_sample(own[s], c->n_num[s]) == CORE_OK)
			sorted.num[s] = own[s];
	}
	c = &sorted;
	enum stats_method m = STATS_METHOD_KS;
	double threshold = NAN, value = NAN;
	rc = choose(c, override, field, &m, &threshold, err);
	if (rc == CORE_OK)
		rc = score(c, m, &value, err);
	for (int s = 0; rc == CORE_OK && s < 2; s++)
		dist[s] = json_pack("{s:I, s:I}", "count", (json_int_t)(c->count[s] ? c->count[s] : sample_size(c, s)),
				    "missing", (json_int_t)c->missing[s]);
	if (rc == CORE_OK && c->type == STATS_COLUMN_NUMERICAL)
		rc = num_distributions(c, dist, err);
	else if (rc == CORE_OK)
		cat_distributions(c->cats, dist);
	free(own[0]);
	free(own[1]);
	if (rc != CORE_OK) {
		json_decref(dist[0]);
		json_decref(dist[1]);
		return rc;
	}
	*drifted = stats_method_drifted(m, value, threshold);
	*row = json_pack("{s:s, s:s, s:s, s:f, s:o, s:b, s:o, s:o}", "column_name", c->name, "column_type",
			 c->type == STATS_COLUMN_NUMERICAL ? "num" : "cat", "stattest_name", stats_method_name(m),
			 "stattest_threshold", threshold, "drift_score", real_or_null(value), "drift_detected",
			 *drifted, "reference", dist[0], "current", dist[1]);
	/* Names and values came in JSON strings, so they are valid UTF-8 and this holds;
	 * were it not to, a clear 400 beats a row missing from the table. */
	if (!*row)
		return core_fail(err, CORE_EINVAL, "column '%.100s': cannot be written as JSON", c->name);
	return CORE_OK;
}

json_t *dm_table(json_t *rows, size_t n_drifted, double drift_share)
{
	size_t n = json_array_size(rows);
	double share = 0;
	bool dataset = stats_dataset_drift(n_drifted, n, drift_share, &share);
	return json_pack("{s:o, s:I, s:I, s:f, s:f, s:b}", "columns", rows, "number_of_columns", (json_int_t)n,
			 "number_of_drifted_columns", (json_int_t)n_drifted, "share_of_drifted_columns", share,
			 "drift_share", drift_share, "dataset_drift", dataset);
}
