/* Integration tests of the data registry's frame: the real daemon on a fresh database
 * and blob store, over HTTP. Datasets (create, get, list with prefix and paging,
 * update, delete with and without force, name rules), blobs (missing, PUT, GET/HEAD,
 * a hash mismatch keeps nothing, malformed keys), manifest commits (canonical ids
 * whatever the order, same files -> the same version, parents, missing blob named,
 * size mismatch, path rules, unknown dataset/version 404, dataset auto-created, dense
 * numbers under 8 concurrent committers), references (number, id, prefix, ambiguous,
 * latest), manifest and files byte-exact with ETag / If-None-Match, profile not ready,
 * and deduplication across datasets (counted in BLOB_DIR/objects). */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/sha256.h"
#include "harness_data.h"
#include "harness.h"

static struct th_daemon *d;

static void start(void)
{
	d = th_daemon_start("data-registry", NULL, NULL);
}

static void stop(void)
{
	th_daemon_stop(d);
	d = NULL;
}

static json_t *ok_status(const char *method, const char *path, const char *body, long want)
{
	struct th_response r = th_call(d, method, path, body);
	ck_assert_msg(r.status == want, "%s %s: %ld %s", method, path, r.status, r.body);
	json_t *j = json_incref(r.json);
	ck_assert_ptr_nonnull(j);
	th_response_free(&r);
	return j;
}

static void expect(const char *method, const char *path, const char *body, long status, const char *code,
		   const char *needle)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, status, code, needle);
	th_response_free(&r);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	ck_assert_msg(s != NULL, "no string '%s'", k);
	return s;
}

static json_int_t num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	ck_assert_msg(json_is_integer(v), "no integer '%s'", k);
	return json_integer_value(v);
}

/* The id a manifest of these (path, text) pairs must get: sha256 of the sorted lines. */
static void expected_id(const struct th_data_file *files, size_t n, char out[65])
{
	const struct th_data_file *sorted[16];
	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++)
		sorted[i] = &files[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(sorted[j - 1]->path, sorted[j]->path) > 0; j--) {
			const struct th_data_file *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	char text[8192] = "";
	for (size_t i = 0; i < n; i++) {
		char key[65];
		ck_assert_int_eq(core_sha256_hex(sorted[i]->text, strlen(sorted[i]->text), key), CORE_OK);
		snprintf(text + strlen(text), sizeof text - strlen(text), "%s %zu %s\n", key, strlen(sorted[i]->text),
			 sorted[i]->path);
	}
	ck_assert_int_eq(core_sha256_hex(text, strlen(text), out), CORE_OK);
}

static const struct th_data_file iris[] = {
	{"train.csv", "a,b,label\n1,2,x\n3,4,y\n"},
	{"test.csv", "a,b,label\n5,6,x\n"},
	{"extra/more.csv", "a,b,label\n7,8,y\n"},
};

/* --- datasets ----------------------------------------------------------------------- */

