/* Tests of the httpc_ client (libs/http/src/client.c) against real http servers on
 * 127.0.0.1 in the test process: retries on a refused connection until a server that
 * starts late answers, no retry once connected, timeouts, the max_response ceiling,
 * methods and bodies, argument errors, and httpc_peer_call's sorting of outcomes. */
#include <check.h>
#include <netinet/in.h>
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

#define BIG_SIZE 100000

struct app {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool release;
	atomic_int hang_calls;
};

static struct app app;

static void h_hello(struct http_request *req, void *a)
{
	size_t len;
	const char *body = http_request_body(req, &len);
	const char *ct = http_request_header(req, "Content-Type");
	const char *custom = http_request_header(req, "X-Custom");
	const char *auth = http_request_header(req, "Authorization");
	(void)a;
	http_reply_json(req, 200,
			json_pack("{s:s, s:s%, s:s?, s:s?, s:s?}", "method", http_method_name(http_request_method(req)),
				  "body", body, len, "content_type", ct, "custom", custom, "auth", auth));
}

static void h_big(struct http_request *req, void *a)
{
	char *data = malloc(BIG_SIZE);
	(void)a;
	memset(data, 'z', BIG_SIZE);
	http_reply_raw(req, 200, "text/plain", data, BIG_SIZE);
	free(data);
}

static void h_teapot(struct http_request *req, void *a)
{
	(void)a;
	http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "busy");
}

/* Blocks until the test releases it (or 5 s). */
static void h_hang(struct http_request *req, void *a)
{
	struct app *ap = a;
	struct timespec until;
	atomic_fetch_add(&ap->hang_calls, 1);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&ap->lock);
	while (!ap->release)
		if (pthread_cond_timedwait(&ap->cond, &ap->lock, &until) != 0)
			break;
	pthread_mutex_unlock(&ap->lock);
	http_reply_raw(req, 200, "text/plain", "late", 4);
}

static const struct http_route routes[] = {
	{.methods = HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE,
	 .pattern = "/hello",
	 .handler = h_hello},
	{.methods = HTTP_GET, .pattern = "/big", .handler = h_big},
	{.methods = HTTP_GET, .pattern = "/busy", .handler = h_teapot},
	{.methods = HTTP_GET, .pattern = "/hang", .handler = h_hang},
	{0},
};

static struct http_server *start_on(unsigned port)
{
	struct http_server *s = NULL;
	struct core_error err;
	struct http_server_config cfg = {.routes = routes, .app = &app, .port = port, .threads = 2};
	ck_assert_msg(http_server_start(&cfg, &s, &err) == CORE_OK, "start: %s", err.message);
	return s;
}

static void setup(void)
{
	memset(&app, 0, sizeof app);
	pthread_mutex_init(&app.lock, NULL);
	pthread_cond_init(&app.cond, NULL);
}

static void release_hangers(void)
{
	pthread_mutex_lock(&app.lock);
	app.release = true;
	pthread_cond_broadcast(&app.cond);
	pthread_mutex_unlock(&app.lock);
}

/* A port nothing listens on right now: bind port 0, read it back, close. */
static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void url(char *buf, size_t n, unsigned port, const char *path)
{
	snprintf(buf, n, "http://127.0.0.1:%u%s", port, path);
}

/* --- retries ------------------------------------------------------------------------ */

struct late_start {
	unsigned port;
	struct http_server *server;
};

static void *start_late(void *p)
{
	struct late_start *ls = p;
	core_sleep_ms(250);
	ls->server = start_on(ls->port);
	return NULL;
}

START_TEST(retry_until_server_starts)
{
	struct late_start ls = {.port = free_port()};
	pthread_t t;
	char u[128];
	struct httpc_response r;
	struct core_error err;
	url(u, sizeof u, ls.port, "/hello");
	pthread_create(&t, NULL, start_late, &ls);
	uint64_t t0 = core_monotonic_ns();
	struct httpc_request rq = {.method = "POST",
				   .url = u,
				   .body = "{}",
				   .body_len = 2,
				   .content_type = "application/json",
				   .retries = 6};
	enum core_status rc = httpc_do(&rq, &r, &err);
	uint64_t waited_ms = (core_monotonic_ns() - t0) / 1000000;
	pthread_join(t, NULL);
	ck_assert_msg(rc == CORE_OK, "%s", err.message);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"method\":\"POST\""));
	ck_assert_uint_ge(waited_ms, 200); /* it did wait for the server */
	httpc_response_free(&r);
	http_server_stop(ls.server);
}
END_TEST

