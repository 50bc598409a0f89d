/* Batch drift (face: dm.h, batch.c section): Evidently's everyday use, "do these two
 * data sets differ?", on two CSV texts sent inline. Pure: no I/O, no database.
 *   1. dm_batch_parse checks the body (the overrides through dm_overrides_parse, so a
 *      batch accepts exactly what a monitor accepts);
 *   2. dm_batch_report reads both texts with the shared CSV reader (core/csv.h), one
 *      column at a time keeps its non-empty cells, decides num or cat, picks the method
 *      (override, else stats_default_method), computes the score with libs/stats and
 *      builds Evidently's data-drift table.
 * Evidently's rules followed: missing cells are dropped before anything else
 * (get_one_column_drift drops NaN), n_unique counts ref ∪ cur, chisquare and z on a
 * numerical column with few values count each value as a category (stats_bins_numeric
 * gives one bin per value when there are at most 20), psi, kl_div and jensenshannon
 * use get_binned_data's bins (stats_bins_numeric / stats_bins_categorical).
 * Memory: each sample's cells are copied once (the body's size bounds them:
 * DM_BATCH_MAX), plus one column's numbers and bins at a time. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "core/alloc.h"
#include "core/csv.h"
#include "stats/distance.h"
#include "stats/drift.h"
#include "stats/stats.h"
#include "stats/stattest.h"
#include "dm.h"

/* A categorical distribution in a report lists at most this many values (the most
 * frequent over both samples); the rest are summed in "other". */
#define TOP_VALUES 100

static const char *const batch_members[] = {"reference", "current", "columns", "drift_share", NULL};
static const char *const sample_members[] = {"csv", "dataset", NULL};
static const char *const sample_names[2] = {"reference", "current"};

/* --- the body ------------------------------------------------------------------------ */

static enum core_status parse_sample(json_t *s, const char *field, const char **text, size_t *len, bool *not_impl,
				     struct core_error *err)
{
	enum core_status rc = dm_refuse_unknown(s, field, sample_members, err);
	if (rc != CORE_OK)
		return rc;
	json_t *csv = json_object_get(s, "csv"), *dataset = json_object_get(s, "dataset");
	if (csv && dataset)
		return core_fail(err, CORE_EINVAL, "%s: give csv or dataset, not both", field);
	if (dataset) {
		*not_impl = true;
		return core_fail(err, CORE_EINVAL,
				 "%s.dataset: comparing data-registry versions is not implemented yet; send the "
				 "sample inline as {\"csv\": \"<text with a header row>\"}",
				 field);
	}
	if (!csv)
		return http_jspec_missing(err, field, "csv");
	if (!json_is_string(csv))
		return core_fail(err, CORE_EINVAL, "%s.csv: must be a string (CSV text with a header row)", field);
	*text = json_string_value(csv);
	*len = json_string_length(csv);
	if (*len == 0)
		return core_fail(err, CORE_EINVAL, "%s.csv: is empty (CSV text with a header row)", field);
	return CORE_OK;
}

enum core_status dm_batch_parse(json_t *body, struct dm_batch *out, struct core_error *err)
{
	*out = (struct dm_batch){.drift_share = STATS_DRIFT_SHARE_DEFAULT};
	json_t *ref = NULL, *cur = NULL, *columns = NULL;
	bool has_share = false;
	double share = 0;
	const struct http_jspec spec[] = {HTTP_JS_REQ_OBJECT("reference", &ref), HTTP_JS_REQ_OBJECT("current", &cur),
					  HTTP_JS_OPT_OBJECT("columns", &columns, NULL),
					  HTTP_JS_OPT_DOUBLE("drift_share", &share, &has_share), HTTP_JS_END};
	enum core_status rc = http_jspec_parse(body, spec, err);
	if (rc == CORE_OK)
		rc = dm_refuse_unknown(body, NULL, batch_members, err);
	if (rc == CORE_OK)
		rc = parse_sample(ref, "reference", &out->ref_csv, &out->ref_len, &out->not_implemented, err);
	if (rc == CORE_OK)
		rc = parse_sample(cur, "current", &out->cur_csv, &out->cur_len, &out->not_implemented, err);
	if (rc == CORE_OK && has_share && !(isfinite(share) && share > 0 && share <= 1))
		rc = core_fail(err, CORE_EINVAL, "drift_share: must be a number > 0 and <= 1");
	if (rc == CORE_OK)
		rc = columns ? dm_overrides_parse(columns, "columns", &out->columns, err) : CORE_OK;
	if (rc != CORE_OK) {
		dm_batch_clear(out);
		return rc;
	}
	if (!out->columns)
		out->columns = json_object();
	if (has_share)
		out->drift_share = share;
	return CORE_OK;
}

