/* Unit tests of the core library: one check Suite, a TCase per module. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/core.h"

START_TEST(buf_grows_and_stops_at_its_ceiling)
{
	struct core_buf b;
	core_buf_init(&b, 10);
	ck_assert_int_eq(core_buf_append_str(&b, "hello"), CORE_OK);
	ck_assert_int_eq(core_buf_printf(&b, "%d", 1234), CORE_OK);
	ck_assert_str_eq(b.data, "hello1234");
	ck_assert_int_eq(core_buf_append_str(&b, "xy"), CORE_ELIMIT);
	ck_assert_str_eq(b.data, "hello1234"); /* a failed append leaves it unchanged */
	ck_assert_int_eq(core_buf_append_str(&b, "x"), CORE_OK);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(core_buf_printf(&b, "%s", "z"), CORE_ELIMIT);
	size_t len;
	char *s = core_buf_steal(&b, &len);
	ck_assert_str_eq(s, "hello1234x");
	ck_assert_uint_eq(len, 10);
	ck_assert_ptr_null(b.data);
	free(s);
	core_buf_free(&b);
}
END_TEST

START_TEST(buf_escapes_json)
{
	struct core_buf b;
	core_buf_init(&b, 100);
	ck_assert_int_eq(core_buf_append_json_escaped(&b, "a\"b\\c\n\x01"), CORE_OK);
	ck_assert_str_eq(b.data, "a\\\"b\\\\c\\u000a\\u0001");
	core_buf_free(&b);
	core_buf_init(&b, 4);
	ck_assert_int_eq(core_buf_append_str(&b, "ab"), CORE_OK);
	ck_assert_int_eq(core_buf_append_json_escaped(&b, "\"\""), CORE_ELIMIT);
	ck_assert_str_eq(b.data, "ab");
	core_buf_free(&b);
	char *empty = core_buf_steal(&b, NULL);
	ck_assert_str_eq(empty, "");
	free(empty);
}
END_TEST

struct test_settings {
	char *url;
	long port;
	bool verbose;
	enum core_log_level level;
	char *unset;
};

static const struct core_setting test_table[] = {
	{"T_URL", CORE_SETTING_STRING, offsetof(struct test_settings, url), NULL, true, 0, 0, "where"},
	{"T_PORT", CORE_SETTING_INT, offsetof(struct test_settings, port), "5000", false, 1, 65535, "port"},
	{"T_VERBOSE", CORE_SETTING_BOOL, offsetof(struct test_settings, verbose), "false", false, 0, 0, "chatty"},
	{"T_LEVEL", CORE_SETTING_LOG_LEVEL, offsetof(struct test_settings, level), "info", false, 0, 0, "level"},
	{"T_UNSET", CORE_SETTING_STRING, offsetof(struct test_settings, unset), NULL, false, 0, 0, "optional"},
	{0},
};

START_TEST(settings_load_defaults_and_overrides)
{
	struct test_settings s = {0};
	struct core_error err;
	setenv("T_URL", "postgresql://x", 1);
	setenv("T_VERBOSE", "yes", 1);
	unsetenv("T_PORT");
	setenv("T_LEVEL", "WARN", 1);
	ck_assert_int_eq(core_settings_load(test_table, &s, &err), CORE_OK);
	ck_assert_str_eq(s.url, "postgresql://x");
	ck_assert_int_eq(s.port, 5000);
	ck_assert(s.verbose);
	ck_assert_int_eq(s.level, CORE_LOG_WARN);
	ck_assert_ptr_null(s.unset);
	core_settings_free(test_table, &s);
	ck_assert_ptr_null(s.url);
}
END_TEST

