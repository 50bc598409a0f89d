/* Tests of the server's per-process limits (libs/http/src/limits.c and their use in
 * server.c) on a real server on an ephemeral 127.0.0.1 port inside the test process:
 * the body budget (a Content-Length body that does not fit: 503 with Retry-After at
 * once, in the route's error shape; a chunked body that outgrows it: the same 503
 * after its end, connection kept; reservations given back when a client vanishes
 * mid-body, checked on lathe_http_body_buffered_bytes), and the worker slots (a route
 * marked .unqueued answers while every slot is held; a plain one waits its turn), and
 * the cap on the JSON values of a body (jspec.c: 16 MiB of "[0,0,..." once parsed into
 * a 350 MB tree). */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "core/time.h"
#include "http/client.h"
#include "http/http.h"
#include "http/jspec.h"
#include "metrics/metrics.h"

#define BUDGET ((size_t)256 << 10)

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, release;
	atomic_int ok_runs; /* h_ok calls */
};

static struct gate gate;
static struct http_server *server;
static struct metrics_registry *registry;

static void h_len(struct http_request *req, void *a)
{
	size_t len = 0;
	(void)a;
	http_request_body(req, &len);
	http_reply_json(req, 200, json_pack("{s:I}", "len", (json_int_t)len));
}

static void h_hold(struct http_request *req, void *a)
{
	struct gate *g = a;
	pthread_mutex_lock(&g->lock);
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->release)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	http_reply_json(req, 200, json_pack("{s:s}", "held", "done"));
}

static void h_ok(struct http_request *req, void *a)
{
	struct gate *g = a;
	atomic_fetch_add(&g->ok_runs, 1);
	http_reply_json(req, 200, json_pack("{s:s}", "path", http_request_path(req)));
}

static void h_args(struct http_request *req, void *a)
{
	json_t *args = NULL;
	const struct http_jspec spec[] = {HTTP_JS_END};
	(void)a;
	if (http_parse_args_or_reply(req, spec, &args) != HTTP_PARSE_OK)
		return;
	http_reply_json(req, 200, json_pack("{s:I}", "keys", (json_int_t)json_object_size(args)));
}

static const struct http_route routes[] = {
	{.methods = HTTP_POST, .pattern = "/args", .handler = h_args, .body_limit = 4 << 20},
	{.methods = HTTP_POST, .pattern = "/big", .handler = h_len, .body_limit = 4 << 20},
	{.methods = HTTP_POST,
	 .pattern = "/v2/big",
	 .handler = h_len,
	 .body_limit = 4 << 20,
	 .errors = HTTP_ERRORS_OIP},
	{.methods = HTTP_GET, .pattern = "/hold", .handler = h_hold},
	{.methods = HTTP_GET, .pattern = "/probe", .handler = h_ok, .unqueued = true},
	{.methods = HTTP_GET, .pattern = "/plain", .handler = h_ok},
	{0},
};

static void setup(void)
{
	struct core_error err;
	memset(&gate, 0, sizeof gate);
	pthread_mutex_init(&gate.lock, NULL);
	pthread_cond_init(&gate.cond, NULL);
	registry = metrics_registry_new();
	struct http_server_config cfg = {
		.routes = routes,
		.app = &gate,
		.threads = 1,
		.metrics = registry,
		.body_budget = BUDGET,
		.drain_timeout_ms = 2000,
	};
	ck_assert_msg(http_server_start(&cfg, &server, &err) == CORE_OK, "start: %s", err.message);
}

static void teardown(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.release = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	http_server_stop(server); /* NULL when the test stopped it */
	metrics_registry_free(registry);
}

static char *url_for(const char *path)
{
	static char url[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", http_server_port(server), path);
	return url;
}

static enum core_status call(const char *method, const char *path, const char *body, size_t len,
			     const char *const *headers, long timeout_ms, struct httpc_response *r)
{
	struct core_error err;
	struct httpc_request rq = {.method = method,
				   .url = url_for(path),
				   .body = body,
				   .body_len = len,
				   .content_type = body ? "application/json" : NULL,
				   .headers = headers,
				   .timeout_ms = timeout_ms};
	return httpc_do(&rq, r, &err);
}

/* The value of series in the registry's text, or -1. */
static double metric(const char *series)
{
	size_t len;
	char *text = metrics_render(registry, &len);
	double v = -1;
	size_t n = strlen(series);
	for (const char *line = text; line && *line;) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			v = strtod(line + n + 1, NULL);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	free(text);
	return v;
}

static int raw_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)http_server_port(server)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void wait_metric(const char *series, double want)
{
	double v = -1;
	for (int i = 0; i < 100 && v != want; i++) {
		v = metric(series);
		if (v != want)
			core_sleep_ms(20);
	}
	ck_assert_msg(v == want, "%s is %g, want %g", series, v, want);
}

/* Sends only the headers of a POST to path declaring length body bytes, and returns
 * what the server answers within 3 s (static buffer): a refusal comes on the headers,
 * with nothing of the body unread to turn the close into a reset. */
