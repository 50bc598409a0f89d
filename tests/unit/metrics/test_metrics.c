/* Unit tests for libs/metrics: one Suite "metrics", a TCase per feature.
 *
 * Most cases compare rendered text with what Prometheus' text format 0.0.4 requires;
 * "promtool" feeds a registry using every feature to `promtool check metrics` (taken
 * alone from Debian's prometheus package by `make deps`) and fails when promtool is
 * missing, because that check is the only outside opinion on the output. Big cases
 * (cardinality, threads) verify by parsing the whole render once.
 *
 * Built by the top-level Makefile (tests/unit/<lib>/test_*.c), or by hand from the
 * library's sources plus this file with `pkg-config --cflags --libs check`,
 * -lpthread and -lm (libs/metrics/README.md has the command line). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metrics/metrics.h"

extern char **environ;

/* ---- helpers ------------------------------------------------------------------ */

/* Renders reg and checks the contract every render must keep. Caller frees. */
static char *render(struct metrics_registry *reg)
{
	size_t len = (size_t)-1;
	char *text = metrics_render(reg, &len);

	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert(len == 0 || text[len - 1] == '\n');
	return text;
}

/* Value of the line that starts with sample (name plus label set, no trailing
 * space); fails the test if there is no such line. */
static double sample_value(const char *text, const char *sample)
{
	size_t n = strlen(sample);

	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');

		if (strncmp(line, sample, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		if (!eol)
			break;
		line = eol + 1;
	}
	ck_abort_msg("no sample %s in:\n%s", sample, text);
	return 0;
}

/* The text after the sample name and a space, up to the end of its line. */
static void sample_text(const char *text, const char *sample, char *out, size_t size)
{
	size_t n = strlen(sample);

	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');

		if (strncmp(line, sample, n) == 0 && line[n] == ' ') {
			size_t len = (size_t)(eol - (line + n + 1));

			ck_assert_uint_lt(len, size);
			memcpy(out, line + n + 1, len);
			out[len] = '\0';
			return;
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	ck_abort_msg("no sample %s in:\n%s", sample, text);
}

static size_t count_lines_starting(const char *text, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);

	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');

		if (strncmp(line, prefix, plen) == 0)
			n++;
		if (!eol)
			break;
		line = eol + 1;
	}
	return n;
}

/* ---- names -------------------------------------------------------------------- */

START_TEST(test_metric_names)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const good[] = {"a", "_x", ":x", "a:b_c9", "AbC_total"};
	static const char *const bad[] = {"", "9a", "a-b", "a b", "caf\xc3\xa9", "a{"};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(metrics_gauge_new(reg, good[i], "h", NULL) != NULL, "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(metrics_gauge_new(reg, bad[i], "h", NULL) == NULL, "%s", bad[i]);
	ck_assert_ptr_null(metrics_gauge_new(reg, NULL, "h", NULL));
	ck_assert_ptr_null(metrics_gauge_new(NULL, "ok", "h", NULL));
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_label_names)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const ok[] = {"a", "_a", "a9", "le", NULL};
	static const char *const reserved[] = {"__a", NULL};
	static const char *const digit[] = {"9a", NULL};
	static const char *const colon[] = {"a:b", NULL};
	static const char *const empty[] = {"", NULL};
	static const char *const dup[] = {"a", "b", "a", NULL};
	static const char *const le[] = {"code", "le", NULL};
	static const char *const none[] = {NULL};

	ck_assert_ptr_nonnull(metrics_counter_new(reg, "ok_total", "h", ok));
	ck_assert_ptr_null(metrics_counter_new(reg, "r_total", "h", reserved));
	ck_assert_ptr_null(metrics_counter_new(reg, "d_total", "h", digit));
	ck_assert_ptr_null(metrics_counter_new(reg, "c_total", "h", colon));
	ck_assert_ptr_null(metrics_counter_new(reg, "e_total", "h", empty));
	ck_assert_ptr_null(metrics_counter_new(reg, "u_total", "h", dup));
	/* le names the bucket bound, so only histograms reserve it. */
	ck_assert_ptr_nonnull(metrics_gauge_new(reg, "g", "h", le));
	ck_assert_ptr_null(metrics_histogram_new(reg, "x_seconds", "h", le, NULL, 0));
	ck_assert_ptr_nonnull(metrics_gauge_new(reg, "no_labels", "h", none));
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_duplicates_and_clashes)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const double b[] = {1};

	ck_assert_ptr_nonnull(metrics_counter_new(reg, "x_total", "h", NULL));
	ck_assert_ptr_null(metrics_counter_new(reg, "x_total", "h", NULL));
	ck_assert_ptr_null(metrics_gauge_new(reg, "x_total", "h", NULL));
	ck_assert_ptr_null(metrics_histogram_new(reg, "x_total", "h", NULL, b, 1));

	/* A histogram owns name_bucket, name_sum and name_count, in both orders. */
	ck_assert_ptr_nonnull(metrics_histogram_new(reg, "lat_seconds", "h", NULL, b, 1));
	ck_assert_ptr_null(metrics_gauge_new(reg, "lat_seconds_count", "h", NULL));
	ck_assert_ptr_null(metrics_gauge_new(reg, "lat_seconds_sum", "h", NULL));
	ck_assert_ptr_null(metrics_gauge_new(reg, "lat_seconds_bucket", "h", NULL));
	ck_assert_ptr_nonnull(metrics_gauge_new(reg, "lat_seconds_max", "h", NULL));
	ck_assert_ptr_nonnull(metrics_gauge_new(reg, "size_bytes_sum", "h", NULL));
	ck_assert_ptr_null(metrics_histogram_new(reg, "size_bytes", "h", NULL, b, 1));
	ck_assert_ptr_nonnull(metrics_histogram_new(reg, "size", "h", NULL, b, 1));
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_failed_create_leaves_registry)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const double down[] = {2, 1};
	char *before, *after;

	ck_assert_ptr_nonnull(metrics_counter_new(reg, "a_total", "h", NULL));
	before = render(reg);
	ck_assert_ptr_null(metrics_counter_new(reg, "a_total", "h", NULL));
	ck_assert_ptr_null(metrics_histogram_new(reg, "b", "h", NULL, down, 2));
	ck_assert_ptr_null(metrics_gauge_new(reg, "c", "bad \xff help", NULL));
	after = render(reg);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	metrics_registry_free(reg);
}
END_TEST