START_TEST(refused_without_retries)
{
	char u[128];
	struct httpc_response r;
	struct core_error err;
	url(u, sizeof u, free_port(), "/hello");
	struct httpc_request rq = {.method = "GET", .url = u, .retries = 0};
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EIO);
	ck_assert_ptr_nonnull(strstr(err.message, u));
	ck_assert_ptr_null(r.body);
	rq.retries = 2; /* 100 + 200 ms of backoff, then gives up */
	uint64_t t0 = core_monotonic_ns();
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EIO);
	ck_assert_uint_ge((core_monotonic_ns() - t0) / 1000000, 290);
}
END_TEST

/* --- timeouts and limits ------------------------------------------------------------ */

START_TEST(timeout_no_retry_once_connected)
{
	struct http_server *s = start_on(0);
	char u[128];
	struct httpc_response r;
	struct core_error err;
	url(u, sizeof u, http_server_port(s), "/hang");
	struct httpc_request rq = {.method = "GET", .url = u, .timeout_ms = 200, .retries = 3};
	uint64_t t0 = core_monotonic_ns();
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EIO);
	uint64_t took_ms = (core_monotonic_ns() - t0) / 1000000;
	ck_assert_msg(took_ms < 2000, "took %llu ms", (unsigned long long)took_ms);
	ck_assert_msg(strstr(err.message, "timed out") != NULL, "message: %s", err.message);
	ck_assert_int_le(atomic_load(&app.hang_calls), 1); /* sent once: no retry after connecting */
	release_hangers();
	http_server_stop(s);
}
END_TEST

START_TEST(max_response_limit)
{
	struct http_server *s = start_on(0);
	char u[128];
	struct httpc_response r;
	struct core_error err;
	url(u, sizeof u, http_server_port(s), "/big");
	struct httpc_request rq = {.method = "GET", .url = u, .max_response = 1000};
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_ELIMIT);
	ck_assert_ptr_null(r.body);
	rq.max_response = BIG_SIZE; /* exactly the size is fine */
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_OK);
	ck_assert_uint_eq(r.body_len, BIG_SIZE);
	ck_assert_str_eq(r.content_type, "text/plain");
	httpc_response_free(&r);
	ck_assert_ptr_null(r.body);
	http_server_stop(s);
}
END_TEST

/* --- requests ----------------------------------------------------------------------- */

START_TEST(methods_bodies_headers)
{
	struct http_server *s = start_on(0);
	char u[128];
	struct httpc_response r;
	struct core_error err;
	const char *const hdrs[] = {"X-Custom: yes", NULL};
	url(u, sizeof u, http_server_port(s), "/hello");
	const char *methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		struct httpc_request rq = {.method = methods[i],
					   .url = u,
					   .body = "a\0b",
					   .body_len = 3,
					   .content_type = "text/plain",
					   .headers = hdrs};
		ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_OK);
		json_t *j = json_loadb(r.body, r.body_len, JSON_ALLOW_NUL, NULL);
		ck_assert_str_eq(json_string_value(json_object_get(j, "method")), methods[i]);
		ck_assert_uint_eq(json_string_length(json_object_get(j, "body")), 3); /* the NUL travels too */
		ck_assert_str_eq(json_string_value(json_object_get(j, "content_type")), "text/plain");
		ck_assert_str_eq(json_string_value(json_object_get(j, "custom")), "yes");
		json_decref(j);
		httpc_response_free(&r);
	}
	/* no body, no content type: none is sent (not curl's form default) */
	struct httpc_request rq = {.method = "POST", .url = u};
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(r.body, "\"content_type\":null"));
	httpc_response_free(&r);
	rq.method = "HEAD";
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 0);
	ck_assert_str_eq(r.body, "");
	httpc_response_free(&r);
	/* any status is a response */
	url(u, sizeof u, http_server_port(s), "/busy");
	rq.method = "GET";
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_OK);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(strstr(r.body, "TEMPORARILY_UNAVAILABLE"));
	httpc_response_free(&r);
	http_server_stop(s);
}
END_TEST

