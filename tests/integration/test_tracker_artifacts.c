/* Integration tests of the experiment tracker's artifacts (services/experiment-tracker/
 * h_artifacts.c) as a real daemon on the run's PostgreSQL: the requests MLflow's Python
 * client sends for log_artifact(s), list_artifacts and download_artifacts (
 * docs/mlflow-api.md §6 and §9), replayed and answered field by field; a
 * 3 MB binary byte-exact; overwrite; delete of files and trees; artifacts/list of a
 * run; path escapes (400) and missing things (404); an aborted upload leaves nothing;
 * a broken blob store answers 500 naming no path.
 *
 * Requests go through a local libcurl helper rather than th_http, because these tests
 * need response headers and must send paths as they are (CURLOPT_PATH_AS_IS: curl
 * would otherwise squash "../" itself before the server could refuse it).
 * Runs come from POST runs/create and runs/get, as the client makes them. */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "harness.h"

#define ART "/api/2.0/mlflow-artifacts/artifacts"

/* --- HTTP with headers ----------------------------------------------------------- */

struct buf {
	char *data;
	size_t len;
};

struct resp {
	long status;
	struct buf body, headers;
	json_t *json;
};

static size_t collect(char *p, size_t size, size_t n, void *cls)
{
	struct buf *b = cls;
	size_t add = size * n;
	char *grown = realloc(b->data, b->len + add + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, p, add);
	b->data = grown;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static struct resp call(struct th_daemon *d, const char *method, const char *path, const char *content_type,
			const void *body, size_t len)
{
	struct resp r = {0};
	char url[4096], ct[160];
	snprintf(url, sizeof url, "%s%s", d->base_url, path);
	CURL *curl = curl_easy_init();
	ck_assert_ptr_nonnull(curl);
	struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
	headers = curl_slist_append(headers, "User-Agent: mlflow-python-client/2.12.2");
	if (content_type) {
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
		headers = curl_slist_append(headers, ct);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(curl);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (!r.body.data)
		r.body.data = strdup("");
	r.json = json_loadb(r.body.data, r.body.len, 0, NULL);
	return r;
}

static void resp_free(struct resp *r)
{
	free(r->body.data);
	free(r->headers.data);
	json_decref(r->json);
}

/* The value of a response header (case-insensitive name), copied to out; "" if absent. */
static const char *header(const struct resp *r, const char *name, char *out, size_t size)
{
	out[0] = '\0';
	size_t n = strlen(name);
	for (const char *line = r->headers.data; line && *line;) {
		const char *end = strstr(line, "\r\n");
		if (!end)
			break;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)(end - v), v);
		}
		line = end + 2;
	}
	return out;
}

static void expect_ok_empty(struct resp *r)
{
	ck_assert_msg(r->status == 200, "status %ld: %s", r->status, r->body.data);
	ck_assert_ptr_nonnull(r->json);
	ck_assert(json_is_object(r->json));
	ck_assert_int_eq(json_object_size(r->json), 0);
}

static void expect_error(struct resp *r, long status, const char *code, const char *message)
{
	ck_assert_msg(r->status == status, "want %ld, got %ld: %s", status, r->status, r->body.data);
	ck_assert_ptr_nonnull(r->json);
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "error_code")), code);
	if (message)
		ck_assert_str_eq(json_string_value(json_object_get(r->json, "message")), message);
}

/* --- what the client does ---------------------------------------------------------- */

struct run {
	char id[64];
	char uri[256];  /* mlflow-artifacts:/0/<id>/artifacts */
	char root[256]; /* 0/<id>/artifacts: the proxy path */
};

