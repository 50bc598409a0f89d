/* metrics: counters, gauges and histograms with labels, rendered in the Prometheus
 * text exposition format 0.0.4 for every service's GET /metrics.
 *
 * Life cycle. A service makes one registry at start-up, creates its families on it
 * (one family = one metric name, help text, type and label names), then updates them
 * from any thread on every request, and renders the registry when scraped. Families
 * belong to the registry and stay valid until metrics_registry_free(); callers keep
 * the family pointers and never free them.
 *
 * Series. A family holds one series per distinct tuple of label values. Series are
 * created on first use and never removed. A family without labels has its single
 * series from the start, so it is exposed (at 0) before the first update.
 *
 * Cardinality ceiling. A family holds at most METRICS_MAX_SERIES series. Once full,
 * updates for new label tuples go to one overflow series whose every label value is
 * METRICS_OVERFLOW_VALUE, so totals stay right and the overflow shows on dashboards
 * instead of memory growing with client-controlled label values.
 *
 * Label values are bytes from the caller and may come from clients. Before lookup,
 * invalid UTF-8 (which Prometheus rejects, failing the whole scrape) is replaced with
 * U+FFFD, and values longer than METRICS_MAX_LABEL_VALUE_LEN bytes are cut at a
 * character boundary; values that differ only there share a series.
 *
 * Thread safety. Update functions, metrics_render() and the family constructors may
 * all run concurrently from any threads (services still create their families once,
 * at start-up). metrics_registry_free() must not race with anything.
 *
 * Allocation policy (the one Lathe uses for control-plane memory): allocations whose
 * size the program chooses (registry, families, series) print a message on stderr and
 * abort() when memory is exhausted. metrics_render(), whose output grows with the
 * number of series, reports failure by returning NULL instead.
 *
 * Misuse policy. Metrics must never take a daemon down, so updates given a NULL
 * family, the wrong family type, or a NULL label_values array on a family with labels
 * do nothing. */
#ifndef METRICS_METRICS_H
#define METRICS_METRICS_H

#include <stddef.h>

/* Most series one family holds, the overflow series included. */
#define METRICS_MAX_SERIES 10000
/* Label value given to every label of the overflow series. */
#define METRICS_OVERFLOW_VALUE "__overflow__"
/* Longest label value kept, in bytes; longer ones are cut. */
#define METRICS_MAX_LABEL_VALUE_LEN 1024

struct metrics_registry;
struct metrics_family;

/* Creates an empty registry.
 * Returns: the registry (never NULL; aborts on allocation failure). The caller owns it
 * and frees it with metrics_registry_free(). */
struct metrics_registry *metrics_registry_new(void);

/* Frees the registry, all its families and their series. Every metrics_family pointer
 * obtained from it becomes invalid.
 * reg: may be NULL (no-op). No other thread may use the registry or its families
 * during or after the call. */
void metrics_registry_free(struct metrics_registry *reg);

/* Creates a counter family: a value that only goes up (requests, bytes, errors).
 * By convention the name ends in "_total" (promtool lints it otherwise).
 * reg:         registry that will own the family.
 * name:        metric name, [a-zA-Z_:][a-zA-Z0-9_:]*; copied.
 * help:        one-line description, UTF-8; copied; NULL means empty. Backslashes and
 *              newlines are escaped when rendered.
 * label_names: NULL-terminated array of label names, each [a-zA-Z_][a-zA-Z0-9_]*,
 *              not starting with "__", no duplicates; copied (array and strings).
 *              NULL or an empty array means no labels.
 * Returns: the family, owned by reg, valid until metrics_registry_free(); or NULL, and
 * the registry unchanged, when reg or name is NULL, a name is invalid, the help is not
 * UTF-8, or the name clashes with a family already in reg (same name, or a name a
 * histogram's _bucket/_sum/_count series use). */
