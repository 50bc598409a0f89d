/* The Open Inference Protocol v2 routes of the inference API (h_oip.c), with tracker,
 * registry and inference API as real processes (harness_infer.h) and a classifier of
 * 4x4 gray images whose weights the test chose: health and server metadata; model
 * metadata (platform, versions, inputs and outputs with datatype and shape); readiness;
 * infer in the JSON form (flat and nested data, FP32 and UINT8, [N, C, H, W], [N, H, W]
 * and [N, C*H*W]), the request id echoed, requested outputs, the binary tensor data
 * extension in and out; every answer's probabilities within 1e-5 of the test's own
 * forward pass in plain C loops (th_infer_forward), labels its argmax. Then bad input:
 * wrong shape, datatype, pixel values, too few binary bytes, an unknown output, model or
 * version: 4xx with {"error": "..."}, and the daemon keeps answering. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness_infer.h"

#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3
#define ROWS    2

static struct th_infer_stack s;
static struct ml_package pkg;
static char *version;
static float raw[ROWS * PIXELS];
static float want[ROWS * CLASSES];

static void setup(void)
{
	th_infer_start(&s, false, NULL, false);
	th_infer_classifier(&pkg, SIZE, 8, CLASSES, 7, 2.0f);
	version = th_infer_publish(&s, "digits", &pkg, "champion");
	th_infer_start_api(&s, NULL, true);
	for (size_t r = 0; r < ROWS; r++)
		for (size_t i = 0; i < PIXELS; i++)
			raw[r * PIXELS + i] = (float)((r * 101 + i * 29) % 256);
	th_infer_forward(&pkg, raw, ROWS, want);
}

static void teardown(void)
{
	th_infer_stop(&s);
	ml_package_free(&pkg);
	free(version);
}

/* The class the forward pass picks for row r. */
static const char *want_label(size_t r)
{
	size_t best = 0;
	for (size_t j = 1; j < CLASSES; j++)
		if (want[r * CLASSES + j] > want[r * CLASSES + best])
			best = j;
	return json_string_value(json_array_get(pkg.class_names, best));
}

static json_t *output(json_t *resp, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(resp, "outputs"), i,
			   o) if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0) return o;
	return NULL;
}

/* A JSON infer answer: probabilities and labels as the forward pass says. */
static void expect_outputs(json_t *resp)
{
	ck_assert_str_eq(json_string_value(json_object_get(resp, "model_name")), "digits");
	ck_assert_str_eq(json_string_value(json_object_get(resp, "model_version")), version);
	json_t *p = output(resp, "probabilities");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(json_string_value(json_object_get(p, "datatype")), "FP32");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(p, "shape"), 0)), ROWS);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(p, "shape"), 1)), CLASSES);
	json_t *data = json_object_get(p, "data");
	ck_assert_uint_eq(json_array_size(data), ROWS * CLASSES);
	for (size_t i = 0; i < ROWS * CLASSES; i++)
		ck_assert_double_eq_tol(json_number_value(json_array_get(data, i)), want[i], 1e-5);
	json_t *l = output(resp, "label");
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(json_string_value(json_object_get(l, "datatype")), "BYTES");
	for (size_t r = 0; r < ROWS; r++)
		ck_assert_str_eq(json_string_value(json_array_get(json_object_get(l, "data"), r)), want_label(r));
}

static struct th_response post(const char *path, const char *body)
{
	struct th_response r = th_call(s.ia, "POST", path, body);
	return r;
}

/* The raw images as a JSON array: flat, or nested [N][1][H][W]. */
static char *pixels_json(bool nested)
{
	json_t *a = json_array();
	for (size_t r = 0; r < ROWS; r++) {
		json_t *img = json_array(), *plane = json_array();
		for (size_t y = 0; y < SIZE; y++) {
			json_t *row = json_array();
			for (size_t x = 0; x < SIZE; x++) {
				json_t *v = json_integer((json_int_t)raw[r * PIXELS + y * SIZE + x]);
				if (nested)
					json_array_append(row, v);
				else
					json_array_append(a, v);
				json_decref(v);
			}
			json_array_append_new(plane, row);
		}
		json_array_append_new(img, plane);
		if (nested)
			json_array_append_new(a, img);
		else
			json_decref(img);
	}
	char *t = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return t;
}

