/* Contract test of the inference API: keeps proto/openapi/inference-api.yaml true. (1)
 * The daemon's route table (lathe-inference-api --routes) and the document's operations
 * match both ways. (2) A client session against the real daemon (tracker, registry and
 * inference API as processes, a 4x4-image classifier published as champion) touches
 * every documented operation and the error kinds the document promises (400 bad
 * tensors, 404 unknown model or version), each response checked against the document's
 * schema for its status (th_contract_note). Finally every documented operation must
 * have answered 2xx at least once (th_contract_expect_all). */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contract.h"
#include "harness_infer.h"

#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3

static json_t *doc;
static struct th_infer_stack s;

static struct th_contract_cover cover;

static void check(const char *method, const char *path, const struct th_response *r)
{
	th_contract_note(&cover, method, path, r);
}

static void call(const char *method, const char *path, const char *body, long want)
{
	struct th_response r = th_call(s.ia, method, path, body);
	ck_assert_msg(r.status == want, "%s %s: expected %ld, got %ld: %s", method, path, want, r.status, r.body);
	check(method, path, &r);
	th_response_free(&r);
}

static void send_typed(const char *path, const char *content_type, const void *body, size_t len, long want)
{
	char *url = th_fmt("%s%s", s.ia->base_url, path);
	struct th_response r = th_http("POST", url, content_type, body, len);
	ck_assert_msg(r.status == want, "POST %s: expected %ld, got %ld: %s", path, want, r.status, r.body);
	check("POST", path, &r);
	th_response_free(&r);
	free(url);
}

START_TEST(routes_and_document_match)
{
	json_t *j = th_contract_load("inference-api");
	ck_assert_str_eq(json_string_value(json_object_get(j, "openapi")), "3.0.3");
	th_contract_routes(j, "inference-api");
	json_decref(j);
}
END_TEST

/* A 4x4 gray PNG (pixel i = i * 29 mod 256), as PIL writes it. */
static const unsigned char png[] = {137, 80,  78,  71,  13,  10, 26, 10,  0,   0,  0,   13,  73,  72,  68,  82,  0,
				    0,   0,   4,   0,   0,   0,  4,  8,   0,   0,  0,   0,   140, 154, 193, 162, 0,
				    0,   0,   28,  73,  68,  65, 84, 120, 156, 99, 100, 144, 149, 149, 101, 44,  145,
				    149, 149, 101, 124, 33,  43, 43, 203, 24,  35, 43,  43,  11,  0,   29,  32,  3,
				    25,  82,  37,  135, 200, 0,  0,  0,   0,   73, 69,  78,  68,  174, 66,  96,  130};

START_TEST(a_client_session_keeps_to_the_contract)
{
	doc = th_contract_load("inference-api");
	th_infer_start(&s, false, NULL, false);
	struct ml_package p;
	th_infer_classifier(&p, SIZE, 0, CLASSES, 3, 1.0f);
	char *v = th_infer_publish(&s, "digits", &p, "champion");
	th_infer_start_api(&s, NULL, true);
	cover = (struct th_contract_cover){.doc = doc};

	call("GET", "/healthz", NULL, 200);
	call("GET", "/readyz", NULL, 200);
	struct th_response r = th_call(s.ia, "GET", "/openapi.json", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_equal(r.json, doc));
	check("GET", "/openapi.json", &r);
	th_response_free(&r);
	call("GET", "/metrics", NULL, 200);

	/* OIP v2 */
	call("GET", "/v2", NULL, 200);
	call("GET", "/v2/health/live", NULL, 200);
	call("GET", "/v2/health/ready", NULL, 200);
	call("GET", "/v2/models/digits", NULL, 200);
	call("GET", "/v2/models/nope", NULL, 404);
	char *path = th_fmt("/v2/models/digits/versions/%s", v);
	call("GET", path, NULL, 200);
	free(path);
	call("GET", "/v2/models/digits/versions/99", NULL, 404);
	call("GET", "/v2/models/digits/ready", NULL, 200);
	call("GET", "/v2/models/nope/ready", NULL, 404);
	path = th_fmt("/v2/models/digits/versions/%s/ready", v);
	call("GET", path, NULL, 200);
	free(path);
	call("GET", "/v2/models/digits/versions/99/ready", NULL, 404);
	const char *image =
		"{\"id\": \"c1\", \"inputs\": [{\"name\": \"image\", \"shape\": [1, 1, 4, 4], \"datatype\": "
		"\"UINT8\", \"data\": [0,29,58,87,116,145,174,203,232,5,34,63,92,121,150,179]}]}";
	call("POST", "/v2/models/digits/infer", image, 200);
	path = th_fmt("/v2/models/digits/versions/%s/infer", v);
	call("POST", path, image, 200);
	free(path);
	call("POST", "/v2/models/digits/versions/99/infer", image, 404);
	call("POST", "/v2/models/nope/infer", image, 404);
	call("POST", "/v2/models/digits/infer",
	     "{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}",
	     400);
	call("POST", "/v2/models/digits/infer", "{\"inputs\": 7}", 400);

	/* MLflow scoring */
	const char *rows = "{\"inputs\": [[0,29,58,87,116,145,174,203,232,5,34,63,92,121,150,179]]}";
	call("POST", "/v2/models/digits/invocations", rows, 200);
	call("POST", "/invocations", rows, 200);
	call("POST", "/v2/models/nope/invocations", rows, 404);
	call("GET", "/ping", NULL, 200);
	call("GET", "/health", NULL, 200);
	call("GET", "/version", NULL, 200);

	/* image upload */
	send_typed("/v1/models/digits/predict", "image/png", png, sizeof png, 200);
	send_typed("/v1/models/digits/predict", "image/png", "not a png", 9, 400);

	/* the repository */
	call("GET", "/v2/repository/index", NULL, 200);
	call("POST", "/v2/repository/index", "{}", 200);
	call("POST", "/v2/repository/models/digits/unload", NULL, 200);
	call("POST", "/v2/repository/models/digits/load", NULL, 200);
	call("POST", "/v2/repository/models/nope/load", NULL, 404);

	/* 19 of the service (the index takes GET and POST) + healthz, readyz, metrics,
	 * openapi.json */
	th_contract_expect_all(&cover, 23);
	th_infer_stop(&s);
	ml_package_free(&p);
	free(v);
	json_decref(doc);
	doc = NULL;
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	Suite *su = suite_create("contract-inference");
	TCase *tc = tcase_create("contract");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, routes_and_document_match);
	tcase_add_test(tc, a_client_session_keeps_to_the_contract);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