static const char *post_head_only(const char *path, size_t length)
{
	static char buf[4096];
	char head[256];
	int fd = raw_connect();
	int hn = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n", path,
			  length);
	ck_assert_int_eq(send(fd, head, (size_t)hn, MSG_NOSIGNAL), hn);
	size_t got = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, got ? 200 : 3000) <= 0)
			break;
		ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = '\0';
	close(fd);
	return buf;
}

START_TEST(declared_body_over_the_budget_refused_at_once)
{
	/* BUDGET bytes + the NUL kept after them: one byte over */
	const char *reply = post_head_only("/big", BUDGET);
	ck_assert_msg(strncmp(reply, "HTTP/1.1 503", 12) == 0, "%s", reply);
	ck_assert_ptr_nonnull(strstr(reply, "\r\nRetry-After: 1\r\n"));
	ck_assert_ptr_nonnull(strstr(reply, "\r\nConnection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(reply, "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":"));
	/* OIP routes answer in their shape */
	reply = post_head_only("/v2/big", BUDGET);
	ck_assert_msg(strncmp(reply, "HTTP/1.1 503", 12) == 0, "%s", reply);
	ck_assert_ptr_nonnull(strstr(reply, "\r\n\r\n{\"error\":\"Server busy"));
	/* just under fits, is read whole, and its reservation comes back */
	size_t n = BUDGET - 1;
	char *body = malloc(n);
	memset(body, ' ', n);
	memcpy(body + n - 2, "{}", 2);
	struct httpc_response r;
	ck_assert_int_eq(call("POST", "/big", body, n, NULL, 10000, &r), CORE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"len\":262143"));
	httpc_response_free(&r);
	wait_metric("lathe_http_body_buffered_bytes", 0);
	ck_assert(metric("lathe_http_refused_total{reason=\"body_budget\"}") == 2);
	free(body);
}
END_TEST

START_TEST(chunked_body_outgrowing_the_budget_refused_after_its_end)
{
	const char *const chunked[] = {"Transfer-Encoding: chunked", NULL};
	size_t n = BUDGET + 1000;
	char *body = malloc(n);
	memset(body, ' ', n);
	struct httpc_response r;
	ck_assert_int_eq(call("POST", "/big", body, n, chunked, 10000, &r), CORE_OK);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(strstr(r.body, "TEMPORARILY_UNAVAILABLE"));
	httpc_response_free(&r);
	wait_metric("lathe_http_body_buffered_bytes", 0);
	/* a smaller chunked body is read whole */
	ck_assert_int_eq(call("POST", "/big", body, BUDGET / 2, chunked, 10000, &r), CORE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"len\":131072"));
	httpc_response_free(&r);
	wait_metric("lathe_http_body_buffered_bytes", 0);
	free(body);
}
END_TEST

START_TEST(reservation_released_when_the_client_vanishes)
{
	/* One client holds 200000 + 1 bytes of the budget; another 100000-byte body does
	 * not fit beside it. */
	int fd = raw_connect();
	static const char head[] = "POST /big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200000\r\n\r\n{ ";
	ck_assert_int_eq(send(fd, head, sizeof head - 1, MSG_NOSIGNAL), (ssize_t)(sizeof head - 1));
	wait_metric("lathe_http_body_buffered_bytes", 200001);
	const char *reply = post_head_only("/big", 100000);
	ck_assert_msg(strncmp(reply, "HTTP/1.1 503", 12) == 0, "%s", reply);
	close(fd); /* gone mid-body */
	char *body = malloc(100000);
	memset(body, ' ', 100000);
	struct httpc_response r;
	wait_metric("lathe_http_body_buffered_bytes", 0);
	memcpy(body, "{}", 2);
	ck_assert_int_eq(call("POST", "/big", body, 100000, NULL, 10000, &r), CORE_OK);
	ck_assert_int_eq(r.status, 200);
	httpc_response_free(&r);
	free(body);
}
END_TEST

/* {"a":[0,0,...]} with n zeros: n + 2 values. */
static char *zeros(size_t n, size_t *len)
{
	char *s = malloc(2 * n + 16);
	size_t k = 0;
	memcpy(s, "{\"a\":[", 6);
	k = 6;
	for (size_t i = 0; i < n; i++) {
		s[k++] = '0';
		s[k++] = ',';
	}
	k--; /* the last comma */
	memcpy(s + k, "]}", 3);
	*len = k + 2;
	return s;
}

START_TEST(json_bodies_with_too_many_values_refused_before_parsing)
{
	struct httpc_response r;
	size_t len;
	char *body = zeros(99998, &len); /* 100000 values: the most taken */
	ck_assert_int_eq(call("POST", "/args", body, len, NULL, 10000, &r), CORE_OK);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	httpc_response_free(&r);
	free(body);
	wait_metric("lathe_http_body_buffered_bytes", 0); /* given back at completion, just after the reply */
	body = zeros(99999, &len);
	ck_assert_int_eq(call("POST", "/args", body, len, NULL, 10000, &r), CORE_OK);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body,
			 "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"Request body holds more than "
			 "100000 JSON values\"}");
	httpc_response_free(&r);
	free(body);
	wait_metric("lathe_http_body_buffered_bytes", 0);
	/* commas, brackets and braces inside strings are not values */
	body = malloc(200100);
	size_t k = 6;
	memcpy(body, "{\"a\":\"", 6);
	for (int i = 0; i < 40000; i++, k += 5) /* 120000 of them */
		memcpy(body + k, ",[{\\\"", 5);
	memcpy(body + k, "\"}", 3);
	k += 2;
	ck_assert_int_eq(call("POST", "/args", body, k, NULL, 10000, &r), CORE_OK);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	httpc_response_free(&r);
	free(body);
}
END_TEST