/* ---- counter ------------------------------------------------------------------ */

START_TEST(test_counter_unlabelled)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *c = metrics_counter_new(reg, "jobs_total", "Jobs.", NULL);
	char *text;

	/* Exposed at 0 before any update, so rate() has a starting point. */
	text = render(reg);
	ck_assert_str_eq(text, "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\n"
			       "jobs_total 0\n");
	free(text);

	metrics_counter_add(c, NULL, 1);
	metrics_counter_add(c, NULL, 2.5);
	metrics_counter_add(c, NULL, 0);
	/* Counters never go down and never become NaN or infinite. */
	metrics_counter_add(c, NULL, -1);
	metrics_counter_add(c, NULL, NAN);
	metrics_counter_add(c, NULL, INFINITY);
	text = render(reg);
	ck_assert_double_eq(sample_value(text, "jobs_total"), 3.5);
	free(text);
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_counter_labelled)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"method", "code", NULL};
	static const char *const get200[] = {"GET", "200"};
	static const char *const post500[] = {"POST", "500"};
	static const char *const null_entry[] = {"GET", NULL};
	struct metrics_family *c = metrics_counter_new(reg, "req_total", "R", names);
	char *text;

	/* No series yet: a labelled family stays out of the exposition. */
	text = render(reg);
	ck_assert_str_eq(text, "");
	free(text);

	metrics_counter_add(c, post500, 1);
	metrics_counter_add(c, get200, 1);
	metrics_counter_add(c, get200, 1);
	metrics_counter_add(c, null_entry, 7);
	metrics_counter_add(c, NULL, 100); /* labels missing: ignored */
	text = render(reg);
	ck_assert_str_eq(text, "# HELP req_total R\n# TYPE req_total counter\n"
			       "req_total{method=\"POST\",code=\"500\"} 1\n"
			       "req_total{method=\"GET\",code=\"200\"} 2\n"
			       "req_total{method=\"GET\",code=\"\"} 7\n");
	free(text);
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_wrong_family_is_noop)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *c = metrics_counter_new(reg, "c_total", "h", NULL);
	struct metrics_family *g = metrics_gauge_new(reg, "g", "h", NULL);
	struct metrics_family *h = metrics_histogram_new(reg, "h_seconds", "h", NULL, NULL, 0);
	char *text;

	metrics_gauge_set(c, NULL, 5);
	metrics_gauge_add(c, NULL, 5);
	metrics_histogram_observe(c, NULL, 5);
	metrics_counter_add(g, NULL, 5);
	metrics_histogram_observe(g, NULL, 5);
	metrics_counter_add(h, NULL, 5);
	metrics_gauge_set(h, NULL, 5);
	metrics_counter_add(NULL, NULL, 1);
	metrics_gauge_set(NULL, NULL, 1);
	metrics_gauge_add(NULL, NULL, 1);
	metrics_histogram_observe(NULL, NULL, 1);
	text = render(reg);
	ck_assert_double_eq(sample_value(text, "c_total"), 0);
	ck_assert_double_eq(sample_value(text, "g"), 0);
	ck_assert_double_eq(sample_value(text, "h_seconds_count"), 0);
	free(text);
	metrics_registry_free(reg);
}
END_TEST

/* ---- gauge -------------------------------------------------------------------- */