/* httpc_peer_call: base URL joined (trailing slashes dropped), the token sent, answers
 * below 500 given back, a 5xx or no answer CORE_EIO with a message naming no address. */
START_TEST(peer_calls_sort_the_outcome)
{
	unsigned port = free_port();
	struct http_server *s = start_on(port);
	char base[64];
	snprintf(base, sizeof base, "http://127.0.0.1:%u//", port);
	struct httpc_peer peer = {.name = "the peer", .base_url = base, .token = "tok", .timeout_ms = 5000};
	struct httpc_response r;
	struct core_error err;
	ck_assert_int_eq(httpc_peer_call(&peer, "POST", "/hello", "text/plain", "hi", 2, "rid-1", &r, &err), CORE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, "\"auth\":\"Bearer tok\"") && strstr(r.body, "\"body\":\"hi\""), "%s", r.body);
	httpc_response_free(&r);
	ck_assert_int_eq(httpc_peer_call(&peer, "GET", "/nope", NULL, NULL, 0, NULL, &r, &err), CORE_OK);
	ck_assert_int_eq(r.status, 404);
	httpc_response_free(&r);
	ck_assert_int_eq(httpc_peer_call(&peer, "GET", "/busy", NULL, NULL, 0, NULL, &r, &err), CORE_EIO);
	ck_assert_str_eq(err.message, "the peer could not be reached");
	ck_assert_ptr_null(r.body);
	ck_assert_int_eq(httpc_peer_call(&peer, "GET", "/hello", NULL, NULL, 0, "bad id!", &r, &err), CORE_EINVAL);
	ck_assert_ptr_null(strstr(err.message, "127.0.0.1"));

	/* httpc_peer_json: the body sent as JSON, the answer parsed; a 4xx is an answer */
	json_t *out = NULL, *body = json_pack("{s:i}", "a", 1);
	long status = 0;
	ck_assert_int_eq(httpc_peer_json(&peer, "POST", "/hello", body, "rid-2", &status, &out, &err), CORE_OK);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(out, "body")), "{\"a\":1}");
	ck_assert_str_eq(json_string_value(json_object_get(out, "content_type")), "application/json");
	json_decref(out);
	json_decref(body);
	ck_assert_int_eq(httpc_peer_json(&peer, "GET", "/nope", NULL, NULL, &status, &out, &err), CORE_OK);
	ck_assert_int_eq(status, 404);
	json_decref(out);
	ck_assert_int_eq(httpc_peer_json(&peer, "GET", "/busy", NULL, NULL, &status, &out, &err), CORE_EIO);
	ck_assert_ptr_null(out);
	http_server_stop(s);
	ck_assert_int_eq(httpc_peer_call(&peer, "GET", "/hello", NULL, NULL, 0, NULL, &r, &err), CORE_EIO);
	ck_assert_str_eq(err.message, "the peer could not be reached");
}
END_TEST

START_TEST(bad_arguments)
{
	struct httpc_response r;
	struct core_error err;
	struct httpc_request rq = {.method = "GET", .url = NULL};
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EINVAL);
	ck_assert_int_eq(httpc_do(NULL, &r, &err), CORE_EINVAL);
	rq.url = "file:///etc/passwd"; /* only http and https */
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EIO);
	rq.url = "http://127.0.0.1:notaport/";
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EIO);
	httpc_response_free(NULL);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("http_client");
	TCase *tc = tcase_create("retries");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, retry_until_server_starts);
	tcase_add_test(tc, refused_without_retries);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, timeout_no_retry_once_connected);
	tcase_add_test(tc, max_response_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("requests");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, methods_bodies_headers);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, peer_calls_sort_the_outcome);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct core_error err;
	if (httpc_global_init(&err) != CORE_OK) {
		fprintf(stderr, "%s\n", err.message);
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(client_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	httpc_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
