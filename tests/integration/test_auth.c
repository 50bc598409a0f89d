/* Integration tests of authentication (libs/http/src/auth.c, the AUTH settings in svc)
 * on the real experiment tracker and model registry over HTTP: with AUTH=on a request
 * without credentials gets 401 with the challenge, a read token reads (POST searches
 * included) but cannot write, a write token cannot delete, an admin token can; the
 * MLflow client's Bearer and Basic forms both work; revoking and adding tokens by
 * rewriting the file takes effect without a restart; write requests leave audit lines;
 * a daemon told to listen beyond loopback without AUTH refuses to start before it
 * listens; and the registry's servability calls reach a tracker with AUTH=on through
 * its own token (TRACKER_TOKEN). With AUTH unset on loopback every other test of the
 * suite runs unauthenticated, as before. */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/file.h"
#include "core/sha256.h"
#include "core/time.h"
#include "harness.h"

#define API "/api/2.0/mlflow/"

/* Secrets of the test's tokens; the file holds only their hashes. */
#define READER_SECRET   "reader-secret-0123456789"
#define WRITER_SECRET   "writer-secret-0123456789"
#define ADMIN_SECRET    "admin-secret-0123456789"
#define REGISTRY_SECRET "registry-secret-0123456789"
#define LATE_SECRET     "late-secret-0123456789"

static char *token_line(const char *name, const char *scope, const char *secret)
{
	char hex[CORE_SHA256_HEX_LEN + 1];
	ck_assert_int_eq(core_sha256_hex(secret, strlen(secret), hex), CORE_OK);
	char *line = NULL;
	ck_assert_int_gt(asprintf(&line, "%s %s %s\n", name, scope, hex), 0);
	return line;
}

/* Writes the token file at path with the given "name scope secret" triples (NULL
 * ends), replacing it atomically as tools/lathe-token does. */
static void write_tokens(const char *path, const char *const *triples)
{
	char *text = strdup("# test tokens\n");
	for (size_t i = 0; triples[i]; i += 3) {
		char *line = token_line(triples[i], triples[i + 1], triples[i + 2]);
		char *joined = NULL;
		ck_assert_int_gt(asprintf(&joined, "%s%s", text, line), 0);
		free(text);
		free(line);
		text = joined;
	}
	struct core_error err;
	ck_assert_int_eq(core_write_file_atomic(path, text, strlen(text), &err), CORE_OK);
	free(text);
}

static char *tokens_path(void)
{
	static int n;
	char *path = NULL;
	ck_assert_int_gt(asprintf(&path, "%s/tokens-%d-%d", th_env("LATHE_TEST_TMP"), (int)getpid(), ++n), 0);
	return path;
}

struct reply {
	long status;
	char *body;
	size_t len;
	json_t *json;
	bool challenge; /* WWW-Authenticate: Bearer realm="lathe", Basic realm="lathe" */
};

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;
	r->body = realloc(r->body, r->len + size * n + 1);
	ck_assert_ptr_nonnull(r->body);
	memcpy(r->body + r->len, p, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;
	static const char want[] = "WWW-Authenticate: Bearer realm=\"lathe\", Basic realm=\"lathe\"";
	if (size * n >= sizeof want - 1 && strncasecmp(p, want, sizeof want - 1) == 0)
		r->challenge = true;
	return size * n;
}

/* Sends method path (JSON body or none) to d with no credentials (secret NULL), a
 * Bearer secret (user NULL: MLFLOW_TRACKING_TOKEN) or Basic user and secret
 * (MLFLOW_TRACKING_USERNAME/PASSWORD, requests' auth=(user, password)). */
static struct reply call(struct th_daemon *d, const char *method, const char *path, const char *body, const char *user,
			 const char *secret)
{
	struct reply r = {0};
	char url[512], hdr[256];
	snprintf(url, sizeof url, "%s%s", d->base_url, path);
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (secret && !user) {
		snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", secret);
		h = curl_slist_append(h, hdr);
	} else if (secret) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	CURLcode rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = strdup("");
	r.json = json_loadb(r.body, r.len, 0, NULL);
	return r;
}

