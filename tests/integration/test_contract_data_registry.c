/* Contract test of the data registry: keeps proto/openapi/data-registry.yaml true.
 * (1) The daemon's route table (lathe-data-registry --routes) and the document's
 * operations match both ways. (2) A client session against the real daemon touches
 * every documented operation (datasets, blobs, manifest commits, reads by reference,
 * manifest, files with If-None-Match, profile, the collector, the health routes) and
 * the error kinds the document promises (400 bad names, refs, paths, missing blobs,
 * hash mismatch; 404 unknown dataset/version/file/blob; 409 delete without force and
 * profile not ready; 413; 415); each response is checked against the document's schema
 * for its status (th_contract_check). The profile is made READY in SQL, as the
 * profiler will. Finally every documented operation must have answered 2xx at least
 * once, so an operation cannot enter the document unexercised. */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contract.h"
#include "core/sha256.h"
#include "harness_data.h"
#include "harness.h"

static json_t *doc;
static struct th_daemon *d;

#define SEEN_MAX 64
static char seen[SEEN_MAX][192];
static size_t n_seen;

/* Maps a concrete path to its template: the document's operations are recorded by
 * template so the final check can compare them. */
static void record_ok(const char *method, const char *path)
{
	char p[192];
	snprintf(p, sizeof p, "%s", path);
	p[strcspn(p, "?")] = '\0';
	static const char *const templates[] = {"/v1/datasets/{name}/versions/{ref}/files/{path}",
						"/v1/datasets/{name}/versions/{ref}/manifest",
						"/v1/datasets/{name}/versions/{ref}/profile",
						"/v1/datasets/{name}/versions/{ref}",
						"/v1/datasets/{name}/versions",
						"/v1/datasets/{name}",
						"/v1/blobs/{sha256}",
						"/v1/datasets/{name}/versions/{ref}/splits",
						"/v1/datasets/{name}/versions/{ref}/splits/{split}",
						"/v1/datasets/{name}/versions/{ref}/splits/{split}/items",
						"/v1/datasets/{name}/versions/{ref}/tensors",
						NULL};
	const char *tmpl = p;
	if (strncmp(p, "/v1/datasets/", 13) == 0 ||
	    (strncmp(p, "/v1/blobs/", 10) == 0 && strcmp(p, "/v1/blobs/missing"))) {
		int slashes = 0;
		for (const char *c = p; *c; c++)
			slashes += *c == '/';
		bool blob = strncmp(p, "/v1/blobs/", 10) == 0;
		if (blob)
			tmpl = templates[6];
		else if (strstr(p, "/files/"))
			tmpl = templates[0];
		else if (slashes == 6 && strstr(p, "/splits"))
			tmpl = templates[7];
		else if (slashes == 7 && strstr(p, "/splits/"))
			tmpl = templates[8];
		else if (slashes == 8 && strstr(p, "/splits/"))
			tmpl = templates[9];
		else if (slashes == 6 && strstr(p, "/tensors"))
			tmpl = templates[10];
		else if (slashes == 6 && strstr(p, "/manifest"))
			tmpl = templates[1];
		else if (slashes == 6 && strstr(p, "/profile"))
			tmpl = templates[2];
		else if (slashes == 5)
			tmpl = templates[3];
		else if (slashes == 4)
			tmpl = templates[4];
		else
			tmpl = templates[5];
	}
	char key[192];
	snprintf(key, sizeof key, "%.8s %.160s", method, tmpl);
	for (size_t i = 0; i < n_seen; i++)
		if (strcmp(seen[i], key) == 0)
			return;
	ck_assert_uint_lt(n_seen, SEEN_MAX);
	snprintf(seen[n_seen++], sizeof seen[0], "%s", key);
}