START_TEST(datasets_crud_and_paging)
{
	start();
	json_t *j = ok_status("POST", "/v1/datasets",
			      "{\"name\":\"iris\",\"description\":\"flowers\",\"tags\":{\"team\":\"ml\"}}", 201);
	json_t *ds = json_object_get(j, "dataset");
	ck_assert_str_eq(str(ds, "name"), "iris");
	ck_assert_str_eq(str(ds, "description"), "flowers");
	ck_assert_str_eq(str(json_object_get(ds, "tags"), "team"), "ml");
	ck_assert_int_eq(num(ds, "version_count"), 0);
	ck_assert(json_is_null(json_object_get(ds, "latest_version")));
	ck_assert_int_gt(num(ds, "created_at"), 0);
	json_decref(j);
	expect("POST", "/v1/datasets", "{\"name\":\"iris\"}", 400, "RESOURCE_ALREADY_EXISTS", "iris");

	/* names */
	expect("POST", "/v1/datasets", "{\"name\":\"-bad\"}", 400, "INVALID_PARAMETER_VALUE", "dataset name");
	expect("POST", "/v1/datasets", "{\"name\":\"a b\"}", 400, "INVALID_PARAMETER_VALUE", "dataset name");
	expect("POST", "/v1/datasets", "{\"name\":\"a/b\"}", 400, "INVALID_PARAMETER_VALUE", "dataset name");
	expect("POST", "/v1/datasets", "{}", 400, "INVALID_PARAMETER_VALUE", "name");
	char long_name[140];
	memset(long_name, 'a', 129);
	long_name[129] = '\0';
	char *body = th_fmt("{\"name\":\"%s\"}", long_name);
	expect("POST", "/v1/datasets", body, 400, "INVALID_PARAMETER_VALUE", "dataset name");
	free(body);
	long_name[128] = '\0';
	body = th_fmt("{\"name\":\"%s\"}", long_name);
	json_decref(ok_status("POST", "/v1/datasets", body, 201));
	free(body);
	expect("POST", "/v1/datasets", "{\"name\":\"t\",\"tags\":{\"k\":1}}", 400, "INVALID_PARAMETER_VALUE", "tag");
	expect("GET", "/v1/datasets/nope", NULL, 404, "RESOURCE_DOES_NOT_EXIST", "nope");

	/* update: description kept when absent, tags replaced whole */
	j = ok_status("PATCH", "/v1/datasets/iris", "{\"tags\":{\"x\":\"1\"}}", 200);
	ds = json_object_get(j, "dataset");
	ck_assert_str_eq(str(ds, "description"), "flowers");
	ck_assert_int_eq(json_object_size(json_object_get(ds, "tags")), 1);
	ck_assert_str_eq(str(json_object_get(ds, "tags"), "x"), "1");
	json_decref(j);
	j = ok_status("PATCH", "/v1/datasets/iris", "{\"description\":\"new\"}", 200);
	ck_assert_str_eq(str(json_object_get(j, "dataset"), "description"), "new");
	json_decref(j);
	expect("PATCH", "/v1/datasets/nope", "{\"description\":\"x\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* listing: by name, prefix, pages */
	const char *names[] = {"p-c", "p-a", "p-e", "p-b", "p-d", "q"};
	for (size_t i = 0; i < 6; i++) {
		body = th_fmt("{\"name\":\"%s\"}", names[i]);
		json_decref(ok_status("POST", "/v1/datasets", body, 201));
		free(body);
	}
	json_t *seen = json_array();
	char *path = th_fmt("/v1/datasets?name_prefix=p-&max_results=2");
	for (int pages = 0; path; pages++) {
		ck_assert_int_lt(pages, 5);
		j = ok_status("GET", path, NULL, 200);
		free(path);
		path = NULL;
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(j, "datasets"), i, e)
			json_array_append_new(seen, json_string(str(e, "name")));
		const char *tok = json_string_value(json_object_get(j, "next_page_token"));
		if (tok)
			path = th_fmt("/v1/datasets?name_prefix=p-&max_results=2&page_token=%s", tok);
		json_decref(j);
	}
	ck_assert_uint_eq(json_array_size(seen), 5);
	const char *want[] = {"p-a", "p-b", "p-c", "p-d", "p-e"};
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(json_string_value(json_array_get(seen, i)), want[i]);
	json_decref(seen);
	j = ok_status("GET", "/v1/datasets", NULL, 200);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "datasets")), 8);
	ck_assert_ptr_null(json_object_get(j, "next_page_token"));
	json_decref(j);
	expect("GET", "/v1/datasets?max_results=0", NULL, 400, "INVALID_PARAMETER_VALUE", "max_results");
	expect("GET", "/v1/datasets?max_results=1001", NULL, 400, "INVALID_PARAMETER_VALUE", "max_results");
	expect("GET", "/v1/datasets?page_token=zz", NULL, 400, "INVALID_PARAMETER_VALUE", "page_token");

	/* delete without versions */
	json_decref(ok_status("DELETE", "/v1/datasets/q", NULL, 200));
	expect("GET", "/v1/datasets/q", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	expect("DELETE", "/v1/datasets/q", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	stop();
}
END_TEST

/* --- blobs -------------------------------------------------------------------------- */

START_TEST(blobs_missing_put_get)
{
	start();
	char dir[1024];
	th_data_blob_dir(d, dir, sizeof dir);
	const char *text = "hello, blob\n";
	char key[65], other[65];
	ck_assert_int_eq(core_sha256_hex(text, strlen(text), key), CORE_OK);
	ck_assert_int_eq(core_sha256_hex("x", 1, other), CORE_OK);

	char *body = th_fmt("{\"hashes\":[\"%s\",\"%s\",\"%s\"]}", key, other, key);
	json_t *j = ok_status("POST", "/v1/blobs/missing", body, 200);
	json_t *m = json_object_get(j, "missing");
	ck_assert_uint_eq(json_array_size(m), 2); /* input order, each once */
	ck_assert_str_eq(json_string_value(json_array_get(m, 0)), key);
	ck_assert_str_eq(json_string_value(json_array_get(m, 1)), other);
	json_decref(j);
	expect("POST", "/v1/blobs/missing", "{\"hashes\":[\"abc\"]}", 400, "INVALID_PARAMETER_VALUE", "hashes[0]");
	expect("POST", "/v1/blobs/missing", "{}", 400, "INVALID_PARAMETER_VALUE", "hashes");

	/* PUT: 201, then 200 (already stored) */
	char *url = th_fmt("%s/v1/blobs/%s", d->base_url, key);
	struct th_response r = th_http("PUT", url, "text/plain", text, strlen(text));
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(str(r.json, "sha256"), key);
	ck_assert_int_eq(num(r.json, "size"), (json_int_t)strlen(text));
	th_response_free(&r);
	r = th_http("PUT", url, NULL, text, strlen(text));
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	ck_assert_uint_eq(th_data_blob_count(dir), 1);

	/* GET and HEAD */
	char etag[128];
	r = th_data_http("GET", url, NULL, NULL, 0, NULL, "ETag", etag, sizeof etag);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, strlen(text));
	ck_assert(memcmp(r.body, text, r.body_len) == 0);
	char *want_etag = th_fmt("\"%s\"", key);
	ck_assert_str_eq(etag, want_etag);
	free(want_etag);
	th_response_free(&r);
	char ct[128];
	r = th_data_http("HEAD", url, NULL, NULL, 0, NULL, "Content-Type", ct, sizeof ct);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(ct, "application/octet-stream");
	th_response_free(&r);
	free(url);

	/* a mismatch: 400, nothing kept */
	url = th_fmt("%s/v1/blobs/%s", d->base_url, other);
	r = th_http("PUT", url, NULL, "not x", 5);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "nothing was stored");
	th_response_free(&r);
	r = th_http("GET", url, NULL, NULL, 0);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	free(url);
	ck_assert_uint_eq(th_data_blob_count(dir), 1);
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%s/tmp", dir);
	ck_assert_uint_eq(th_data_blob_count(dir), 1);

	/* malformed keys */
	url = th_fmt("%s/v1/blobs/ABC", d->base_url);
	r = th_http("PUT", url, NULL, "x", 1);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Invalid blob key");
	th_response_free(&r);
	free(url);
	char upper[65];
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(key[i] >= 'a' ? key[i] - 32 : key[i]);
	upper[64] = '\0';
	char *p = th_fmt("/v1/blobs/%s", upper);
	expect("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", "Invalid blob key");
	free(p);
	free(body);
	stop();
}
END_TEST