static void reply_free(struct reply *r)
{
	free(r->body);
	json_decref(r->json);
}

/* The status of method path as user/secret (see call). */
static long status_of(struct th_daemon *d, const char *method, const char *path, const char *body, const char *user,
		      const char *secret)
{
	struct reply r = call(d, method, path, body, user, secret);
	long st = r.status;
	reply_free(&r);
	return st;
}

static void expect_error(const struct reply *r, long status, const char *code)
{
	ck_assert_msg(r->status == status, "expected %ld, got %ld: %s", status, r->status, r->body);
	const char *got = json_string_value(json_object_get(r->json, "error_code"));
	ck_assert_msg(got && strcmp(got, code) == 0, "expected %s in %s", code, r->body);
}

/* Creates experiment name as secret's token; returns its id (malloc'd). */
static char *create_experiment(struct th_daemon *d, const char *name, const char *user, const char *secret)
{
	char body[256];
	snprintf(body, sizeof body, "{\"name\": \"%s\"}", name);
	struct reply r = call(d, "POST", API "experiments/create", body, user, secret);
	ck_assert_msg(r.status == 200, "create %s: %ld %s", name, r.status, r.body);
	char *id = strdup(json_string_value(json_object_get(r.json, "experiment_id")));
	reply_free(&r);
	return id;
}

