/* The Prometheus text exposition format 0.0.4, written by metrics_render().
 *
 * For each family, in creation order: "# HELP" (backslash and newline escaped),
 * "# TYPE", then one line per series in creation order; a histogram series becomes
 * its cumulative _bucket lines (le last among the labels, +Inf included), _sum and
 * _count. Label values are escaped (backslash, double quote, newline); names need no
 * escaping because registry.c only accepts valid ones, and values are already UTF-8
 * because series.c normalizes them.
 *
 * Output goes into a growable buffer whose failure is sticky (as SQLite's StrAccum):
 * after one failed realloc every append is a no-op and the end reports NULL, so the
 * writers need no error checks. Each family is written while holding its lock, which
 * keeps a histogram series' lines mutually consistent; the C locale is made current
 * for the whole render so doubles use '.' whatever the process locale is. */
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

#define INITIAL_CAP 4096

struct out {
	char *p;
	size_t len, cap;
	int failed;
};

static void put_n(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->cap - o->len < n + 1) {
		size_t cap = o->cap ? o->cap : INITIAL_CAP;
		char *p;

		while (cap - o->len < n + 1) {
			if (cap > SIZE_MAX / 2)
				goto fail;
			cap *= 2;
		}
		p = realloc(o->p, cap);
		if (!p)
			goto fail;
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return;

fail:
	o->failed = 1;
}

static void put(struct out *o, const char *s)
{
	put_n(o, s, strlen(s));
}

static void put_double(struct out *o, double v)
{
	char buf[METRICS_INT_DBL_BUF];
	size_t n = metrics_int_fmt_double(buf, v);

	put_n(o, buf, n);
}

static void put_u64(struct out *o, uint64_t v)
{
	char buf[24];
	size_t n = sizeof buf;

	do {
		buf[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_n(o, buf + n, sizeof buf - n);
}

/* Copies s, escaping backslash and newline, and double quote when in_label. Runs of
 * plain bytes go out in one piece. */
static void put_escaped(struct out *o, const char *s, int in_label)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && in_label)
			esc = "\\\"";
		if (!esc)
			continue;
		put_n(o, run, (size_t)(s - run));
		put(o, esc);
		run = s + 1;
	}
	put_n(o, run, (size_t)(s - run));
}

/* The sample name, its label set (plus le when given) and the separating space. */
static void put_sample_start(struct out *o, const struct metrics_family *f, const struct metrics_series *s,
			     const char *suffix, const char *le)
{
	put(o, f->name);
	put(o, suffix);
	if (f->n_labels > 0 || le) {
		put(o, "{");
		for (size_t i = 0; i < f->n_labels; i++) {
			if (i > 0)
				put(o, ",");
			put(o, f->label_names[i]);
			put(o, "=\"");
			put_escaped(o, s->values[i], 1);
			put(o, "\"");
		}
		if (le) {
			if (f->n_labels > 0)
				put(o, ",");
			put(o, "le=\"");
			put(o, le);
			put(o, "\"");
		}
		put(o, "}");
	}
	put(o, " ");
}

static void put_histogram_series(struct out *o, const struct metrics_family *f, const struct metrics_series *s)
{
	uint64_t cumulative = 0;

	for (size_t i = 0; i < f->n_buckets; i++) {
		cumulative += s->buckets[i];
		put_sample_start(o, f, s, "_bucket", f->le[i]);
		put_u64(o, cumulative);
		put(o, "\n");
	}
	put_sample_start(o, f, s, "_bucket", "+Inf");
	put_u64(o, s->count);
	put(o, "\n");
	put_sample_start(o, f, s, "_sum", NULL);
	put_double(o, s->value);
	put(o, "\n");
	put_sample_start(o, f, s, "_count", NULL);
	put_u64(o, s->count);
	put(o, "\n");
}

static void put_family(struct out *o, struct metrics_family *f)
{
	static const char *const type_names[] = {
		[METRICS_INT_COUNTER] = "counter",
		[METRICS_INT_GAUGE] = "gauge",
		[METRICS_INT_HISTOGRAM] = "histogram",
	};

	pthread_mutex_lock(&f->lock);
	if (f->n_series == 0)
		goto out;
	put(o, "# HELP ");
	put(o, f->name);
	put(o, " ");
	put_escaped(o, f->help, 0);
	put(o, "\n# TYPE ");
	put(o, f->name);
	put(o, " ");
	put(o, type_names[f->type]);
	put(o, "\n");
	for (const struct metrics_series *s = f->first; s; s = s->onext) {
		if (f->type == METRICS_INT_HISTOGRAM) {
			put_histogram_series(o, f, s);
		} else {
			put_sample_start(o, f, s, "", NULL);
			put_double(o, s->value);
			put(o, "\n");
		}
	}
out:
	pthread_mutex_unlock(&f->lock);
}

char *metrics_render(struct metrics_registry *reg, size_t *len_out)
{
	struct out o = {0};
	locale_t old_locale;
	char *ret = NULL;

	if (!reg)
		return NULL;
	pthread_mutex_lock(&reg->lock);
	struct metrics_int_process *process = reg->process;
	pthread_mutex_unlock(&reg->lock);
	metrics_int_process_refresh(process);
	old_locale = uselocale(reg->c_locale);
	put_n(&o, "", 0); /* an empty registry still yields "" */
	pthread_mutex_lock(&reg->lock);
	for (struct metrics_family *f = reg->first; f; f = f->next)
		put_family(&o, f);
	pthread_mutex_unlock(&reg->lock);
	if (old_locale != (locale_t)0)
		uselocale(old_locale);

	if (o.failed) {
		free(o.p);
		goto out;
	}
	if (len_out)
		*len_out = o.len;
	ret = o.p;

out:
	return ret;
}