START_TEST(metadata_health_and_readiness)
{
	json_t *j = th_ok(s.ia, "GET", "/v2", NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "lathe-inference-api");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "version")));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "extensions"), 0)), "binary_tensor_data");
	json_decref(j);
	j = th_ok(s.ia, "GET", "/v2/health/live", NULL);
	ck_assert(json_is_true(json_object_get(j, "live")));
	json_decref(j);
	j = th_ok(s.ia, "GET", "/v2/health/ready", NULL);
	ck_assert(json_is_true(json_object_get(j, "ready")));
	json_decref(j);

	char *path = th_fmt("/v2/models/digits/versions/%s", version);
	static const char *const metas[] = {"/v2/models/digits", NULL};
	for (int k = 0; k < 2; k++) {
		j = th_ok(s.ia, "GET", k ? path : metas[0], NULL);
		ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "digits");
		ck_assert_str_eq(json_string_value(json_object_get(j, "platform")), "lathe");
		ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "versions"), 0)), version);
		json_t *in = json_array_get(json_object_get(j, "inputs"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(in, "datatype")), "FP32");
		json_t *shape = json_object_get(in, "shape");
		ck_assert_uint_eq(json_array_size(shape), 4);
		ck_assert_int_eq(json_integer_value(json_array_get(shape, 0)), -1);
		ck_assert_int_eq(json_integer_value(json_array_get(shape, 1)), 1);
		ck_assert_int_eq(json_integer_value(json_array_get(shape, 2)), SIZE);
		ck_assert_int_eq(json_integer_value(json_array_get(shape, 3)), SIZE);
		json_t *outs = json_object_get(j, "outputs");
		ck_assert_uint_eq(json_array_size(outs), 2);
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outs, 0), "name")), "probabilities");
		ck_assert_int_eq(
			json_integer_value(json_array_get(json_object_get(json_array_get(outs, 0), "shape"), 1)),
			CLASSES);
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outs, 1), "datatype")), "BYTES");
		json_decref(j);
	}
	free(path);
	j = th_ok(s.ia, "GET", "/v2/models/digits/ready", NULL);
	ck_assert(json_is_true(json_object_get(j, "ready")));
	json_decref(j);
	path = th_fmt("/v2/models/digits/versions/%s/ready", version);
	json_decref(th_ok(s.ia, "GET", path, NULL));
	free(path);

	static const char *const missing[] = {"/v2/models/nope", "/v2/models/nope/ready",
					      "/v2/models/digits/versions/99", "/v2/models/digits/versions/99/ready"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		struct th_response r = th_call(s.ia, "GET", missing[i], NULL);
		ck_assert_msg(r.status == 404, "%s: %ld %s", missing[i], r.status, r.body);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(r.json, "error")));
		th_response_free(&r);
	}
}
END_TEST

START_TEST(json_infer_flat_nested_and_outputs)
{
	/* flat FP32 [N, C*H*W] through the harness's client */
	struct th_response r = th_infer_oip(s.ia, "digits", NULL, raw, ROWS, PIXELS);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	expect_outputs(r.json);
	th_response_free(&r);

	/* nested UINT8 [N, 1, H, W], an id to echo, members in another order */
	char *nested = pixels_json(true), *flat = pixels_json(false);
	char *body = th_fmt("{\"inputs\": [{\"data\": %s, \"datatype\": \"UINT8\", \"shape\": [%d, 1, %d, %d], "
			    "\"name\": \"image\"}], \"id\": \"req-42\", \"parameters\": {\"note\": \"x\"}}",
			    nested, ROWS, SIZE, SIZE);
	r = post("/v2/models/digits/infer", body);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "id")), "req-42");
	expect_outputs(r.json);
	th_response_free(&r);
	free(body);

	/* [N, H, W] (one channel), FP64, on the version's own path */
	body = th_fmt("{\"inputs\": [{\"name\": \"image\", \"shape\": [%d, %d, %d], \"datatype\": \"FP64\", \"data\": "
		      "%s}]}",
		      ROWS, SIZE, SIZE, flat);
	char *path = th_fmt("/v2/models/digits/versions/%s/infer", version);
	r = post(path, body);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	expect_outputs(r.json);
	ck_assert_ptr_null(json_object_get(r.json, "id"));
	th_response_free(&r);
	free(body);

	/* only the label, asked for by name */
	body = th_fmt(
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [%d, %d], \"datatype\": \"UINT8\", \"data\": %s}], "
		"\"outputs\": [{\"name\": \"label\"}]}",
		ROWS, PIXELS, flat);
	r = post("/v2/models/digits/infer", body);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_uint_eq(json_array_size(json_object_get(r.json, "outputs")), 1);
	json_t *l = output(r.json, "label");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(l, "shape"), 0)), ROWS);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(l, "data"), 1)), want_label(1));
	th_response_free(&r);
	free(body);
	free(path);
	free(nested);
	free(flat);
}
END_TEST