/* mlflow.start_run() then the first log_artifact: runs/create, runs/get. */
static void start_run(struct th_daemon *d, struct run *run)
{
	const char *create = "{\"experiment_id\": \"0\", \"user_id\": \"tester\", \"start_time\": 1700000000000, "
			     "\"tags\": [{\"key\": \"mlflow.source.type\", \"value\": \"LOCAL\"}]}";
	struct resp r = call(d, "POST", "/api/2.0/mlflow/runs/create", "application/json", create, strlen(create));
	ck_assert_msg(r.status == 200, "runs/create: %ld %s", r.status, r.body.data);
	json_t *info = json_object_get(json_object_get(r.json, "run"), "info");
	snprintf(run->id, sizeof run->id, "%s", json_string_value(json_object_get(info, "run_id")));
	snprintf(run->uri, sizeof run->uri, "%s", json_string_value(json_object_get(info, "artifact_uri")));
	resp_free(&r);
	char path[200];
	snprintf(path, sizeof path, "/api/2.0/mlflow/runs/get?run_uuid=%s&run_id=%s", run->id, run->id);
	r = call(d, "GET", path, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	json_t *got = json_object_get(json_object_get(json_object_get(r.json, "run"), "info"), "artifact_uri");
	ck_assert_str_eq(json_string_value(got), run->uri);
	resp_free(&r);
	char want[256];
	snprintf(want, sizeof want, "mlflow-artifacts:/0/%s/artifacts", run->id);
	ck_assert_str_eq(run->uri, want);
	snprintf(run->root, sizeof run->root, "0/%s/artifacts", run->id);
}

/* log_artifact: PUT <root>/<rel> with the guessed type. */
static void put(struct th_daemon *d, const struct run *run, const char *rel, const char *type, const void *data,
		size_t len)
{
	char path[1024];
	snprintf(path, sizeof path, ART "/%s/%s", run->root, rel);
	struct resp r = call(d, "PUT", path, type, data, len);
	expect_ok_empty(&r);
	resp_free(&r);
}

/* list_artifacts(run, rel): GET artifacts?path=<root>/<rel>. */
static struct resp list(struct th_daemon *d, const struct run *run, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, ART "?path=%s%s%s", run->root, rel[0] ? "%2F" : "", rel);
	struct resp r = call(d, "GET", path, NULL, NULL, 0);
	ck_assert_msg(r.status == 200, "list %s: %ld %s", rel, r.status, r.body.data);
	ck_assert(json_is_object(r.json));
	return r;
}

/* One FileInfo, every field: size < 0 means a directory (no file_size key). */
static void expect_file_info(json_t *files, size_t i, const char *path, long long size)
{
	json_t *fi = json_array_get(files, i);
	ck_assert_msg(fi, "no entry %zu", i);
	ck_assert_str_eq(json_string_value(json_object_get(fi, "path")), path);
	ck_assert(json_is_boolean(json_object_get(fi, "is_dir")));
	ck_assert_int_eq(json_is_true(json_object_get(fi, "is_dir")), size < 0);
	if (size < 0) {
		ck_assert_int_eq(json_object_size(fi), 2);
	} else {
		ck_assert_int_eq(json_object_size(fi), 3);
		ck_assert(json_is_integer(json_object_get(fi, "file_size")));
		ck_assert_int_eq(json_integer_value(json_object_get(fi, "file_size")), size);
	}
}

static json_t *files_of(struct resp *r, size_t want)
{
	json_t *files = json_object_get(r->json, "files");
	ck_assert_msg(json_is_array(files), "no files in %s", r->body.data);
	ck_assert_int_eq(json_array_size(files), want);
	return files;
}

/* download_artifacts of one file: GET <root>/<rel>, checked byte for byte. */
static void expect_download(struct th_daemon *d, const struct run *run, const char *rel, const char *type,
			    const char *filename, const void *data, size_t len)
{
	char path[1024], v[512], want[512];
	snprintf(path, sizeof path, ART "/%s/%s", run->root, rel);
	struct resp r = call(d, "GET", path, NULL, NULL, 0);
	ck_assert_msg(r.status == 200, "GET %s: %ld %s", rel, r.status, r.body.data);
	ck_assert_uint_eq(r.body.len, len);
	ck_assert(memcmp(r.body.data, data, len) == 0);
	ck_assert_str_eq(header(&r, "Content-Type", v, sizeof v), type);
	snprintf(want, sizeof want, "attachment; filename=%s", filename);
	ck_assert_str_eq(header(&r, "Content-Disposition", v, sizeof v), want);
	ck_assert_str_eq(header(&r, "X-Content-Type-Options", v, sizeof v), "nosniff");
	resp_free(&r);
}

/* --- tests -------------------------------------------------------------------------- */

