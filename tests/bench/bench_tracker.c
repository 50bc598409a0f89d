/* Benchmark of the experiment tracker's write path against its peer, MLflow's own
 * server, over HTTP (run by tools/run-bench.sh, never by `make test`). Both speak
 * MLflow's REST API, so the same client code drives both, on the same data, in the same
 * run, against one durable PostgreSQL cluster (fsync and synchronous_commit on, as
 * `make run` has it). run-bench.sh starts the servers and describes them here:
 *   LATHE_BENCH_LATHE_URL   the Lathe tracker (required)
 *   LATHE_BENCH_MLFLOW_URL  `mlflow server --workers 2` (unset: its columns say "-")
 *   LATHE_BENCH_PG_PID      the cluster's postmaster (unset: no CPU figures)
 *   LATHE_BENCH_SECONDS     time bound of each cell (default 3)
 *   LATHE_BENCH_READS       0: leave out the read figures
 *
 * Rows: create run, log-metric, log-batch of 100 and of 1000 metrics, each with 1 and 4
 * client connections (keep-alive; with 4, each writes to its own run). A cell runs until
 * its request bound or its time bound, whichever comes first, after two untimed warm-up
 * requests per connection. Throughput is units (runs or metrics) per wall second; p50 is
 * per request. PostgreSQL's CPU is the postmaster's and its children's utime+stime from
 * /proc (children that exit are counted through the postmaster's cutime), read before
 * and after each cell: only one system is loaded at a time, so each cell's difference is
 * that system's cost. After the table, Lathe-only read figures: search over 10,000 runs
 * and get-history of 100,000 points. Results are "bench: ..." lines. */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"

#define MAX_CONNS         4
#define SEARCH_RUNS       10000
#define SEARCH_QUERIES    50
#define HISTORY_POINTS    100000
#define HISTORY_QUERIES   20
#define WARMUP_REQUESTS   2
#define DEFAULT_CELL_SECS 3.0
#define MAX_CELL_SECS     30.0