START_TEST(test_gauge)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"model", NULL};
	static const char *const a[] = {"a"};
	static const char *const b[] = {"b"};
	struct metrics_family *g = metrics_gauge_new(reg, "inflight", "In flight.", names);
	char *text;

	metrics_gauge_add(g, a, 3);
	metrics_gauge_add(g, a, -1);
	metrics_gauge_set(g, b, 10);
	metrics_gauge_add(g, b, -12.5);
	text = render(reg);
	ck_assert_double_eq(sample_value(text, "inflight{model=\"a\"}"), 2);
	ck_assert_double_eq(sample_value(text, "inflight{model=\"b\"}"), -2.5);
	free(text);

	metrics_gauge_set(g, a, NAN);
	metrics_gauge_set(g, b, -INFINITY);
	text = render(reg);
	ck_assert_str_eq(text, "# HELP inflight In flight.\n# TYPE inflight gauge\n"
			       "inflight{model=\"a\"} NaN\n"
			       "inflight{model=\"b\"} -Inf\n");
	free(text);
	metrics_registry_free(reg);
}
END_TEST

/* ---- histogram ---------------------------------------------------------------- */

START_TEST(test_histogram_buckets)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const double bounds[] = {1, 2, 5};
	struct metrics_family *h = metrics_histogram_new(reg, "size_bytes", "Sizes.", NULL, bounds, 3);
	static const double obs[] = {0.5, 1, -1, 3, 100};
	char *text;

	for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
		metrics_histogram_observe(h, NULL, obs[i]);
	metrics_histogram_observe(h, NULL, NAN); /* ignored: would poison _sum */
	text = render(reg);
	/* Bounds are inclusive (1 lands in le="1") and buckets cumulative. */
	ck_assert_str_eq(text, "# HELP size_bytes Sizes.\n# TYPE size_bytes histogram\n"
			       "size_bytes_bucket{le=\"1\"} 3\n"
			       "size_bytes_bucket{le=\"2\"} 3\n"
			       "size_bytes_bucket{le=\"5\"} 4\n"
			       "size_bytes_bucket{le=\"+Inf\"} 5\n"
			       "size_bytes_sum 103.5\n"
			       "size_bytes_count 5\n");
	free(text);
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_histogram_labelled)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"route", NULL};
	static const char *const r[] = {"/v1/jobs"};
	static const double bounds[] = {0.25};
	struct metrics_family *h = metrics_histogram_new(reg, "d_seconds", "D", names, bounds, 1);
	char *text;

	metrics_histogram_observe(h, r, 0.1);
	metrics_histogram_observe(h, r, 0.3);
	text = render(reg);
	/* le goes last, after the family's own labels. */
	ck_assert_str_eq(text, "# HELP d_seconds D\n# TYPE d_seconds histogram\n"
			       "d_seconds_bucket{route=\"/v1/jobs\",le=\"0.25\"} 1\n"
			       "d_seconds_bucket{route=\"/v1/jobs\",le=\"+Inf\"} 2\n"
			       "d_seconds_sum{route=\"/v1/jobs\"} 0.4\n"
			       "d_seconds_count{route=\"/v1/jobs\"} 2\n");
	free(text);
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_histogram_bad_bounds)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const double equal[] = {1, 1};
	static const double down[] = {2, 1};
	static const double with_nan[] = {1, NAN};
	static const double with_inf[] = {1, INFINITY};
	static const double neg[] = {-5, -1, 0};

	ck_assert_ptr_null(metrics_histogram_new(reg, "a", "h", NULL, equal, 2));
	ck_assert_ptr_null(metrics_histogram_new(reg, "b", "h", NULL, down, 2));
	ck_assert_ptr_null(metrics_histogram_new(reg, "c", "h", NULL, with_nan, 2));
	ck_assert_ptr_null(metrics_histogram_new(reg, "d", "h", NULL, with_inf, 2));
	ck_assert_ptr_null(metrics_histogram_new(reg, "e", "h", NULL, NULL, 2));
	ck_assert_ptr_nonnull(metrics_histogram_new(reg, "f", "h", NULL, neg, 3));
	ck_assert_ptr_nonnull(metrics_histogram_new(reg, "g", "h", NULL, NULL, 0));
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_latency_buckets)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *h;
	char *text;

	ck_assert_uint_ge(metrics_latency_buckets_n, 10);
	ck_assert_double_eq(metrics_latency_buckets[0], 0.0001);
	ck_assert_double_eq(metrics_latency_buckets[metrics_latency_buckets_n - 1], 10);
	for (size_t i = 1; i < metrics_latency_buckets_n; i++)
		ck_assert(metrics_latency_buckets[i] > metrics_latency_buckets[i - 1]);
	h = metrics_histogram_new(reg, "l_seconds", "L", NULL, metrics_latency_buckets, metrics_latency_buckets_n);
	ck_assert_ptr_nonnull(h);
	metrics_histogram_observe(h, NULL, 0.0001);
	text = render(reg);
	ck_assert_double_eq(sample_value(text, "l_seconds_bucket{le=\"0.0001\"}"), 1);
	ck_assert_double_eq(sample_value(text, "l_seconds_bucket{le=\"0.00025\"}"), 1);
	ck_assert_double_eq(sample_value(text, "l_seconds_bucket{le=\"10\"}"), 1);
	ck_assert_uint_eq(count_lines_starting(text, "l_seconds_bucket{"), metrics_latency_buckets_n + 1);
	free(text);
	metrics_registry_free(reg);
}
END_TEST