START_TEST(root_file_logged_listed_downloaded)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	const char text[] = "hello world\n";
	put(d, &run, "hello.txt", "text/plain", text, sizeof text - 1);

	struct resp r = list(d, &run, "");
	ck_assert_int_eq(json_object_size(r.json), 1);
	expect_file_info(files_of(&r, 1), 0, "hello.txt", 12);
	resp_free(&r);
	expect_download(d, &run, "hello.txt", "text/plain", "hello.txt", text, sizeof text - 1);

	/* HEAD gives the headers alone */
	char path[512], v[128];
	snprintf(path, sizeof path, ART "/%s/hello.txt", run.root);
	r = call(d, "HEAD", path, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(header(&r, "Content-Length", v, sizeof v), "12");
	resp_free(&r);

	/* the web UI's twin route serves the same tree */
	snprintf(path, sizeof path, "/ajax-api/2.0/mlflow-artifacts/artifacts?path=%s", run.root);
	r = call(d, "GET", path, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	expect_file_info(files_of(&r, 1), 0, "hello.txt", 12);
	resp_free(&r);
	th_daemon_stop(d);
}
END_TEST

START_TEST(nested_directory_and_run_listing)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	/* mlflow.log_artifacts("local_dir", artifact_path="d"): one PUT per file */
	const char hi[] = "hi\n", deep[] = "{\"a\": 1}", png[] = "\x89PNG\r\n\x1a\n";
	put(d, &run, "d/hi.txt", "text/plain", hi, sizeof hi - 1);
	put(d, &run, "d/sub/deep.json", "application/json", deep, sizeof deep - 1);
	put(d, &run, "d/sub/plot.png", "image/png", png, sizeof png - 1);

	struct resp r = list(d, &run, "");
	expect_file_info(files_of(&r, 1), 0, "d", -1);
	resp_free(&r);
	r = list(d, &run, "d");
	json_t *files = files_of(&r, 2);
	expect_file_info(files, 0, "hi.txt", 3);
	expect_file_info(files, 1, "sub", -1);
	resp_free(&r);
	r = list(d, &run, "d/sub");
	files = files_of(&r, 2);
	expect_file_info(files, 0, "deep.json", 8);
	expect_file_info(files, 1, "plot.png", 8);
	resp_free(&r);
	r = list(d, &run, "d/sub/"); /* a trailing slash names the same directory */
	files_of(&r, 2);
	resp_free(&r);

	expect_download(d, &run, "d/hi.txt", "text/plain", "hi.txt", hi, sizeof hi - 1);
	expect_download(d, &run, "d/sub/deep.json", "text/plain", "deep.json", deep, sizeof deep - 1);
	expect_download(d, &run, "d/sub/plot.png", "image/png", "plot.png", png, sizeof png - 1);

	/* the tracking-side listing: run-relative paths and the root URI */
	char path[512];
	snprintf(path, sizeof path, "/api/2.0/mlflow/artifacts/list?run_id=%s&path=d", run.id);
	r = call(d, "GET", path, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_object_size(r.json), 2);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "root_uri")), run.uri);
	files = files_of(&r, 2);
	expect_file_info(files, 0, "d/hi.txt", 3);
	expect_file_info(files, 1, "d/sub", -1);
	resp_free(&r);
	snprintf(path, sizeof path, "/api/2.0/mlflow/artifacts/list?run_uuid=%s", run.id);
	r = call(d, "GET", path, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "root_uri")), run.uri);
	expect_file_info(files_of(&r, 1), 0, "d", -1);
	resp_free(&r);
	snprintf(path, sizeof path, "/api/2.0/mlflow/artifacts/list?run_id=%s&path=nothing/here", run.id);
	r = call(d, "GET", path, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_object_size(r.json), 1); /* root_uri alone */
	resp_free(&r);
	th_daemon_stop(d);
}
END_TEST

START_TEST(binary_3mb_byte_exact)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	size_t len = 3 * 1024 * 1024;
	unsigned char *data = malloc(len);
	ck_assert_ptr_nonnull(data);
	unsigned x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	memset(data + 1000, 0, 4096); /* NULs in the middle */
	put(d, &run, "model/weights.bin", "application/octet-stream", data, len);
	struct resp r = list(d, &run, "model");
	expect_file_info(files_of(&r, 1), 0, "weights.bin", (long long)len);
	resp_free(&r);
	expect_download(d, &run, "model/weights.bin", "application/octet-stream", "weights.bin", data, len);
	free(data);
	th_daemon_stop(d);
}
END_TEST