/* --- the binary extension: a client of our own on libcurl -------------------------- */

struct bin_reply {
	long status;
	char *body;
	size_t len;
	long header_len; /* Inference-Header-Content-Length, -1 when absent */
	char content_type[128];
};

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
	struct bin_reply *r = cls;
	r->body = realloc(r->body, r->len + size * n + 1);
	memcpy(r->body + r->len, p, size * n);
	r->len += size * n;
	r->body[r->len] = 0;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct bin_reply *r = cls;
	static const char h[] = "inference-header-content-length:";
	if (size * n > sizeof h && strncasecmp(p, h, sizeof h - 1) == 0)
		r->header_len = strtol(p + sizeof h - 1, NULL, 10);
	return size * n;
}

/* POSTs json followed by tail with Inference-Header-Content-Length (hlen < 0: the JSON's). */
static struct bin_reply post_binary(const char *json, const void *tail, size_t tail_len, long hlen)
{
	struct bin_reply r = {.header_len = -1};
	size_t jl = strlen(json);
	char *body = malloc(jl + tail_len + 1);
	memcpy(body, json, jl);
	if (tail_len)
		memcpy(body + jl, tail, tail_len);
	char *url = th_fmt("%s/v2/models/digits/infer", s.ia->base_url);
	char hdr[96];
	snprintf(hdr, sizeof hdr, "Inference-Header-Content-Length: %ld", hlen < 0 ? (long)jl : hlen);
	struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	hs = curl_slist_append(hs, hdr);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(jl + tail_len));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r.content_type, sizeof r.content_type, "%s", ct ? ct : "");
	curl_easy_cleanup(c);
	curl_slist_free_all(hs);
	free(url);
	free(body);
	return r;
}

START_TEST(binary_in_and_out)
{
	char *json = th_fmt("{\"inputs\": [{\"name\": \"image\", \"shape\": [%d, %d], \"datatype\": \"FP32\", "
			    "\"parameters\": {\"binary_data_size\": %zu}}], \"id\": \"b1\", "
			    "\"parameters\": {\"binary_data_output\": true}}",
			    ROWS, PIXELS, sizeof raw);
	struct bin_reply r = post_binary(json, raw, sizeof raw, -1);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(r.content_type, "application/octet-stream");
	ck_assert_int_gt(r.header_len, 0);
	ck_assert_int_lt(r.header_len, (long)r.len);
	json_t *head = json_loadb(r.body, (size_t)r.header_len, 0, NULL);
	ck_assert_ptr_nonnull(head);
	ck_assert_str_eq(json_string_value(json_object_get(head, "id")), "b1");
	/* probabilities [N, K] little-endian floats, then the labels length-prefixed */
	json_t *p = output(head, "probabilities"), *l = output(head, "label");
	size_t psize =
		(size_t)json_integer_value(json_object_get(json_object_get(p, "parameters"), "binary_data_size"));
	size_t lsize =
		(size_t)json_integer_value(json_object_get(json_object_get(l, "parameters"), "binary_data_size"));
	ck_assert_uint_eq(psize, ROWS * CLASSES * sizeof(float));
	ck_assert_uint_eq((size_t)r.header_len + psize + lsize, r.len);
	ck_assert_ptr_null(json_object_get(p, "data"));
	const char *at = r.body + r.header_len;
	for (size_t i = 0; i < ROWS * CLASSES; i++) {
		float f;
		memcpy(&f, at + i * sizeof f, sizeof f);
		ck_assert_double_eq_tol(f, want[i], 1e-5);
	}
	at += psize;
	for (size_t row = 0; row < ROWS; row++) {
		uint32_t n;
		memcpy(&n, at, 4);
		ck_assert_uint_eq(n, strlen(want_label(row)));
		ck_assert_int_eq(memcmp(at + 4, want_label(row), n), 0);
		at += 4 + n;
	}
	json_decref(head);
	free(r.body);
	free(json);

	/* binary in, JSON out (the label binary only, by name) */
	unsigned char u8[ROWS * PIXELS];
	for (size_t i = 0; i < sizeof u8; i++)
		u8[i] = (unsigned char)raw[i];
	json = th_fmt("{\"inputs\": [{\"name\": \"image\", \"shape\": [%d, 1, %d, %d], \"datatype\": \"UINT8\", "
		      "\"parameters\": {\"binary_data_size\": %zu}}], \"outputs\": [{\"name\": \"probabilities\"}, "
		      "{\"name\": \"label\", \"parameters\": {\"binary_data\": false}}]}",
		      ROWS, SIZE, SIZE, sizeof u8);
	r = post_binary(json, u8, sizeof u8, -1);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_int_eq(r.header_len, -1);
	json_t *j = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	expect_outputs(j);
	json_decref(j);
	free(r.body);

	/* too few bytes, too many, and a header that cuts the JSON */
	static const long cuts[] = {-1, -1, 10};
	static const size_t lens[] = {ROWS * PIXELS - 1, ROWS * PIXELS + 1, ROWS * PIXELS};
	unsigned char big[ROWS * PIXELS + 1] = {0};
	for (int k = 0; k < 3; k++) {
		r = post_binary(json, big, lens[k], cuts[k]);
		ck_assert_msg(r.status == 400, "%ld %s", r.status, r.body);
		j = json_loads(r.body, 0, NULL);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "error")));
		json_decref(j);
		free(r.body);
	}
	free(json);
}
END_TEST