/* ---- render ------------------------------------------------------------------- */

START_TEST(test_render_empty_and_null)
{
	struct metrics_registry *reg = metrics_registry_new();
	size_t len = 42;
	char *text = metrics_render(reg, &len);

	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "");
	ck_assert_uint_eq(len, 0);
	free(text);
	text = metrics_render(reg, NULL); /* len_out is optional */
	ck_assert_ptr_nonnull(text);
	free(text);
	len = 42;
	ck_assert_ptr_null(metrics_render(NULL, &len));
	ck_assert_uint_eq(len, 42);
	metrics_registry_free(reg);
	metrics_registry_free(NULL);
}
END_TEST

START_TEST(test_render_escaping)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"v", NULL};
	static const char *const tricky[] = {"a\\b\"c\nd"};
	struct metrics_family *g = metrics_gauge_new(reg, "esc", "Line one\nback\\slash \"quoted\"", names);
	struct metrics_family *n = metrics_gauge_new(reg, "nohelp", NULL, NULL);
	char *text;

	ck_assert_ptr_nonnull(n);
	metrics_gauge_set(g, tricky, 1);
	text = render(reg);
	/* HELP escapes backslash and newline but not quotes; label values all three. */
	ck_assert_str_eq(text, "# HELP esc Line one\\nback\\\\slash \"quoted\"\n"
			       "# TYPE esc gauge\n"
			       "esc{v=\"a\\\\b\\\"c\\nd\"} 1\n"
			       "# HELP nohelp \n# TYPE nohelp gauge\nnohelp 0\n");
	free(text);
	metrics_registry_free(reg);
}
END_TEST

/* Each value's rendering, through a gauge. */
static void check_double(struct metrics_registry *reg, struct metrics_family *g, double v, const char *want)
{
	char got[64];
	char *text;

	metrics_gauge_set(g, NULL, v);
	text = render(reg);
	sample_text(text, "num", got, sizeof got);
	ck_assert_msg(strcmp(got, want) == 0, "%.17g rendered as %s, want %s", v, got, want);
	free(text);
}

static const struct {
	double v;
	const char *text;
} doubles[] = {
	{0, "0"},
	{-0.0, "0"},
	{1, "1"},
	{-1, "-1"},
	{42, "42"},
	{0.1, "0.1"},
	{-2.5, "-2.5"},
	{1.0 / 3, "0.3333333333333333"},
	{123456789012.0, "123456789012"},
	{1e15, "1000000000000000"},
	{9007199254740991.0, "9007199254740991"},
	{1e20, "1e+20"},
	{1.5e-7, "1.5e-07"},
	{0.0001, "0.0001"},
	{1.7976931348623157e308, "1.7976931348623157e+308"},
	{5e-324, "4.94065645841247e-324"},
	{NAN, "NaN"},
	{INFINITY, "+Inf"},
	{-INFINITY, "-Inf"},
};

START_TEST(test_render_doubles)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *g = metrics_gauge_new(reg, "num", "n", NULL);

	for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++)
		check_double(reg, g, doubles[i].v, doubles[i].text);
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_render_doubles_round_trip)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct metrics_family *g = metrics_gauge_new(reg, "num", "n", NULL);
	unsigned long long x = 0x9E3779B97F4A7C15ULL;

	/* Pseudo-random bit patterns: whatever the value, the text must read back exactly
	 * and stay within the formatter's buffer. */
	for (int i = 0; i < 2000; i++) {
		double v;
		char *text;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&v, &x, sizeof v);
		if (!isfinite(v))
			continue;
		metrics_gauge_set(g, NULL, v);
		text = render(reg);
		ck_assert_msg(sample_value(text, "num") == v, "%.17g does not round-trip", v);
		free(text);
	}
	metrics_registry_free(reg);
}
END_TEST

/* Finds a locale whose decimal point is ',' and makes it current; NULL if none is
 * installed (setting LOCPATH to a localedef'd directory provides one). */
static const char *use_comma_locale(void)
{
	static const char *const candidates[] = {"de_DE.UTF-8", "de_DE.utf8",  "fr_FR.UTF-8",
						 "fr_FR.utf8",  "nl_NL.UTF-8", "ru_RU.UTF-8"};

	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
		if (setlocale(LC_ALL, candidates[i]) && strcmp(localeconv()->decimal_point, ",") == 0)
			return candidates[i];
	}
	setlocale(LC_ALL, "C");
	return NULL;
}