START_TEST(settings_reject_bad_values_naming_the_setting)
{
	struct test_settings s = {0};
	struct core_error err;
	setenv("T_URL", "u", 1);
	setenv("T_PORT", "70000", 1);
	ck_assert_int_eq(core_settings_load(test_table, &s, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "T_PORT"));
	ck_assert_ptr_null(s.url); /* strings already stored are freed */
	setenv("T_PORT", "12x", 1);
	ck_assert_int_eq(core_settings_load(test_table, &s, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "integer"));
	setenv("T_PORT", "80", 1);
	setenv("T_VERBOSE", "maybe", 1);
	ck_assert_int_eq(core_settings_load(test_table, &s, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "T_VERBOSE"));
	setenv("T_VERBOSE", "0", 1);
	unsetenv("T_URL");
	ck_assert_int_eq(core_settings_load(test_table, &s, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "T_URL is required"));
}
END_TEST

START_TEST(settings_render_markdown)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	core_settings_markdown(test_table, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "| `T_PORT` | integer | `5000` | port |"));
	ck_assert_ptr_nonnull(strstr(text, "| `T_URL` | string | `(required)` | where |"));
	free(text);
}
END_TEST

START_TEST(ids_are_uuid4_hex_and_distinct)
{
	char a[CORE_ID_HEX_LEN + 1], b[CORE_ID_HEX_LEN + 1], dashed[37];
	core_id_uuid_hex(a);
	core_id_uuid_hex(b);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(a[12], '4');
	ck_assert(strchr("89ab", a[16]) != NULL);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
	core_id_uuid(dashed);
	ck_assert_uint_eq(strlen(dashed), 36);
	ck_assert_int_eq(dashed[8], '-');
	ck_assert_int_eq(dashed[14], '4');
}
END_TEST

/* Ids come from a per-thread pool of random bytes: many in a row (several refills) are
 * all distinct, and a child made by fork never repeats what its parent hands out next. */
START_TEST(ids_distinct_across_refills_and_fork)
{
	enum { N = 200 };
	static char ids[N][CORE_ID_HEX_LEN + 1];
	for (int i = 0; i < N; i++)
		core_id_uuid_hex(ids[i]);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			ck_assert_str_ne(ids[i], ids[j]);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char child[CORE_ID_HEX_LEN + 1];
		core_id_uuid_hex(child);
		ssize_t w = write(fds[1], child, CORE_ID_HEX_LEN);
		_exit(w == CORE_ID_HEX_LEN ? 0 : 1);
	}
	char parent[CORE_ID_HEX_LEN + 1], child[CORE_ID_HEX_LEN + 1] = {0};
	core_id_uuid_hex(parent);
	ck_assert_int_eq(read(fds[0], child, CORE_ID_HEX_LEN), CORE_ID_HEX_LEN);
	int status = 0;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_ne(parent, child);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(sha256_matches_known_digests)
{
	char hex[CORE_SHA256_HEX_LEN + 1];
	ck_assert_int_eq(core_sha256_hex("abc", 3, hex), CORE_OK);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(core_sha256_hex("", 0, hex), CORE_OK);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	struct core_sha256 *ctx = core_sha256_new();
	ck_assert_ptr_nonnull(ctx);
	core_sha256_update(ctx, "a", 1);
	core_sha256_update(ctx, "bc", 2);
	core_sha256_finish_hex(ctx, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

/* A deadline is now plus the wait on the monotonic clock, its nanoseconds carried into
 * seconds; a negative wait is now. */
START_TEST(deadlines_carry_and_clamp)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct timespec d = core_deadline_us(1999999);
	int64_t got = (int64_t)d.tv_sec * 1000000000 + d.tv_nsec, from = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	ck_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000);
	ck_assert_int_ge(got - from, 1999999000);
	ck_assert_int_lt(got - from, INT64_C(2999999000)); /* within a second of scheduling */
	d = core_deadline_us(-5);
	got = (int64_t)d.tv_sec * 1000000000 + d.tv_nsec;
	ck_assert_int_ge(got, from);
	ck_assert_int_lt(got - from, 1000000000);
}
END_TEST