struct client {
	CURL *curl;
	struct curl_slist *headers;
	struct core_buf body;
	char base[256];
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

/* Sends one request; returns the status (0: no answer). The body is in c->body. */
static long request(struct client *c, const char *method, const char *path, const char *json)
{
	char url[4096];
	snprintf(url, sizeof url, "%s%s", c->base, path);
	core_buf_reset(&c->body);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
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

static const char *body_text(const struct client *c)
{
	return c->body.data ? c->body.data : "";
}

/* Returns the new run's id (malloc'd), or NULL after printing why. */
static char *create_run(struct client *c, const char *experiment_id)
{
	char body[128];
	snprintf(body, sizeof body, "{\"experiment_id\":\"%s\",\"start_time\":%lld}", experiment_id,
		 (long long)core_now_ms());
	long st = request(c, "POST", "/api/2.0/mlflow/runs/create", body);
	json_t *j = st == 200 ? json_loads(body_text(c), 0, NULL) : NULL;
	const char *id =
		json_string_value(json_object_get(json_object_get(json_object_get(j, "run"), "info"), "run_id"));
	char *copy = id ? core_xstrdup(id) : NULL;
	if (!copy)
		fprintf(stderr, "bench: runs/create at %s answered %ld: %.200s\n", c->base, st, body_text(c));
	json_decref(j);
	return copy;
}

static char *create_experiment(struct client *c, const char *name)
{
	char body[256];
	snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
	long st = request(c, "POST", "/api/2.0/mlflow/experiments/create", body);
	ck_assert_msg(st == 200, "experiments/create at %s: %ld %s", c->base, st, body_text(c));
	json_t *j = json_loads(body_text(c), 0, NULL);
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

/* --- PostgreSQL's CPU --------------------------------------------------------------- */

/* utime+stime (+cutime+cstime when with_children) of a process, in clock ticks; -1 when
 * it cannot be read. Sets *ppid. The fields follow the last ')' (comm may hold any). */
static long long proc_ticks(const char *pid, bool with_children, long *ppid)
{
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = '\0';
	const char *p = strrchr(line, ')');
	char state;
	long pp;
	unsigned long long ut, st;
	long long cut, cst;
	/* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime */
	if (!p || sscanf(p + 1, " %c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &state, &pp, &ut,
			 &st, &cut, &cst) != 6)
		return -1;
	*ppid = pp;
	return (long long)(ut + st) + (with_children ? cut + cst : 0);
}

/* PostgreSQL's CPU seconds so far: the postmaster (with its reaped children) and every
 * live child; -1 when there is no postmaster to read. */
static double pg_cpu_seconds(long postmaster)
{
	if (postmaster <= 0)
		return -1;
	char pm[24];
	long ppid;
	snprintf(pm, sizeof pm, "%ld", postmaster);
	long long ticks = proc_ticks(pm, true, &ppid);
	if (ticks < 0)
		return -1;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		long long t = proc_ticks(e->d_name, false, &ppid);
		if (t > 0 && ppid == postmaster)
			ticks += t;
	}
	if (d)
		closedir(d);
	return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* --- one cell of the table ------------------------------------------------------------ */

enum op { OP_CREATE_RUN, OP_LOG_METRIC, OP_BATCH_100, OP_BATCH_1000, N_OPS };

static const struct op_desc {
	const char *label, *unit;
	int units_per_request, max_requests_per_conn;
} ops[N_OPS] = {
	[OP_CREATE_RUN] = {"create run", "runs/s", 1, 3000},
	[OP_LOG_METRIC] = {"log-metric (single)", "metrics/s", 1, 3000},
	[OP_BATCH_100] = {"log-batch of 100", "metrics/s", 100, 1500},
	[OP_BATCH_1000] = {"log-batch of 1000", "metrics/s", 1000, 300},
};

struct system {
	const char *name, *base;
	char *experiment_id;
};

struct conn_job {
	pthread_t thread;
	const struct system *sys;
	enum op op;
	pthread_barrier_t *start;
	double seconds;
	struct client c;
	char *run_id;
	long next_step;
	double *ms; /* latency of each timed request */
	int n, failures;
};

struct cell {
	bool done;
	double per_s, p50_ms, secs, pg_cpu_s;
	long units;
	int requests, failures;
};

/* The next request's body and path (runs/create has none: it goes through create_run),
 * made before its clock starts: a request's time is the server's and the wire's, not
 * the client's printf. */
static char *job_body(struct conn_job *j, const char **path)
{
	char *body = NULL;
	*path = "/api/2.0/mlflow/runs/log-batch";
	switch (j->op) {
	case OP_CREATE_RUN:
		*path = NULL;
		break;
	case OP_LOG_METRIC:
		body = core_xasprintf(
			"{\"run_id\":\"%s\",\"key\":\"m\",\"value\":%.6f,\"timestamp\":%lld,\"step\":%ld}", j->run_id,
			(double)j->next_step * 0.5, (long long)core_now_ms(), j->next_step);
		*path = "/api/2.0/mlflow/runs/log-metric";
		j->next_step++;
		break;
	default: {
		int n = ops[j->op].units_per_request;
		body = batch_body(j->run_id, j->op == OP_BATCH_100 ? "b100" : "b1000", j->next_step, n);
		j->next_step += n;
	}
	}
	return body;
}

/* Sends a request made by job_body (and frees its body); answers the status. */
static long job_send(struct conn_job *j, const char *path, char *body)
{
	if (!path) {
		char *id = create_run(&j->c, j->sys->experiment_id);
		free(id);
		return id ? 200 : 0;
	}
	long st = request(&j->c, "POST", path, body);
	free(body);
	if (st != 200)
		fprintf(stderr, "bench: %s %s answered %ld: %.200s\n", j->sys->name, path, st, body_text(&j->c));
	return st;
}

static long job_request(struct conn_job *j)
{
	const char *path;
	char *body = job_body(j, &path);
	return job_send(j, path, body);
}

static void *conn_main(void *arg)
{
	struct conn_job *j = arg;
	for (int i = 0; i < WARMUP_REQUESTS; i++)
		if (job_request(j) != 200)
			j->failures++;
	pthread_barrier_wait(j->start);
	uint64_t deadline = core_monotonic_ns() + (uint64_t)(j->seconds * 1e9);
	int max = ops[j->op].max_requests_per_conn;
	while (j->n < max && core_monotonic_ns() < deadline && j->failures == 0) {
		const char *path;
		char *body = job_body(j, &path);
		uint64_t t0 = core_monotonic_ns();
		long st = job_send(j, path, body);
		double ms = (double)(core_monotonic_ns() - t0) / 1e6;
		if (st != 200) {
			j->failures++;
			break;
		}
		j->ms[j->n++] = ms;
	}
	return NULL;
}

static struct cell run_cell(const struct system *sys, enum op op, int conns, double seconds, long postmaster)
{
	struct conn_job jobs[MAX_CONNS];
	struct cell cell = {0};
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)conns + 1);
	int max = ops[op].max_requests_per_conn;
	for (int i = 0; i < conns; i++) {
		struct conn_job *j = &jobs[i];
		*j = (struct conn_job){.sys = sys, .op = op, .start = &start, .seconds = seconds};
		client_init(&j->c, sys->base);
		j->ms = core_xcalloc((size_t)max, sizeof *j->ms);
		if (op != OP_CREATE_RUN && !(j->run_id = create_run(&j->c, sys->experiment_id)))
			j->failures++;
		ck_assert_int_eq(pthread_create(&j->thread, NULL, conn_main, j), 0);
	}
	pthread_barrier_wait(&start);
	double cpu0 = pg_cpu_seconds(postmaster);
	uint64_t t0 = core_monotonic_ns();
	for (int i = 0; i < conns; i++)
		pthread_join(jobs[i].thread, NULL);
	cell.secs = (double)(core_monotonic_ns() - t0) / 1e9;
	double cpu1 = pg_cpu_seconds(postmaster);
	cell.pg_cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
	double *all = core_xcalloc((size_t)(max * conns) + 1, sizeof *all);
	for (int i = 0; i < conns; i++) {
		memcpy(all + cell.requests, jobs[i].ms, (size_t)jobs[i].n * sizeof *all);
		cell.requests += jobs[i].n;
		cell.failures += jobs[i].failures;
		free(jobs[i].ms);
		free(jobs[i].run_id);
		client_free(&jobs[i].c);
	}
	pthread_barrier_destroy(&start);
	qsort(all, (size_t)cell.requests, sizeof *all, cmp_double);
	cell.units = (long)cell.requests * ops[op].units_per_request;
	cell.per_s = cell.secs > 0 ? (double)cell.units / cell.secs : 0;
	cell.p50_ms = cell.requests ? all[cell.requests / 2] : 0;
	cell.done = cell.failures == 0 && cell.requests > 0;
	free(all);
	return cell;
}

/* --- the table -------------------------------------------------------------------------- */

static void print_table(struct cell lathe[N_OPS][2], struct cell peer[N_OPS][2], bool have_peer)
{
	printf("bench: %-34s %5s | %12s %9s | %12s %9s | %8s\n", "write (units/s)", "conns", "Lathe/s", "p50 ms",
	       "MLflow/s", "p50 ms", "ratio");
	for (int op = 0; op < N_OPS; op++)
		for (int k = 0; k < 2; k++) {
			char label[64], pr[32] = "-", pp[32] = "-", ratio[32] = "-";
			snprintf(label, sizeof label, "%s (%s)", ops[op].label, ops[op].unit);
			const struct cell *l = &lathe[op][k], *m = &peer[op][k];
			if (have_peer && m->done) {
				snprintf(pr, sizeof pr, "%.0f", m->per_s);
				snprintf(pp, sizeof pp, "%.2f", m->p50_ms);
				snprintf(ratio, sizeof ratio, "%.1fx", l->per_s / m->per_s);
			}
			printf("bench: %-34s %5d | %12.0f %9.2f | %12s %9s | %8s\n", label, k ? MAX_CONNS : 1, l->per_s,
			       l->p50_ms, pr, pp, ratio);
		}
}

static void cpu_cell(char *out, size_t size, const struct cell *c)
{
	if (c->done && c->pg_cpu_s >= 0 && c->units > 0)
		snprintf(out, size, "%.1f (%.2f s / %ld)", c->pg_cpu_s * 1000.0 / ((double)c->units / 1000.0),
			 c->pg_cpu_s, c->units);
	else
		snprintf(out, size, "-");
}

/* PostgreSQL CPU milliseconds per 1000 metrics, per log-batch cell and over all of them. */
static void print_cpu(struct cell lathe[N_OPS][2], struct cell peer[N_OPS][2], bool have_peer)
{
	printf("bench: %-36s | %26s | %26s\n", "PostgreSQL CPU ms / 1000 metrics", "Lathe (CPU s / metrics)",
	       "MLflow (CPU s / metrics)");
	struct cell sum[2] = {{.done = true}, {.done = true}};
	for (int op = OP_BATCH_100; op <= OP_BATCH_1000; op++)
		for (int k = 0; k < 2; k++) {
			char label[64], l[64], m[64] = "-";
			snprintf(label, sizeof label, "%s, %d conn", ops[op].label, k ? MAX_CONNS : 1);
			cpu_cell(l, sizeof l, &lathe[op][k]);
			if (have_peer)
				cpu_cell(m, sizeof m, &peer[op][k]);
			printf("bench: %-36s | %26s | %26s\n", label, l, m);
			const struct cell *src[2] = {&lathe[op][k], &peer[op][k]};
			for (int s = 0; s < 2; s++) {
				sum[s].done = sum[s].done && src[s]->done && src[s]->pg_cpu_s >= 0;
				sum[s].pg_cpu_s += src[s]->pg_cpu_s;
				sum[s].units += src[s]->units;
			}
		}
	char l[64], m[64] = "-";
	cpu_cell(l, sizeof l, &sum[0]);
	if (have_peer)
		cpu_cell(m, sizeof m, &sum[1]);
	printf("bench: %-36s | %26s | %26s\n", "all log-batch cells", l, m);
}

/* --- Lathe-only read figures ----------------------------------------------------------- */

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
		ck_assert_msg(st == 200, "%s: %ld %.200s", label, st, body_text(c));
		bytes = c->body.len;
	}
	qsort(ms, (size_t)count, sizeof *ms, cmp_double);
	printf("bench: lathe %s p50_ms=%.2f p95_ms=%.2f max_ms=%.2f response_bytes=%zu (n=%d)\n", label, ms[count / 2],
	       ms[(count * 95) / 100], ms[count - 1], bytes, count);
	free(ms);
}