START_TEST(test_render_locale)
{
	struct metrics_registry *reg;
	struct metrics_family *g, *h;
	static const double bounds[] = {0.5};
	const char *loc = use_comma_locale();
	char *text;

	if (!loc)
		fprintf(stderr, "metrics: no comma-decimal locale installed; "
				"locale case checked under C only\n");
	/* Families made under the foreign locale too: le strings are formatted then. */
	reg = metrics_registry_new();
	g = metrics_gauge_new(reg, "ratio", "r", NULL);
	h = metrics_histogram_new(reg, "t_seconds", "t", NULL, bounds, 1);
	metrics_gauge_set(g, NULL, 0.25);
	metrics_histogram_observe(h, NULL, 0.125);
	text = render(reg);
	ck_assert_ptr_nonnull(strstr(text, "ratio 0.25\n"));
	ck_assert_ptr_nonnull(strstr(text, "t_seconds_bucket{le=\"0.5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "t_seconds_sum 0.125\n"));
	free(text);
	/* The caller's locale is left as it was. */
	if (loc)
		ck_assert_str_eq(localeconv()->decimal_point, ",");
	setlocale(LC_ALL, "C");
	metrics_registry_free(reg);
}
END_TEST

/* ---- label values ------------------------------------------------------------- */

START_TEST(test_values_utf8)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"path", NULL};
	static const char *const bad1[] = {"a\xff"
					   "b"};
	static const char *const bad2[] = {"a\xfe"
					   "b"};
	static const char *const good[] = {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"};
	static const char *const surrogate[] = {"\xed\xa0\x80"};
	static const char *const overlong[] = {"\xc0\xaf"};
	static const char *const truncated[] = {"x\xe2\x82"};
	struct metrics_family *c = metrics_counter_new(reg, "p_total", "p", names);
	char *text;

	metrics_counter_add(c, bad1, 1);
	metrics_counter_add(c, bad2, 1); /* same after repair: same series */
	metrics_counter_add(c, good, 1);
	metrics_counter_add(c, surrogate, 1);
	metrics_counter_add(c, overlong, 1);
	metrics_counter_add(c, truncated, 1);
	text = render(reg);
	ck_assert_double_eq(sample_value(text, "p_total{path=\"a\xef\xbf\xbd"
					       "b\"}"),
			    2);
	ck_assert_double_eq(sample_value(text, "p_total{path=\"caf\xc3\xa9 \xe2\x82\xac "
					       "\xf0\x9f\x98\x80\"}"),
			    1);
	ck_assert_double_eq(sample_value(text, "p_total{path=\"\xef\xbf\xbd\xef\xbf\xbd"
					       "\xef\xbf\xbd\"}"),
			    1);
	ck_assert_double_eq(sample_value(text, "p_total{path=\"\xef\xbf\xbd\xef\xbf\xbd\"}"), 1);
	ck_assert_double_eq(sample_value(text, "p_total{path=\"x\xef\xbf\xbd\xef\xbf\xbd\"}"), 1);
	ck_assert_uint_eq(count_lines_starting(text, "p_total{"), 5);
	free(text);
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_values_long)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"v", NULL};
	struct metrics_family *c = metrics_counter_new(reg, "l_total", "l", names);
	size_t max = METRICS_MAX_LABEL_VALUE_LEN;
	char *a = malloc(max + 100), *b = malloc(max + 100), *want = malloc(max + 100);
	const char *va[1], *vb[1];
	char *text;

	/* Differ only past the limit: one series, holding the first max bytes. */
	memset(a, 'x', max + 50);
	a[max + 50] = '\0';
	memcpy(b, a, max + 51);
	b[max + 10] = 'y';
	va[0] = a;
	vb[0] = b;
	metrics_counter_add(c, va, 1);
	metrics_counter_add(c, vb, 1);
	text = render(reg);
	ck_assert_uint_eq(count_lines_starting(text, "l_total{"), 1);
	memcpy(want, "l_total{v=\"", 11);
	memset(want + 11, 'x', max);
	memcpy(want + 11 + max, "\"}", 3);
	ck_assert_double_eq(sample_value(text, want), 2);
	free(text);

	/* A cut never splits a character: 'x' * (max-1) + "é" keeps max-1 bytes. */
	memset(a, 'x', max - 1);
	memcpy(a + max - 1, "\xc3\xa9", 3);
	metrics_counter_add(c, va, 1);
	text = render(reg);
	memcpy(want + 11 + max - 1, "\"}", 3);
	ck_assert_double_eq(sample_value(text, want), 1);
	free(text);
	free(a);
	free(b);
	free(want);
	metrics_registry_free(reg);
}
END_TEST

/* ---- cardinality -------------------------------------------------------------- */

/* Sums and checks the lines "card_total{id="<i>"} <i+1>" of text; returns the
 * overflow series' value through *overflow. */