struct metrics_family *metrics_counter_new(struct metrics_registry *reg, const char *name, const char *help,
					   const char *const *label_names);

/* Creates a gauge family: a value that goes up and down (queue depth, temperature,
 * a drift score). Parameters, ownership and return values as metrics_counter_new(). */
struct metrics_family *metrics_gauge_new(struct metrics_registry *reg, const char *name, const char *help,
					 const char *const *label_names);

/* Creates a histogram family: observations counted into cumulative buckets, plus
 * their sum and count. Rendered as <name>_bucket{...,le="..."}, <name>_sum and
 * <name>_count. By convention the name carries its base unit ("_seconds", "_bytes").
 * buckets:   finite upper bounds, strictly increasing; copied. The +Inf bucket is
 *            implicit and must not be given. May be NULL when n_buckets is 0 (then
 *            only +Inf, _sum and _count are exposed).
 * n_buckets: number of entries in buckets.
 * The label name "le" is reserved here. Other parameters as metrics_counter_new().
 * Returns: the family, owned by reg; or NULL (registry unchanged) for the reasons
 * metrics_counter_new() gives, or when the bounds are not finite and strictly
 * increasing, or a label is named "le". */
struct metrics_family *metrics_histogram_new(struct metrics_registry *reg, const char *name, const char *help,
					     const char *const *label_names, const double *buckets, size_t n_buckets);

/* Default latency bounds in seconds, 100 µs to 10 s, for metrics_histogram_new(). */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_buckets_n;

/* The update functions below take:
 * f:            the family; NULL makes the call a no-op (so a family whose creation
 *               failed need not be checked at every call site).
 * label_values: exactly as many strings as the family has label names, in the same
 *               order; borrowed (copied only when a new series is created). NULL for a
 *               family without labels; NULL on a family with labels makes the call a
 *               no-op. A NULL entry is taken as "".
 * They are thread-safe and take the family's mutex once. */

/* Adds v to a counter's series. v must be finite and >= 0: counters only go up, and
 * anything else is ignored. No-op on a non-counter family. */
void metrics_counter_add(struct metrics_family *f, const char *const *label_values, double v);

/* Sets a gauge's series to v (any double, NaN and infinities included).
 * No-op on a non-gauge family. */
void metrics_gauge_set(struct metrics_family *f, const char *const *label_values, double v);

/* Adds v (which may be negative) to a gauge's series. No-op on a non-gauge family. */
void metrics_gauge_add(struct metrics_family *f, const char *const *label_values, double v);

/* Records one observation v in a histogram's series: every bucket with bound >= v
 * counts it, _count grows by one and _sum by v. NaN is ignored because it would turn
 * _sum into NaN for the life of the process. No-op on a non-histogram family. */
void metrics_histogram_observe(struct metrics_family *f, const char *const *label_values, double v);

/* Renders every family of reg, in creation order and each family's series in creation
 * order, in the Prometheus text exposition format 0.0.4 (Content-Type
 * "text/plain; version=0.0.4; charset=utf-8"). Families with labels but no series yet
 * are left out. Values are written in C-locale notation whatever the process locale;
 * each histogram series is read under one lock so its buckets, _sum and _count agree.
 * reg:     the registry; NULL gives NULL.
 * len_out: [out] length of the text without the terminating NUL; may be NULL. Left
 *          unchanged when NULL is returned.
 * Returns: a malloc'd NUL-terminated string the caller frees with free(); NULL only on
 * allocation failure (or a NULL reg). */
char *metrics_render(struct metrics_registry *reg, size_t *len_out);

/* Adds the process metrics every Prometheus client exposes, read from /proc/self at
 * each metrics_render (so they are never older than the scrape):
 * process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds and
 * process_start_time_seconds. Call once per registry, at start-up.
 * Returns 0; -1 when reg is NULL, they were registered already, or a name is taken. */
int metrics_process_register(struct metrics_registry *reg);

#endif
