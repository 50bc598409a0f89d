/* The tabular profile (format csv): per column its type and statistics, fed one row at
 * a time (dr_prof_tab_add), bounded memory whatever the row count.
 *
 * Each column keeps, while every non-missing value so far parses as a number, a
 * numeric accumulator (profile_col.c: moments, quantiles, distinct numbers, histogram);
 * the first value that does not parse drops it. Every column also counts its distinct
 * strings and its values (stats_counts), since whether it is categorical is known only
 * at the end. Types, decided at dr_prof_tab_json:
 *   numeric      every non-missing value is a number (pandas' float64 column); a column
 *                with no value at all is numeric too, as pandas reads it
 *   categorical  else when distinct <= DR_PROF_CAT_MAX or <= DR_PROF_CAT_SHARE of count
 *   text         else
 * Missing values (pandas' na_values) count in "missing" and nowhere else. Exact bounds
 * are shared out between the columns so that the whole builder stays within about
 * 64 MiB of exact state; past them a column's results say they are estimates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "profile.h"
#include "stats/stats.h"

/* Exact state of all columns together: quantile values and distinct hashes. */
#define TAB_QUANTILE_BUDGET ((size_t)4 << 20)
#define TAB_DISTINCT_BUDGET ((size_t)1 << 20)
#define TAB_COUNTS_BOUND    1000

struct column {
	char *name;
	uint64_t count, missing;
	struct dr_prof_num *num; /* NULL once a value did not parse */
	struct stats_distinct *distinct;
	struct stats_counts *values;
};

struct dr_prof_tab {
	struct column *cols;
	size_t ncols;
	uint64_t items;
	struct stats_counts *classes; /* NULL without a label column */
	size_t qbound, dbound;
};

static size_t clamp(size_t v, size_t lo, size_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

struct dr_prof_tab *dr_prof_tab_new(const char *const *columns, size_t n, const char *label_column)
{
	struct dr_prof_tab *t = core_xcalloc(1, sizeof *t);

	t->ncols = n;
	t->cols = core_xcalloc(n ? n : 1, sizeof *t->cols);
	t->qbound = clamp(TAB_QUANTILE_BUDGET / (n ? n : 1), 10000, STATS_QUANTILES_BOUND_DEFAULT);
	t->dbound = clamp(TAB_DISTINCT_BUDGET / (n ? n : 1), 1000, STATS_DISTINCT_BOUND_DEFAULT);
	for (size_t i = 0; i < n; i++) {
		struct column *c = &t->cols[i];
		c->name = core_xstrdup(columns[i]);
		c->num = dr_prof_num_new(t->qbound, t->dbound);
		c->distinct = stats_distinct_new(t->dbound);
		c->values = stats_counts_new(TAB_COUNTS_BOUND);
	}
	if (label_column)
		t->classes = stats_counts_new(0);
	return t;
}

void dr_prof_tab_free(struct dr_prof_tab *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		dr_prof_num_free(t->cols[i].num);
		stats_distinct_free(t->cols[i].distinct);
		stats_counts_free(t->cols[i].values);
	}
	free(t->cols);
	stats_counts_free(t->classes);
	free(t);
}

static void add_field(struct column *c, const char *s)
{
	if (!s || dr_prof_missing(s)) {
		c->missing++;
		if (c->num)
			dr_prof_num_add(c->num, NAN);
		return;
	}
	size_t len = strlen(s);
	c->count++;
	stats_distinct_add_hash(c->distinct, stats_hash64(s, len));
	stats_counts_add(c->values, s, len);
	if (c->num) {
		double x;
		if (dr_prof_parse_number(s, &x)) {
			dr_prof_num_add(c->num, x);
		} else {
			dr_prof_num_free(c->num);
			c->num = NULL;
		}
	}
}

void dr_prof_tab_add(struct dr_prof_tab *t, const char *const *fields, size_t n, const char *cls)
{
	t->items++;
	for (size_t i = 0; i < t->ncols; i++)
		add_field(&t->cols[i], i < n ? fields[i] : NULL);
	if (t->classes && cls && !dr_prof_missing(cls))
		stats_counts_add(t->classes, cls, strlen(cls));
}

static json_t *values_json(const struct column *c)
{
	size_t n;
	uint64_t other;
	struct stats_value_count *top = stats_counts_top(c->values, DR_PROF_TOP, &n, &other);
	json_t *v = json_object(), *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "value", dr_prof_string(top[i].value, top[i].len));
		json_object_set_new(o, "count", json_integer((json_int_t)top[i].count));
		json_array_append_new(arr, o);
	}
	free(top);
	json_object_set_new(v, "top", arr);
	json_object_set_new(v, "other", json_integer((json_int_t)other));
	json_object_set_new(v, "exact", json_boolean(stats_counts_exact(c->values)));
	return v;
}

static json_t *column_json(const struct column *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", dr_prof_string(c->name, strlen(c->name)));
	if (c->num) {
		json_object_set_new(o, "type", json_string("numeric"));
		dr_prof_num_json(c->num, o);
		return o;
	}
	bool exact;
	uint64_t distinct = stats_distinct_count(c->distinct, &exact);
	bool categorical = distinct <= DR_PROF_CAT_MAX || (double)distinct <= DR_PROF_CAT_SHARE * (double)c->count;
	json_object_set_new(o, "type", json_string(categorical ? "categorical" : "text"));
	json_object_set_new(o, "count", json_integer((json_int_t)c->count));
	json_object_set_new(o, "missing", json_integer((json_int_t)c->missing));
	json_object_set_new(o, "distinct", json_integer((json_int_t)distinct));
	json_object_set_new(o, "distinct_exact", json_boolean(exact));
	if (categorical)
		json_object_set_new(o, "values", values_json(c));
	return o;
}

json_t *dr_prof_tab_json(struct dr_prof_tab *t, const char *version_id)
{
	json_t *p = json_object(), *cols = json_array();

	json_object_set_new(p, "version_id", json_string(version_id));
	json_object_set_new(p, "format", json_string("csv"));
	json_object_set_new(p, "items", json_integer((json_int_t)t->items));
	json_object_set_new(p, "classes", dr_prof_classes_json(t->classes));
	for (size_t i = 0; i < t->ncols; i++)
		json_array_append_new(cols, column_json(&t->cols[i]));
	json_object_set_new(p, "columns", cols);
	return p;
}