START_TEST(overwrite_and_empty_file)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	put(d, &run, "a.txt", "text/plain", "one", 3);
	put(d, &run, "a.txt", "text/plain", "second version", 14);
	struct resp r = list(d, &run, "");
	expect_file_info(files_of(&r, 1), 0, "a.txt", 14);
	resp_free(&r);
	expect_download(d, &run, "a.txt", "text/plain", "a.txt", "second version", 14);

	put(d, &run, "empty.log", "text/plain", "", 0);
	r = list(d, &run, "");
	json_t *files = files_of(&r, 2);
	expect_file_info(files, 0, "a.txt", 14);
	expect_file_info(files, 1, "empty.log", 0);
	resp_free(&r);
	expect_download(d, &run, "empty.log", "text/plain", "empty.log", "", 0);

	/* a file where a directory is, and a directory where a file is: 409, nothing written */
	char path[512];
	snprintf(path, sizeof path, ART "/%s/a.txt/inner.txt", run.root);
	r = call(d, "PUT", path, "text/plain", "x", 1);
	expect_error(&r, 409, "RESOURCE_CONFLICT", NULL);
	resp_free(&r);
	put(d, &run, "dir/f.txt", "text/plain", "f", 1);
	snprintf(path, sizeof path, ART "/%s/dir", run.root);
	r = call(d, "PUT", path, "text/plain", "x", 1);
	expect_error(&r, 409, "RESOURCE_CONFLICT", NULL);
	resp_free(&r);
	r = list(d, &run, "");
	files = files_of(&r, 3);
	expect_file_info(files, 0, "a.txt", 14);
	expect_file_info(files, 1, "dir", -1);
	expect_file_info(files, 2, "empty.log", 0);
	resp_free(&r);
	th_daemon_stop(d);
}
END_TEST

START_TEST(delete_file_and_tree)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	put(d, &run, "keep.txt", "text/plain", "k", 1);
	put(d, &run, "d/hi.txt", "text/plain", "hi", 2);
	put(d, &run, "d/sub/x.bin", "application/octet-stream", "xx", 2);
	put(d, &run, "d2/y.txt", "text/plain", "y", 1); /* "d2" shares a prefix with "d" */

	char path[512];
	snprintf(path, sizeof path, ART "/%s/d/hi.txt", run.root);
	struct resp r = call(d, "DELETE", path, NULL, NULL, 0);
	expect_ok_empty(&r);
	resp_free(&r);
	r = call(d, "GET", path, NULL, NULL, 0);
	expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	resp_free(&r);
	r = list(d, &run, "d");
	expect_file_info(files_of(&r, 1), 0, "sub", -1);
	resp_free(&r);

	snprintf(path, sizeof path, ART "/%s/d", run.root);
	r = call(d, "DELETE", path, NULL, NULL, 0);
	expect_ok_empty(&r);
	resp_free(&r);
	r = list(d, &run, "");
	json_t *files = files_of(&r, 2);
	expect_file_info(files, 0, "d2", -1);
	expect_file_info(files, 1, "keep.txt", 1);
	resp_free(&r);
	r = list(d, &run, "d/sub");
	expect_ok_empty(&r);
	resp_free(&r);
	r = list(d, &run, "d2");
	expect_file_info(files_of(&r, 1), 0, "y.txt", 1);
	resp_free(&r);

	/* deleting what is not there is fine; the tree can be written again */
	r = call(d, "DELETE", path, NULL, NULL, 0);
	expect_ok_empty(&r);
	resp_free(&r);
	put(d, &run, "d/sub/x.bin", "application/octet-stream", "zz", 2);
	expect_download(d, &run, "d/sub/x.bin", "application/octet-stream", "x.bin", "zz", 2);
	th_daemon_stop(d);
}
END_TEST

START_TEST(missing_things)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	char path[512];
	snprintf(path, sizeof path, ART "/%s/nope.txt", run.root);
	struct resp r = call(d, "GET", path, NULL, NULL, 0);
	expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	resp_free(&r);
	r = list(d, &run, "no/such/dir");
	expect_ok_empty(&r);
	resp_free(&r);
	r = call(d, "GET", ART, NULL, NULL, 0); /* the whole store, empty so far */
	expect_ok_empty(&r);
	resp_free(&r);

	put(d, &run, "d/f.txt", "text/plain", "f", 1);
	snprintf(path, sizeof path, ART "/%s/d", run.root); /* a directory is not downloadable */
	r = call(d, "GET", path, NULL, NULL, 0);
	expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	resp_free(&r);
	r = list(d, &run, "d/f.txt"); /* listing a file gives nothing, as MLflow */
	expect_ok_empty(&r);
	resp_free(&r);

	r = call(d, "GET", "/api/2.0/mlflow/artifacts/list?run_id=0123456789abcdef0123456789abcdef", NULL, NULL, 0);
	expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=0123456789abcdef0123456789abcdef not found");
	resp_free(&r);
	r = call(d, "GET", "/api/2.0/mlflow/artifacts/list", NULL, NULL, 0);
	expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	resp_free(&r);

	/* multipart upload: MLflow's "not supported" answer, so the client falls back */
	snprintf(path, sizeof path, "/api/2.0/mlflow-artifacts/mpu/create/%s/big.bin", run.root);
	r = call(d, "POST", path, "application/json", "{}", 2);
	expect_error(&r, 501, "NOT_IMPLEMENTED", NULL);
	resp_free(&r);
	th_daemon_stop(d);
}
END_TEST