/* What core_time_parse_iso8601 read before its fixed-digit path: sscanf and timegm
 * (whole seconds, in ms; the callers below know the fraction they wrote). */
static int64_t iso8601_by_timegm(const char *t)
{
	struct tm tm = {0};
	if (sscanf(t, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) !=
	    6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000;
}

/* The fixed-digit path gives timegm's value for every field, in range or carried (day
 * 00 or 31 of February, hour 24..99, second 60..99), every year 0000-9999 (leap
 * centuries), and falls back where timegm carries the month. */
START_TEST(time_parse_iso8601_matches_timegm)
{
	unsigned short seed[3] = {0x7e11, 0x0a55, 0x1970};
	char ts[64];
	for (int i = 0; i < 200000; i++) {
		int y = i < 1000 ? 1600 + i % 900 : (int)(nrand48(seed) % 10000);
		int mo = (int)(nrand48(seed) % 14), d = (int)(nrand48(seed) % 34), h = (int)(nrand48(seed) % 100);
		int mi = (int)(nrand48(seed) % 100), se = (int)(nrand48(seed) % 100), ms = (int)(nrand48(seed) % 1000);
		if (i % 3 == 0) { /* mostly real dates */
			mo = 1 + mo % 12;
			d = 1 + d % 28;
			h %= 24;
			mi %= 60;
			se %= 60;
		}
		const char *tail = i % 4 == 0 ? "Z" : i % 4 == 1 ? "+00:00" : "";
		if (i % 2)
			snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s", y, mo, d, h, mi, se, ms, tail);
		else
			snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, mo, d, h, mi, se, tail);
		int64_t want = iso8601_by_timegm(ts) + (i % 2 ? ms : 0);
		ck_assert_msg(core_time_parse_iso8601(ts) == want, "%s: %lld, timegm %lld", ts,
			      (long long)core_time_parse_iso8601(ts), (long long)want);
	}
	static const char *const odd[] = {"2023-1-14T22:13:20Z", "+2023-11-14T22:13:20Z", " 2023-11-14T22:13:20",
					  "2023-11-14 22:13:20", "2023-11-14T22:13",      "20231-11-14T22:13:20",
					  "2023-11-14T22:13:2",  "-001-01-01T00:00:00"};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		ck_assert_msg(core_time_parse_iso8601(odd[i]) == iso8601_by_timegm(odd[i]), "%s", odd[i]);
}
END_TEST

/* What core_time_iso8601 wrote before its arithmetic path: gmtime_r and strftime. */
static void iso8601_by_strftime(int64_t unix_ms, char out[32])
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(unix_ms % 1000));
}

/* The same text as gmtime_r + strftime at every kind of instant from 1970 to 9999:
 * random ones, the edges of days, leap days, century years (1900-style and 2000-style
 * leap rules) and the last millisecond of 9999. */
START_TEST(time_iso8601_matches_strftime)
{
	uint64_t x = 0x853C49E6748FEA9Bu;
	char want[32], got[32];
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int64_t t = (int64_t)(x % UINT64_C(253402300800000));
		if (i % 4 == 1)
			t -= t % 86400000; /* midnight */
		else if (i % 4 == 2)
			t = t - t % 86400000 + 86399999; /* the day's last millisecond */
		iso8601_by_strftime(t, want);
		core_time_iso8601(t, got);
		if (strcmp(want, got) != 0)
			ck_abort_msg("%lld: strftime %s, core %s", (long long)t, want, got);
	}
	static const int64_t edges[] = {
		0, 951782400000, 951868800000, 4107542400000, 4107628800000, 68256115200000, 253402300799999};
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
		iso8601_by_strftime(edges[i], want);
		core_time_iso8601(edges[i], got);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