/* --- manifest commits ------------------------------------------------------------------ */

START_TEST(manifest_commit_ids_parents_refs)
{
	start();
	char id[65];
	expected_id(iris, 3, id);
	json_t *m = th_data_manifest(d, iris, 3, true);
	json_object_set_new(m, "message", json_string("first"));
	json_object_set_new(m, "label_column", json_string("label"));
	struct th_response r = th_data_commit(d, "iris", m); /* the dataset is created */
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	json_t *v = json_object_get(r.json, "version");
	ck_assert_str_eq(str(v, "id"), id);
	ck_assert_str_eq(str(v, "dataset"), "iris");
	ck_assert_int_eq(num(v, "number"), 1);
	ck_assert(json_is_null(json_object_get(v, "parent")));
	ck_assert_str_eq(str(v, "format"), "csv");
	ck_assert_str_eq(str(v, "status"), "PENDING");
	ck_assert_str_eq(str(v, "message"), "first");
	ck_assert_str_eq(str(v, "label_column"), "label");
	ck_assert_int_eq(num(v, "file_count"), 3);
	size_t total = strlen(iris[0].text) + strlen(iris[1].text) + strlen(iris[2].text);
	ck_assert_int_eq(num(v, "bytes"), (json_int_t)total);
	ck_assert(json_is_null(json_object_get(v, "ready_at")));
	ck_assert(json_is_null(json_object_get(v, "failure")));
	th_response_free(&r);

	/* the same files in another order: the same version, 200 */
	const struct th_data_file reversed[] = {iris[2], iris[1], iris[0]};
	json_t *m2 = th_data_manifest(d, reversed, 3, false);
	r = th_data_commit(d, "iris", m2);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(str(json_object_get(r.json, "version"), "id"), id);
	ck_assert_int_eq(num(json_object_get(r.json, "version"), "number"), 1);
	th_response_free(&r);
	json_decref(m2);

	/* a second version: parent is the first, format given */
	const struct th_data_file two[] = {iris[0], {"test.csv", "a,b,label\n9,9,z\n"}};
	char id2[65];
	expected_id(two, 2, id2);
	m2 = th_data_manifest(d, two, 2, true);
	json_object_set_new(m2, "format", json_string("csv"));
	r = th_data_commit(d, "iris", m2);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	v = json_object_get(r.json, "version");
	ck_assert_int_eq(num(v, "number"), 2);
	ck_assert_str_eq(str(v, "parent"), id);
	ck_assert(json_is_null(json_object_get(v, "label_column")));
	th_response_free(&r);
	json_decref(m2);

	/* the dataset counts them; latest stays null while nothing is READY */
	json_t *j = ok_status("GET", "/v1/datasets/iris", NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "dataset"), "version_count"), 2);
	ck_assert(json_is_null(json_object_get(json_object_get(j, "dataset"), "latest_version")));
	json_decref(j);

	/* references */
	j = ok_status("GET", "/v1/datasets/iris/versions/1", NULL, 200);
	ck_assert_str_eq(str(json_object_get(j, "version"), "id"), id);
	json_decref(j);
	char *p = th_fmt("/v1/datasets/iris/versions/%s", id2);
	j = ok_status("GET", p, NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "version"), "number"), 2);
	json_decref(j);
	free(p);
	p = th_fmt("/v1/datasets/iris/versions/%.8s", id);
	j = ok_status("GET", p, NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "version"), "number"), 1);
	json_decref(j);
	free(p);
	p = th_fmt("/v1/datasets/iris/versions/%.7s", id);
	expect("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", "reference");
	free(p);
	expect("GET", "/v1/datasets/iris/versions/3", NULL, 404, "RESOURCE_DOES_NOT_EXIST", "Version '3'");
	expect("GET", "/v1/datasets/iris/versions/latest", NULL, 404, "RESOURCE_DOES_NOT_EXIST", "READY");
	expect("GET", "/v1/datasets/iris/versions/0", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	expect("GET", "/v1/datasets/iris/versions/xyz", NULL, 400, "INVALID_PARAMETER_VALUE", "reference");
	expect("GET", "/v1/datasets/nope/versions/1", NULL, 404, "RESOURCE_DOES_NOT_EXIST", "nope");
	expect("GET", "/v1/datasets/iris/versions/1/profile", NULL, 409, "RESOURCE_CONFLICT", "profile not ready");

	/* list: newest first, paged */
	j = ok_status("GET", "/v1/datasets/iris/versions?max_results=1", NULL, 200);
	ck_assert_int_eq(num(json_array_get(json_object_get(j, "versions"), 0), "number"), 2);
	const char *tok = str(j, "next_page_token");
	p = th_fmt("/v1/datasets/iris/versions?max_results=1&page_token=%s", tok);
	json_decref(j);
	j = ok_status("GET", p, NULL, 200);
	ck_assert_int_eq(num(json_array_get(json_object_get(j, "versions"), 0), "number"), 1);
	ck_assert_ptr_null(json_object_get(j, "next_page_token"));
	json_decref(j);
	free(p);
	expect("GET", "/v1/datasets/nope/versions", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* an ambiguous prefix: commit versions until two ids share their first hex digit,
	 * then ask for that digit padded... a shared 8-digit prefix is out of reach, so the
	 * ambiguity is checked with all-digit refs of 8+ characters falling back to numbers */
	p = th_fmt("/v1/datasets/iris/versions/%.8s", id2);
	j = ok_status("GET", p, NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "version"), "number"), 2);
	json_decref(j);
	free(p);
	json_decref(m);
	stop();
}
END_TEST