static void *hold_run(void *p)
{
	struct httpc_response *r = p;
	ck_assert_int_eq(call("GET", "/hold", NULL, 0, NULL, 10000, r), CORE_OK);
	return NULL;
}

START_TEST(unqueued_route_answers_while_every_worker_is_held)
{
	pthread_t t;
	struct httpc_response held;
	pthread_create(&t, NULL, hold_run, &held);
	pthread_mutex_lock(&gate.lock);
	while (!gate.entered)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);

	/* the one worker is held: an unqueued route answers at once ... */
	struct httpc_response r;
	uint64_t t0 = core_monotonic_ns();
	ck_assert_int_eq(call("GET", "/probe", NULL, 0, NULL, 2000, &r), CORE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_lt((core_monotonic_ns() - t0) / 1000000, 1000);
	httpc_response_free(&r);
	/* ... a plain one waits for the worker */
	ck_assert_int_ne(call("GET", "/plain", NULL, 0, NULL, 500, &r), CORE_OK);

	pthread_mutex_lock(&gate.lock);
	gate.release = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	pthread_join(t, NULL);
	ck_assert_int_eq(held.status, 200);
	httpc_response_free(&held);
	ck_assert_int_eq(call("GET", "/plain", NULL, 0, NULL, 2000, &r), CORE_OK);
	ck_assert_int_eq(r.status, 200);
	httpc_response_free(&r);
}
END_TEST

struct plain_call {
	pthread_t t;
	enum core_status rc;
	struct httpc_response r;
	uint64_t done_ns;
};

static void *plain_run(void *p)
{
	struct plain_call *c = p;
	c->rc = call("GET", "/plain", NULL, 0, NULL, 20000, &c->r);
	c->done_ns = core_monotonic_ns();
	return NULL;
}

static void *cut_hold_run(void *p)
{
	struct plain_call *c = p;
	c->rc = call("GET", "/hold", NULL, 0, NULL, 20000, &c->r);
	return NULL;
}

static void *stop_run(void *p)
{
	http_server_stop(p);
	return NULL;
}

START_TEST(requests_waiting_for_a_worker_give_up_when_the_drain_times_out)
{
	/* restart with a short drain */
	struct core_error err;
	http_server_stop(server);
	metrics_registry_free(registry);
	registry = metrics_registry_new();
	struct http_server_config cfg = {
		.routes = routes, .app = &gate, .threads = 1, .metrics = registry, .drain_timeout_ms = 300};
	ck_assert_msg(http_server_start(&cfg, &server, &err) == CORE_OK, "start: %s", err.message);

	pthread_t held_t;
	struct plain_call held = {0};
	pthread_create(&held_t, NULL, cut_hold_run, &held);
	pthread_mutex_lock(&gate.lock);
	while (!gate.entered)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	struct plain_call waiting = {0};
	pthread_create(&waiting.t, NULL, plain_run, &waiting);
	core_sleep_ms(200); /* it waits for the one worker */

	pthread_t stopper;
	uint64_t t0 = core_monotonic_ns();
	pthread_create(&stopper, NULL, stop_run, server);
	server = NULL;
	/* the drain times out after 300 ms while the worker is still held: the waiting
	 * request is answered (503) or cut, not left waiting for 30 s */
	pthread_join(waiting.t, NULL);
	ck_assert_uint_lt((waiting.done_ns - t0) / 1000000, 2000);
	ck_assert(waiting.rc != CORE_OK || waiting.r.status == 503);
	if (waiting.rc == CORE_OK)
		httpc_response_free(&waiting.r);
	pthread_mutex_lock(&gate.lock);
	gate.release = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	pthread_join(stopper, NULL);
	pthread_join(held_t, NULL);
	int ran = atomic_load(&gate.ok_runs);
	ck_assert_int_eq(ran, 0); /* the waiting handler never ran */
	if (held.rc == CORE_OK)   /* or cut off by the stop: both fine */
		httpc_response_free(&held.r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_limits");
	TCase *tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, declared_body_over_the_budget_refused_at_once);
	tcase_add_test(tc, chunked_body_outgrowing_the_budget_refused_after_its_end);
	tcase_add_test(tc, reservation_released_when_the_client_vanishes);
	tcase_add_test(tc, unqueued_route_answers_while_every_worker_is_held);
	tcase_add_test(tc, json_bodies_with_too_many_values_refused_before_parsing);
	tcase_add_test(tc, requests_waiting_for_a_worker_give_up_when_the_drain_times_out);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