START_TEST(time_formats_iso8601)
{
	char ts[32];
	core_time_iso8601(1700000000123LL, ts);
	ck_assert_str_eq(ts, "2023-11-14T22:13:20.123Z");
	ck_assert_int_eq(core_time_parse_iso8601(ts), 1700000000123LL);
	ck_assert_int_eq(core_time_parse_iso8601("2023-11-14T22:13:20Z"), 1700000000000LL);
	ck_assert_int_eq(core_time_parse_iso8601("2023-11-14T22:13:20.5Z"), 1700000000500LL);
	ck_assert_int_eq(core_time_parse_iso8601("2023-11-14T22:13:20.123456Z"), 1700000000123LL);
	ck_assert_int_eq(core_time_parse_iso8601("yesterday"), -1);
	ck_assert_int_eq(core_time_parse_iso8601(NULL), -1);
	ck_assert_int_gt(core_now_ms(), 1700000000000LL);
	uint64_t t0 = core_monotonic_ns();
	core_sleep_ms(2);
	ck_assert_uint_ge(core_monotonic_ns() - t0, 2000000u);
}
END_TEST

START_TEST(files_mkdir_write_read)
{
	char tmpl[] = "/tmp/lathe-core-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	struct core_error err;
	char *deep = core_xasprintf("%s/a/b/c", tmpl);
	ck_assert_int_eq(core_mkdir_p(deep, 0755, &err), CORE_OK);
	ck_assert_int_eq(core_mkdir_p(deep, 0755, &err), CORE_OK); /* existing is fine */
	char *file = core_xasprintf("%s/f.txt", deep);
	ck_assert_int_eq(core_write_file_atomic(file, "one", 3, &err), CORE_OK);
	ck_assert_int_eq(core_write_file_atomic(file, "two!", 4, &err), CORE_OK);
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(core_read_file(file, 100, &data, &len, &err), CORE_OK);
	ck_assert_str_eq(data, "two!");
	ck_assert_uint_eq(len, 4);
	free(data);
	ck_assert_int_eq(core_read_file(file, 3, &data, &len, &err), CORE_ELIMIT);
	char *missing = core_xasprintf("%s/none", tmpl);
	ck_assert_int_eq(core_read_file(missing, 3, &data, &len, &err), CORE_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, "none"));
	char *cmd = core_xasprintf("rm -rf %s", tmpl);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(missing);
	free(file);
	free(deep);
}
END_TEST

START_TEST(log_levels_parse)
{
	enum core_log_level l = CORE_LOG_INFO;
	ck_assert(core_log_parse_level("DEBUG", &l));
	ck_assert_int_eq(l, CORE_LOG_DEBUG);
	ck_assert(core_log_parse_level("warning", &l));
	ck_assert_int_eq(l, CORE_LOG_WARN);
	ck_assert(!core_log_parse_level("loud", &l));
	ck_assert_int_eq(l, CORE_LOG_WARN);
}
END_TEST

START_TEST(log_lines_are_json)
{
	/* Capture stderr through a pipe and check the line's shape. */
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	int saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	core_log_init("svc\"x", CORE_LOG_INFO);
	core_log(CORE_LOG_DEBUG, "hidden");
	struct core_log_field f[] = {CORE_LF_STR("path", "/a\"b"), CORE_LF_INT("status", 404), CORE_LF_NUM("ms", 1.5)};
	core_log_with(CORE_LOG_WARN, f, 3, "line %d", 7);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	char buf[1024] = {0};
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_null(strstr(buf, "hidden"));
	ck_assert_ptr_nonnull(strstr(buf, "\"level\":\"warn\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"service\":\"svc\\\"x\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"msg\":\"line 7\",\"path\":\"/a\\\"b\",\"status\":404,\"ms\":1.5}\n"));
	ck_assert_int_eq(buf[0], '{');
}
END_TEST