START_TEST(path_escapes_are_400)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	static const char *const bad_paths[] = {
		"../x.txt",
		"a/../../x.txt",
		"a/%2e%2e/%2e%2e/x.txt",
		"%2E%2E/x.txt",
		"%252e%252e/x.txt",
		"a%2f..%2fx.txt",
		"a%2Fb.txt",
		"a%5cb.txt",
		"a\\b.txt",
		"a%00b.txt",
		"a%0ab.txt",
		"a%23b",
		"%2fetc/passwd",
		"file:%2f%2f%2fetc%2fpasswd",
	};
	char path[512];
	for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
		const char *methods[] = {"PUT", "GET", "DELETE"};
		for (size_t m = 0; m < 3; m++) {
			snprintf(path, sizeof path, ART "/%s/%s", run.root, bad_paths[i]);
			struct resp r = call(d, methods[m], path, m == 0 ? "text/plain" : NULL, m == 0 ? "evil" : NULL,
					     m == 0 ? 4 : 0);
			ck_assert_msg(r.status == 400, "%s %s: %ld %s", methods[m], bad_paths[i], r.status,
				      r.body.data);
			expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
			resp_free(&r);
		}
	}
	/* absolute and leading escapes on the route itself */
	struct resp r = call(d, "PUT", ART "//etc/passwd", "text/plain", "evil", 4);
	ck_assert_int_ge(r.status, 400);
	ck_assert_int_lt(r.status, 500);
	resp_free(&r);
	r = call(d, "PUT", ART "/..", "text/plain", "evil", 4);
	expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
	resp_free(&r);

	static const char *const bad_queries[] = {
		"..", "..%2Fx", "a%2F..%2F..%2Fb", "%2Fetc", "%252e%252e", "a%5Cb", "C%3A%2Fx", "a%23b",
	};
	for (size_t i = 0; i < sizeof bad_queries / sizeof bad_queries[0]; i++) {
		snprintf(path, sizeof path, ART "?path=%s", bad_queries[i]);
		r = call(d, "GET", path, NULL, NULL, 0);
		ck_assert_msg(r.status == 400, "list %s: %ld", bad_queries[i], r.status);
		expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
		resp_free(&r);
		snprintf(path, sizeof path, "/api/2.0/mlflow/artifacts/list?run_id=%s&path=%s", run.id, bad_queries[i]);
		r = call(d, "GET", path, NULL, NULL, 0);
		expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
		resp_free(&r);
	}

	/* a refused upload with a big body is drained: the next request is answered */
	size_t big = 2 * 1024 * 1024;
	char *body = calloc(1, big);
	snprintf(path, sizeof path, ART "/%s/../big.bin", run.root);
	r = call(d, "PUT", path, "application/octet-stream", body, big);
	expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
	resp_free(&r);
	free(body);

	/* nothing at all was stored */
	r = call(d, "GET", ART, NULL, NULL, 0);
	expect_ok_empty(&r);
	resp_free(&r);
	th_daemon_stop(d);
}
END_TEST

static int count_entries(const char *dir)
{
	DIR *dd = opendir(dir);
	ck_assert_msg(dd != NULL, "cannot open %s", dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(dd));)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			n++;
	closedir(dd);
	return n;
}

