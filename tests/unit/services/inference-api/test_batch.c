/* Unit tests of the inference API's batcher (batch.c): whatever way requests are cut
 * into forward passes, every caller gets exactly the rows ml_net_predict gives for its
 * input; concurrent callers are coalesced into passes of more than one request; and a
 * lone request never waits for company (a 2 s window is never paid when nobody else is
 * in flight). Called through the private header ia.h, linked from libinference-api.a. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/time.h"
#include "ia.h"
#include "metrics/metrics.h"
#include "ml/nn.h"

#define N_IN  64
#define N_OUT 10

/* A small classifier: 64 -> 256 (relu) -> 10 (softmax), seeded weights. */
static struct ml_net *make_net(void)
{
	const struct ml_layer_spec layers[] = {
		{.kind = ML_DENSE, .units = 256},
		{.kind = ML_RELU},
		{.kind = ML_DENSE, .units = N_OUT},
		{.kind = ML_SOFTMAX},
	};
	struct ml_net *net = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(ml_net_new(layers, 4, (struct ml_shape){N_IN, 1, 1}, &net, &err) == CORE_OK, "%s", err.message);
	ml_net_init(net, 42);
	return net;
}

/* Deterministic inputs: row i of a data set of n rows. */
static float *make_rows(size_t n, unsigned seed)
{
	float *x = malloc(n * N_IN * sizeof *x);
	unsigned s = seed * 2654435761u + 1;
	for (size_t i = 0; i < n * N_IN; i++) {
		s = s * 1103515245u + 12345u;
		x[i] = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
	}
	return x;
}

/* The reference: the template net, one row at a time. */
static float *reference(struct ml_net *net, const float *x, size_t n)
{
	float *y = malloc(n * N_OUT * sizeof *y);
	struct core_error err = {{0}};
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(ml_net_predict(net, x + i * N_IN, 1, y + i * N_OUT, &err) == CORE_OK, "%s", err.message);
	return y;
}

/* Rows of a batched pass may differ from one-row passes only by float reassociation in
 * the BLAS kernels; a wrong row (someone else's) differs by far more. */
static void rows_equal(const float *got, const float *want, size_t n, const char *what)
{
	for (size_t i = 0; i < n * N_OUT; i++)
		ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-6f, "%s: value %zu (row %zu): %.9g, want %.9g", what, i,
			      i / N_OUT, (double)got[i], (double)want[i]);
}

static struct metrics_family *batch_family(struct metrics_registry *reg)
{
	static const double b[] = {1, 2, 4, 8, 16, 32, 64};
	return metrics_histogram_new(reg, "inference_batch_size", "rows per forward pass", NULL, b, 7);
}

/* A number that follows prefix in text (0 when absent). */
static double metric_value(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);
	return p ? strtod(p + strlen(prefix), NULL) : 0;
}

START_TEST(single_caller_gets_its_rows)
{
	struct ml_net *net = make_net();
	size_t n = 150; /* more than max_rows: split */
	float *x = make_rows(n, 1);
	float *want = reference(net, x, n);
	struct ia_batcher *b = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(ia_batcher_new(net, 2, 16, 300, NULL, &b, &err) == CORE_OK, "%s", err.message);
	float *got = calloc(n * N_OUT, sizeof *got);
	for (size_t take = 1; take <= n; take += 37) {
		memset(got, 0, n * N_OUT * sizeof *got);
		ck_assert(ia_batcher_run(b, x, take, got, &err) == CORE_OK);
		rows_equal(got, want, take, "one caller");
	}
	ck_assert(ia_batcher_run(b, x, n, got, &err) == CORE_OK);
	rows_equal(got, want, n, "all rows");
	ia_batcher_free(b);
	free(got);
	free(want);
	free(x);
	ml_net_free(net);
}
END_TEST

struct caller {
	struct ia_batcher *b;
	const float *x, *want;
	size_t n_rows;
	unsigned seed;
	size_t max_n; /* rows per request: 1..max_n */
	int requests;
	int failures;
	char why[640];
	pthread_barrier_t *start;
};

/* Sends requests of 1..max_n (<= 4) rows taken from its own part of the data set and checks each
 * answer row by row. */
static void *call_many(void *arg)
{
	struct caller *c = arg;
	unsigned s = c->seed;
	float got[4 * N_OUT];
	pthread_barrier_wait(c->start); /* all at once: the callers overlap */
	for (int r = 0; r < c->requests; r++) {
		usleep(100); /* a client between requests: others get their turn */
		s = s * 1103515245u + 12345u;
		size_t n = 1 + (s >> 16) % c->max_n;
		size_t at = (s >> 4) % (c->n_rows - n);
		struct core_error err = {{0}};
		if (ia_batcher_run(c->b, c->x + at * N_IN, n, got, &err) != CORE_OK) {
			snprintf(c->why, sizeof c->why, "request %d: %s", r, err.message);
			c->failures++;
			continue;
		}
		for (size_t i = 0; i < n * N_OUT; i++)
			if (fabsf(got[i] - c->want[at * N_OUT + i]) > 1e-6f) {
				snprintf(c->why, sizeof c->why,
					 "request %d (rows %zu..%zu): value %zu is %.9g, want %.9g", r, at, at + n - 1,
					 i, (double)got[i], (double)c->want[at * N_OUT + i]);
				c->failures++;
				break;
			}
	}
	return NULL;
}