static void expect_every_operation_seen(void)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
	const char *tmpl;
	json_t *item;
	size_t n_ops = 0;
	json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
	{
		for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
			char lower[8];
			size_t k = 0;
			for (; methods[m][k]; k++)
				lower[k] = (char)(methods[m][k] + 32);
			lower[k] = '\0';
			if (!json_object_get(item, lower))
				continue;
			n_ops++;
			char key[192];
			snprintf(key, sizeof key, "%s %.160s", methods[m], tmpl);
			bool found = false;
			for (size_t i = 0; i < n_seen && !found; i++)
				found = strcmp(seen[i], key) == 0;
			ck_assert_msg(found, "the session never got a 2xx from %s", key);
		}
	}
	/* 21 data registry operations (5 of them splits and tensors) + healthz, readyz,
	 * metrics, openapi.json */
	ck_assert_uint_eq(n_ops, 25);
}

static void check(const char *method, const char *path, const struct th_response *r)
{
	th_contract_check(doc, method, path, r);
	if (r->status >= 200 && r->status < 300)
		record_ok(method, path);
}

static json_t *call(const char *method, const char *path, const char *body, long want)
{
	struct th_response r = th_call(d, method, path, body);
	ck_assert_msg(r.status == want, "%s %s: expected %ld, got %ld: %s", method, path, want, r.status, r.body);
	check(method, path, &r);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

static void ok_(const char *method, const char *path, const char *body)
{
	json_decref(call(method, path, body, 200));
}

static void fails(const char *method, const char *path, const char *body, long status, const char *code,
		  const char *needle)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, status, code, needle);
	check(method, path, &r);
	th_response_free(&r);
}

/* A raw request (any body, content type, one header) checked against the document. */
static struct th_response raw(const char *method, const char *path, const char *ct, const void *body, size_t len,
			      const char *header)
{
	char *url = th_fmt("%s%s", d->base_url, path);
	struct th_response r = th_data_http(method, url, ct, body, len, header, NULL, NULL, 0);
	free(url);
	check(method, path, &r);
	return r;
}

