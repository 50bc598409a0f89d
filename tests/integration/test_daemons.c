/* Integration tests of the six daemons as real processes against the run's real
 * PostgreSQL and devkafka broker: they start, become ready, serve their standard
 * routes, answer routing mistakes in the platform's error JSON, survive PostgreSQL
 * and Kafka outages without restarting (staying ready through a Kafka outage, as none
 * consumes yet), migrate safely when started together, answer only the Host names
 * ALLOWED_HOSTS lets through, and exit 0 on SIGTERM with no unexpected error in their logs. */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "contract.h"
#include "harness.h"

static const char *const services[] = {
	"experiment-tracker", "model-registry", "data-registry", "drift-monitor", "trainer", "inference-api",
};
/* a domain route of each service still answered 501 until its issue lands (NULL: the
 * service's routes are built and tested in its own test program) */
static const char *const domain_paths[] = {
	NULL, NULL, NULL, NULL, NULL, NULL,
};

static size_t drop_body(char *data, size_t size, size_t n, void *cls)
{
	(void)data;
	(void)cls;
	return size * n;
}

/* The status of GET path on d sent with the given Host header. */
static long status_with_host(struct th_daemon *d, const char *path, const char *host)
{
	char url[256], line[160];
	long status = 0;
	snprintf(url, sizeof url, "%s%s", d->base_url, path);
	snprintf(line, sizeof line, "Host: %s", host);
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, line);
	ck_assert_ptr_nonnull(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop_body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return status;
}

static void check_standard_routes(struct th_daemon *d, const char *service, const char *domain_path)
{
	json_t *common = th_contract_load("common");
	struct th_response r = th_call(d, "GET", "/healthz", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
	th_contract_check(common, "GET", "/healthz", &r);
	th_response_free(&r);

	/* /healthz answers as soon as HTTP is up; the start-up tasks may still be on their
	 * way (slowly under ASan): wait them out, they are not what this checks */
	r = th_call(d, "GET", "/readyz", NULL);
	for (int i = 0; i < 100 && r.status == 503 && strstr(r.body, "starting") != NULL; i++) {
		th_response_free(&r);
		usleep(50000);
		r = th_call(d, "GET", "/readyz", NULL);
	}
	if (th_ready_alone(service)) {
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ready");
	} else { /* waits for its peers, and says so */
		ck_assert_int_eq(r.status, 503);
		ck_assert_msg(strstr(r.body, "registry") != NULL, "%s", r.body);
	}
	th_contract_check(common, "GET", "/readyz", &r);
	th_response_free(&r);
	json_decref(common);

	r = th_call(d, "GET", "/no/such/route", NULL);
	th_expect_error(&r, 404, "ENDPOINT_NOT_FOUND", NULL);
	th_response_free(&r);

	r = th_call(d, "POST", "/healthz", "{}");
	th_expect_error(&r, 405, "METHOD_NOT_ALLOWED", NULL);
	th_response_free(&r);

	if (domain_path && strncmp(domain_path, "/v2/", 4) == 0) {
		/* the Open Inference Protocol's shape: {"error": "..."} and nothing else */
		r = th_call(d, "GET", domain_path, NULL);
		ck_assert_int_eq(r.status, 501);
		ck_assert_int_eq(json_object_size(r.json), 1);
		ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.json, "error")), domain_path));
		th_response_free(&r);
	} else if (domain_path) {
		r = th_call(d, "GET", domain_path, NULL);
		th_expect_error(&r, 501, "NOT_IMPLEMENTED", domain_path);
		th_response_free(&r);
	}

	/* The metrics page counts what we just did and promtool accepts it. A request is
	 * counted when MHD reports it complete, which may come a moment after the client
	 * has its reply: wait for the count rather than race it. */
	for (int tries = 0;; tries++) {
		r = th_call(d, "GET", "/metrics", NULL);
		ck_assert_int_eq(r.status, 200);
		if (strstr(r.body, "route=\"/healthz\"") || tries == 50)
			break;
		th_response_free(&r);
		usleep(20 * 1000);
	}
	ck_assert_ptr_nonnull(strstr(r.body, "lathe_http_requests_total{"));
	ck_assert_ptr_nonnull(strstr(r.body, "route=\"/healthz\""));
	ck_assert_ptr_nonnull(strstr(r.body, "lathe_ready 1"));
	char path[600];
	snprintf(path, sizeof path, "%s/metrics-%d.txt", th_env("LATHE_TEST_TMP"), (int)d->pid);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(r.body, 1, r.body_len, f);
	fclose(f);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
	ck_assert_msg(system(cmd) == 0, "promtool rejected the metrics of %s", d->base_url);
	th_response_free(&r);
}