/* A request the server must refuse with status and an OIP error naming needle. */
static void refused(const char *path, const char *body, long status, const char *needle)
{
	struct th_response r = post(path, body);
	ck_assert_msg(r.status == status, "%s: want %ld, got %ld %s", body, status, r.status, r.body);
	const char *e = json_string_value(json_object_get(r.json, "error"));
	ck_assert_msg(e != NULL, "not the OIP error shape: %s", r.body);
	ck_assert_uint_eq(json_object_size(r.json), 1);
	ck_assert_msg(!needle || strstr(e, needle), "'%s' does not say '%s'", e, needle);
	th_response_free(&r);
}

START_TEST(bad_requests_are_4xx_in_the_oip_shape)
{
	const char *p = "/v2/models/digits/infer";
	refused(p,
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 15], \"datatype\": \"FP32\", \"data\": "
		"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}]}",
		400, "shape must be");
	refused(p,
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1,2,3]}]}",
		400, "data has");
	refused(p,
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 16], \"datatype\": \"BYTES\", \"data\": "
		"[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\"]}]}",
		400, "datatype BYTES");
	refused(p,
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 16], \"datatype\": \"FP32\", \"data\": "
		"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,300]}]}",
		400, "0..255");
	refused(p,
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 16], \"datatype\": \"UINT8\", \"data\": "
		"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,256]}]}",
		400, "UINT8");
	refused(p,
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 16], \"datatype\": \"FLOAT32\", \"data\": [0]}]}",
		400, "unknown datatype");
	refused(p, "{\"inputs\": [{\"name\": \"image\", \"shape\": [0, 16], \"datatype\": \"FP32\", \"data\": []}]}",
		400, "no images");
	refused(p,
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 16], \"datatype\": \"FP32\", \"data\": "
		"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}], \"outputs\": [{\"name\": \"logits\"}]}",
		400, "no output 'logits'");
	refused(p,
		"{\"inputs\": [{\"name\": \"a\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [0]}, "
		"{\"name\": \"b\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [0]}]}",
		400, "one input");
	refused(p, "{\"inputs\": [", 400, NULL);
	refused(p, "not json", 400, NULL);
	refused(p, "{\"inputs\": []}", 400, "no inputs");
	refused("/v2/models/nope/infer", "{\"inputs\": []}", 404, "nope");
	refused("/v2/models/digits/versions/99/infer",
		"{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 16], \"datatype\": \"FP32\", \"data\": "
		"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}",
		404, "99");
	/* still answering, and every request counted under protocol oip */
	struct th_response r = th_infer_oip(s.ia, "digits", NULL, raw, ROWS, PIXELS);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	r = th_call(s.ia, "GET", "/metrics", NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "protocol=\"oip\",status=\"400\""));
	ck_assert_ptr_nonnull(strstr(r.body, "protocol=\"oip\",status=\"404\""));
	th_response_free(&r);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *su = suite_create("infer_oip");
	TCase *tc = tcase_create("oip");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, metadata_health_and_readiness);
	tcase_add_test(tc, json_infer_flat_nested_and_outputs);
	tcase_add_test(tc, binary_in_and_out);
	tcase_add_test(tc, bad_requests_are_4xx_in_the_oip_shape);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