START_TEST(scopes_on_the_tracker)
{
	char *path = tokens_path();
	const char *tokens[] = {"reader",      "read", READER_SECRET, "writer",     "write",
				WRITER_SECRET, "root", "admin",       ADMIN_SECRET, NULL};
	write_tokens(path, tokens);
	char env_file[600];
	snprintf(env_file, sizeof env_file, "AUTH_TOKENS_FILE=%s", path);
	const char *env[] = {"AUTH=on", env_file, NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);

	/* no credentials: 401 with the challenge, for writes and reads alike */
	struct reply r = call(d, "POST", API "experiments/create", "{\"name\": \"x\"}", NULL, NULL);
	expect_error(&r, 401, "UNAUTHENTICATED");
	ck_assert_msg(r.challenge, "401 without WWW-Authenticate: %s", r.body);
	reply_free(&r);
	r = call(d, "GET", API "experiments/search?max_results=10", NULL, NULL, NULL);
	expect_error(&r, 401, "UNAUTHENTICATED");
	ck_assert(r.challenge);
	reply_free(&r);
	r = call(d, "GET", API "experiments/get?experiment_id=0", NULL, NULL, "not-a-token");
	expect_error(&r, 401, "UNAUTHENTICATED");
	reply_free(&r);
	/* probes and scrapers stay open */
	ck_assert_int_eq(status_of(d, "GET", "/healthz", NULL, NULL, NULL), 200);
	ck_assert_int_eq(status_of(d, "GET", "/readyz", NULL, NULL, NULL), 200);
	ck_assert_int_eq(status_of(d, "GET", "/metrics", NULL, NULL, NULL), 200);
	ck_assert_int_eq(status_of(d, "GET", "/health", NULL, NULL, NULL), 200);

	/* read: GET and the POST searches, nothing else */
	ck_assert_int_eq(status_of(d, "GET", API "experiments/search?max_results=10", NULL, NULL, READER_SECRET), 200);
	ck_assert_int_eq(status_of(d, "POST", API "runs/search", "{\"experiment_ids\": [\"0\"]}", NULL, READER_SECRET),
			 200);
	ck_assert_int_eq(status_of(d, "POST", API "experiments/search", "{\"max_results\": 5}", NULL, READER_SECRET),
			 200);
	r = call(d, "POST", API "experiments/create", "{\"name\": \"by-reader\"}", NULL, READER_SECRET);
	expect_error(&r, 403, "PERMISSION_DENIED");
	ck_assert(!r.challenge);
	ck_assert_ptr_nonnull(strstr(r.body, "needs write"));
	reply_free(&r);

	/* write: creates, cannot delete */
	char *id = create_experiment(d, "by-writer", NULL, WRITER_SECRET);
	char body[128];
	snprintf(body, sizeof body, "{\"experiment_id\": \"%s\"}", id);
	r = call(d, "POST", API "experiments/delete", body, NULL, WRITER_SECRET);
	expect_error(&r, 403, "PERMISSION_DENIED");
	ck_assert_ptr_nonnull(strstr(r.body, "needs admin"));
	reply_free(&r);
	ck_assert_int_eq(status_of(d, "DELETE", "/api/2.0/mlflow-artifacts/artifacts/1/x/artifacts/f", NULL, NULL,
				   WRITER_SECRET),
			 403);
	/* the blob store's garbage collection deletes too */
	r = call(d, "POST", "/api/2.0/lathe/admin/gc", "{\"dry_run\": true}", NULL, WRITER_SECRET);
	expect_error(&r, 403, "PERMISSION_DENIED");
	ck_assert_ptr_nonnull(strstr(r.body, "needs admin"));
	reply_free(&r);
	/* admin: deletes */
	ck_assert_int_eq(status_of(d, "POST", API "experiments/delete", body, NULL, ADMIN_SECRET), 200);
	ck_assert_int_eq(status_of(d, "POST", "/api/2.0/lathe/admin/gc", "{\"dry_run\": true}", NULL, ADMIN_SECRET),
			 200);

	/* Basic, as MLFLOW_TRACKING_USERNAME/PASSWORD send it: the token's name and secret */
	char *id2 = create_experiment(d, "by-basic", "writer", WRITER_SECRET);
	r = call(d, "POST", API "experiments/create", "{\"name\": \"wrong\"}", "writer", "wrong-password");
	expect_error(&r, 401, "UNAUTHENTICATED");
	ck_assert(r.challenge);
	reply_free(&r);
	/* another token's secret under this name is no good either */
	ck_assert_int_eq(status_of(d, "POST", API "experiments/create", "{\"name\": \"w2\"}", "writer", ADMIN_SECRET),
			 401);

	/* audit: who, what, the request id, for the writes (denied ones too); not reads */
	ck_assert(th_daemon_log_has(d, "\"msg\":\"audit\"", "\"who\":\"writer\""));
	ck_assert(th_daemon_log_has(d, "\"who\":\"root\"", "\"route\":\"/api/2.0/mlflow/experiments/delete\""));
	ck_assert(th_daemon_log_has(d, "\"who\":\"reader\"", "\"status\":403"));
	ck_assert(th_daemon_log_has(d, "\"msg\":\"audit\"", "\"request_id\":"));
	ck_assert(!th_daemon_log_has(d, "\"msg\":\"audit\"", "runs/search"));
	free(id);
	free(id2);
	th_daemon_stop(d);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(tokens_change_without_a_restart)
{
	char *path = tokens_path();
	const char *before[] = {"writer", "write", WRITER_SECRET, "root", "admin", ADMIN_SECRET, NULL};
	write_tokens(path, before);
	char env_file[600];
	snprintf(env_file, sizeof env_file, "AUTH_TOKENS_FILE=%s", path);
	const char *env[] = {"AUTH=on", env_file, NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);
#define CREATE "{\"name\": \"e-%d\"}"
	char body[64];
	snprintf(body, sizeof body, CREATE, 0);
	ck_assert_int_eq(status_of(d, "POST", API "experiments/create", body, NULL, WRITER_SECRET), 200);
	ck_assert_int_eq(status_of(d, "GET", API "experiments/get?experiment_id=0", NULL, NULL, LATE_SECRET), 401);

	/* revoke writer, add late: within a couple of seconds, no restart */
	const char *after[] = {"root", "admin", ADMIN_SECRET, "late", "write", LATE_SECRET, NULL};
	write_tokens(path, after);
	long writer = 0, late = 0;
	for (int i = 1; i < 50 && !(writer == 401 && late == 200); i++) {
		core_sleep_ms(100);
		snprintf(body, sizeof body, CREATE, i);
		writer = status_of(d, "POST", API "experiments/create", body, NULL, WRITER_SECRET);
		late = status_of(d, "GET", API "experiments/get?experiment_id=0", NULL, NULL, LATE_SECRET);
	}
	ck_assert_int_eq(writer, 401);
	ck_assert_int_eq(late, 200);
	ck_assert_int_eq(status_of(d, "POST", API "experiments/create", "{\"name\": \"late\"}", "late", LATE_SECRET),
			 200);
	ck_assert(th_daemon_alive(d));
	ck_assert(th_daemon_log_has(d, "token file reloaded", "\"tokens\":2"));
	th_daemon_stop(d);
	unlink(path);
	free(path);
}
END_TEST

/* Runs a tools/lathe-token command line; returns its stdout's first line (malloc'd). */
static char *lathe_token(const char *args)
{
	char cmd[1200], line[256] = "";
	snprintf(cmd, sizeof cmd, "%s/tools/lathe-token %s 2>/dev/null", th_env("LATHE_ROOT"), args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	if (!fgets(line, sizeof line, p))
		line[0] = '\0';
	ck_assert_msg(pclose(p) == 0, "%s failed", cmd);
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

/* The operator's tool end to end: a token it makes works at once, and revoking it
 * takes effect without a restart. */
START_TEST(lathe_token_tool_round_trip)
{
	char *path = tokens_path();
	char args[800];
	snprintf(args, sizeof args, "new ci-bot write %s", path);
	char *secret = lathe_token(args);
	ck_assert_uint_eq(strlen(secret), 64);
	char env_file[600];
	snprintf(env_file, sizeof env_file, "AUTH_TOKENS_FILE=%s", path);
	const char *env[] = {"AUTH=on", env_file, NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);
	free(create_experiment(d, "by-tool", NULL, secret));
	free(create_experiment(d, "by-tool-basic", "ci-bot", secret));

	snprintf(args, sizeof args, "revoke ci-bot %s", path);
	free(lathe_token(args));
	long st = 200;
	for (int i = 0; i < 50 && st != 401; i++) {
		core_sleep_ms(100);
		st = status_of(d, "GET", API "experiments/get?experiment_id=0", NULL, NULL, secret);
	}
	ck_assert_int_eq(st, 401);
	snprintf(args, sizeof args, "list %s", path);
	char *listed = lathe_token(args);
	ck_assert_str_eq(listed, "");
	free(listed);
	th_daemon_stop(d);
	free(secret);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(auth_off_serves_everyone_without_audit_lines)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *id = create_experiment(d, "open", NULL, NULL);
	char body[128];
	snprintf(body, sizeof body, "{\"experiment_id\": \"%s\"}", id);
	ck_assert_int_eq(status_of(d, "POST", API "experiments/delete", body, NULL, NULL), 200);
	/* credentials are ignored when auth is off */
	ck_assert_int_eq(status_of(d, "GET", API "experiments/get?experiment_id=0", NULL, NULL, "whatever"), 200);
	/* nobody to name: the access line is the record */
	ck_assert(th_daemon_log_has(d, "\"msg\":\"http request\"", "experiments/delete"));
	ck_assert(!th_daemon_log_has(d, "\"msg\":\"audit\"", NULL));
	free(id);
	th_daemon_stop(d);
}
END_TEST

/* Waits for d to exit (at most 20 s); returns its exit status, -1 when it did not. */
static int wait_exit(struct th_daemon *d)
{
	for (int i = 0; i < 200; i++) {
		int status;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		core_sleep_ms(100);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	return -1;
}

static void daemon_forget(struct th_daemon *d)
{
	free(d->database_url);
	free(d);
}

static bool port_listens(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

START_TEST(refuses_to_start_open_beyond_loopback)
{
	/* BIND_ADDRESS 0.0.0.0 without AUTH: exit 2 before listening (it never binds, so
	 * nothing is exposed, even for a moment) */
	const char *env[] = {"BIND_ADDRESS=0.0.0.0", NULL};
	struct th_daemon *d = th_daemon_spawn("experiment-tracker", NULL, env);
	ck_assert_int_eq(wait_exit(d), 2);
	ck_assert(th_daemon_log_has(d, "AUTH is not set", "BIND_ADDRESS 0.0.0.0"));
	ck_assert(!th_daemon_log_has(d, "listening", NULL));
	ck_assert(!port_listens(d->port));
	daemon_forget(d);

	/* AUTH=on without a token file, or with one that does not exist: no start either */
	const char *env2[] = {"AUTH=on", NULL};
	d = th_daemon_spawn("model-registry", NULL, env2);
	ck_assert_int_eq(wait_exit(d), 2);
	ck_assert(th_daemon_log_has(d, "AUTH=on needs AUTH_TOKENS_FILE", NULL));
	ck_assert(!th_daemon_log_has(d, "listening", NULL));
	daemon_forget(d);
	const char *env3[] = {"AUTH=on", "AUTH_TOKENS_FILE=/nonexistent/lathe-tokens", NULL};
	d = th_daemon_spawn("experiment-tracker", NULL, env3);
	ck_assert_int_eq(wait_exit(d), 2);
	ck_assert(th_daemon_log_has(d, "AUTH_TOKENS_FILE", "/nonexistent/lathe-tokens"));
	daemon_forget(d);
}
END_TEST

static const char *tag_value(json_t *mv, const char *key)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(mv, "tags"), i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "key")), key) == 0)
			return json_string_value(json_object_get(t, "value"));
	}
	return NULL;
}

