/* The inference API's image upload (POST /v1/models/{m}/predict, h_predict.c) with
 * tracker, registry and inference API as real processes (harness_infer.h). The model is
 * a logistic regression over 4x4 gray images whose weights the test sets so the answer
 * is known: class "c1" when the mean brightness is over half, "c0" below. A dark PNG
 * (sent as image/png) answers c0 with exactly the probabilities of the test's own
 * forward pass over its pixels; a bright RGB JPEG of another size (converted to gray and
 * resized by the package's preprocessing) answers c1; the same PNG as a multipart form
 * field answers the same; bad uploads get their 4xx as {"error": "..."}: text sent as
 * image/png (400), a text media type (415), a truncated PNG (400), more bytes than
 * IMAGE_MAX_BYTES (413), more pixels than IMAGE_MAX_PIXELS (413), a form without a file
 * (400), an unknown model (404). That the floats equal the data registry's tensor export
 * is test_prep_image's (unit) and test_data_tensors's (the registry against PIL). */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "harness_img.h"
#include "harness_infer.h"

#define SIZE 4

/* Sets p's logistic regression: logit(c1) - logit(c0) = 16 * mean(x) - 8, x in 0..1. */
static void brightness_weights(struct ml_package *p)
{
	for (size_t i = 0; i < ml_net_n_params(p->net); i++) {
		struct ml_param q;
		ml_net_param(p->net, i, &q);
		if (strstr(q.name, "weight")) {
			ck_assert_uint_eq(q.n, 2 * SIZE * SIZE);
			for (size_t k = 0; k < q.n; k++) /* [out, in] */
				q.data[k] = k < SIZE * SIZE ? -0.5f : 0.5f;
		} else {
			ck_assert_uint_eq(q.n, 2);
			q.data[0] = 4.0f;
			q.data[1] = -4.0f;
		}
	}
}

static struct th_response post_image(struct th_daemon *ia, const char *model, const char *ct, const void *data,
				     size_t len)
{
	char *url = th_fmt("%s/v1/models/%s/predict", ia->base_url, model);
	struct th_response r = th_http("POST", url, ct, data, len);
	free(url);
	return r;
}

/* A multipart form (curl -F field=@name;type=ct) with one file part. */
static struct th_response post_form(struct th_daemon *ia, const char *model, const char *field, const char *ct,
				    const void *data, size_t len)
{
	char *url = th_fmt("%s/v1/models/%s/predict", ia->base_url, model);
	CURL *h = curl_easy_init();
	curl_mime *mime = curl_mime_init(h);
	curl_mimepart *part = curl_mime_addpart(mime);
	curl_mime_name(part, field);
	curl_mime_data(part, data, len);
	curl_mime_filename(part, "upload.png");
	curl_mime_type(part, ct);
	struct th_collect body = {0};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, th_collect_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
	CURLcode rc = curl_easy_perform(h);
	ck_assert_msg(rc == CURLE_OK, "POST %s: %s", url, curl_easy_strerror(rc));
	struct th_response r = {0};
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	r.body = body.data ? body.data : strdup("");
	r.body_len = body.len;
	r.json = json_loadb(r.body, r.body_len, 0, NULL);
	curl_mime_free(mime);
	curl_easy_cleanup(h);
	free(url);
	return r;
}

/* status and {"error": "..."} containing needle. */
static void expect_error(struct th_response *r, long status, const char *needle)
{
	ck_assert_msg(r->status == status, "want %ld, got %ld: %s", status, r->status, r->body);
	ck_assert_msg(r->json && json_is_string(json_object_get(r->json, "error")), "not {\"error\"}: %s", r->body);
	ck_assert_uint_eq(json_object_size(r->json), 1);
	ck_assert_msg(strstr(json_string_value(json_object_get(r->json, "error")), needle), "'%s' not in %s", needle,
		      r->body);
	th_response_free(r);
}

/* The answer's label and probabilities; want (may be NULL) the exact probabilities. */
static void expect_label(struct th_response *r, const char *label, const float *want)
{
	ck_assert_msg(r->status == 200, "predict: %ld %s", r->status, r->body);
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "model")), "bright");
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "version")), "1");
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "label")), label);
	ck_assert_ptr_null(json_object_get(r->json, "canary"));
	json_t *probs = json_object_get(r->json, "probabilities");
	ck_assert_uint_eq(json_object_size(probs), 2);
	double p0 = json_number_value(json_object_get(probs, "c0")),
	       p1 = json_number_value(json_object_get(probs, "c1"));
	ck_assert_double_eq_tol(p0 + p1, 1.0, 1e-5);
	ck_assert(strcmp(label, "c1") == 0 ? p1 > 0.99 : p0 > 0.99);
	if (want) {
		ck_assert_double_eq_tol(p0, want[0], 1e-5);
		ck_assert_double_eq_tol(p1, want[1], 1e-5);
	}
}

