/* Integration test of the registry's servability check against the REAL experiment
 * tracker (no fake of our own parts): the tracker is started, a Lathe model package
 * (model.json + weights.safetensors) and a half package are uploaded through its
 * MLflow artifact API (PUT /api/2.0/mlflow-artifacts/artifacts/<path>), then versions
 * are registered with those sources and their lathe.servable / lathe.servable_reason
 * tags are checked. Until the tracker serves its artifact routes (404/501 on the PUT),
 * the test says so on stderr ("WAITING") and checks only what holds then: the version
 * is still registered, not servable, with the tracker's answer as the reason. */
#include <arpa/inet.h>
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
#include "harness.h"
#include "http/client.h"

#define RUN "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define ART "1/" RUN "/artifacts"

static long put_artifact(struct th_daemon *tracker, const char *path, const char *content, size_t len)
{
	char url[512];
	snprintf(url, sizeof url, "%s/api/2.0/mlflow-artifacts/artifacts/%s", tracker->base_url, path);
	struct th_response r = th_http("PUT", url, "application/octet-stream", content, len);
	long status = r.status;
	th_response_free(&r);
	return status;
}

static const char *tag_value(json_t *mv, const char *key)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(mv, "tags"), i,
			   t) if (strcmp(json_string_value(json_object_get(t, "key")), key) ==
				  0) return json_string_value(json_object_get(t, "value"));
	return NULL;
}

/* Registers a version of "m" from source; returns the version once its servability
 * check has an answer (owned): the answer to create says "pending", the registry asks
 * the tracker in the background. */
static json_t *register_version(struct th_daemon *reg, const char *source)
{
	char body[512], path[256];
	snprintf(body, sizeof body, "{\"name\": \"m\", \"source\": \"%s\", \"run_id\": \"" RUN "\"}", source);
	struct th_response r = th_call(reg, "POST", "/api/2.0/mlflow/model-versions/create", body);
	ck_assert_msg(r.status == 200, "create version: %ld %s", r.status, r.body);
	json_t *mv = json_object_get(r.json, "model_version");
	const char *settled_now = tag_value(mv, "lathe.servable");
	ck_assert_ptr_nonnull(settled_now);
	snprintf(path, sizeof path, "/api/2.0/mlflow/model-versions/get?name=m&version=%s",
		 json_string_value(json_object_get(mv, "version")));
	mv = json_incref(mv);
	th_response_free(&r);
	for (int i = 0; i < 200 && strcmp(tag_value(mv, "lathe.servable"), "pending") == 0; i++) {
		core_sleep_ms(50);
		json_decref(mv);
		r = th_call(reg, "GET", path, NULL);
		ck_assert_msg(r.status == 200, "get version: %ld %s", r.status, r.body);
		mv = json_incref(json_object_get(r.json, "model_version"));
		th_response_free(&r);
	}
	ck_assert_str_ne(tag_value(mv, "lathe.servable"), "pending");
	return mv;
}

START_TEST(versions_record_whether_their_source_is_a_lathe_package)
{
	struct th_daemon *tracker = th_daemon_start("experiment-tracker", NULL, NULL);
	char env_url[128];
	snprintf(env_url, sizeof env_url, "TRACKER_URL=%s", tracker->base_url);
	const char *env[] = {env_url, NULL};
	struct th_daemon *reg = th_daemon_start("model-registry", NULL, env);
	json_t *mv = NULL;
	struct th_response r = th_call(reg, "POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"m\"}");
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);

	/* safetensors: 8-byte little-endian header length, JSON header, data */
	static const char header[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
	char weights[256];
	size_t hlen = sizeof header - 1;
	for (int i = 0; i < 8; i++)
		weights[i] = (char)((hlen >> (8 * i)) & 0xff);
	memcpy(weights + 8, header, hlen);
	memset(weights + 8 + hlen, 0, 4);
	const char *model_json = "{\"format_version\": 1, \"task\": \"classification\", \"layers\": []}";

	long st = put_artifact(tracker, ART "/model/model.json", model_json, strlen(model_json));
	if (st == 404 || st == 501) {
		fprintf(stderr,
			"WAITING: the experiment tracker answers %ld to PUT mlflow-artifacts/artifacts: its "
			"artifact routes are not built yet; checking the not-servable path only\n",
			st);
		mv = register_version(reg, "mlflow-artifacts:/" ART "/model");
		ck_assert_str_eq(json_string_value(json_object_get(mv, "version")), "1");
		ck_assert_str_eq(tag_value(mv, "lathe.servable"), "false");
		ck_assert_ptr_nonnull(strstr(tag_value(mv, "lathe.servable_reason"), "tracker answered"));
		json_decref(mv);
		goto out;
	}
	ck_assert_int_eq(st, 200);
	ck_assert_int_eq(put_artifact(tracker, ART "/model/weights.safetensors", weights, 8 + hlen + 4), 200);
	ck_assert_int_eq(put_artifact(tracker, ART "/half/model.json", model_json, strlen(model_json)), 200);

	mv = register_version(reg, "mlflow-artifacts:/" ART "/model");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "true");
	ck_assert_ptr_null(tag_value(mv, "lathe.servable_reason"));
	json_decref(mv);

	/* the mlflow-artifacts://host:port/ form the client also writes */
	char src[256];
	snprintf(src, sizeof src, "mlflow-artifacts://127.0.0.1:%u/" ART "/model", tracker->port);
	mv = register_version(reg, src);
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "true");
	json_decref(mv);

	mv = register_version(reg, "mlflow-artifacts:/" ART "/half");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "false");
	ck_assert_ptr_nonnull(strstr(tag_value(mv, "lathe.servable_reason"), "weights.safetensors missing"));
	json_decref(mv);

	mv = register_version(reg, "mlflow-artifacts:/" ART "/nothing-here");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "false");
	ck_assert_ptr_nonnull(
		strstr(tag_value(mv, "lathe.servable_reason"), "model.json and weights.safetensors missing"));
	json_decref(mv);
