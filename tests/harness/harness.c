/* The integration-test harness (face: harness.h). It talks to the platform exactly
 * as a user would: PostgreSQL through libpq, daemons as child processes with their
 * settings in the environment, HTTP through libcurl. It deliberately does not use the
 * platform's own http client, so a bug there cannot hide itself in the tests. */
#include "harness.h"
#include "core/alloc.h"

#include <ctype.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *th_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		ck_abort_msg("%s is not set: run tests through tools/run-tests.sh (make test)", name);
	return v;
}

static void random_hex(char *out, size_t n_bytes)
{
	unsigned char b[32];
	if (n_bytes > sizeof b || getrandom(b, n_bytes, 0) != (ssize_t)n_bytes)
		ck_abort_msg("getrandom failed");
	for (size_t i = 0; i < n_bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

char *th_db_create(void)
{
	const char *admin = th_env("LATHE_TEST_PG_URL");
	char name[40] = "lathe_t_";
	random_hex(name + 8, 8);
	PGconn *c = PQconnectdb(admin);
	if (PQstatus(c) != CONNECTION_OK)
		ck_abort_msg("cannot connect to %s: %s", admin, PQerrorMessage(c));
	char sql[96];
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name); /* name is ours: hex only */
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		ck_abort_msg("CREATE DATABASE failed: %s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	/* admin ends in "/postgres": swap the database name */
	const char *slash = strrchr(admin, '/');
	size_t prefix = (size_t)(slash - admin) + 1;
	char *url = malloc(prefix + strlen(name) + 1);
	ck_assert_ptr_nonnull(url);
	memcpy(url, admin, prefix);
	memcpy(url + prefix, name, strlen(name) + 1);
	return url;
}

void th_kafka_ctl(const char *command)
{
	const char *path = th_env("LATHE_TEST_KAFKA_CTL");
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		ck_abort_msg("open %s: %s", path, strerror(errno));
	char line[256];
	int n = snprintf(line, sizeof line, "%s\n", command);
	ck_assert_int_eq(write(fd, line, (size_t)n), n);
	close(fd);
	usleep(300 * 1000); /* the broker polls its FIFO every 200 ms */
}

/* --- HTTP ----------------------------------------------------------------------- */

size_t th_collect_body(char *p, size_t size, size_t n, void *cls)
{
	struct th_collect *c = cls;
	size_t add = size * n;
	/* doubling, not a realloc per chunk: a body of tens of MB arrives in 16 KiB chunks,
	 * and per-chunk growth is quadratic (minutes under ASan, whose realloc copies) */
	if (c->len + add + 1 > c->cap) {
		size_t cap = (c->len + add + 1) * 2;
		char *grown = realloc(c->data, cap);
		if (!grown)
			return 0;
		c->data = grown;
		c->cap = cap;
	}
	memcpy(c->data + c->len, p, add);
	c->len += add;
	c->data[c->len] = '\0';
	return add;
}

struct th_response th_http(const char *method, const char *url, const char *content_type, const char *body,
			   size_t body_len)
{
	struct th_response r = {0};
	struct th_collect c = {0};
	CURL *curl = curl_easy_init();
	ck_assert_ptr_nonnull(curl);
	struct curl_slist *headers = NULL;
	char ct[128];
	if (body || content_type) {
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
		headers = curl_slist_append(headers, ct);
	}
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, th_collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(curl);
	if (rc != CURLE_OK)
		ck_abort_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	r.body = c.data ? c.data : strdup("");
	r.body_len = c.len;
	r.json = json_loadb(r.body, r.body_len, 0, NULL);
	return r;
}

struct th_response th_call(struct th_daemon *d, const char *method, const char *path, const char *json_body)
{
	/* Built on the heap: a path may carry a long percent-encoded query (names at their
	 * length limits), and a cut URL would be a different request. */
	char *url = core_xasprintf("%s%s", d->base_url, path);
	struct th_response r = th_http(method, url, NULL, json_body, json_body ? strlen(json_body) : 0);
	free(url);
	return r;
}

void th_response_free(struct th_response *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

void th_expect_error(const struct th_response *r, long status, const char *error_code, const char *needle)
{
	ck_assert_msg(r->status == status, "expected status %ld, got %ld: %s", status, r->status, r->body);
	ck_assert_msg(r->json && json_is_object(r->json), "error reply is not JSON: %s", r->body);
	const char *code = json_string_value(json_object_get(r->json, "error_code"));
	const char *msg = json_string_value(json_object_get(r->json, "message"));
	ck_assert_msg(code && strcmp(code, error_code) == 0, "expected error_code %s in %s", error_code, r->body);
	ck_assert_msg(msg != NULL, "error reply has no message: %s", r->body);
	if (needle)
		ck_assert_msg(strstr(msg, needle), "expected '%s' in message: %s", needle, msg);
}

void th_expect_no_internals(const char *text, unsigned port)
{
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(!strstr(text, "127.0.0.1") && !strstr(text, "localhost"), "an address leaked: %s", text);
	const char *tmp = th_env("LATHE_TEST_TMP");
	ck_assert_msg(!strstr(text, tmp), "a path under %s leaked: %s", tmp, text);
	if (port) {
		char digits[16];
		snprintf(digits, sizeof digits, "%u", port);
		size_t n = strlen(digits);
		for (const char *p = strstr(text, digits); p; p = strstr(p + 1, digits)) {
			bool alone = (p == text || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[n]);
			ck_assert_msg(!alone, "port %u leaked: %s", port, text);
		}
	}
}

/* --- daemons -------------------------------------------------------------------- */

bool th_daemon_log_has(struct th_daemon *d, const char *a, const char *b)
{
	FILE *f = fopen(d->log_path, "r");
	ck_assert_msg(f, "cannot read %s", d->log_path);
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	while (!found && getline(&line, &cap, f) >= 0)
		found = strstr(line, a) && (!b || strstr(line, b));
	free(line);
	fclose(f);
	return found;
}

unsigned th_free_port(void)
{
	/* Below 32768: the kernel hands out 32768-60999 to outgoing connections, so a
	 * port from there (what binding port 0 gives) can be taken before the daemon
	 * binds it. */
	for (int attempt = 0; attempt < 200; attempt++) {
		uint16_t r;
		ck_assert_int_eq(getrandom(&r, sizeof r, 0), (ssize_t)sizeof r);
		unsigned port = 20000 + r % 12000;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					.sin_port = htons((uint16_t)port)};
		bool free = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
		close(fd);
		if (free)
			return port;
	}
	ck_abort_msg("no free port in 20000-31999");
	return 0;
}

/* Builds the child's environment: ours, minus the settings we set, plus them. */
static char **child_env(const char *const *set)
{
	size_t n_env = 0, n_set = 0;
	while (environ[n_env])
		n_env++;
	while (set[n_set])
		n_set++;
	char **env = calloc(n_env + n_set + 1, sizeof *env);
	ck_assert_ptr_nonnull(env);
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++) {
		bool overridden = false;
		for (size_t j = 0; j < n_set && !overridden; j++) {
			size_t name_len = (size_t)(strchr(set[j], '=') - set[j]);
			overridden = strncmp(environ[i], set[j], name_len + 1) == 0;
		}
		if (!overridden)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < n_set; j++)
		env[k++] = (char *)set[j];
	env[k] = NULL;
	return env;
}

struct th_daemon *th_daemon_spawn(const char *service, const char *database_url, const char *const *extra_env)
{
	struct th_daemon *d = calloc(1, sizeof *d);
	ck_assert_ptr_nonnull(d);
	d->database_url = database_url ? strdup(database_url) : th_db_create();
	d->port = th_free_port();
	for (size_t i = 0; extra_env && extra_env[i]; i++) /* a restart on the port it had */
		if (strncmp(extra_env[i], "PORT=", 5) == 0)
			d->port = (unsigned)strtoul(extra_env[i] + 5, NULL, 10);
	snprintf(d->base_url, sizeof d->base_url, "http://127.0.0.1:%u", d->port);
	char tag[17];
	random_hex(tag, 8);
	snprintf(d->log_path, sizeof d->log_path, "%s/%s-%s.log", th_env("LATHE_TEST_TMP"), service, tag);

	char bin[512], port[32], db[600], kafka[600], blob[600];
	snprintf(bin, sizeof bin, "%s/lathe-%s", th_env("LATHE_TEST_BIN"), service);
	snprintf(port, sizeof port, "PORT=%u", d->port);
	snprintf(db, sizeof db, "DATABASE_URL=%s", d->database_url);
	snprintf(kafka, sizeof kafka, "KAFKA_BROKERS=%s", th_env("LATHE_TEST_KAFKA"));
	snprintf(blob, sizeof blob, "BLOB_DIR=%s/blobs-%s", th_env("LATHE_TEST_TMP"), tag);
	/* a 4 s group session: the smallest devkafka forms groups with, keeping a margin
	 * (docs/devkafka.md); every join of a group another test's daemon left, or a killed
	 * member's, waits out session - 1 s (3 s instead of the 5 s of 6000) */
	const char *set[64] = {port, db, kafka, blob, "LOG_LEVEL=debug", "KAFKA_SESSION_TIMEOUT_MS=4000"};
	size_t n = 6;
	for (size_t i = 0; extra_env && extra_env[i] && n < 63; i++) {
		/* an extra setting named as a default (BLOB_DIR, LOG_LEVEL) replaces it */
		size_t name_len = strcspn(extra_env[i], "=") + 1, j = 0;
		while (j < 6 && strncmp(set[j], extra_env[i], name_len) != 0)
			j++;
		if (j < 6)
			set[j] = extra_env[i];
		else
			set[n++] = extra_env[i];
	}
	set[n] = NULL;
	char **env = child_env(set);

	int log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(log_fd, 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(log_fd, STDERR_FILENO);
		dup2(log_fd, STDOUT_FILENO);
		char *argv[] = {bin, NULL};
		execve(bin, argv, env);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(log_fd);
	free(env);
	d->pid = pid;
	return d;
}

bool th_daemon_alive(struct th_daemon *d)
{
	int status;
	return waitpid(d->pid, &status, WNOHANG) == 0;
}

static long quiet_get(const char *url)
{
	CURL *curl = curl_easy_init();
	struct th_collect c = {0};
	long status = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, th_collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	free(c.data);
	return status;
}

static void dump_log(const struct th_daemon *d)
{
	FILE *f = fopen(d->log_path, "r");
	char line[2048];
	fprintf(stderr, "--- log of pid %d (%s)\n", (int)d->pid, d->log_path);
	while (f && fgets(line, sizeof line, f))
		fputs(line, stderr);
	if (f)
		fclose(f);
}

bool th_daemon_wait_status(struct th_daemon *d, const char *path, long want_status, int timeout_ms)
{
	char url[600];
	snprintf(url, sizeof url, "%s%s", d->base_url, path);
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if (quiet_get(url) == want_status)
			return true;
		if (!th_daemon_alive(d)) {
			dump_log(d);
			ck_abort_msg("daemon pid %d exited while waiting for %s", (int)d->pid, path);
		}
		usleep(50 * 1000);
	}
	return false;
}

struct th_daemon *th_daemon_start(const char *service, const char *database_url, const char *const *extra_env)
{
	struct th_daemon *d = th_daemon_spawn(service, database_url, extra_env);
	if (!th_daemon_wait_status(d, "/readyz", 200, 30000)) {
		dump_log(d);
		ck_abort_msg("%s did not become ready within 30 s", service);
	}
	return d;
}

bool th_ready_alone(const char *service)
{
	return strcmp(service, "inference-api") != 0;
}

struct th_daemon *th_daemon_start_alone(const char *service, const char *database_url, const char *const *extra_env)
{
	if (th_ready_alone(service))
		return th_daemon_start(service, database_url, extra_env);
	struct th_daemon *d = th_daemon_spawn(service, database_url, extra_env);
	if (!th_daemon_wait_status(d, "/healthz", 200, 30000)) {
		dump_log(d);
		ck_abort_msg("%s did not become live within 30 s", service);
	}
	return d;
}

void th_daemon_expect_error(struct th_daemon *d, const char *substring)
{
	ck_assert_uint_lt(d->n_expected_errors, sizeof d->expected_errors / sizeof d->expected_errors[0]);
	d->expected_errors[d->n_expected_errors++] = strdup(substring);
}

/* Returns the first error line in the log that no expectation covers, or NULL. */
static char *unexpected_error_line(const struct th_daemon *d)
{
	FILE *f = fopen(d->log_path, "r");
	if (!f)
		return strdup("(log missing)");
	char *line = NULL;
	size_t cap = 0;
	char *found = NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		if (!strstr(line, "\"level\":\"error\"") && !strstr(line, "ERROR: AddressSanitizer") &&
		    !strstr(line, "runtime error:"))
			continue;
		bool expected = false;
		for (size_t i = 0; i < d->n_expected_errors && !expected; i++)
			expected = strstr(line, d->expected_errors[i]) != NULL;
		if (!expected)
			found = strdup(line);
	}
	free(line);
	fclose(f);
	return found;
}

