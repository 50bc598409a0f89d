/* One numeric column of a profile (tabular columns, image sizes, brightness and
 * contrast): moments, quantiles, distinct count and a 20-bin histogram over [min, max],
 * all from libs/stats in one pass (the histogram bins the values the quantile
 * accumulator holds, so it is exact exactly when the quantiles are). Also the CSV value
 * rules the tabular profile shares: pandas' missing markers and number syntax, and the
 * class list both builders write. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "profile.h"
#include "stats/stats.h"

const double dr_prof_quantiles[DR_PROF_NQ] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
const char *const dr_prof_quantile_names[DR_PROF_NQ] = {"p1", "p5", "p25", "p50", "p75", "p95", "p99"};

struct dr_prof_num {
	struct stats_moments m;
	struct stats_quantiles *q;
	struct stats_distinct *d;
};

struct dr_prof_num *dr_prof_num_new(size_t qbound, size_t dbound)
{
	struct dr_prof_num *c = core_xcalloc(1, sizeof *c);

	stats_moments_init(&c->m);
	c->q = stats_quantiles_new(qbound);
	c->d = stats_distinct_new(dbound);
	return c;
}

void dr_prof_num_free(struct dr_prof_num *c)
{
	if (!c)
		return;
	stats_quantiles_free(c->q);
	stats_distinct_free(c->d);
	free(c);
}

void dr_prof_num_add(struct dr_prof_num *c, double x)
{
	stats_moments_add(&c->m, x);
	if (isnan(x))
		return;
	stats_quantiles_add(c->q, x);
	stats_distinct_add_hash(c->d, stats_hash_double(x));
}

/* A real, or null for NaN and infinities (JSON has neither). */
static json_t *num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

void dr_prof_num_json(struct dr_prof_num *c, json_t *obj)
{
	bool dexact;
	uint64_t distinct = stats_distinct_count(c->d, &dexact);

	json_object_set_new(obj, "count", json_integer((json_int_t)c->m.count));
	json_object_set_new(obj, "missing", json_integer((json_int_t)c->m.missing));
	json_object_set_new(obj, "distinct", json_integer((json_int_t)distinct));
	json_object_set_new(obj, "distinct_exact", json_boolean(dexact));
	json_object_set_new(obj, "min", num(stats_moments_min(&c->m)));
	json_object_set_new(obj, "max", num(stats_moments_max(&c->m)));
	json_object_set_new(obj, "mean", num(stats_moments_mean(&c->m)));
	json_object_set_new(obj, "std", num(stats_moments_std(&c->m)));
	json_object_set_new(obj, "quantiles_exact", json_boolean(stats_quantiles_exact(c->q)));
	if (c->m.count == 0) {
		json_object_set_new(obj, "quantiles", json_null());
		json_object_set_new(obj, "histogram", json_null());
		return;
	}
	double qv[DR_PROF_NQ];
	stats_quantiles_get(c->q, dr_prof_quantiles, DR_PROF_NQ, qv);
	json_t *qs = json_object();
	for (size_t i = 0; i < DR_PROF_NQ; i++)
		json_object_set_new(qs, dr_prof_quantile_names[i], num(qv[i]));
	json_object_set_new(obj, "quantiles", qs);

	double edges[DR_PROF_BINS + 1];
	struct stats_histogram h;
	stats_edges_linspace(c->m.min, c->m.max, DR_PROF_BINS, edges);
	json_t *hist = json_object(), *je = json_array(), *jc = json_array();
	if (stats_histogram_init(&h, edges, DR_PROF_BINS)) {
		stats_quantiles_fill_histogram(c->q, &h);
		for (size_t i = 0; i < DR_PROF_BINS; i++)
			json_array_append_new(jc, json_integer((json_int_t)h.counts[i]));
		stats_histogram_free(&h);
	}
	for (size_t i = 0; i <= DR_PROF_BINS; i++)
		json_array_append_new(je, num(edges[i]));
	json_object_set_new(hist, "edges", je);
	json_object_set_new(hist, "counts", jc);
	json_object_set_new(obj, "histogram", hist);
}

/* pandas' default na_values (pandas/_libs/parsers.pyx STR_NA_VALUES) plus "". */
static const char *const na_values[] = {
	"",     "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
	"<NA>", "N/A",  "NA",       "NULL", "NaN",     "None",     "n/a",  "nan",  "null",
};

bool dr_prof_missing(const char *s)
{
	for (size_t i = 0; i < sizeof na_values / sizeof na_values[0]; i++)
		if (strcmp(s, na_values[i]) == 0)
			return true;
	return false;
}

bool dr_prof_parse_number(const char *s, double *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	/* decimal syntax only: strtod would also take hex, "inf", "nan", "infinity" */
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!(isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))))
		return false;
	for (const char *q = p; *q; q++)
		if (*q == 'x' || *q == 'X')
			return false;
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return false;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

json_t *dr_prof_string(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	if (v)
		return v;
	char *copy = core_xstrndup(s, len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	v = json_stringn(copy, len);
	free(copy);
	return v;
}

static int cmp_class(const void *a, const void *b)
{
	const struct stats_value_count *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->value, y->value, n);
	return r ? r : (x->len > y->len) - (x->len < y->len);
}

json_t *dr_prof_classes_json(const struct stats_counts *classes)
{
	if (!classes || stats_counts_total(classes) == 0 || !stats_counts_exact(classes))
		return json_null();
	size_t n;
	uint64_t other;
	struct stats_value_count *all = stats_counts_top(classes, stats_counts_distinct(classes), &n, &other);
	qsort(all, n, sizeof *all, cmp_class);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", dr_prof_string(all[i].value, all[i].len));
		json_object_set_new(o, "count", json_integer((json_int_t)all[i].count));
		json_array_append_new(arr, o);
	}
	free(all);
	return arr;
}