START_TEST(manifest_commit_rejects_bad_input)
{
	start();
	json_t *m = th_data_manifest(d, iris, 2, true);
	json_decref(th_data_commit(d, "iris", m).json);
	json_decref(m);

	/* a missing blob: 400 naming the path, nothing committed */
	const struct th_data_file missing[] = {iris[0], {"zzz/never-put.csv", "never put\n"}};
	m = th_data_manifest(d, missing, 2, false);
	struct th_response r = th_data_commit(d, "other", m);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "zzz/never-put.csv");
	th_response_free(&r);
	json_decref(m);
	expect("GET", "/v1/datasets/other", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* a wrong size */
	m = th_data_manifest(d, iris, 1, false);
	json_object_set_new(json_array_get(json_object_get(m, "files"), 0), "size", json_integer(3));
	r = th_data_commit(d, "iris", m);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "size of 'train.csv'");
	th_response_free(&r);
	json_decref(m);

	/* path rules */
	const char *bad_paths[] = {"../x.csv", "a/../x.csv", "/abs.csv",      "a\\b.csv", "a//b.csv",
				   "./a.csv",  "a/",         "tab\there.csv", "",         NULL};
	for (size_t i = 0; bad_paths[i]; i++) {
		m = th_data_manifest(d, iris, 1, false);
		json_object_set_new(json_array_get(json_object_get(m, "files"), 0), "path", json_string(bad_paths[i]));
		r = th_data_commit(d, "iris", m);
		ck_assert_msg(r.status == 400, "path '%s': %ld %s", bad_paths[i], r.status, r.body);
		th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "path");
		th_response_free(&r);
		json_decref(m);
	}
	/* NUL inside a path (JSON \u0000) and invalid UTF-8 */
	char key[65];
	ck_assert_int_eq(core_sha256_hex(iris[0].text, strlen(iris[0].text), key), CORE_OK);
	char *body = th_fmt("{\"files\":[{\"path\":\"a\\u0000b.csv\",\"sha256\":\"%s\",\"size\":%zu}]}", key,
			    strlen(iris[0].text));
	expect("POST", "/v1/datasets/iris/versions", body, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(body);
	char long_path[1100];
	memset(long_path, 'a', 1025);
	memcpy(long_path + 1021, ".csv", 5);
	m = th_data_manifest(d, iris, 1, false);
	json_object_set_new(json_array_get(json_object_get(m, "files"), 0), "path", json_string(long_path));
	r = th_data_commit(d, "iris", m);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "1024");
	th_response_free(&r);
	json_decref(m);
	/* duplicates */
	const struct th_data_file dup[] = {iris[0], {"train.csv", iris[1].text}};
	m = th_data_manifest(d, dup, 2, false);
	r = th_data_commit(d, "iris", m);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "duplicate path 'train.csv'");
	th_response_free(&r);
	json_decref(m);

	/* shapes */
	expect("POST", "/v1/datasets/iris/versions", "{}", 400, "INVALID_PARAMETER_VALUE", "files");
	expect("POST", "/v1/datasets/iris/versions", "{\"files\":[]}", 400, "INVALID_PARAMETER_VALUE", "at least one");
	expect("POST", "/v1/datasets/iris/versions", "{\"files\":[{\"path\":\"a.csv\"}]}", 400,
	       "INVALID_PARAMETER_VALUE", "files[0]");
	expect("POST", "/v1/datasets/iris/versions", "{\"files\":", 400, "INVALID_PARAMETER_VALUE", "Malformed JSON");
	body = th_fmt("{\"files\":[{\"path\":\"a.csv\",\"sha256\":\"%s\",\"size\":%zu}],\"format\":\"parquet\"}", key,
		      strlen(iris[0].text));
	expect("POST", "/v1/datasets/iris/versions", body, 400, "INVALID_PARAMETER_VALUE", "format");
	free(body);
	body = th_fmt("{\"files\":[{\"path\":\"a.bin\",\"sha256\":\"%s\",\"size\":%zu}]}", key, strlen(iris[0].text));
	expect("POST", "/v1/datasets/iris/versions", body, 400, "INVALID_PARAMETER_VALUE", "format");
	free(body);
	expect("POST", "/v1/datasets/bad%20name/versions", "{}", 400, "INVALID_PARAMETER_VALUE", "dataset name");
	char *url = th_fmt("%s/v1/datasets/iris/versions", d->base_url);
	r = th_http("POST", url, "application/xml", "<x/>", 4);
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type");
	th_response_free(&r);
	free(url);

	/* nothing of the failures was committed */
	json_t *j = ok_status("GET", "/v1/datasets/iris", NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "dataset"), "version_count"), 1);
	json_decref(j);
	stop();
}
END_TEST