void th_daemon_stop(struct th_daemon *d)
{
	int status = 0;
	pid_t got = 0;
	kill(d->pid, SIGTERM);
	for (int waited = 0; waited < 30000 && got == 0; waited += 20) {
		got = waitpid(d->pid, &status, WNOHANG);
		if (got == 0)
			usleep(20 * 1000);
	}
	if (got == 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		dump_log(d);
		ck_abort_msg("daemon pid %d did not exit within 30 s of SIGTERM", (int)d->pid);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dump_log(d);
		char *why = unexpected_error_line(d);
		ck_abort_msg("daemon pid %d ended with status 0x%x, not exit 0%s%s", (int)d->pid, status,
			     why ? "; its first unexpected error line: " : "", why ? why : "");
	}
	char *bad = unexpected_error_line(d);
	if (bad) {
		dump_log(d);
		ck_abort_msg("unexpected error in the daemon's log: %s", bad);
	}
	for (size_t i = 0; i < d->n_expected_errors; i++)
		free(d->expected_errors[i]);
	free(d->database_url);
	free(d);
}

json_t *th_ok(struct th_daemon *d, const char *method, const char *path, const char *json_body)
{
	struct th_response r = th_call(d, method, path, json_body);
	ck_assert_msg(r.status == 200, "%s %s -> %ld: %.300s", method, path, r.status, r.body);
	ck_assert_ptr_nonnull(r.json);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

char *th_fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&s, f, ap), 0);
	va_end(ap);
	return s;
}

struct th_response th_post_fields(struct th_daemon *d, const char *path, const char *k1, const char *v1, const char *k2,
				  const char *v2)
{
	json_t *o = json_pack("{s:s}", k1, v1);
	ck_assert_ptr_nonnull(o);
	if (v2)
		json_object_set_new(o, k2, json_string(v2));
	char *body = json_dumps(o, JSON_COMPACT);
	struct th_response r = th_call(d, "POST", path, body);
	free(body);
	json_decref(o);
	return r;
}