static size_t check_card_lines(const char *text, double *overflow)
{
	size_t n = 0;
	const char *prefix = "card_total{id=\"";
	size_t plen = strlen(prefix);

	*overflow = -1;
	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');

		if (strncmp(line, prefix, plen) == 0) {
			const char *id = line + plen;
			const char *close = strchr(id, '"');
			double v = strtod(close + 3, NULL);

			if (strncmp(id, METRICS_OVERFLOW_VALUE "\"", strlen(METRICS_OVERFLOW_VALUE) + 1) == 0)
				*overflow = v;
			else
				ck_assert_double_eq(v, strtod(id, NULL) + 1);
			n++;
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	return n;
}

START_TEST(test_many_series)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"id", NULL};
	struct metrics_family *c = metrics_counter_new(reg, "card_total", "c", names);
	const size_t n = 5000;
	double overflow;
	char *text;

	/* Series i gets i+1 increments, interleaved so lookups hit a grown table. */
	for (size_t round = 0; round < 3; round++)
		for (size_t i = 0; i < n; i++) {
			char id[32];
			const char *v[1] = {id};

			snprintf(id, sizeof id, "%zu", i);
			metrics_counter_add(c, v, round == 0 ? 1 : (double)i / 2);
		}
	text = render(reg);
	ck_assert_uint_eq(check_card_lines(text, &overflow), n);
	ck_assert_double_eq(overflow, -1);
	free(text);
	metrics_registry_free(reg);
}
END_TEST

START_TEST(test_cardinality_ceiling)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const names[] = {"id", NULL};
	struct metrics_family *c = metrics_counter_new(reg, "card_total", "c", names);
	const size_t n = METRICS_MAX_SERIES + 500;
	double overflow;
	char *text;

	for (size_t i = 0; i < n; i++) {
		char id[32];
		const char *v[1] = {id};

		snprintf(id, sizeof id, "%zu", i);
		metrics_counter_add(c, v, (double)i + 1);
	}
	/* An existing series still takes updates once the family is full. */
	{
		const char *v[1] = {"0"};

		metrics_counter_add(c, v, 0);
	}
	text = render(reg);
	ck_assert_uint_eq(check_card_lines(text, &overflow), METRICS_MAX_SERIES);
	/* Series 0 .. MAX-2 exist; the rest landed in the overflow series. */
	{
		double want = 0;

		for (size_t i = METRICS_MAX_SERIES - 1; i < n; i++)
			want += (double)i + 1;
		ck_assert_double_eq(overflow, want);
	}
	free(text);
	metrics_registry_free(reg);
}
END_TEST

/* ---- threads ------------------------------------------------------------------ */

#define N_WORKERS 8
#define N_ITER    20000

struct shared {
	struct metrics_registry *reg;
	struct metrics_family *req, *solo, *inflight, *lat;
	volatile int stop;
};

static void *worker(void *arg)
{
	struct shared *sh = arg;
	static const char *const routes[][1] = {{"/a"}, {"/b"}, {"/c"}, {"/d"}};

	for (int i = 0; i < N_ITER; i++) {
		const char *const *r = routes[i % 4];

		metrics_gauge_add(sh->inflight, NULL, 1);
		metrics_counter_add(sh->req, r, 1);
		metrics_counter_add(sh->solo, NULL, 0.5);
		metrics_histogram_observe(sh->lat, r, (i % 10) * 0.01);
		metrics_gauge_add(sh->inflight, NULL, -1);
	}
	return NULL;
}

static void *renderer(void *arg)
{
	struct shared *sh = arg;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		size_t len = 0;
		char *text = metrics_render(sh->reg, &len);

		/* ck_assert is not for other threads; report through the return value. */
		if (!text || len != strlen(text)) {
			free(text);
			return (void *)1;
		}
		free(text);
	}
	return NULL;
}