/* --- reads ---------------------------------------------------------------------------- */

START_TEST(manifest_and_files_byte_exact)
{
	start();
	const struct th_data_file files[] = {
		{"b.csv", "x\n2\n"}, {"a.csv", "x\n1\n"}, {"dir/with space é.csv", "x\n\"q\"\n"}};
	json_t *m = th_data_manifest(d, files, 3, true);
	struct th_response r = th_data_commit(d, "reads", m);
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);

	/* the manifest: sorted by path, exactly the committed entries */
	r = th_call(d, "GET", "/v1/datasets/reads/versions/1/manifest", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(r.json);
	json_t *got = json_object_get(r.json, "files");
	ck_assert_uint_eq(json_array_size(got), 3);
	const char *order[] = {"a.csv", "b.csv", "dir/with space é.csv"};
	for (size_t i = 0; i < 3; i++) {
		json_t *f = json_array_get(got, i);
		ck_assert_str_eq(str(f, "path"), order[i]);
		size_t k = 0;
		while (strcmp(files[k].path, order[i]) != 0)
			k++;
		char key[65];
		ck_assert_int_eq(core_sha256_hex(files[k].text, strlen(files[k].text), key), CORE_OK);
		ck_assert_str_eq(str(f, "sha256"), key);
		ck_assert_int_eq(num(f, "size"), (json_int_t)strlen(files[k].text));
	}
	th_response_free(&r);

	/* a file: bytes, ETag, Content-Type; If-None-Match -> 304 */
	char etag[128], ct[128];
	char *url = th_fmt("%s/v1/datasets/reads/versions/latest/files/a.csv", d->base_url);
	r = th_data_http("GET", url, NULL, NULL, 0, NULL, "ETag", etag, sizeof etag);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "READY"); /* nothing READY yet */
	th_response_free(&r);
	free(url);
	url = th_fmt("%s/v1/datasets/reads/versions/1/files/dir/with%%20space%%20%%C3%%A9.csv", d->base_url);
	r = th_data_http("GET", url, NULL, NULL, 0, NULL, "Content-Type", ct, sizeof ct);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, files[2].text);
	ck_assert_str_eq(ct, "text/csv");
	th_response_free(&r);
	r = th_data_http("GET", url, NULL, NULL, 0, NULL, "ETag", etag, sizeof etag);
	char key[65];
	ck_assert_int_eq(core_sha256_hex(files[2].text, strlen(files[2].text), key), CORE_OK);
	char *want = th_fmt("\"%s\"", key);
	ck_assert_str_eq(etag, want);
	th_response_free(&r);
	char *inm = th_fmt("If-None-Match: %s", want);
	r = th_data_http("GET", url, NULL, NULL, 0, inm, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 304);
	ck_assert_uint_eq(r.body_len, 0);
	th_response_free(&r);
	r = th_data_http("GET", url, NULL, NULL, 0, "If-None-Match: \"other\"", NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	free(inm);
	free(want);
	free(url);
	expect("GET", "/v1/datasets/reads/versions/1/files/none.csv", NULL, 404, "RESOURCE_DOES_NOT_EXIST", "none.csv");
	json_decref(m);
	stop();
}
END_TEST