static void sql(const char *text)
{
	PGconn *c = PQconnectdb(d->database_url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET search_path TO data"));
	PGresult *res = PQexec(c, text);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", text, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

START_TEST(routes_and_document_match)
{
	json_t *j = th_contract_load("data-registry");
	ck_assert_str_eq(json_string_value(json_object_get(j, "openapi")), "3.0.3");
	th_contract_routes(j, "data-registry");
	json_decref(j);
}
END_TEST

START_TEST(a_client_session_keeps_to_the_contract)
{
	doc = th_contract_load("data-registry");
	/* the profiler off: versions stay PENDING until the test makes one READY in SQL */
	const char *env[] = {"BLOB_GC_GRACE_S=0", "BLOB_MAX_BYTES=1024", "PROFILE_POLL_MS=0", NULL};
	d = th_daemon_start("data-registry", NULL, env);
	n_seen = 0;

	ok_("GET", "/healthz", NULL);
	ok_("GET", "/readyz", NULL);
	json_t *served = call("GET", "/openapi.json", NULL, 200);
	ck_assert(json_equal(served, doc));
	json_decref(served);
	struct th_response r = th_call(d, "GET", "/metrics", NULL);
	ck_assert_int_eq(r.status, 200);
	check("GET", "/metrics", &r);
	th_response_free(&r);

	/* datasets */
	json_decref(
		call("POST", "/v1/datasets", "{\"name\":\"iris\",\"description\":\"d\",\"tags\":{\"a\":\"b\"}}", 201));
	fails("POST", "/v1/datasets", "{\"name\":\"iris\"}", 400, "RESOURCE_ALREADY_EXISTS", NULL);
	fails("POST", "/v1/datasets", "{\"name\":\"../x\"}", 400, "INVALID_PARAMETER_VALUE", "dataset name");
	fails("POST", "/v1/datasets", "{\"name\":", 400, "INVALID_PARAMETER_VALUE", NULL);
	r = raw("POST", "/v1/datasets", "text/plain", "x", 1, NULL);
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
	th_response_free(&r);
	ok_("GET", "/v1/datasets/iris", NULL);
	fails("GET", "/v1/datasets/nope", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", "/v1/datasets/-x", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	ok_("PATCH", "/v1/datasets/iris", "{\"tags\":{}}");
	fails("PATCH", "/v1/datasets/nope", "{}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("PATCH", "/v1/datasets/iris", "{\"description\":1}", 400, "INVALID_PARAMETER_VALUE", NULL);
	ok_("GET", "/v1/datasets?max_results=1", NULL);
	fails("GET", "/v1/datasets?max_results=0", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);

	/* blobs */
	const char *text = "x,label\n1,a\n2,b\n";
	char key[65];
	ck_assert_int_eq(core_sha256_hex(text, strlen(text), key), CORE_OK);
	char *body = th_fmt("{\"hashes\":[\"%s\"]}", key);
	ok_("POST", "/v1/blobs/missing", body);
	free(body);
	fails("POST", "/v1/blobs/missing", "{\"hashes\":[1]}", 400, "INVALID_PARAMETER_VALUE", NULL);
	char *bp = th_fmt("/v1/blobs/%s", key);
	r = raw("PUT", bp, "application/octet-stream", text, strlen(text), NULL);
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	r = raw("PUT", bp, "application/octet-stream", text, strlen(text), NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	r = raw("PUT", bp, "application/octet-stream", "other", 5, NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	th_response_free(&r);
	char big[2048];
	memset(big, 'b', sizeof big);
	r = raw("PUT", bp, "application/octet-stream", big, sizeof big, NULL);
	th_expect_error(&r, 413, "REQUEST_TOO_LARGE", "BLOB_MAX_BYTES");
	th_response_free(&r);
	r = raw("GET", bp, NULL, NULL, 0, NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	fails("GET", "/v1/blobs/0000000000000000000000000000000000000000000000000000000000000000", NULL, 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", "/v1/blobs/xyz", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(bp);

	/* commits */
	body = th_fmt(
		"{\"files\":[{\"path\":\"train.csv\",\"sha256\":\"%s\",\"size\":%zu}],\"label_column\":\"label\"}", key,
		strlen(text));
	json_decref(call("POST", "/v1/datasets/iris/versions", body, 201));
	json_decref(call("POST", "/v1/datasets/iris/versions", body, 200));
	free(body);
	body = th_fmt("{\"files\":[{\"path\":\"../train.csv\",\"sha256\":\"%s\",\"size\":%zu}]}", key, strlen(text));
	fails("POST", "/v1/datasets/iris/versions", body, 400, "INVALID_PARAMETER_VALUE", "path");
	free(body);
	body = th_fmt("{\"files\":[{\"path\":\"m.csv\",\"sha256\":\"%064d\",\"size\":1}]}", 0);
	fails("POST", "/v1/datasets/iris/versions", body, 400, "INVALID_PARAMETER_VALUE", "m.csv");
	free(body);
	r = raw("POST", "/v1/datasets/iris/versions", "application/xml", "<x/>", 4, NULL);
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
	th_response_free(&r);
	r = raw("POST", "/v1/datasets/iris/versions?filename=more.csv", "text/csv", text, strlen(text), NULL);
	ck_assert_msg(r.status == 201, "upload: %ld %s", r.status, r.body);
	th_response_free(&r);
	r = raw("POST", "/v1/datasets/iris/versions", "text/csv", "a,b\n1\n", 6, NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	th_response_free(&r);

	/* reads */
	ok_("GET", "/v1/datasets/iris/versions", NULL);
	fails("GET", "/v1/datasets/nope/versions", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	ok_("GET", "/v1/datasets/iris/versions/1", NULL);
	fails("GET", "/v1/datasets/iris/versions/latest", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", "/v1/datasets/iris/versions/abc", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	ok_("GET", "/v1/datasets/iris/versions/1/manifest", NULL);
	fails("GET", "/v1/datasets/iris/versions/99/manifest", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	r = raw("GET", "/v1/datasets/iris/versions/1/files/train.csv", NULL, NULL, 0, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, text);
	th_response_free(&r);
	char *inm = th_fmt("If-None-Match: \"%s\"", key);
	r = raw("GET", "/v1/datasets/iris/versions/1/files/train.csv", NULL, NULL, 0, inm);
	ck_assert_int_eq(r.status, 304);
	th_response_free(&r);
	free(inm);
	fails("GET", "/v1/datasets/iris/versions/1/files/nope.csv", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", "/v1/datasets/iris/versions/1/profile", NULL, 409, "RESOURCE_CONFLICT", "profile not ready");
	const char *profile = "{\"items\":2}";
	char pkey[65];
	th_data_put_blob(d, profile, strlen(profile), pkey);
	char *q = th_fmt("UPDATE versions SET status = 'READY', ready_at = 2, profile_sha = '%s'", pkey);
	sql(q);
	free(q);
	json_t *j = call("GET", "/v1/datasets/iris/versions/1/profile", NULL, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "items")), 2);
	json_decref(j);
	ok_("GET", "/v1/datasets/iris/versions/latest", NULL);

	/* splits and tensors (dr-split) */
	const char *split = "{\"name\":\"s\",\"fractions\":{\"train\":0.5,\"test\":0.5},\"seed\":1}";
	json_decref(call("POST", "/v1/datasets/iris/versions/1/splits", split, 201));
	json_decref(call("POST", "/v1/datasets/iris/versions/1/splits", split, 200));
	fails("POST", "/v1/datasets/iris/versions/1/splits",
	      "{\"name\":\"s\",\"fractions\":{\"train\":0.5,\"test\":0.5},\"seed\":2}", 409, "RESOURCE_CONFLICT", NULL);
	fails("POST", "/v1/datasets/iris/versions/1/splits", "{\"name\":\"t\",\"fractions\":{\"a\":2}}", 400,
	      "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", "/v1/datasets/iris/versions/9/splits", split, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	ok_("GET", "/v1/datasets/iris/versions/1/splits", NULL);
	ok_("GET", "/v1/datasets/iris/versions/1/splits/s", NULL);
	fails("GET", "/v1/datasets/iris/versions/1/splits/nope", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	ok_("GET", "/v1/datasets/iris/versions/1/splits/s/items", NULL);
	r = raw("GET", "/v1/datasets/iris/versions/1/tensors", NULL, NULL, 0, NULL);
	ck_assert_msg(r.status == 200, "tensors: %ld %s", r.status, r.body);
	th_response_free(&r);
	r = raw("GET", "/v1/datasets/iris/versions/1/tensors", NULL, NULL, 0, "Range: bytes=0-7");
	ck_assert_int_eq(r.status, 206);
	ck_assert_uint_eq(r.body_len, 8);
	th_response_free(&r);
	fails("GET", "/v1/datasets/iris/versions/1/tensors?size=8", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("GET", "/v1/datasets/iris/versions/1/tensors?split=nope", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* the collector */
	ok_("GET", "/v1/admin/gc?dry_run=true", NULL);
	fails("GET", "/v1/admin/gc?dry_run=false", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	ok_("POST", "/v1/admin/gc", "{\"dry_run\":true}");
	ok_("POST", "/v1/admin/gc", NULL);

	/* deletes */
	fails("DELETE", "/v1/datasets/iris", NULL, 409, "RESOURCE_CONFLICT", NULL);
	fails("DELETE", "/v1/datasets/iris?force=yes", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	ok_("DELETE", "/v1/datasets/iris?force=true", NULL);
	fails("DELETE", "/v1/datasets/iris", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	expect_every_operation_seen();
	th_daemon_stop(d);
	d = NULL;
	json_decref(doc);
	doc = NULL;
}
END_TEST

static Suite *contract_suite(void)
{
	Suite *s = suite_create("contract-data-registry");
	TCase *tc = tcase_create("contract");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, routes_and_document_match);
	tcase_add_test(tc, a_client_session_keeps_to_the_contract);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(contract_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