static void *creator(void *arg)
{
	struct shared *sh = arg;

	for (int i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof name, "late_%d", i);
		if (!metrics_gauge_new(sh->reg, name, "late", NULL))
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_threads)
{
	static const char *const names[] = {"route", NULL};
	struct shared sh = {0};
	pthread_t w[N_WORKERS], rend, cre;
	void *rv_r = NULL, *rv_c = NULL;
	char *text;
	double total = 0;

	sh.reg = metrics_registry_new();
	sh.req = metrics_counter_new(sh.reg, "req_total", "r", names);
	sh.solo = metrics_counter_new(sh.reg, "solo_total", "s", NULL);
	sh.inflight = metrics_gauge_new(sh.reg, "inflight", "i", NULL);
	sh.lat = metrics_histogram_new(sh.reg, "lat_seconds", "l", names, metrics_latency_buckets,
				       metrics_latency_buckets_n);
	ck_assert_int_eq(pthread_create(&rend, NULL, renderer, &sh), 0);
	ck_assert_int_eq(pthread_create(&cre, NULL, creator, &sh), 0);
	for (int i = 0; i < N_WORKERS; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, worker, &sh), 0);
	for (int i = 0; i < N_WORKERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	pthread_join(rend, &rv_r);
	pthread_join(cre, &rv_c);
	ck_assert_ptr_null(rv_r);
	ck_assert_ptr_null(rv_c);

	text = render(sh.reg);
	for (int i = 0; i < 4; i++) {
		char sample[64];

		snprintf(sample, sizeof sample, "req_total{route=\"/%c\"}", 'a' + i);
		ck_assert_double_eq(sample_value(text, sample), N_WORKERS * N_ITER / 4);
		snprintf(sample, sizeof sample, "lat_seconds_count{route=\"/%c\"}", 'a' + i);
		ck_assert_double_eq(sample_value(text, sample), N_WORKERS * N_ITER / 4);
		snprintf(sample, sizeof sample, "lat_seconds_bucket{route=\"/%c\",le=\"+Inf\"}", 'a' + i);
		total += sample_value(text, sample);
	}
	ck_assert_double_eq(total, N_WORKERS * N_ITER);
	ck_assert_double_eq(sample_value(text, "solo_total"), N_WORKERS * N_ITER * 0.5);
	ck_assert_double_eq(sample_value(text, "inflight"), 0);
	ck_assert_uint_eq(count_lines_starting(text, "late_"), 50);
	free(text);
	metrics_registry_free(sh.reg);
}
END_TEST

/* ---- promtool ----------------------------------------------------------------- */

/* Full path of promtool on PATH, in buf; 0 if absent. */
static int find_promtool(char *buf, size_t size)
{
	const char *path = getenv("PATH");

	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		int w = snprintf(buf, size, "%.*s/promtool", (int)n, n ? path : ".");

		if (w > 0 && (size_t)w < size && access(buf, X_OK) == 0)
			return 1;
		path = end ? end + 1 : NULL;
	}
	return 0;
}

/* Runs `promtool check metrics < text`, putting its output in out. Returns its exit
 * status, or -1 if it could not be run. */