/* Each worker creates its share of the search corpus: a run with one metric and one
 * param each, so filters and order_by have something to chew on. */
struct corpus_job {
	pthread_t thread;
	const char *base, *experiment_id;
	int index, failures;
};

static void *corpus_main(void *arg)
{
	struct corpus_job *w = arg;
	struct client c;
	client_init(&c, w->base);
	unsigned seed = (unsigned)w->index * 7919u + 1;
	for (int i = 0; i < SEARCH_RUNS / MAX_CONNS && w->failures == 0; i++) {
		char *run_id = create_run(&c, w->experiment_id);
		if (!run_id) {
			w->failures++;
			break;
		}
		char body[512];
		seed = seed * 1103515245u + 12345u;
		snprintf(body, sizeof body,
			 "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"acc\",\"value\":%.6f,\"timestamp\":%lld,\"step\":"
			 "0}],\"params\":[{\"key\":\"lr\",\"value\":\"%d\"}]}",
			 run_id, (double)(seed % 100000) / 100000.0, (long long)core_now_ms(), i % 10);
		if (request(&c, "POST", "/api/2.0/mlflow/runs/log-batch", body) != 200)
			w->failures++;
		free(run_id);
	}
	client_free(&c);
	return NULL;
}

static void read_figures(const char *base, const char *tag)
{
	struct client c;
	client_init(&c, base);
	char name[64];
	snprintf(name, sizeof name, "bench-search-%s", tag);
	char *exp = create_experiment(&c, name);
	struct corpus_job w[MAX_CONNS];
	uint64_t t0 = core_monotonic_ns();
	for (int i = 0; i < MAX_CONNS; i++) {
		w[i] = (struct corpus_job){.base = base, .experiment_id = exp, .index = i};
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL, corpus_main, &w[i]), 0);
	}
	int failures = 0;
	for (int i = 0; i < MAX_CONNS; i++) {
		pthread_join(w[i].thread, NULL);
		failures += w[i].failures;
	}
	ck_assert_msg(failures == 0, "building the search corpus failed (see stderr)");
	printf("bench: lathe search_corpus_runs=%d built in %.2f s\n", SEARCH_RUNS,
	       (double)(core_monotonic_ns() - t0) / 1e9);
	char body[512];
	snprintf(body, sizeof body,
		 "{\"experiment_ids\":[\"%s\"],\"filter\":\"metrics.acc > 0.5 and params.lr = '3'\","
		 "\"order_by\":[\"metrics.acc DESC\"],\"max_results\":100}",
		 exp);
	time_requests(&c, "search_10k_runs_filter_order", "POST", "/api/2.0/mlflow/runs/search", body, SEARCH_QUERIES);
	snprintf(body, sizeof body, "{\"experiment_ids\":[\"%s\"],\"max_results\":1000}", exp);
	time_requests(&c, "search_10k_runs_default_page_1000", "POST", "/api/2.0/mlflow/runs/search", body, 10);

	char *run_id = create_run(&c, exp);
	ck_assert_ptr_nonnull(run_id);
	for (long step = 0; step < HISTORY_POINTS; step += 1000) {
		char *batch = batch_body(run_id, "loss", step, 1000);
		ck_assert_int_eq(request(&c, "POST", "/api/2.0/mlflow/runs/log-batch", batch), 200);
		free(batch);
	}
	char path[256];
	/* the client pages with max_results=25000; also time the whole history at once */
	snprintf(path, sizeof path, "/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=loss&max_results=25000",
		 run_id);
	time_requests(&c, "history_page_25000_of_100k", "GET", path, NULL, HISTORY_QUERIES);
	snprintf(path, sizeof path, "/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=loss", run_id);
	time_requests(&c, "history_all_100k", "GET", path, NULL, HISTORY_QUERIES);
	free(run_id);
	free(exp);
	client_free(&c);
}

