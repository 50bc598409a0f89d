/* Private to libs/metrics/src: the data structures shared by registry.c (creation and
 * teardown), series.c (lookup and updates) and render.c (exposition), and the helpers
 * in util.c. Never included from outside the library.
 *
 * Locking: reg->lock guards the registry's family list; f->lock guards one family's
 * series table, its creation-order list and every value in its series. Lock order is
 * registry, then family (only metrics_render() holds both). A family's immutable part
 * (name, help, labels, bounds) is written before the family is published and read
 * without a lock. */
#ifndef METRICS_INT_H
#define METRICS_INT_H

#include <locale.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"

/* Room for any double metrics_int_fmt_double() writes ("-1.7976931348623157e+308"). */
#define METRICS_INT_DBL_BUF 32

enum metrics_int_type {
	METRICS_INT_COUNTER,
	METRICS_INT_GAUGE,
	METRICS_INT_HISTOGRAM,
};

struct metrics_series {
	struct metrics_series *hnext; /* next in the same hash chain */
	struct metrics_series *onext; /* next in creation order (render order) */
	uint64_t hash;                /* of the label values, see metrics_int_hash_values */
	char **values;                /* n_labels strings; array and strings one allocation */
	double value;                 /* counter or gauge value; a histogram's _sum */
	uint64_t count;               /* histogram: observations, i.e. the +Inf bucket */
	uint64_t buckets[];           /* histogram: n_buckets per-bound (not cumulative) */
};

struct metrics_family {
	struct metrics_family *next; /* creation order in the registry */
	enum metrics_int_type type;
	char *name;
	char *help;
	size_t n_labels;
	char **label_names;
	size_t n_buckets;
	double *bounds;                  /* histogram upper bounds, strictly increasing */
	char (*le)[METRICS_INT_DBL_BUF]; /* bounds pre-rendered for the le label */

	pthread_mutex_t lock;
	struct metrics_series **table; /* chained hash, size a power of two; NULL if no labels */
	size_t table_mask;
	size_t n_series;
	struct metrics_series *first, *last; /* creation order */
	struct metrics_series *solo;         /* the only series of a family without labels */
	struct metrics_series *overflow;     /* set once the family is full */
};

struct metrics_int_process;

struct metrics_registry {
	pthread_mutex_t lock;
	struct metrics_family *first, *last;
	locale_t c_locale;                   /* made current while formatting doubles */
	struct metrics_int_process *process; /* owned; NULL until metrics_process_register */
};

/* util.c: allocation policy (abort with a message) and text helpers. */
void *metrics_int_xmalloc(size_t size);
void *metrics_int_xcalloc(size_t count, size_t size);
char *metrics_int_xstrdup(const char *s);
void metrics_int_mutex_init(pthread_mutex_t *m);
/* True when s is valid UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
int metrics_int_utf8_valid(const char *s);
/* True when s may be used as a label value as is: valid UTF-8, at most
 * METRICS_MAX_LABEL_VALUE_LEN bytes. */
int metrics_int_value_ok(const char *s);
/* Returns a malloc'd copy of s with each invalid UTF-8 byte replaced by U+FFFD and cut
 * to at most METRICS_MAX_LABEL_VALUE_LEN bytes without splitting a character. */
char *metrics_int_value_normalize(const char *s);
/* Writes v as Prometheus expects (NaN, +Inf, -Inf, integers in plain digits, others
 * in the shortest form that reads back exactly) into buf of size
 * METRICS_INT_DBL_BUF; returns the length. The C locale must be current
 * (uselocale) so the radix character is '.'. */
size_t metrics_int_fmt_double(char *buf, double v);

/* series.c: series storage of one family. */
/* Sets up an empty table, or the solo series of a family without labels. */
void metrics_int_series_init(struct metrics_family *f);
/* Frees every series and the table. */
void metrics_int_series_free(struct metrics_family *f);

/* process.c: reads /proc/self into the process_* families; p may be NULL. Called
 * by metrics_render before it takes the registry lock. */
void metrics_int_process_refresh(struct metrics_int_process *p);

#endif