START_TEST(png_and_jpeg_give_the_expected_label)
{
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package p;
	th_infer_classifier(&p, SIZE, 0, 2, 1, 1.0f);
	brightness_weights(&p);
	free(th_infer_publish(&s, "bright", &p, "champion"));
	const char *env[] = {"IMAGE_MAX_BYTES=4096", "IMAGE_MAX_PIXELS=4096", NULL};
	th_infer_start_api(&s, env, true);

	/* a dark 4x4 PNG: c0, the probabilities of the test's forward pass */
	uint8_t dark[SIZE * SIZE];
	float raw[SIZE * SIZE], want[2];
	for (int i = 0; i < SIZE * SIZE; i++) {
		dark[i] = (uint8_t)(10 + (i * 7) % 40);
		raw[i] = dark[i];
	}
	th_infer_forward(&p, raw, 1, want);
	size_t plen;
	void *png = th_img_png(SIZE, SIZE, 1, dark, &plen);
	struct th_response r = post_image(s.ia, "bright", "image/png", png, plen);
	expect_label(&r, "c0", want);
	th_response_free(&r);
	/* the same as a form's file field */
	r = post_form(s.ia, "bright", "file", "image/png", png, plen);
	expect_label(&r, "c0", want);
	th_response_free(&r);

	/* a bright 20x12 RGB JPEG: to gray, resized to 4x4 by the package's preprocessing */
	uint8_t bright[20 * 12 * 3];
	for (size_t i = 0; i < sizeof bright; i++)
		bright[i] = (uint8_t)(215 + (i * 13) % 40);
	size_t jlen;
	void *jpg = th_img_jpeg(20, 12, 3, bright, 92, &jlen);
	r = post_image(s.ia, "bright", "image/jpeg", jpg, jlen);
	expect_label(&r, "c1", NULL);
	th_response_free(&r);
	r = post_form(s.ia, "bright", "image", "image/jpeg", jpg, jlen); /* any field name with a file */
	expect_label(&r, "c1", NULL);
	th_response_free(&r);

	/* bad uploads, each in the OIP error shape */
	static const char text[] = "this is not an image at all";
	r = post_image(s.ia, "bright", "image/png", text, sizeof text - 1);
	expect_error(&r, 400, "PNG or JPEG");
	r = post_image(s.ia, "bright", "text/plain", text, sizeof text - 1);
	expect_error(&r, 415, "image/png");
	r = post_image(s.ia, "bright", "image/png", png, plen - 20);
	expect_error(&r, 400, "image");
	r = post_form(s.ia, "bright", "file", "image/png", text, sizeof text - 1);
	expect_error(&r, 400, "PNG or JPEG");
	/* over IMAGE_MAX_BYTES: 64x64 of noise does not compress */
	uint8_t noise[64 * 64];
	uint32_t seed = 7;
	for (size_t i = 0; i < sizeof noise; i++) {
		seed = seed * 1103515245u + 12345u;
		noise[i] = (uint8_t)(seed >> 16);
	}
	size_t nlen;
	void *big = th_img_png(64, 64, 1, noise, &nlen);
	ck_assert_uint_gt(nlen, 4096);
	r = post_image(s.ia, "bright", "image/png", big, nlen);
	expect_error(&r, 413, "4096");
	/* over IMAGE_MAX_PIXELS: 100x100 of one value is small in bytes */
	size_t flen;
	void *flat = th_img_png_flat(100, 100, 50, &flen);
	ck_assert_uint_lt(flen, 4096);
	r = post_image(s.ia, "bright", "image/png", flat, flen);
	expect_error(&r, 413, "pixels");
	/* within both limits: any size is resized */
	free(flat);
	flat = th_img_png_flat(60, 60, 240, &flen);
	r = post_image(s.ia, "bright", "image/png", flat, flen);
	expect_label(&r, "c1", NULL);
	th_response_free(&r);
	r = post_image(s.ia, "nosuch", "image/png", png, plen);
	expect_error(&r, 404, "nosuch");
	r = post_image(s.ia, "bright", "image/png", "", 0);
	ck_assert_int_ge(r.status, 400);
	ck_assert_int_lt(r.status, 500);
	th_response_free(&r);

	/* counted under protocol "image" */
	r = th_call(s.ia, "GET", "/metrics", NULL);
	ck_assert_ptr_nonnull(
		strstr(r.body,
		       "inference_requests_total{model=\"bright\",version=\"1\",protocol=\"image\",status=\"200\"} 5"));
	ck_assert_ptr_nonnull(strstr(r.body, "protocol=\"image\",status=\"413\"} 2"));
	th_response_free(&r);

	free(png);
	free(jpg);
	free(big);
	free(flat);
	ml_package_free(&p);
	th_infer_stop(&s);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("infer_images");
	TCase *tc = tcase_create("images");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, png_and_jpeg_give_the_expected_label);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
