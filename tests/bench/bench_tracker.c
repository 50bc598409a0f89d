/* Benchmark of the experiment tracker over HTTP, against the real daemon, database
 * and broker (run by `make bench`, never by `make test`): runs created per second,
 * metrics ingested per second through log-batch, search latency over 10,000 runs with
 * a metric filter and order_by, and get-history latency for 100,000 points. Clients
 * are BENCH_THREADS threads with keep-alive connections; every loop is bounded in
 * count. Results are printed as "bench: ..." lines. */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "harness.h"

#define BENCH_THREADS      4
#define RUNS_CREATED       2000
#define BATCHES_PER_THREAD 50
#define SEARCH_RUNS        10000
#define SEARCH_QUERIES     50
#define HISTORY_POINTS     100000
#define HISTORY_QUERIES    20

/* Worker threads must not use check's assertions (they unwind the calling thread
 * with longjmp): they count failures here, and the test asserts after joining. */
static atomic_int worker_failures;

static void worker_fail(const char *what, long status, const char *body)
{
	atomic_fetch_add(&worker_failures, 1);
	fprintf(stderr, "bench worker: %s answered %ld: %.200s\n", what, status, body ? body : "");
}

struct client {
	CURL *curl;
	struct curl_slist *headers;
	struct core_buf body;
	char base[64];
};

static size_t collect(char *p, size_t size, size_t n, void *cls)
{
	struct core_buf *b = cls;
	return core_buf_append(b, p, size * n) == CORE_OK ? size * n : 0;
}

static void client_init(struct client *c, const char *base)
{
	c->curl = curl_easy_init();
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	core_buf_init(&c->body, 256u << 20);
	snprintf(c->base, sizeof c->base, "%s", base);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
}

static void client_free(struct client *c)
{
	curl_slist_free_all(c->headers);
	curl_easy_cleanup(c->curl);
	core_buf_free(&c->body);
}

/* Sends one request; returns the status. The body is in c->body. */
static long request(struct client *c, const char *method, const char *path, const char *json)
{
	char url[4096];
	snprintf(url, sizeof url, "%s%s", c->base, path);
	core_buf_reset(&c->body);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, json ? 0L : 1L);
	if (json) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	}
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	long status = 0;
	if (curl_easy_perform(c->curl) == CURLE_OK)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static char *create_run(struct client *c, const char *experiment_id)
{
	char body[128];
	snprintf(body, sizeof body, "{\"experiment_id\":\"%s\",\"start_time\":%lld}", experiment_id,
		 (long long)core_now_ms());
	long st = request(c, "POST", "/api/2.0/mlflow/runs/create", body);
	json_t *j = st == 200 ? json_loads(c->body.data, 0, NULL) : NULL;
	const char *id =
		json_string_value(json_object_get(json_object_get(json_object_get(j, "run"), "info"), "run_id"));
	char *copy = NULL;
	if (id)
		copy = core_xstrdup(id);
	else
		worker_fail("runs/create", st, c->body.data);
	json_decref(j);
	return copy;
}

static char *create_experiment(struct client *c, const char *name)
{
	char body[256];
	snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
	long st = request(c, "POST", "/api/2.0/mlflow/experiments/create", body);
	ck_assert_msg(st == 200, "experiments/create: %ld %s", st, c->body.data);
	json_t *j = json_loads(c->body.data, 0, NULL);
	char *id = core_xstrdup(json_string_value(json_object_get(j, "experiment_id")));
	json_decref(j);
	return id;
}

/* A log-batch body of n metrics named key, steps from first_step. */
static char *batch_body(const char *run_id, const char *key, long first_step, int n)
{
	struct core_buf b;
	core_buf_init(&b, 1u << 24);
	core_buf_printf(&b, "{\"run_id\":\"%s\",\"metrics\":[", run_id);
	long long now = (long long)core_now_ms();
	for (int i = 0; i < n; i++)
		core_buf_printf(&b, "%s{\"key\":\"%s\",\"value\":%.6f,\"timestamp\":%lld,\"step\":%ld}", i ? "," : "",
				key, (double)(first_step + i) * 0.001, now, first_step + i);
	core_buf_append_str(&b, "]}");
	return core_buf_steal(&b, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct worker {
	pthread_t thread;
	const char *base;
	const char *experiment_id;
	int index;
};

static void *create_runs_worker(void *arg)
{
	struct worker *w = arg;
	struct client c;
	client_init(&c, w->base);
	for (int i = 0; i < RUNS_CREATED / BENCH_THREADS; i++)
		free(create_run(&c, w->experiment_id));
	client_free(&c);
	return NULL;
}

static void *log_batch_worker(void *arg)
{
	struct worker *w = arg;
	struct client c;
	client_init(&c, w->base);
	char *run_id = create_run(&c, "0");
	for (int i = 0; run_id && i < BATCHES_PER_THREAD; i++) {
		char *body = batch_body(run_id, "throughput", (long)i * 1000, 1000);
		long st = request(&c, "POST", "/api/2.0/mlflow/runs/log-batch", body);
		if (st != 200)
			worker_fail("log-batch", st, c.body.data);
		free(body);
	}
	free(run_id);
	client_free(&c);
	return NULL;
}

/* Each worker creates its share of the search corpus: a run with one metric and one
 * param each, so filters and order_by have something to chew on. */
static void *search_corpus_worker(void *arg)
{
	struct worker *w = arg;
	struct client c;
	client_init(&c, w->base);
	unsigned seed = (unsigned)w->index * 7919u + 1;
	for (int i = 0; i < SEARCH_RUNS / BENCH_THREADS; i++) {
		char *run_id = create_run(&c, w->experiment_id);
		if (!run_id)
			continue;
		char body[512];
		seed = seed * 1103515245u + 12345u;
		snprintf(body, sizeof body,
			 "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"acc\",\"value\":%.6f,\"timestamp\":%lld,\"step\":"
			 "0}],"
			 "\"params\":[{\"key\":\"lr\",\"value\":\"%d\"}]}",
			 run_id, (double)(seed % 100000) / 100000.0, (long long)core_now_ms(), i % 10);
		long st = request(&c, "POST", "/api/2.0/mlflow/runs/log-batch", body);
		if (st != 200)
			worker_fail("log-batch", st, c.body.data);
		free(run_id);
	}
	client_free(&c);
	return NULL;
}

static double run_workers(void *(*fn)(void *), const char *base, const char *experiment_id)
{
	struct worker w[BENCH_THREADS];
	uint64_t t0 = core_monotonic_ns();
	for (int i = 0; i < BENCH_THREADS; i++) {
		w[i] = (struct worker){.base = base, .experiment_id = experiment_id, .index = i};
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL, fn, &w[i]), 0);
	}
	for (int i = 0; i < BENCH_THREADS; i++)
		pthread_join(w[i].thread, NULL);
	ck_assert_msg(atomic_load(&worker_failures) == 0, "%d requests of the workers failed (see stderr)",
		      atomic_load(&worker_failures));
	return (double)(core_monotonic_ns() - t0) / 1e9;
}