START_TEST(aborted_upload_leaves_nothing)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	/* A client that dies mid-body: headers announce 10 MiB, 3 MiB come, the socket
	 * closes. (The close follows a pause: MHD 0.9.75 on epoll does not notice a FIN
	 * that arrives together with the last data, and then completes the request only at
	 * the 60 s idle timeout; the outcome is the same, later.) */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	char head[512];
	int n = snprintf(head, sizeof head,
			 "PUT " ART "/%s/partial.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
			 run.root, 10 * 1024 * 1024);
	ck_assert_int_eq(write(fd, head, (size_t)n), n);
	size_t chunk = 64 * 1024;
	char *zeros = calloc(1, chunk);
	for (size_t sent = 0; sent < 3 * 1024 * 1024; sent += chunk)
		ck_assert_int_eq(write(fd, zeros, chunk), (ssize_t)chunk);
	free(zeros);
	usleep(300 * 1000);
	close(fd);

	/* the daemon's blob store: BLOB_DIR=<tmp>/blobs-<tag>, the tag of its log file */
	const char *tag = strrchr(d->log_path, '-') + 1;
	char blob_tmp[700], objects[700];
	snprintf(blob_tmp, sizeof blob_tmp, "%s/blobs-%.16s/tmp", th_env("LATHE_TEST_TMP"), tag);
	snprintf(objects, sizeof objects, "%s/blobs-%.16s/objects", th_env("LATHE_TEST_TMP"), tag);
	int left = -1;
	for (int waited = 0; waited < 5000 && left != 0; waited += 50) {
		left = count_entries(blob_tmp);
		usleep(50 * 1000);
	}
	ck_assert_msg(left == 0, "%d partial blob(s) left in %s", left, blob_tmp);
	ck_assert_int_eq(count_entries(objects), 0);

	struct resp r = list(d, &run, "");
	expect_ok_empty(&r);
	resp_free(&r);
	char path[512];
	snprintf(path, sizeof path, ART "/%s/partial.bin", run.root);
	r = call(d, "GET", path, NULL, NULL, 0);
	expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	resp_free(&r);
	/* and the daemon goes on serving uploads */
	put(d, &run, "after.txt", "text/plain", "ok", 2);
	th_daemon_stop(d);
}
END_TEST

/* A blob store that cannot take files (its tmp directory replaced by a file: unlike a
 * chmod, that stops root too) answers 500 without naming where the store lives; the
 * log has the cause. */
START_TEST(storage_failure_names_no_path)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	struct run run;
	start_run(d, &run);
	const char *tag = strrchr(d->log_path, '-') + 1;
	char blob_tmp[700];
	snprintf(blob_tmp, sizeof blob_tmp, "%s/blobs-%.16s/tmp", th_env("LATHE_TEST_TMP"), tag);
	ck_assert_int_eq(rmdir(blob_tmp), 0);
	FILE *f = fopen(blob_tmp, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);

	th_daemon_expect_error(d, "artifact storage error");
	char path[512];
	snprintf(path, sizeof path, ART "/%s/model.bin", run.root);
	struct resp r = call(d, "PUT", path, "application/octet-stream", "bytes", 5);
	expect_error(&r, 500, "INTERNAL_ERROR", "artifact storage error");
	th_expect_no_internals(r.body.data, 0);
	ck_assert_msg(!strstr(r.body.data, "blobs-"), "the store's path leaked: %s", r.body.data);
	resp_free(&r);
	ck_assert_msg(th_daemon_log_has(d, "artifact storage error", blob_tmp), "the cause was not logged");

	/* the store mended, uploads work again */
	ck_assert_int_eq(unlink(blob_tmp), 0);
	ck_assert_int_eq(mkdir(blob_tmp, 0755), 0);
	put(d, &run, "model.bin", "application/octet-stream", "bytes", 5);
	th_daemon_stop(d);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("tracker_artifacts");
	TCase *client = tcase_create("client_sequences");
	tcase_set_timeout(client, 120);
	tcase_add_test(client, root_file_logged_listed_downloaded);
	tcase_add_test(client, nested_directory_and_run_listing);
	tcase_add_test(client, binary_3mb_byte_exact);
	tcase_add_test(client, overwrite_and_empty_file);
	tcase_add_test(client, delete_file_and_tree);
	suite_add_tcase(s, client);
	TCase *errors = tcase_create("errors");
	tcase_set_timeout(errors, 120);
	tcase_add_test(errors, missing_things);
	tcase_add_test(errors, path_escapes_are_400);
	tcase_add_test(errors, aborted_upload_leaves_nothing);
	tcase_add_test(errors, storage_failure_names_no_path);
	suite_add_tcase(s, errors);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
