/* The registry and its families: creation at start-up, teardown at exit.
 *
 * A family is checked completely before it is linked into the registry, so a
 * constructor either returns a finished family or NULL with the registry unchanged:
 * names against Prometheus' grammar, label names against the reserved ones ("__*",
 * and "le" for histograms), help text for UTF-8, histogram bounds for being finite and
 * strictly increasing, and the name against every family already present, including
 * the _bucket/_sum/_count names a histogram exposes (two families writing the same
 * sample name would make the scrape ambiguous).
 *
 * Entry points: metrics_registry_new/free, metrics_counter_new, metrics_gauge_new,
 * metrics_histogram_new. Series storage is series.c's (metrics_int_series_init/free);
 * rendering is render.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

const double metrics_latency_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const size_t metrics_latency_buckets_n = sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0];

static const char *const histogram_suffixes[] = {"_bucket", "_sum", "_count"};

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *reg = metrics_int_xcalloc(1, sizeof *reg);

	metrics_int_mutex_init(&reg->lock);
	/* The "C" locale is a static object in glibc, so this does not allocate; failure
	 * would mean the C library is broken, which the policy treats like ENOMEM. */
	reg->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (reg->c_locale == (locale_t)0) {
		fprintf(stderr, "metrics: newlocale(\"C\") failed\n");
		abort();
	}
	return reg;
}

static void family_free(struct metrics_family *f)
{
	if (!f)
		return;
	metrics_int_series_free(f);
	pthread_mutex_destroy(&f->lock);
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	free(f->bounds);
	free(f->le);
	free(f->help);
	free(f->name);
	free(f);
}

void metrics_registry_free(struct metrics_registry *reg)
{
	struct metrics_family *f, *next;

	if (!reg)
		return;
	for (f = reg->first; f; f = next) {
		next = f->next;
		family_free(f);
	}
	free(reg->process);
	freelocale(reg->c_locale);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

static int valid_metric_name(const char *s)
{
	if (!s || !*s)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
			 (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return 0;
	}
	return 1;
}

/* Prometheus reserves names starting with "__" for its own use (__name__ and the
 * relabelling internals), so a scrape carrying one would be dropped. */
static int valid_label_name(const char *s)
{
	if (!s || !*s || (s[0] == '_' && s[1] == '_'))
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int ok =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return 0;
	}
	return 1;
}

/* Counts label_names and checks each; returns 0 if any is bad or repeated. */
static int check_labels(const char *const *label_names, enum metrics_int_type type, size_t *n_out)
{
	size_t n = 0;

	for (; label_names && label_names[n]; n++) {
		if (!valid_label_name(label_names[n]))
			return 0;
		if (type == METRICS_INT_HISTOGRAM && strcmp(label_names[n], "le") == 0)
			return 0;
		for (size_t j = 0; j < n; j++)
			if (strcmp(label_names[j], label_names[n]) == 0)
				return 0;
	}
	*n_out = n;
	return 1;
}

static int check_bounds(const double *bounds, size_t n)
{
	if (n > 0 && !bounds)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(bounds[i]))
			return 0;
		if (i > 0 && !(bounds[i] > bounds[i - 1]))
			return 0;
	}
	return 1;
}

/* True when full is base followed by one of the histogram suffixes. */
static int is_histogram_sample_of(const char *full, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(full, base, n) != 0)
		return 0;
	for (size_t i = 0; i < sizeof histogram_suffixes / sizeof histogram_suffixes[0]; i++)
		if (strcmp(full + n, histogram_suffixes[i]) == 0)
			return 1;
	return 0;
}

static int clashes(const struct metrics_family *old, enum metrics_int_type type, const char *name)
{
	if (strcmp(old->name, name) == 0)
		return 1;
	if (old->type == METRICS_INT_HISTOGRAM && is_histogram_sample_of(name, old->name))
		return 1;
	if (type == METRICS_INT_HISTOGRAM && is_histogram_sample_of(old->name, name))
		return 1;
	return 0;
}

static struct metrics_family *family_new(struct metrics_registry *reg, enum metrics_int_type type, const char *name,
					 const char *help, const char *const *label_names, const double *bounds,
					 size_t n_bounds)
{
	struct metrics_family *f = NULL, *ret = NULL;
	size_t n_labels = 0;
	locale_t old_locale;

	if (!reg || !valid_metric_name(name) || (help && !metrics_int_utf8_valid(help)) ||
	    !check_labels(label_names, type, &n_labels) || !check_bounds(bounds, n_bounds))
		goto out;

	f = metrics_int_xcalloc(1, sizeof *f);
	f->type = type;
	f->name = metrics_int_xstrdup(name);
	f->help = metrics_int_xstrdup(help ? help : "");
	f->n_labels = n_labels;
	f->label_names = metrics_int_xcalloc(n_labels, sizeof *f->label_names);
	for (size_t i = 0; i < n_labels; i++)
		f->label_names[i] = metrics_int_xstrdup(label_names[i]);
	f->n_buckets = n_bounds;
	f->bounds = metrics_int_xcalloc(n_bounds, sizeof *f->bounds);
	f->le = metrics_int_xcalloc(n_bounds, sizeof *f->le);
	old_locale = uselocale(reg->c_locale);
	for (size_t i = 0; i < n_bounds; i++) {
		f->bounds[i] = bounds[i];
		metrics_int_fmt_double(f->le[i], bounds[i]);
	}
	if (old_locale != (locale_t)0)
		uselocale(old_locale);
	metrics_int_mutex_init(&f->lock);
	metrics_int_series_init(f);

	pthread_mutex_lock(&reg->lock);
	for (const struct metrics_family *o = reg->first; o; o = o->next) {
		if (clashes(o, type, name)) {
			pthread_mutex_unlock(&reg->lock);
			goto out;
		}
	}
	if (reg->last)
		reg->last->next = f;
	else
		reg->first = f;
	reg->last = f;
	pthread_mutex_unlock(&reg->lock);
	ret = f;
	f = NULL;

out:
	family_free(f);
	return ret;
}

struct metrics_family *metrics_counter_new(struct metrics_registry *reg, const char *name, const char *help,
					   const char *const *label_names)
{
	return family_new(reg, METRICS_INT_COUNTER, name, help, label_names, NULL, 0);
}

struct metrics_family *metrics_gauge_new(struct metrics_registry *reg, const char *name, const char *help,
					 const char *const *label_names)
{
	return family_new(reg, METRICS_INT_GAUGE, name, help, label_names, NULL, 0);
}

struct metrics_family *metrics_histogram_new(struct metrics_registry *reg, const char *name, const char *help,
					     const char *const *label_names, const double *buckets, size_t n_buckets)
{
	return family_new(reg, METRICS_INT_HISTOGRAM, name, help, label_names, buckets, n_buckets);
}