/* threads callers of requests each through a batcher of nets copies; returns the
 * rendered metrics (the batch size histogram). */
static char *run_concurrently(size_t nets, size_t max_rows, long delay_us, int threads, int requests, size_t max_n)
{
	struct ml_net *net = make_net();
	size_t n_rows = 200;
	float *x = make_rows(n_rows, 7);
	float *want = reference(net, x, n_rows);
	struct metrics_registry *reg = metrics_registry_new();
	struct ia_batcher *b = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(ia_batcher_new(net, nets, max_rows, delay_us, batch_family(reg), &b, &err) == CORE_OK, "%s",
		      err.message);
	pthread_t tid[32];
	struct caller c[32];
	ck_assert(threads <= 32);
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (int t = 0; t < threads; t++) {
		c[t] = (struct caller){.b = b,
				       .x = x,
				       .want = want,
				       .n_rows = n_rows,
				       .seed = 100u + (unsigned)t,
				       .requests = requests,
				       .max_n = max_n,
				       .start = &start};
		ck_assert(pthread_create(&tid[t], NULL, call_many, &c[t]) == 0);
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		ck_assert_msg(c[t].failures == 0, "caller %d: %d failures, e.g. %s", t, c[t].failures, c[t].why);
	}
	pthread_barrier_destroy(&start);
	ia_batcher_free(b);
	char *text = metrics_render(reg, NULL);
	metrics_registry_free(reg);
	free(want);
	free(x);
	ml_net_free(net);
	return text;
}

START_TEST(concurrent_callers_get_their_rows_and_are_coalesced)
{
	/* 12 callers of one row each on 2 nets: rows never mix, and some passes carry
	 * several requests (a pass of more than one row is a coalesced one) */
	char *text = run_concurrently(2, 64, 2000, 12, 150, 1);
	double passes = metric_value(text, "inference_batch_size_count ");
	double single = metric_value(text, "inference_batch_size_bucket{le=\"1\"} ");
	double rows = metric_value(text, "inference_batch_size_sum ");
	ck_assert_msg(rows == 12 * 150, "every row counted once\n%s", text);
	ck_assert_msg(passes < rows && single < passes, "no pass coalesced requests\n%s", text);
	fprintf(stderr, "coalescing: %.0f passes for %.0f requests, %.0f alone\n", passes, rows, single);
	free(text);
}
END_TEST

START_TEST(small_windows_and_many_nets_still_exact)
{
	/* max_rows 3 with requests of up to 4 rows: big requests run alone, others fit */
	free(run_concurrently(3, 3, 500, 8, 100, 4));
	/* no window at all: coalescing only of what is queued while the nets are busy */
	free(run_concurrently(1, 64, 0, 8, 100, 4));
}
END_TEST

START_TEST(lone_request_never_waits)
{
	struct ml_net *net = make_net();
	float *x = make_rows(1, 3);
	float *want = reference(net, x, 1);
	struct ia_batcher *b = NULL;
	struct core_error err = {{0}};
	/* a 2 s window: one paid wait would blow the bound below */
	ck_assert(ia_batcher_new(net, 2, 64, 2000000, NULL, &b, &err) == CORE_OK);
	float got[N_OUT];
	uint64_t t0 = core_monotonic_ns();
	for (int i = 0; i < 20; i++) {
		ck_assert(ia_batcher_run(b, x, 1, got, &err) == CORE_OK);
		rows_equal(got, want, 1, "lone");
	}
	double secs = (double)(core_monotonic_ns() - t0) / 1e9;
	ck_assert_msg(secs < 1.0, "20 lone requests took %.3f s: someone waited for the window", secs);
	ia_batcher_free(b);
	free(want);
	free(x);
	ml_net_free(net);
}
END_TEST

START_TEST(bad_arguments_refused)
{
	struct ml_net *net = make_net();
	struct ia_batcher *b = NULL;
	struct core_error err = {{0}};
	ck_assert(ia_batcher_new(net, 0, 64, 300, NULL, &b, &err) == CORE_EINVAL);
	ck_assert(ia_batcher_new(net, 1, 0, 300, NULL, &b, &err) == CORE_EINVAL);
	ck_assert(ia_batcher_new(net, 1, 64, -1, NULL, &b, &err) == CORE_EINVAL);
	ck_assert(b == NULL);
	ml_net_free(net);
}
END_TEST

static Suite *batch_suite(void)
{
	Suite *s = suite_create("inference-batch");
	TCase *tc = tcase_create("batch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, single_caller_gets_its_rows);
	tcase_add_test(tc, concurrent_callers_get_their_rows_and_are_coalesced);
	tcase_add_test(tc, small_windows_and_many_nets_still_exact);
	tcase_add_test(tc, lone_request_never_waits);
	tcase_add_test(tc, bad_arguments_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(batch_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