static int run_promtool(const char *promtool, const char *text, char *out, size_t size)
{
	char in_path[] = "/tmp/metrics_in_XXXXXX", out_path[] = "/tmp/metrics_out_XXXXXX";
	int in_fd = -1, out_fd = -1, status = 0, rc = -1;
	posix_spawn_file_actions_t fa;
	char *argv[] = {(char *)"promtool", (char *)"check", (char *)"metrics", NULL};
	pid_t pid;
	ssize_t got;
	size_t len = strlen(text);

	out[0] = '\0';
	in_fd = mkstemp(in_path);
	out_fd = mkstemp(out_path);
	if (in_fd < 0 || out_fd < 0 || write(in_fd, text, len) != (ssize_t)len || lseek(in_fd, 0, SEEK_SET) != 0)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	if (posix_spawn(&pid, promtool, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto out;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			goto out;
	got = pread(out_fd, out, size - 1, 0);
	out[got > 0 ? got : 0] = '\0';
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

out:
	if (in_fd >= 0) {
		close(in_fd);
		unlink(in_path);
	}
	if (out_fd >= 0) {
		close(out_fd);
		unlink(out_path);
	}
	return rc;
}

/* A registry using every feature, with names that pass promtool's lint too. */
static struct metrics_registry *full_registry(void)
{
	struct metrics_registry *reg = metrics_registry_new();
	static const char *const http[] = {"method", "route", "code", NULL};
	static const char *const model[] = {"model", NULL};
	static const char *const get[] = {"GET", "/v1/datasets/{id}", "200"};
	static const char *const post[] = {"POST", "/v1/\"odd\"\\route\n", "500"};
	static const char *const bad_utf8[] = {"GET", "/caf\xe9", "404"};
	static const char *const m1[] = {"fashion-mnist"};
	static const char *const m2[] = {""};
	static const double bytes[] = {1024, 65536, 1048576};
	struct metrics_family *req, *dur, *g, *sz;

	req = metrics_counter_new(reg, "http_requests_total", "HTTP requests handled.", http);
	dur = metrics_histogram_new(reg, "http_request_duration_seconds",
				    "Time from request to last byte.\nSecond line \\ too.", http,
				    metrics_latency_buckets, metrics_latency_buckets_n);
	g = metrics_gauge_new(reg, "model_drift_score", "Drift of live inputs.", model);
	sz = metrics_histogram_new(reg, "upload_size_bytes", "Upload sizes.", NULL, bytes, 3);
	metrics_counter_new(reg, "unused_events_total", "Never updated, so not rendered.", model);
	metrics_counter_add(metrics_counter_new(reg, "process_restarts_total", "Restarts.", NULL), NULL, 3);
	metrics_gauge_set(metrics_gauge_new(reg, "build_info", "Build.", NULL), NULL, 1);

	metrics_counter_add(req, get, 1);
	metrics_counter_add(req, post, 2);
	metrics_counter_add(req, bad_utf8, 1);
	metrics_histogram_observe(dur, get, 0.0042);
	metrics_histogram_observe(dur, get, 12);
	metrics_histogram_observe(dur, post, 0.1);
	metrics_histogram_observe(dur, bad_utf8, 1e-9);
	metrics_gauge_set(g, m1, 0.125);
	metrics_gauge_set(g, m2, NAN);
	metrics_gauge_set(metrics_gauge_new(reg, "temp_celsius", "Temps.", model), m1, -INFINITY);
	metrics_histogram_observe(sz, NULL, 5e6);
	metrics_histogram_observe(sz, NULL, 1024);
	return reg;
}

START_TEST(test_promtool)
{
	char promtool[4096], out[8192];
	struct metrics_registry *reg;
	char *text;
	int rc;

	ck_assert_msg(find_promtool(promtool, sizeof promtool),
		      "promtool is not on PATH; run `make deps` (Debian package prometheus)");
	reg = full_registry();
	ck_assert_int_eq(metrics_process_register(reg), 0);
	text = render(reg);
	rc = run_promtool(promtool, text, out, sizeof out);
	ck_assert_msg(rc == 0, "promtool check metrics exited %d:\n%s\non:\n%s", rc, out, text);
	/* And a broken exposition is caught, so the check above is not vacuous. */
	rc = run_promtool(promtool, "# TYPE x counter\nx{a=\"\xff\"} 1\n", out, sizeof out);
	ck_assert_int_ne(rc, 0);
	free(text);
	metrics_registry_free(reg);
}
END_TEST

/* ---- process metrics ----------------------------------------------------------- */

START_TEST(test_process_metrics)
{
	struct metrics_registry *reg = metrics_registry_new();
	ck_assert_int_eq(metrics_process_register(reg), 0);
	ck_assert_int_eq(metrics_process_register(reg), -1); /* once per registry */
	ck_assert_int_eq(metrics_process_register(NULL), -1);
	char *text = metrics_render(reg, NULL);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE process_resident_memory_bytes gauge\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE process_open_fds gauge\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE process_start_time_seconds gauge\n"));
	double rss = sample_value(text, "process_resident_memory_bytes");
	double fds = sample_value(text, "process_open_fds");
	double start = sample_value(text, "process_start_time_seconds");
	double cpu = sample_value(text, "process_cpu_seconds_total");
	free(text);
	ck_assert_msg(rss > 1e5 && rss < 1e11, "rss %g", rss);
	ck_assert_msg(fds >= 3, "fds %g", fds); /* stdin, stdout, stderr at least */
	double now = (double)time(NULL);
	ck_assert_msg(start > now - 3600 && start <= now + 1, "start %f, now %f", start, now);
	ck_assert_msg(cpu >= 0 && cpu < 3600, "cpu %g", cpu);

	/* Read at scrape time: a new descriptor and some CPU show in the next render. */
	int extra = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(extra, 0);
	volatile double x = 0;
	for (long i = 0; i < 200000000L && x >= 0; i++)
		x += 1e-9;
	text = metrics_render(reg, NULL);
	ck_assert(sample_value(text, "process_open_fds") == fds + 1);
	ck_assert_msg(sample_value(text, "process_cpu_seconds_total") > cpu, "cpu did not grow from %g", cpu);
	free(text);
	close(extra);
	metrics_registry_free(reg);
}
END_TEST

/* ---- runner ------------------------------------------------------------------- */

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_test(tc, test_metric_names);
	tcase_add_test(tc, test_label_names);
	tcase_add_test(tc, test_duplicates_and_clashes);
	tcase_add_test(tc, test_failed_create_leaves_registry);
	suite_add_tcase(s, tc);

	tc = tcase_create("counter");
	tcase_add_test(tc, test_counter_unlabelled);
	tcase_add_test(tc, test_counter_labelled);
	tcase_add_test(tc, test_wrong_family_is_noop);
	suite_add_tcase(s, tc);

	tc = tcase_create("gauge");
	tcase_add_test(tc, test_gauge);
	suite_add_tcase(s, tc);

	tc = tcase_create("histogram");
	tcase_add_test(tc, test_histogram_buckets);
	tcase_add_test(tc, test_histogram_labelled);
	tcase_add_test(tc, test_histogram_bad_bounds);
	tcase_add_test(tc, test_latency_buckets);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_test(tc, test_render_empty_and_null);
	tcase_add_test(tc, test_render_escaping);
	tcase_add_test(tc, test_render_doubles);
	tcase_add_test(tc, test_render_doubles_round_trip);
	tcase_add_test(tc, test_render_locale);
	suite_add_tcase(s, tc);

	tc = tcase_create("labels");
	tcase_add_test(tc, test_values_utf8);
	tcase_add_test(tc, test_values_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("cardinality");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_many_series);
	tcase_add_test(tc, test_cardinality_ceiling);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("process");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_process_metrics);
	suite_add_tcase(s, tc);

	tc = tcase_create("promtool");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_promtool);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