START_TEST(log_lines_stay_valid_utf8_and_numbers_short)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	int saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	core_log_init("svc", CORE_LOG_INFO);
	/* a stray continuation byte, an overlong '/', a cut-short sequence, and good UTF-8 */
	struct core_log_field f[] = {CORE_LF_STR("path", "/a\x80"
							 "b\xc0\xaf"
							 "c\xe2\x82"),
				     CORE_LF_STR("ok", "caf\xc3\xa9"), CORE_LF_NUM("ms", 0.161353)};
	core_log_with(CORE_LOG_INFO, f, 3, "x");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	char buf[1024] = {0};
	ck_assert_int_gt(read(fds[0], buf, sizeof buf - 1), 0);
	close(fds[0]);
	ck_assert_ptr_nonnull(strstr(buf, "\"path\":\"/a\xef\xbf\xbd"
					  "b\xef\xbf\xbd\xef\xbf\xbd"
					  "c\xef\xbf\xbd\xef\xbf\xbd\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"ok\":\"caf\xc3\xa9\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"ms\":0.161353}"));
}
END_TEST

START_TEST(fail_may_quote_its_own_message)
{
	struct core_error err;
	ck_assert_int_eq(core_fail(&err, CORE_EIO, "registry answered %d: %s", 404, "Split not found"), CORE_EIO);
	ck_assert_int_eq(core_fail(&err, CORE_EINVAL, "train part: %s", err.message), CORE_EINVAL);
	ck_assert_str_eq(err.message, "train part: registry answered 404: Split not found");
}
END_TEST

START_TEST(shutdown_waits_for_sigterm)
{
	struct core_error err;
	ck_assert_int_eq(core_shutdown_init(&err), CORE_OK);
	ck_assert_int_eq(core_shutdown_wait(10), 0);
	kill(getpid(), SIGTERM);
	ck_assert_int_eq(core_shutdown_wait(1000), SIGTERM);
}
END_TEST

/* A thread with SIGTERM unblocked, like the pool OpenBLAS starts before main. */
static void *unblocked_thread(void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	int *fds = arg;
	char c;
	ck_assert_int_eq(write(fds[1], "r", 1), 1);
	ck_assert_int_eq(read(fds[0], &c, 1), 1); /* wait for the main thread's word */
	return NULL;
}

START_TEST(shutdown_survives_a_thread_that_never_blocked_it)
{
	struct core_error err;
	ck_assert_int_eq(core_shutdown_init(&err), CORE_OK);
	int ready[2], go[2];
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	int fds[2] = {go[0], ready[1]};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, unblocked_thread, fds), 0);
	char c;
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	/* Aimed at that thread: without the hand-on it would end the process. */
	ck_assert_int_eq(pthread_kill(t, SIGTERM), 0);
	ck_assert_int_eq(core_shutdown_wait(5000), SIGTERM);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	pthread_join(t, NULL);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	struct {
		const char *name;
		const TTest *tests[4];
	} cases[] = {
		{"buf", {buf_grows_and_stops_at_its_ceiling, buf_escapes_json}},
		{"settings",
		 {settings_load_defaults_and_overrides, settings_reject_bad_values_naming_the_setting,
		  settings_render_markdown}},
		{"id", {ids_are_uuid4_hex_and_distinct, ids_distinct_across_refills_and_fork}},
		{"status", {fail_may_quote_its_own_message}},
		{"sha256", {sha256_matches_known_digests}},
		{"time",
		 {time_formats_iso8601, time_parse_iso8601_matches_timegm, time_iso8601_matches_strftime,
		  deadlines_carry_and_clamp}},
		{"file", {files_mkdir_write_read}},
		{"log", {log_levels_parse, log_lines_are_json, log_lines_stay_valid_utf8_and_numbers_short}},
		{"shutdown", {shutdown_waits_for_sigterm, shutdown_survives_a_thread_that_never_blocked_it}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		for (size_t j = 0; j < 4 && cases[i].tests[j]; j++)
			tcase_add_test(tc, cases[i].tests[j]);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(core_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