void dm_batch_clear(struct dm_batch *b)
{
	json_decref(b->columns);
	b->columns = NULL;
}

/* --- the samples --------------------------------------------------------------------- */

/* One column of one sample: its non-empty cells (copies) and its empty ones. */
struct cells {
	char **v;
	size_t n, cap;
	uint64_t missing;
};

struct sample {
	char **names; /* the header, copies */
	struct cells *cols;
	size_t n_cols;
	uint64_t rows;
};

static void sample_free(struct sample *s)
{
	for (size_t c = 0; c < s->n_cols; c++) {
		free(s->names[c]);
		for (size_t i = 0; s->cols && i < s->cols[c].n; i++)
			free(s->cols[c].v[i]);
		if (s->cols)
			free(s->cols[c].v);
	}
	free(s->names);
	free(s->cols);
	*s = (struct sample){0};
}

static void cells_add(struct cells *c, const char *value)
{
	if (!*value) {
		c->missing++;
		return;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = core_xrealloc(c->v, c->cap * sizeof *c->v);
	}
	c->v[c->n++] = core_xstrdup(value);
}

/* Reads one CSV text into *s (zeroed on failure). name: "reference" or "current",
 * which the reader's messages start with. */
static enum core_status read_sample(const char *text, size_t len, const char *name, struct sample *s,
				    struct core_error *err)
{
	struct core_csv *r = NULL;
	const char *const *fields;
	uint64_t row;
	enum core_status rc = core_csv_open_mem(text, len, name, &r, err);
	if (rc != CORE_OK)
		return rc;
	size_t n;
	const char *const *header = core_csv_header(r, &n);
	if (n > DM_FEATURES_MAX) {
		rc = core_fail(err, CORE_EINVAL, "%s: %zu columns, at most %d", name, n, DM_FEATURES_MAX);
		goto out;
	}
	s->n_cols = n;
	s->names = core_xcalloc(n, sizeof *s->names);
	s->cols = core_xcalloc(n, sizeof *s->cols);
	for (size_t c = 0; c < n; c++)
		s->names[c] = core_xstrdup(header[c]);
	while ((rc = core_csv_next(r, &fields, &row, err)) == CORE_OK) {
		for (size_t c = 0; c < n; c++)
			cells_add(&s->cols[c], fields[c]);
		s->rows = row;
	}
	if (rc == CORE_ENOENT)
		rc = CORE_OK;
out:
	core_csv_close(r);
	if (rc != CORE_OK)
		sample_free(s);
	return rc;
}

static ssize_t column_index(const struct sample *s, const char *name)
{
	for (size_t c = 0; c < s->n_cols; c++)
		if (strcmp(s->names[c], name) == 0)
			return (ssize_t)c;
	return -1;
}

/* Appends "'a', 'b'" of the names of from that to lacks into buf. */
static size_t list_absent(const struct sample *from, const struct sample *to, char *buf, size_t size)
{
	size_t n = 0, len = 0;
	buf[0] = '\0';
	for (size_t c = 0; c < from->n_cols; c++) {
		if (column_index(to, from->names[c]) >= 0)
			continue;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s'%.100s'", n ? ", " : "", from->names[c]);
		n++;
	}
	return n;
}

/* Both headers must name the same columns (in any order): Evidently compares columns
 * by name, and a column on one side only has nothing to compare with. */
static enum core_status check_headers(const struct sample *ref, const struct sample *cur, struct core_error *err)
{
	char missing[300], extra[300];
	size_t n_missing = list_absent(ref, cur, missing, sizeof missing);
	size_t n_extra = list_absent(cur, ref, extra, sizeof extra);
	if (n_missing == 0 && n_extra == 0)
		return CORE_OK;
	return core_fail(err, CORE_EINVAL, "current: the columns differ from the reference's:%s%s%s%s%s",
			 n_missing ? " missing " : "", missing, n_missing && n_extra ? ";" : "",
			 n_extra ? " extra " : "", extra);
}

/* --- one column ---------------------------------------------------------------------- */

/* A cell as a finite number, as pandas would read the column as numbers: the whole cell,
 * no leading space, no hexadecimal. */