/* Registers a version of "m" from source as the registry's writer and waits (up to
 * 10 s: the check may run after the reply) for its lathe.servable tag; returns the
 * model_version (owned) holding it. */
static json_t *register_and_wait(struct th_daemon *reg, const char *source)
{
	char body[512];
	snprintf(body, sizeof body, "{\"name\": \"m\", \"source\": \"%s\"}", source);
	struct reply r = call(reg, "POST", API "model-versions/create", body, NULL, WRITER_SECRET);
	ck_assert_msg(r.status == 200, "create version: %ld %s", r.status, r.body);
	char path[256];
	snprintf(path, sizeof path, API "model-versions/get?name=m&version=%s",
		 json_string_value(json_object_get(json_object_get(r.json, "model_version"), "version")));
	reply_free(&r);
	for (int i = 0; i < 100; i++) {
		r = call(reg, "GET", path, NULL, NULL, READER_SECRET);
		ck_assert_int_eq(r.status, 200);
		json_t *mv = json_incref(json_object_get(r.json, "model_version"));
		reply_free(&r);
		const char *v = tag_value(mv, "lathe.servable");
		if (v && strcmp(v, "pending") != 0) /* the check runs in the background */
			return mv;
		json_decref(mv);
		core_sleep_ms(100);
	}
	ck_abort_msg("no lathe.servable tag on %s", path);
	return NULL;
}