START_TEST(large_manifest_streams_in_pages)
{
	start();
	/* 5000 files over two blobs: the manifest crosses several pages of the stream */
	char k1[65], k2[65];
	th_data_put_blob(d, "x\n1\n", 4, k1);
	th_data_put_blob(d, "x\n2\n", 4, k2);
	json_t *list = json_array();
	for (int i = 4999; i >= 0; i--) {
		char path[64];
		snprintf(path, sizeof path, "part-%05d.csv", i);
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:i}", "path", path, "sha256", i % 2 ? k1 : k2, "size", 4));
	}
	json_t *m = json_pack("{s:o}", "files", list);
	struct th_response r = th_data_commit(d, "big", m);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	ck_assert_int_eq(num(json_object_get(r.json, "version"), "file_count"), 5000);
	th_response_free(&r);
	r = th_call(d, "GET", "/v1/datasets/big/versions/1/manifest", NULL);
	ck_assert_int_eq(r.status, 200);
	json_t *files = json_object_get(r.json, "files");
	ck_assert_uint_eq(json_array_size(files), 5000);
	for (int i = 0; i < 5000; i++) {
		char path[64];
		snprintf(path, sizeof path, "part-%05d.csv", i);
		ck_assert_str_eq(str(json_array_get(files, (size_t)i), "path"), path);
	}
	th_response_free(&r);
	json_decref(m);
	stop();
}
END_TEST

/* --- dedup and delete ------------------------------------------------------------------ */