START_TEST(each_daemon_starts_serves_and_stops)
{
	struct th_daemon *d = th_daemon_start_alone(services[_i], NULL, NULL);
	check_standard_routes(d, services[_i], domain_paths[_i]);
	th_daemon_stop(d);
}
END_TEST

/* A daemon on 127.0.0.1 answers loopback names only (a DNS-rebinding page's name gets
 * 400, /healthz included); ALLOWED_HOSTS replaces that list. */
START_TEST(allowed_hosts_setting)
{
	struct th_daemon *d = th_daemon_start_alone("inference-api", NULL, NULL);
	ck_assert_int_eq(status_with_host(d, "/healthz", "localhost:1"), 200);
	ck_assert_int_eq(status_with_host(d, "/healthz", "rebound.example"), 400);
	ck_assert_int_eq(status_with_host(d, "/v2/models/m/infer", "rebound.example:80"), 400);
	th_daemon_stop(d);

	const char *env[] = {"ALLOWED_HOSTS=lathe.internal,127.0.0.1", NULL};
	d = th_daemon_start_alone("inference-api", NULL, env);
	ck_assert_int_eq(status_with_host(d, "/healthz", "LATHE.internal:8080"), 200);
	ck_assert_int_eq(status_with_host(d, "/healthz", "localhost"), 400);
	th_daemon_stop(d);
}
END_TEST

START_TEST(bad_settings_exit_2_naming_the_setting)
{
	const char *env[] = {"HTTP_THREADS=lots", NULL};
	struct th_daemon *d = th_daemon_spawn("trainer", NULL, env);
	int status = 0;
	ck_assert_int_eq(waitpid(d->pid, &status, 0), d->pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 2);
	char *log = NULL;
	size_t len = 0;
	FILE *f = fopen(d->log_path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_gt(getdelim(&log, &len, '\0', f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(log, "HTTP_THREADS must be an integer"));
	free(log);
	free(d->database_url);
	free(d);
}
END_TEST

/* The README documents every setting of every daemon, exactly as the daemon reports
 * its own table (lathe-<svc> --settings-markdown). */
START_TEST(readme_lists_every_setting)
{
	char *readme = NULL;
	size_t len = 0;
	char path[600];
	snprintf(path, sizeof path, "%s/README.md", th_env("LATHE_ROOT"));
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_gt(getdelim(&readme, &len, '\0', f), 0);
	fclose(f);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "%s/lathe-%s --settings-markdown", th_env("LATHE_TEST_BIN"), services[_i]);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[1024];
	int rows = 0;
	while (fgets(line, sizeof line, p)) {
		ck_assert_msg(strstr(readme, line), "README.md lacks this %s setting row: %s", services[_i], line);
		rows++;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_int_gt(rows, 5);
	free(readme);
}
END_TEST

/* A private cluster, so stopping it disturbs no other test. */
static char *start_private_cluster(const char *dir, unsigned port)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s/tools/pg.sh start %s %u --ephemeral", th_env("LATHE_ROOT"), dir, port);
	ck_assert_msg(system(cmd) == 0, "could not start %s", dir);
	char *url = NULL;
	ck_assert_int_gt(asprintf(&url, "postgresql://postgres@127.0.0.1:%u/postgres", port), 0);
	return url;
}

static void stop_private_cluster(const char *dir)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s/tools/pg.sh stop %s", th_env("LATHE_ROOT"), dir);
	ck_assert_msg(system(cmd) == 0, "could not stop %s", dir);
}