START_TEST(registry_reaches_the_tracker_with_its_token)
{
	char *path = tokens_path();
	const char *tokens[] = {"reader",      "read",          READER_SECRET, "writer",     "write",
				WRITER_SECRET, "root",          "admin",       ADMIN_SECRET, "model-registry",
				"read",        REGISTRY_SECRET, NULL};
	write_tokens(path, tokens);
	char env_file[600], env_url[128];
	snprintf(env_file, sizeof env_file, "AUTH_TOKENS_FILE=%s", path);
	const char *tenv[] = {"AUTH=on", env_file, NULL};
	struct th_daemon *tracker = th_daemon_start("experiment-tracker", NULL, tenv);
	snprintf(env_url, sizeof env_url, "TRACKER_URL=%s", tracker->base_url);
	const char *renv[] = {"AUTH=on", env_file, env_url, "TRACKER_TOKEN=" REGISTRY_SECRET, NULL};
	struct th_daemon *reg = th_daemon_start("model-registry", NULL, renv);
	const char *wrong_env[] = {"AUTH=on", env_file, env_url, NULL};
	struct th_daemon *tokenless = th_daemon_start("model-registry", NULL, wrong_env);

	/* a Lathe model package on the tracker, uploaded with a write token */
	static const char header[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
	char weights[128] = {0};
	weights[0] = (char)(sizeof header - 1);
	memcpy(weights + 8, header, sizeof header - 1);
	const char *model_json = "{\"format_version\": 1, \"task\": \"classification\", \"layers\": []}";
	const char *art = "/api/2.0/mlflow-artifacts/artifacts/1/0a1b2c3d4e5f60718293a4b5c6d7e8f9/artifacts/model/";
	char url[512];
	snprintf(url, sizeof url, "%smodel.json", art);
	ck_assert_int_eq(status_of(tracker, "PUT", url, model_json, NULL, NULL), 401);
	ck_assert_int_eq(status_of(tracker, "PUT", url, model_json, NULL, WRITER_SECRET), 200);
	snprintf(url, sizeof url, "%sweights.safetensors", art);
	{
		/* binary body: call() sends a C string, so the bytes go through th_http, with
		 * Basic credentials as the URL's userinfo (curl sends them as Basic) */
		char full[700];
		snprintf(full, sizeof full, "http://writer:%s@127.0.0.1:%u%s", WRITER_SECRET, tracker->port, url);
		struct th_response t =
			th_http("PUT", full, "application/octet-stream", weights, 8 + sizeof header - 1 + 4);
		ck_assert_msg(t.status == 200, "PUT weights: %ld %s", t.status, t.body);
		th_response_free(&t);
	}

	/* the registry itself wants a token too: writing a model needs write */
	ck_assert_int_eq(
		status_of(reg, "POST", API "registered-models/create", "{\"name\": \"m\"}", NULL, READER_SECRET), 403);
	ck_assert_int_eq(
		status_of(reg, "POST", API "registered-models/create", "{\"name\": \"m\"}", NULL, WRITER_SECRET), 200);
	ck_assert_int_eq(
		status_of(tokenless, "POST", API "registered-models/create", "{\"name\": \"m\"}", NULL, WRITER_SECRET),
		200);
	json_t *mv = register_and_wait(reg, "mlflow-artifacts:/1/0a1b2c3d4e5f60718293a4b5c6d7e8f9/artifacts/model");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "true");
	json_decref(mv);
	/* without TRACKER_TOKEN the tracker turns the registry away, and the tag says so */
	mv = register_and_wait(tokenless, "mlflow-artifacts:/1/0a1b2c3d4e5f60718293a4b5c6d7e8f9/artifacts/model");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "false");
	ck_assert_ptr_nonnull(strstr(tag_value(mv, "lathe.servable_reason"), "401"));
	json_decref(mv);

	/* deleting a version needs admin on the registry */
	const char *del = "{\"name\": \"m\", \"version\": \"1\"}";
	ck_assert_int_eq(status_of(reg, "DELETE", API "model-versions/delete", del, NULL, WRITER_SECRET), 403);
	ck_assert_int_eq(status_of(reg, "DELETE", API "model-versions/delete", del, NULL, ADMIN_SECRET), 200);
	ck_assert_int_eq(
		status_of(reg, "DELETE", API "registered-models/delete", "{\"name\": \"m\"}", NULL, ADMIN_SECRET), 200);
	th_daemon_stop(tokenless);
	th_daemon_stop(reg);
	th_daemon_stop(tracker);
	unlink(path);
	free(path);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, scopes_on_the_tracker);
	tcase_add_test(tc, tokens_change_without_a_restart);
	tcase_add_test(tc, lathe_token_tool_round_trip);
	tcase_add_test(tc, auth_off_serves_everyone_without_audit_lines);
	tcase_add_test(tc, refuses_to_start_open_beyond_loopback);
	tcase_add_test(tc, registry_reaches_the_tracker_with_its_token);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	SRunner *sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