out:
	/* a source the tracker does not serve is registered all the same */
	mv = register_version(reg, "s3://bucket/model");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "false");
	ck_assert_ptr_nonnull(strstr(tag_value(mv, "lathe.servable_reason"), "not an mlflow-artifacts"));
	json_decref(mv);
	th_daemon_stop(reg);
	th_daemon_stop(tracker);
}
END_TEST

/* Whether the file at path has a line holding both needles, within 3 s. */
static bool log_has(const char *path, const char *needle1, const char *needle2)
{
	char line[8192];
	for (int tries = 0; tries < 300; tries++) {
		FILE *f = fopen(path, "r");
		bool found = false;
		while (f && !found && fgets(line, sizeof line, f))
			found = strstr(line, needle1) && strstr(line, needle2);
		if (f)
			fclose(f);
		if (found)
			return true;
		core_sleep_ms(10);
	}
	return false;
}

/* The registry's calls to the tracker carry the X-Request-Id of the registration
 * they are made for, so the tracker's access log names the client's request. */
START_TEST(tracker_calls_carry_the_request_id)
{
	struct th_daemon *tracker = th_daemon_start("experiment-tracker", NULL, NULL);
	char env_url[128], url[256];
	snprintf(env_url, sizeof env_url, "TRACKER_URL=%s", tracker->base_url);
	const char *env[] = {env_url, NULL};
	struct th_daemon *reg = th_daemon_start("model-registry", NULL, env);
	struct th_response r = th_call(reg, "POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"m\"}");
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);

	static const char body[] = "{\"name\": \"m\", \"source\": \"runs:/" RUN "/model\"}";
	const char *const headers[] = {"X-Request-Id: register-fwd-1", NULL};
	snprintf(url, sizeof url, "%s/api/2.0/mlflow/model-versions/create", reg->base_url);
	struct httpc_request rq = {.method = "POST",
				   .url = url,
				   .body = body,
				   .body_len = sizeof body - 1,
				   .content_type = "application/json",
				   .headers = headers};
	struct httpc_response resp;
	struct core_error err;
	ck_assert_msg(httpc_do(&rq, &resp, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(resp.status == 200, "create version: %ld %s", resp.status, resp.body);
	httpc_response_free(&resp);
	/* runs:/ makes the registry ask the tracker for the run (404 here: no such run) */
	ck_assert_msg(log_has(tracker->log_path, "\"path\":\"/api/2.0/mlflow/runs/get\"",
			      "\"request_id\":\"register-fwd-1\""),
		      "the tracker's access log has no runs/get line with the registration's request id");
	th_daemon_stop(reg);
	th_daemon_stop(tracker);
}
END_TEST

/* --- a tracker that hangs, then answers ------------------------------------------- */

/* A listening socket in the test process: while hang is set it accepts connections and
 * never answers (what a wedged tracker does); once cleared it answers every request with
 * a listing that holds a Lathe model package. */
struct fake_tracker {
	int listen_fd;
	unsigned port;
	atomic_bool hang, stop;
	int held[64];
	size_t n_held;
	pthread_t thread;
};

static void *fake_tracker_main(void *arg)
{
	struct fake_tracker *f = arg;
	static const char listing[] = "{\"files\": [{\"path\": \"model/model.json\", \"is_dir\": false}, "
				      "{\"path\": \"model/weights.safetensors\", \"is_dir\": false}]}";
	while (!atomic_load(&f->stop)) {
		struct pollfd p = {.fd = f->listen_fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(f->listen_fd, NULL, NULL);
		if (c < 0)
			continue;
		if (atomic_load(&f->hang) && f->n_held < sizeof f->held / sizeof f->held[0]) {
			f->held[f->n_held++] = c; /* read nothing, answer nothing */
			continue;
		}
		char buf[4096];
		size_t got = 0;
		while (got < sizeof buf - 1) {
			ssize_t n = recv(c, buf + got, sizeof buf - 1 - got, 0);
			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		char resp[512];
		int len = snprintf(resp, sizeof resp,
				   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
				   "Connection: close\r\n\r\n%s",
				   sizeof listing - 1, listing);
		(void)!send(c, resp, (size_t)len, MSG_NOSIGNAL); /* the test checks what the registry made of it */
		close(c);
	}
	return NULL;
}

static void fake_tracker_start(struct fake_tracker *f)
{
	memset(f, 0, sizeof *f);
	atomic_init(&f->hang, true);
	atomic_init(&f->stop, false);
	f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(f->listen_fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	ck_assert_int_eq(bind(f->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(f->listen_fd, 64), 0);
	ck_assert_int_eq(getsockname(f->listen_fd, (struct sockaddr *)&a, &alen), 0);
	f->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_tracker_main, f), 0);
}

static void fake_tracker_stop(struct fake_tracker *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	for (size_t i = 0; i < f->n_held; i++)
		close(f->held[i]);
	close(f->listen_fd);
}

static double elapsed_ms(uint64_t since_ns)
{
	return (double)(core_monotonic_ns() - since_ns) / 1e6;
}

/* A tracker that accepts connections and never answers used to stall the registry
 * (model-versions/create waited for it, registered-models/get took 14.5 s behind the
 * busy workers). Now create and get answer at once, the tag says "pending" while the
 * tracker hangs, and the answer follows once the tracker answers. */
START_TEST(a_hung_tracker_never_stalls_the_registry)
{
	struct fake_tracker f;
	fake_tracker_start(&f);
	char env_url[128];
	snprintf(env_url, sizeof env_url, "TRACKER_URL=http://127.0.0.1:%u", f.port);
	const char *env[] = {env_url,
			     "TRACKER_TIMEOUT_MS=500",
			     "SERVABLE_RETRY_MS=100",
			     "SERVABLE_CHECK_ATTEMPTS=50",
			     "HTTP_THREADS=2",
			     NULL};
	struct th_daemon *reg = th_daemon_start("model-registry", NULL, env);
	struct th_response r = th_call(reg, "POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"m\"}");
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);

	/* more registrations than HTTP threads: none of them waits for the tracker */
	double worst_create = 0, worst_get = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t t0 = core_monotonic_ns();
		r = th_call(reg, "POST", "/api/2.0/mlflow/model-versions/create",
			    "{\"name\": \"m\", \"source\": \"mlflow-artifacts:/" ART "/model\"}");
		double ms = elapsed_ms(t0);
		worst_create = ms > worst_create ? ms : worst_create;
		ck_assert_msg(r.status == 200, "create: %ld %s", r.status, r.body);
		ck_assert_str_eq(tag_value(json_object_get(r.json, "model_version"), "lathe.servable"), "pending");
		th_response_free(&r);
	}
	core_sleep_ms(300); /* the background check is now waiting on the hung tracker */
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = core_monotonic_ns();
		r = th_call(reg, "GET", "/api/2.0/mlflow/registered-models/get?name=m", NULL);
		double ms = elapsed_ms(t0);
		worst_get = ms > worst_get ? ms : worst_get;
		ck_assert_msg(r.status == 200, "get: %ld %s", r.status, r.body);
		th_response_free(&r);
	}
	fprintf(stderr, "hung tracker: worst create %.1f ms, worst get %.1f ms\n", worst_create, worst_get);
	ck_assert_msg(worst_create < 500, "create took %.1f ms with a hung tracker", worst_create);
	ck_assert_msg(worst_get < 500, "get took %.1f ms with a hung tracker", worst_get);
	r = th_call(reg, "GET", "/api/2.0/mlflow/model-versions/get?name=m&version=1", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(tag_value(json_object_get(r.json, "model_version"), "lathe.servable"), "pending");
	th_response_free(&r);
	bool timed_out = false; /* the background call did time out (TRACKER_TIMEOUT_MS) */
	for (int i = 0; i < 100 && !timed_out; i++) {
		timed_out = th_daemon_log_has(reg, "tracker unreachable", NULL);
		if (!timed_out)
			core_sleep_ms(50);
	}
	ck_assert(timed_out);

	/* the tracker comes back: every version gets its answer */
	atomic_store(&f.hang, false);
	for (int v = 1; v <= 4; v++) {
		char path[128];
		snprintf(path, sizeof path, "/api/2.0/mlflow/model-versions/get?name=m&version=%d", v);
		const char *tag = "pending";
		for (int i = 0; i < 200 && strcmp(tag, "pending") == 0; i++) {
			r = th_call(reg, "GET", path, NULL);
			ck_assert_int_eq(r.status, 200);
			static char last[32];
			snprintf(last, sizeof last, "%s",
				 tag_value(json_object_get(r.json, "model_version"), "lathe.servable"));
			tag = last;
			th_response_free(&r);
			if (strcmp(tag, "pending") == 0)
				core_sleep_ms(50);
		}
		ck_assert_str_eq(tag, "true");
	}
	th_daemon_stop(reg);
	fake_tracker_stop(&f);
}
END_TEST

static Suite *servable_suite(void)
{
	Suite *s = suite_create("registry-servable");
	TCase *tc = tcase_create("tracker");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, versions_record_whether_their_source_is_a_lathe_package);
	tcase_add_test(tc, tracker_calls_carry_the_request_id);
	tcase_add_test(tc, a_hung_tracker_never_stalls_the_registry);
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
	SRunner *sr = srunner_create(servable_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	httpc_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