static bool read_number(const char *s, double *out)
{
	if (isspace((unsigned char)*s) || strpbrk(s, "xX"))
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* The cells as numbers into *out (malloc'd), or false when one is not a finite number. */
static bool numbers(const struct cells *c, double **out)
{
	*out = core_xmalloc((c->n ? c->n : 1) * sizeof **out);
	for (size_t i = 0; i < c->n; i++) {
		if (!read_number(c->v[i], &(*out)[i])) {
			free(*out);
			*out = NULL;
			return false;
		}
	}
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Distinct values of a ∪ b (n_unique of Evidently's default choice). */
static uint64_t distinct_numbers(const double *a, size_t na, const double *b, size_t nb)
{
	double *all = core_xmalloc((na + nb) * sizeof *all);
	memcpy(all, a, na * sizeof *all);
	memcpy(all + na, b, nb * sizeof *all);
	qsort(all, na + nb, sizeof *all, cmp_double);
	uint64_t k = 0;
	for (size_t i = 0; i < na + nb; i++)
		if (i == 0 || all[i] != all[i - 1])
			k++;
	free(all);
	return k;
}

/* What a column's report needs from its two samples. */
struct column {
	const char *name;
	const struct cells *cells[2];
	double *num[2]; /* numerical: the values; NULL for a categorical column */
	enum stats_column_type type;
	struct stats_bins bins; /* the method's bins (numerical psi, kl, js, chisquare, z) or
				 * the categories (every categorical column) */
};

static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* A numerical sample's histogram on Sturges' bins over the pooled range, the same edges
 * for both samples so the two read side by side. */
static enum core_status num_distributions(const struct column *c, json_t *dist[2], struct core_error *err)
{
	size_t n0 = c->cells[0]->n, n1 = c->cells[1]->n;
	double lo = c->num[0][0], hi = lo;
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < c->cells[s]->n; i++) {
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
static void cat_distributions(const struct column *c, json_t *dist[2])
{
	const struct stats_bins *b = &c->bins;
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

/* The score of method m on the column into *score (NaN: the method gives none). */
static enum core_status score(struct column *c, enum stats_method m, double *out, struct core_error *err)
{
	size_t n0 = c->cells[0]->n, n1 = c->cells[1]->n;
	bool num = c->type == STATS_COLUMN_NUMERICAL;
	struct stats_test t = {NAN, NAN};
	enum core_status rc = CORE_OK;
	/* The binned methods on a numerical column need Evidently's bins for it; a
	 * categorical column has its categories already. */
	bool binned = m == STATS_METHOD_CHISQUARE || m == STATS_METHOD_Z || m == STATS_METHOD_PSI ||
		      m == STATS_METHOD_KL_DIV || m == STATS_METHOD_JENSENSHANNON ||
		      (m == STATS_METHOD_HELLINGER && !num);
	if (binned && num)
		rc = stats_bins_numeric(c->num[0], n0, c->num[1], n1, &c->bins);
	if (rc != CORE_OK)
		goto out;
	const struct stats_bins *b = &c->bins;
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
		rc = stats_tvd_pvalue((const char *const *)c->cells[0]->v, n0, (const char *const *)c->cells[1]->v, n1,
				      out);
		break;
	default:
		rc = CORE_EINVAL;
	}
out:
	if (binned && num)
		stats_bins_free(&c->bins);
	if (rc != CORE_OK)
		return core_fail(err, rc, "column '%.100s': %s cannot be computed on it (%s)", c->name,
				 stats_method_name(m), core_strerror(rc));
	return CORE_OK;
}

/* The method and threshold for the column: the override's, else Evidently's. */
static enum core_status choose(const struct column *c, json_t *override, enum stats_method *m, double *threshold,
			       struct core_error *err)
{
	const char *method = json_string_value(json_object_get(override, "method"));
	json_t *th = json_object_get(override, "threshold");
	if (method) {
		stats_method_by_name(method, m); /* dm_overrides_parse checked the name */
		if (!stats_method_applies(*m, c->type))
			return core_fail(err, CORE_EINVAL, "columns.%.100s.method: %s does not apply to a %s column",
					 c->name, method,
					 c->type == STATS_COLUMN_NUMERICAL ? "numerical" : "categorical");
	} else {
		uint64_t n_unique = c->type == STATS_COLUMN_NUMERICAL
					    ? distinct_numbers(c->num[0], c->cells[0]->n, c->num[1], c->cells[1]->n)
					    : c->bins.k;
		*m = stats_default_method(c->type, c->cells[0]->n, n_unique);
	}
	*threshold = th ? json_real_value(th) : stats_method_default_threshold(*m);
	return CORE_OK;
}

/* One row of the table into *row; *drifted its verdict. */
static enum core_status column_report(struct column *c, json_t *override, json_t **row, bool *drifted,
				      struct core_error *err)
{
	json_t *dist[2] = {NULL, NULL};
	enum core_status rc = CORE_OK;
	for (int s = 0; s < 2; s++)
		if (c->cells[s]->n == 0)
			return core_fail(err, CORE_EINVAL,
					 "column '%.100s': no values in the %s (every cell is empty), nothing to "
					 "compare",
					 c->name, sample_names[s]);
	c->type = STATS_COLUMN_NUMERICAL;
	for (int s = 0; s < 2 && c->type == STATS_COLUMN_NUMERICAL; s++)
		if (!numbers(c->cells[s], &c->num[s]))
			c->type = STATS_COLUMN_CATEGORICAL;
	if (c->type == STATS_COLUMN_CATEGORICAL) {
		rc = stats_bins_categorical((const char *const *)c->cells[0]->v, c->cells[0]->n,
					    (const char *const *)c->cells[1]->v, c->cells[1]->n, &c->bins);
		if (rc != CORE_OK)
			return core_fail(err, rc, "column '%.100s': cannot count its categories (%s)", c->name,
					 core_strerror(rc));
	}
	enum stats_method m = STATS_METHOD_KS;
	double threshold = NAN, value = NAN;
	rc = choose(c, override, &m, &threshold, err);
	if (rc == CORE_OK)
		rc = score(c, m, &value, err);
	for (int s = 0; rc == CORE_OK && s < 2; s++)
		dist[s] = json_pack("{s:I, s:I}", "count", (json_int_t)c->cells[s]->n, "missing",
				    (json_int_t)c->cells[s]->missing);
	if (rc == CORE_OK && c->type == STATS_COLUMN_NUMERICAL)
		rc = num_distributions(c, dist, err);
	else if (rc == CORE_OK)
		cat_distributions(c, dist);
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
	/* The texts came in a JSON string, so names and values are valid UTF-8 and this
	 * holds; were it not to, a clear 400 beats a row missing from the table. */
	if (!*row)
		return core_fail(err, CORE_EINVAL, "column '%.100s': cannot be written as JSON", c->name);
	return CORE_OK;
}

static void column_clear(struct column *c)
{
	free(c->num[0]);
	free(c->num[1]);
	stats_bins_free(&c->bins);
}

/* --- the report ------------------------------------------------------------------------ */

enum core_status dm_batch_report(const struct dm_batch *b, json_t **report, struct core_error *err)
{
	struct sample smp[2] = {{0}, {0}};
	json_t *rows = json_array();
	size_t n_drifted = 0;
	*report = NULL;
	enum core_status rc = read_sample(b->ref_csv, b->ref_len, sample_names[0], &smp[0], err);
	if (rc == CORE_OK)
		rc = read_sample(b->cur_csv, b->cur_len, sample_names[1], &smp[1], err);
	if (rc == CORE_OK)
		rc = check_headers(&smp[0], &smp[1], err);
	const char *key;
	json_t *v;
	json_object_foreach(b->columns, key, v)
	{
		if (rc == CORE_OK && column_index(&smp[0], key) < 0)
			rc = core_fail(err, CORE_EINVAL, "columns.%.100s: no such column in the CSV", key);
	}
	/* Columns in the reference's order, as Evidently lists them. */
	for (size_t i = 0; rc == CORE_OK && i < smp[0].n_cols; i++) {
		struct column c = {.name = smp[0].names[i]};
		c.cells[0] = &smp[0].cols[i];
		c.cells[1] = &smp[1].cols[column_index(&smp[1], c.name)];
		json_t *row = NULL;
		bool drifted = false;
		rc = column_report(&c, json_object_get(b->columns, c.name), &row, &drifted, err);
		column_clear(&c);
		if (rc == CORE_OK) {
			json_array_append_new(rows, row);
			n_drifted += drifted;
		}
	}
	if (rc != CORE_OK)
		goto out;
	double share = 0;
	bool dataset = stats_dataset_drift(n_drifted, smp[0].n_cols, b->drift_share, &share);
	*report = json_pack("{s:O, s:I, s:I, s:f, s:f, s:b}", "columns", rows, "number_of_columns",
			    (json_int_t)smp[0].n_cols, "number_of_drifted_columns", (json_int_t)n_drifted,
			    "share_of_drifted_columns", share, "drift_share", b->drift_share, "dataset_drift", dataset);
	if (!*report)
		rc = core_fail(err, CORE_ENOMEM, "the report cannot be built (out of memory)");
out:
	json_decref(rows);
	sample_free(&smp[0]);
	sample_free(&smp[1]);
	return rc;
}
