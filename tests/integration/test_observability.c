/* What every daemon says about itself, checked on the six real daemons (and devkafka):
 *   version   `--version` prints the build's version and git commit;
 *   metrics   /metrics carries lathe_build_info{version,commit} 1 with the same values,
 *             the process_* metrics every Prometheus client exposes (with sane values),
 *             and no family outside the lathe_ / process_ prefixes;
 *   logs      every log line's "service" is the name the service is deployed under,
 *             and the first one ("starting") names version and commit;
 *   openapi   GET /openapi.json answers the document built into the daemon, byte for
 *             byte proto/openapi/<service>.yaml (common.yaml for the services that have
 *             no document of their own yet);
 *   kafka     the deployment's librdkafka properties: valid ones start fine (every
 *             daemon here runs with two), an unknown property or a bad value stops
 *             start-up with exit 2 naming it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

static const char *const services[] = {
	"experiment-tracker", "model-registry", "data-registry", "drift-monitor", "trainer", "inference-api",
};

static char *read_file(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	ck_assert_msg(n >= 0, "cannot read %s", path);
	if (len_out)
		*len_out = (size_t)n;
	return text;
}

/* Runs command and returns its first line of output (newline cut), malloc'd. */
static char *first_line(const char *command)
{
	FILE *p = popen(command, "r");
	ck_assert_ptr_nonnull(p);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, p);
	int status = pclose(p);
	ck_assert_msg(n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed", command);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

/* Parses "<program> <version> (commit <commit>)"; fails the test otherwise. */
static void parse_version(const char *line, const char *program, char *version, char *commit)
{
	char prog[64];
	ck_assert_msg(sscanf(line, "%63s %127s (commit %127[^)])", prog, version, commit) == 3, "--version said '%s'",
		      line);
	ck_assert_str_eq(prog, program);
	ck_assert_msg(strspn(version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-") ==
			      strlen(version),
		      "version '%s'", version);
	/* a 40-hex commit (maybe "-dirty") from a checkout, "unknown" outside one */
	ck_assert_msg(strcmp(commit, "unknown") == 0 || strspn(commit, "0123456789abcdef") == 40, "commit '%s'",
		      commit);
}

/* The value of the unlabelled sample name in a Prometheus text page. */
static double sample(const char *page, const char *name)
{
	char needle[128];
	snprintf(needle, sizeof needle, "\n%s ", name);
	const char *at = strstr(page, needle);
	ck_assert_msg(at != NULL, "no sample %s", name);
	return strtod(at + strlen(needle), NULL);
}

static void check_metrics(struct th_daemon *d, const char *version, const char *commit)
{
	struct th_response r = th_call(d, "GET", "/metrics", NULL);
	ck_assert_int_eq(r.status, 200);
	char want[512];
	snprintf(want, sizeof want, "\nlathe_build_info{version=\"%s\",commit=\"%s\"} 1\n", version, commit);
	ck_assert_msg(strstr(r.body, want), "no %s in:\n%s", want + 1, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "# TYPE process_cpu_seconds_total counter\n"));
	double rss = sample(r.body, "process_resident_memory_bytes");
	ck_assert_msg(rss > 1e6 && rss < 1e10, "rss %g", rss);
	double fds = sample(r.body, "process_open_fds");
	ck_assert_msg(fds >= 4 && fds < 10000, "open fds %g", fds); /* stdio and the listening socket at least */
	double start = sample(r.body, "process_start_time_seconds");
	double now = (double)time(NULL);
	ck_assert_msg(start > now - 120 && start <= now + 1, "start %f, now %f", start, now);
	ck_assert(sample(r.body, "process_cpu_seconds_total") >= 0);
	/* one prefix convention: lathe_ for ours, process_ for the standard ones; the
	 * inference API's own series keep the inference_ names its issue gives them (as the
	 * model servers' dashboards name them) */
	for (const char *line = strstr(r.body, "# TYPE "); line; line = strstr(line + 1, "\n# TYPE ")) {
		const char *name = line + (line[0] == '\n' ? 8 : 7);
		ck_assert_msg(strncmp(name, "lathe_", 6) == 0 || strncmp(name, "process_", 8) == 0 ||
				      strncmp(name, "inference_", 10) == 0,
			      "metric without the lathe_ prefix: %.60s", name);
	}
	th_response_free(&r);
}

static void check_openapi(struct th_daemon *d, const char *service)
{
	char path[600];
	snprintf(path, sizeof path, "%s/proto/openapi/%s.yaml", th_env("LATHE_ROOT"), service);
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof path, "%s/proto/openapi/common.yaml", th_env("LATHE_ROOT"));
	size_t len = 0;
	char *file = read_file(path, &len);
	struct th_response r = th_call(d, "GET", "/openapi.json", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(r.json != NULL, "/openapi.json is not JSON");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "openapi")), "3.0.3");
	ck_assert_uint_eq(r.body_len, len);
	ck_assert_msg(memcmp(r.body, file, len) == 0, "/openapi.json differs from %s", path);
	json_t *parsed = json_loads(file, JSON_REJECT_DUPLICATES, NULL);
	ck_assert(json_equal(parsed, r.json));
	json_decref(parsed);
	th_response_free(&r);
	r = th_call(d, "POST", "/openapi.json", "{}");
	th_expect_error(&r, 405, "METHOD_NOT_ALLOWED", NULL);
	th_response_free(&r);
	free(file);
}