START_TEST(dedup_and_delete)
{
	start();
	char dir[1024];
	th_data_blob_dir(d, dir, sizeof dir);
	json_t *m = th_data_manifest(d, iris, 3, true);
	struct th_response r = th_data_commit(d, "one", m);
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	r = th_data_commit(d, "two", m);
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	json_decref(m);
	m = th_data_manifest(d, iris, 3, true); /* PUT again: still stored once */
	json_decref(m);
	ck_assert_uint_eq(th_data_blob_count(dir), 3);

	expect("DELETE", "/v1/datasets/one", NULL, 409, "RESOURCE_CONFLICT", "force=true");
	json_decref(ok_status("DELETE", "/v1/datasets/one?force=true", NULL, 200));
	expect("GET", "/v1/datasets/one", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	expect("GET", "/v1/datasets/one/versions/1", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	expect("DELETE", "/v1/datasets/two?force=maybe", NULL, 400, "INVALID_PARAMETER_VALUE", "force");
	/* blobs stay (the collector decides), and "two" still reads them */
	ck_assert_uint_eq(th_data_blob_count(dir), 3);
	r = th_call(d, "GET", "/v1/datasets/two/versions/1/files/train.csv", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, iris[0].text);
	th_response_free(&r);
	/* a name deleted can be used again, numbering from 1 */
	m = th_data_manifest(d, iris, 1, false);
	r = th_data_commit(d, "one", m);
	ck_assert_int_eq(r.status, 201);
	ck_assert_int_eq(num(json_object_get(r.json, "version"), "number"), 1);
	th_response_free(&r);
	json_decref(m);
	stop();
}
END_TEST

/* --- concurrency ------------------------------------------------------------------------ */

struct committer {
	int index;
	int made, failed;
	char keys[5][65];
};

static void *commit_five(void *arg)
{
	struct committer *c = arg;
	for (int i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof path, "t%d-%d.csv", c->index, i);
		json_t *m = json_pack("{s:[{s:s, s:s, s:i}]}", "files", "path", path, "sha256", c->keys[0], "size", 4);
		char *text = json_dumps(m, JSON_COMPACT);
		char *url = th_fmt("%s/v1/datasets/conc/versions", d->base_url);
		struct th_response r = th_http("POST", url, "application/json", text, strlen(text));
		if (r.status == 201)
			c->made++;
		else
			c->failed++;
		th_response_free(&r);
		free(url);
		free(text);
		json_decref(m);
	}
	return NULL;
}

START_TEST(numbers_dense_under_concurrent_commits)
{
	start();
	char key[65];
	th_data_put_blob(d, "x\n1\n", 4, key);
	pthread_t t[8];
	struct committer c[8] = {{0}};
	for (int i = 0; i < 8; i++) {
		c[i].index = i;
		snprintf(c[i].keys[0], 65, "%s", key);
		ck_assert_int_eq(pthread_create(&t[i], NULL, commit_five, &c[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(c[i].failed, 0);
		ck_assert_int_eq(c[i].made, 5);
	}
	json_t *j = ok_status("GET", "/v1/datasets/conc/versions?max_results=1000", NULL, 200);
	json_t *list = json_object_get(j, "versions");
	ck_assert_uint_eq(json_array_size(list), 40);
	for (size_t i = 0; i < 40; i++) {
		json_t *v = json_array_get(list, i);
		ck_assert_int_eq(num(v, "number"), (json_int_t)(40 - i));
		/* each parent is the version before it */
		if (i < 39)
			ck_assert_str_eq(str(v, "parent"), str(json_array_get(list, i + 1), "id"));
	}
	json_decref(j);
	stop();
}
END_TEST

static Suite *dr_suite(void)
{
	Suite *s = suite_create("data-registry-api");
	TCase *tc = tcase_create("datasets");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, datasets_crud_and_paging);
	tcase_add_test(tc, dedup_and_delete);
	suite_add_tcase(s, tc);
	tc = tcase_create("blobs");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, blobs_missing_put_get);
	suite_add_tcase(s, tc);
	tc = tcase_create("versions");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, manifest_commit_ids_parents_refs);
	tcase_add_test(tc, manifest_commit_rejects_bad_input);
	tcase_add_test(tc, manifest_and_files_byte_exact);
	tcase_add_test(tc, large_manifest_streams_in_pages);
	tcase_add_test(tc, numbers_dense_under_concurrent_commits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(dr_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