/* Times `count` identical requests; prints p50/p95/max in ms. */
static void time_requests(struct client *c, const char *label, const char *method, const char *path, const char *body,
			  int count)
{
	double *ms = core_xcalloc((size_t)count, sizeof *ms);
	size_t bytes = 0;
	for (int i = 0; i < count; i++) {
		uint64_t t0 = core_monotonic_ns();
		long st = request(c, method, path, body);
		ms[i] = (double)(core_monotonic_ns() - t0) / 1e6;
		ck_assert_msg(st == 200, "%s: %ld %.200s", label, st, c->body.data ? c->body.data : "");
		bytes = c->body.len;
	}
	qsort(ms, (size_t)count, sizeof *ms, cmp_double);
	printf("bench: tracker %s p50_ms=%.2f p95_ms=%.2f max_ms=%.2f response_bytes=%zu (n=%d)\n", label,
	       ms[count / 2], ms[(count * 95) / 100], ms[count - 1], bytes, count);
	free(ms);
}

START_TEST(tracker_benchmark)
{
	const char *env[] = {"HTTP_THREADS=4", "LOG_LEVEL=warn", NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);
	struct client c;
	client_init(&c, d->base_url);

	char *exp_runs = create_experiment(&c, "bench-runs");
	double secs = run_workers(create_runs_worker, d->base_url, exp_runs);
	printf("bench: tracker runs_created_per_s=%.0f (%d runs, %d threads, %.2f s)\n", RUNS_CREATED / secs,
	       RUNS_CREATED, BENCH_THREADS, secs);

	secs = run_workers(log_batch_worker, d->base_url, NULL);
	double metrics = (double)BENCH_THREADS * BATCHES_PER_THREAD * 1000;
	printf("bench: tracker log_batch_metrics_per_s=%.0f (%.0f metrics in batches of 1000, %d threads, %.2f s)\n",
	       metrics / secs, metrics, BENCH_THREADS, secs);

	char *exp_search = create_experiment(&c, "bench-search");
	secs = run_workers(search_corpus_worker, d->base_url, exp_search);
	printf("bench: tracker search_corpus_runs=%d built in %.2f s\n", SEARCH_RUNS, secs);
	char body[512];
	snprintf(body, sizeof body,
		 "{\"experiment_ids\":[\"%s\"],\"filter\":\"metrics.acc > 0.5 and params.lr = '3'\","
		 "\"order_by\":[\"metrics.acc DESC\"],\"max_results\":100}",
		 exp_search);
	time_requests(&c, "search_10k_runs_filter_order", "POST", "/api/2.0/mlflow/runs/search", body, SEARCH_QUERIES);
	snprintf(body, sizeof body, "{\"experiment_ids\":[\"%s\"],\"max_results\":1000}", exp_search);
	time_requests(&c, "search_10k_runs_default_page_1000", "POST", "/api/2.0/mlflow/runs/search", body, 10);

	char *run_id = create_run(&c, "0");
	ck_assert_ptr_nonnull(run_id);
	for (long step = 0; step < HISTORY_POINTS; step += 1000) {
		char *batch = batch_body(run_id, "loss", step, 1000);
		ck_assert_int_eq(request(&c, "POST", "/api/2.0/mlflow/runs/log-batch", batch), 200);
		free(batch);
	}
	char path[256];
	snprintf(path, sizeof path, "/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=loss&max_results=25000",
		 run_id);
	/* the client pages with max_results=25000; also time the whole history at once */
	time_requests(&c, "history_page_25000_of_100k", "GET", path, NULL, HISTORY_QUERIES);
	snprintf(path, sizeof path, "/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=loss", run_id);
	time_requests(&c, "history_all_100k", "GET", path, NULL, HISTORY_QUERIES);

	free(run_id);
	free(exp_runs);
	free(exp_search);
	client_free(&c);
	th_daemon_stop(d);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("bench_tracker");
	TCase *tc = tcase_create("tracker");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, tracker_benchmark);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK); /* so the bench lines reach stdout in order */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