/* Every line of the log is JSON with "service": service; the first says "starting"
 * with version and commit. */
static void check_log(const char *log_path, const char *service, const char *version, const char *commit)
{
	char *log = read_file(log_path, NULL);
	size_t lines = 0;
	char *save = NULL;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
		json_t *j = json_loads(line, 0, NULL);
		ck_assert_msg(j != NULL, "not a JSON log line: %s", line);
		ck_assert_msg(json_is_string(json_object_get(j, "service")) &&
				      strcmp(json_string_value(json_object_get(j, "service")), service) == 0,
			      "line without \"service\":\"%s\": %s", service, line);
		if (lines == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(j, "msg")), "starting");
			ck_assert_str_eq(json_string_value(json_object_get(j, "version")), version);
			ck_assert_str_eq(json_string_value(json_object_get(j, "commit")), commit);
		}
		json_decref(j);
	}
	ck_assert_uint_ge(lines, 3); /* starting, listening, ready at least */
	free(log);
}

START_TEST(each_daemon_tells_its_build_and_process)
{
	const char *service = services[_i];
	char cmd[700], program[64], version[128], commit[128];
	snprintf(cmd, sizeof cmd, "%s/lathe-%s --version", th_env("LATHE_TEST_BIN"), service);
	char *line = first_line(cmd);
	snprintf(program, sizeof program, "lathe-%s", service);
	parse_version(line, program, version, commit);
	free(line);

	const char *env[] = {"KAFKA_PROPERTIES=client.id=obs-test; socket.keepalive.enable = true",
			     "KAFKA_PROPERTY_CONNECTIONS_MAX_IDLE_MS=600000", NULL};
	struct th_daemon *d = th_daemon_start_alone(service, NULL, env);
	check_metrics(d, version, commit);
	check_openapi(d, service);
	char log_path[sizeof d->log_path];
	memcpy(log_path, d->log_path, sizeof log_path);
	th_daemon_stop(d);
	check_log(log_path, service, version, commit);
}
END_TEST

START_TEST(devkafka_tells_its_version)
{
	char cmd[700], version[128], commit[128];
	snprintf(cmd, sizeof cmd, "%s/devkafka --version", th_env("LATHE_TEST_BIN"));
	char *line = first_line(cmd);
	parse_version(line, "devkafka", version, commit);
	free(line);
	/* the same build as the daemons */
	snprintf(cmd, sizeof cmd, "%s/lathe-trainer --version", th_env("LATHE_TEST_BIN"));
	line = first_line(cmd);
	char want[300];
	snprintf(want, sizeof want, "lathe-trainer %s (commit %s)", version, commit);
	ck_assert_str_eq(line, want);
	free(line);
}
END_TEST

/* A bad Kafka property, in either form, stops start-up with exit 2 naming it. */
static const char *const bad_properties[][2] = {
	{"KAFKA_PROPERTIES=client.id=x;no.such.property=1", "no.such.property"},
	{"KAFKA_PROPERTY_SOCKET_KEEPALIVE_ENABLE=maybe", "socket.keepalive.enable"},
	{"KAFKA_PROPERTIES=enable.idempotence=false", "enable.idempotence cannot be set"},
	{"KAFKA_PROPERTIES=security.protocol=ssl\nssl.ca.location=/nonexistent/ca.pem", "ssl.ca.location"},
	{"KAFKA_PROPERTIES=just-a-word", "'just-a-word' is not name=value"},
};

START_TEST(bad_kafka_property_exits_2_naming_it)
{
	const char *env[] = {bad_properties[_i][0], NULL};
	struct th_daemon *d = th_daemon_spawn("trainer", NULL, env);
	int status = 0;
	ck_assert_int_eq(waitpid(d->pid, &status, 0), d->pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 2);
	char *log = read_file(d->log_path, NULL);
	ck_assert_msg(strstr(log, "bad settings") && strstr(log, bad_properties[_i][1]), "log: %s", log);
	free(log);
	free(d->database_url);
	free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("observability");
	TCase *tc = tcase_create("daemons");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, each_daemon_tells_its_build_and_process, 0, sizeof services / sizeof services[0]);
	tcase_add_test(tc, devkafka_tells_its_version);
	suite_add_tcase(s, tc);
	tc = tcase_create("kafka-properties");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, bad_kafka_property_exits_2_naming_it, 0,
			    sizeof bad_properties / sizeof bad_properties[0]);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