START_TEST(readyz_follows_postgres_without_a_restart)
{
	char dir[600];
	snprintf(dir, sizeof dir, "%s/pg-restart", th_env("LATHE_TEST_TMP"));
	unsigned port = th_free_port();
	char *url = start_private_cluster(dir, port);
	struct th_daemon *d = th_daemon_start("model-registry", url, NULL);
	pid_t pid = d->pid;

	stop_private_cluster(dir);
	ck_assert_msg(th_daemon_wait_status(d, "/readyz", 503, 10000), "readyz did not turn 503");
	struct th_response r = th_call(d, "GET", "/readyz", NULL);
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "database");
	th_response_free(&r);
	/* requests that need the database answer 503 meanwhile, not 500: clients retry */
	r = th_call(d, "GET", "/api/2.0/mlflow/registered-models/get?name=m", NULL);
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "database unavailable, retry later");
	/* libpq's text names the server; the client gets the state, the log the cause */
	th_expect_no_internals(r.body, port);
	th_expect_no_internals(json_string_value(json_object_get(r.json, "message")), port);
	th_response_free(&r);
	ck_assert_msg(th_daemon_log_has(d, "database unavailable, retry later", "\"detail\":"),
		      "the 503's cause was not logged");
	r = th_call(d, "GET", "/healthz", NULL); /* alive all along */
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);

	free(start_private_cluster(dir, port));
	ck_assert_msg(th_daemon_wait_status(d, "/readyz", 200, 15000), "readyz did not come back");
	r = th_call(d, "GET", "/api/2.0/mlflow/registered-models/get?name=m", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL); /* served again */
	th_response_free(&r);
	ck_assert(th_daemon_alive(d));
	ck_assert_int_eq(d->pid, pid);
	th_daemon_stop(d);
	stop_private_cluster(dir);
	free(url);
}
END_TEST

/* Kafka counts in /readyz only for a daemon that declares consumers (the inference API
 * and the drift monitor do): one that only produces, as the model registry, stays ready
 * while the broker is down. The consuming side is tested in test_svc_lifecycle.c. */
START_TEST(readyz_ignores_kafka_without_consumers)
{
	struct th_daemon *d = th_daemon_start("model-registry", NULL, NULL);
	th_kafka_ctl("down 1");
	/* bus_ping answers false within 1 s of the broker going down: 3 s of 200s are
	 * readiness not asking Kafka, not a probe that has not noticed yet */
	bool went_down = th_daemon_wait_status(d, "/readyz", 503, 3000);
	th_kafka_ctl("up 1"); /* before any assertion: other tests share the broker */
	ck_assert_msg(!went_down, "readyz turned 503 with the broker down, on a daemon that consumes nothing");
	struct th_response r = th_call(d, "GET", "/readyz", NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	th_daemon_stop(d);
}
END_TEST

START_TEST(two_daemons_migrating_one_schema_both_come_up)
{
	char *url = th_db_create();
	struct th_daemon *a = th_daemon_spawn("data-registry", url, NULL);
	struct th_daemon *b = th_daemon_spawn("data-registry", url, NULL);
	ck_assert(th_daemon_wait_status(a, "/readyz", 200, 30000));
	ck_assert(th_daemon_wait_status(b, "/readyz", 200, 30000));

	PGconn *c = PQconnectdb(url);
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	PGresult *res = PQexec(c, "SELECT component, version, count(*) FROM data.lathe_migrations "
				  "GROUP BY component, version ORDER BY 1, 2");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	/* bus.outbox 1, then the service's own, each applied once although two daemons raced */
	ck_assert_int_ge(PQntuples(res), 2);
	for (int i = 0; i < PQntuples(res); i++)
		ck_assert_str_eq(PQgetvalue(res, i, 2), "1");
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "bus.outbox");
	for (int i = 1; i < PQntuples(res); i++)
		ck_assert_str_eq(PQgetvalue(res, i, 0), "service");
	PQclear(res);
	PQfinish(c);
	th_daemon_stop(a);
	th_daemon_stop(b);
	free(url);
}
END_TEST

static Suite *daemons_suite(void)
{
	Suite *s = suite_create("daemons");
	TCase *tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, each_daemon_starts_serves_and_stops, 0, (int)(sizeof services / sizeof services[0]));
	tcase_add_test(tc, bad_settings_exit_2_naming_the_setting);
	tcase_add_test(tc, allowed_hosts_setting);
	tcase_add_loop_test(tc, readme_lists_every_setting, 0, (int)(sizeof services / sizeof services[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("outages");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, readyz_follows_postgres_without_a_restart);
	tcase_add_test(tc, readyz_ignores_kafka_without_consumers);
	suite_add_tcase(s, tc);
	tc = tcase_create("migrations");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, two_daemons_migrating_one_schema_both_come_up);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(daemons_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