START_TEST(tracker_against_mlflow)
{
	const char *lathe_url = getenv("LATHE_BENCH_LATHE_URL");
	const char *mlflow_url = getenv("LATHE_BENCH_MLFLOW_URL");
	const char *pm = getenv("LATHE_BENCH_PG_PID");
	const char *secs_env = getenv("LATHE_BENCH_SECONDS");
	ck_assert_msg(lathe_url && *lathe_url, "LATHE_BENCH_LATHE_URL is not set (run tools/run-bench.sh)");
	bool have_peer = mlflow_url && *mlflow_url;
	long postmaster = pm ? strtol(pm, NULL, 10) : 0;
	double seconds = secs_env ? strtod(secs_env, NULL) : DEFAULT_CELL_SECS;
	if (!(seconds > 0) || seconds > MAX_CELL_SECS)
		seconds = DEFAULT_CELL_SECS;

	char tag[32];
	snprintf(tag, sizeof tag, "%lld-%d", (long long)core_now_ms(), (int)getpid());
	struct system sys[2] = {{.name = "Lathe", .base = lathe_url}, {.name = "MLflow", .base = mlflow_url}};
	for (int s = 0; s < (have_peer ? 2 : 1); s++) {
		struct client c;
		char name[64];
		client_init(&c, sys[s].base);
		snprintf(name, sizeof name, "bench-writes-%s", tag);
		sys[s].experiment_id = create_experiment(&c, name);
		client_free(&c);
	}
	printf("bench: writes over HTTP, one durable PostgreSQL cluster (fsync, synchronous_commit on); each cell "
	       "%.1f s or its request bound; peer: %s\n",
	       seconds, have_peer ? "MLflow 2.12.2, mlflow server --workers 2" : "none (its columns say -)");
	if (postmaster <= 0 || pg_cpu_seconds(postmaster) < 0)
		printf("bench: no PostgreSQL CPU figures (LATHE_BENCH_PG_PID unset or unreadable)\n");
	fflush(stdout);

	/* cells alternate between the systems so drift on a shared machine hits both alike */
	struct cell lathe[N_OPS][2] = {{{0}}}, peer[N_OPS][2] = {{{0}}};
	int failed_cells = 0;
	for (int op = 0; op < N_OPS; op++)
		for (int k = 0; k < 2; k++) {
			int conns = k ? MAX_CONNS : 1;
			lathe[op][k] = run_cell(&sys[0], (enum op)op, conns, seconds, postmaster);
			failed_cells += !lathe[op][k].done;
			if (have_peer) {
				peer[op][k] = run_cell(&sys[1], (enum op)op, conns, seconds, postmaster);
				if (!peer[op][k].done)
					printf("bench: MLflow %s x%d failed (see stderr): its cell is left out\n",
					       ops[op].label, conns);
			}
		}
	print_table(lathe, peer, have_peer);
	print_cpu(lathe, peer, have_peer);
	fflush(stdout);
	ck_assert_msg(failed_cells == 0, "%d Lathe cells had failed requests (see stderr)", failed_cells);

	const char *reads = getenv("LATHE_BENCH_READS");
	if (!reads || strcmp(reads, "0") != 0)
		read_figures(lathe_url, tag);
	free(sys[0].experiment_id);
	free(sys[1].experiment_id);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("bench_tracker");
	TCase *tc = tcase_create("tracker");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, tracker_against_mlflow);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK); /* so the bench lines reach stdout in order */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
