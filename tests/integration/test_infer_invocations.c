/* MLflow's scoring protocol on the inference API, with tracker, registry and inference
 * API as real processes (harness_infer.h):
 *   image_forms_agree  an image classifier answers the same labels, those of a forward
 *     pass computed here, for dataframe_split, dataframe_records, instances (nested
 *     [h][w]), inputs and text/csv, on bare /invocations (the only model) and on
 *     /v2/models/{m}/invocations; /ping, /health, /version; bad bodies and an unknown
 *     model answer 4xx in MLflow's {"error_code", "message"}
 *   tabular_through_the_data_registry  a CSV with numeric and categorical columns and
 *     missing values is exported by a real data registry (one-hot, standardised); a
 *     classifier over the export's features carries the export's `preprocessing`; rows
 *     sent as CSV and as JSON, columns in another order, get the labels a forward pass
 *     over the exported tensor gives: the served encoding is the export's
 *   choosing_the_model  two models: bare /invocations answers 400 naming both; with
 *     DEFAULT_MODEL it answers that model
 * Models are tiny (4x4 images, 5 features), so each case takes seconds. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness_data.h"
#include "harness_infer.h"

#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3
#define N       4

static void images(float *raw, size_t n)
{
	for (size_t r = 0; r < n; r++)
		for (size_t i = 0; i < PIXELS; i++)
			raw[r * PIXELS + i] = (float)((r * 97 + i * (r + 3) * 29) % 256);
}

static int argmax(const float *v, size_t k)
{
	int best = 0;
	for (size_t j = 1; j < k; j++)
		if (v[j] > v[best])
			best = (int)j;
	return best;
}

/* Expected labels ("c<k>") of n rows through p's forward pass (th_infer_forward). */
static void expected_labels(const struct ml_package *p, const float *raw, size_t n, char labels[][16])
{
	size_t k = ml_net_n_outputs(p->net);
	float *out = calloc(n * k, sizeof *out);
	th_infer_forward(p, raw, n, out);
	for (size_t i = 0; i < n; i++)
		snprintf(labels[i], 16, "%s",
			 json_string_value(json_array_get(p->class_names, (size_t)argmax(out + i * k, k))));
	free(out);
}

/* The labels must not all be the same, or agreeing on them shows little. */
static void expect_varied(char labels[][16], size_t n)
{
	size_t i = 1;
	while (i < n && strcmp(labels[i], labels[0]) == 0)
		i++;
	ck_assert_msg(i < n, "every row is labelled %s: choose other weights", labels[0]);
}

static struct th_response post(struct th_daemon *d, const char *path, const char *ct, const char *body)
{
	char *url = th_fmt("%s%s", d->base_url, path);
	struct th_response r = th_http("POST", url, ct, body, strlen(body));
	free(url);
	return r;
}

static void expect_predictions(struct th_daemon *d, const char *path, const char *ct, const char *body, char want[][16],
			       size_t n)
{
	struct th_response r = post(d, path, ct, body);
	ck_assert_msg(r.status == 200, "%s (%s): %ld %s", path, ct, r.status, r.body);
	json_t *p = json_object_get(r.json, "predictions");
	ck_assert_msg(json_array_size(p) == n, "%s: %s", path, r.body);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(json_string_value(json_array_get(p, i)), want[i]) == 0,
			      "%s (%s) row %zu: %s, want %s; body %s", path, ct, i,
			      json_string_value(json_array_get(p, i)), want[i], body);
	th_response_free(&r);
}

/* The four JSON forms and CSV of n raw images. */
static char *image_bodies(const float *raw, size_t n, char *bodies[5])
{
	json_t *split = json_array(), *records = json_array(), *nested = json_array(), *flat = json_array();
	json_t *cols = json_array();
	char *csv = NULL;
	size_t cap = 0;
	FILE *f = open_memstream(&csv, &cap);
	for (size_t i = 0; i < PIXELS; i++) {
		char name[8];
		snprintf(name, sizeof name, "%zu", i);
		json_array_append_new(cols, json_string(name));
		fprintf(f, "%s%zu", i ? "," : "", i);
	}
	fputc('\n', f);
	for (size_t r = 0; r < n; r++) {
		json_t *row = json_array(), *rec = json_object(), *img = json_array();
		for (size_t i = 0; i < PIXELS; i++) {
			double v = raw[r * PIXELS + i];
			char name[8];
			snprintf(name, sizeof name, "%zu", i);
			json_array_append_new(row, json_integer((json_int_t)v));
			json_object_set_new(rec, name, json_integer((json_int_t)v));
			if (i % SIZE == 0)
				json_array_append_new(img, json_array());
			json_array_append_new(json_array_get(img, i / SIZE), json_integer((json_int_t)v));
			fprintf(f, "%s%d", i ? "," : "", (int)v);
		}
		fputc('\n', f);
		json_array_append(split, row);
		json_array_append_new(flat, row);
		json_array_append_new(records, rec);
		json_array_append_new(nested, img);
	}
	fclose(f);
	json_t *b[4] = {
		json_pack("{s:{s:o, s:o}}", "dataframe_split", "columns", cols, "data", split),
		json_pack("{s:o}", "dataframe_records", records),
		json_pack("{s:o}", "instances", nested),
		json_pack("{s:o}", "inputs", flat),
	};
	for (int i = 0; i < 4; i++) {
		bodies[i] = json_dumps(b[i], JSON_COMPACT);
		json_decref(b[i]);
	}
	bodies[4] = csv;
	return csv;
}

static const char *const CT[5] = {"application/json", "application/json", "application/json; charset=utf-8",
				  "application/json", "text/csv"};

START_TEST(image_forms_agree)
{
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package p;
	th_infer_classifier(&p, SIZE, 0, CLASSES, 1, 2.0f);
	free(th_infer_publish(&s, "digits", &p, "champion"));
	th_infer_start_api(&s, NULL, true);
	struct th_daemon *ia = s.ia;

	float raw[N * PIXELS];
	images(raw, N);
	char want[N][16], *bodies[5];
	expected_labels(&p, raw, N, want);
	expect_varied(want, N);
	image_bodies(raw, N, bodies);
	for (int i = 0; i < 5; i++) {
		expect_predictions(ia, "/invocations", CT[i], bodies[i], want, N);
		expect_predictions(ia, "/v2/models/digits/invocations", CT[i], bodies[i], want, N);
	}
	/* probes */
	struct th_response r = th_call(ia, "GET", "/ping", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "\n");
	th_response_free(&r);
	r = th_call(ia, "GET", "/health", NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	r = th_call(ia, "GET", "/version", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "2.12.2");
	th_response_free(&r);

	/* bad bodies: MLflow's shape, 4xx */
	r = post(ia, "/invocations", "application/json", "{\"inputs\": [[1, 2, 3]]}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "takes 1 x 4 x 4 = 16 pixel values");
	th_response_free(&r);
	r = post(ia, "/invocations", "application/json",
		 "{\"inputs\": [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 256]]}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "row 0: value 15 is 256: pixel values are integers 0..255");
	th_response_free(&r);
	r = post(ia, "/invocations", "application/json", "{\"inputs\": [[0, 1,");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Ensure that input is a valid JSON formatted string");
	th_response_free(&r);
	r = post(ia, "/invocations", "application/json", "[[0, 1]]");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Received a list.");
	th_response_free(&r);
	r = post(ia, "/invocations", "application/json", "{\"data\": [[0, 1]]}");
	th_expect_error(&r, 400, "BAD_REQUEST", "Received dictionary with input fields: ['data']");
	th_response_free(&r);
	r = post(ia, "/invocations", "text/plain", "hello");
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", "This predictor only supports the following content types");
	th_response_free(&r);
	r = post(ia, "/invocations", "text/csv", "0,1\n1,2,3\n");
	th_expect_error(&r, 400, "BAD_REQUEST", "Failed to parse input as a Pandas DataFrame");
	th_response_free(&r);
	r = post(ia, "/v2/models/nope/invocations", "application/json", bodies[3]);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "model 'nope' not found");
	th_response_free(&r);

	for (int i = 0; i < 5; i++)
		free(bodies[i]);
	ml_package_free(&p);
	th_infer_stop(&s);
}
END_TEST

/* --- tabular, through the data registry's export ---------------------------------- */

static const char CSV[] = "age,city,rooms,label\n"
			  "31,Oslo,2,cheap\n"
			  "58,Lyon,5,dear\n"
			  ",Rome,3,dear\n"
			  "44,NA,4,cheap\n"
			  "23,Oslo,,cheap\n"
			  "67,Rome,6,dear\n";

/* The export's x [n, f] and its "preprocessing" metadata, from a safetensors body. */
static float *read_export(const struct th_response *r, size_t *n, size_t *f, json_t **prep)
{
	ck_assert_uint_gt(r->body_len, 8);
	uint64_t hl;
	memcpy(&hl, r->body, 8);
	json_error_t jerr;
	json_t *h = json_loadb(r->body + 8, hl, 0, &jerr);
	ck_assert_msg(h != NULL, "safetensors header: %s", jerr.text);
	const char *pp = json_string_value(json_object_get(json_object_get(h, "__metadata__"), "preprocessing"));
	ck_assert_ptr_nonnull(pp);
	*prep = json_loads(pp, 0, &jerr);
	ck_assert_ptr_nonnull(*prep);
	json_t *x = json_object_get(h, "x");
	ck_assert_str_eq(json_string_value(json_object_get(x, "dtype")), "F32");
	*n = (size_t)json_integer_value(json_array_get(json_object_get(x, "shape"), 0));
	*f = (size_t)json_integer_value(json_array_get(json_object_get(x, "shape"), 1));
	size_t a = (size_t)json_integer_value(json_array_get(json_object_get(x, "data_offsets"), 0));
	ck_assert_uint_le(8 + hl + a + *n * *f * 4, r->body_len);
	float *out = malloc(*n * *f * sizeof *out);
	memcpy(out, r->body + 8 + hl + a, *n * *f * sizeof *out);
	json_decref(h);
	return out;
}

START_TEST(tabular_through_the_data_registry)
{
	/* the data registry exports the CSV: one-hot city, standardised numbers, fills */
	char *dir = th_data_scratch_dir("invocations-csv"), *csvdir = th_fmt("%s/csv", dir);
	char *mk = th_fmt("mkdir -p %s", csvdir), *path = th_fmt("%s/houses.csv", csvdir);
	ck_assert_int_eq(system(mk), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(CSV, f);
	fclose(f);
	struct th_daemon *dr = th_daemon_start("data-registry", NULL, NULL);
	th_data_push_dir(dr, "houses", csvdir, ", \"label_column\": \"label\"");
	struct th_response ex = th_call(dr, "GET", "/v1/datasets/houses/versions/1/tensors?standardize=true", NULL);
	ck_assert_msg(ex.status == 200, "tensors: %ld %s", ex.status, ex.body);
	size_t n, width;
	json_t *prep;
	float *x = read_export(&ex, &n, &width, &prep);
	th_response_free(&ex);
	th_daemon_stop(dr);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(width, 5); /* age, city=Lyon, city=Oslo, city=Rome, rooms */

	/* a classifier over those features, carrying the export's preprocessing */
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package p = {0};
	struct ml_layer_spec l[] = {{.kind = ML_DENSE, .units = CLASSES}};
	struct core_error err = {{0}};
	ck_assert_int_eq(ml_net_new(l, 1, (struct ml_shape){(int)width, 1, 1}, &p.net, &err), CORE_OK);
	ml_net_init(p.net, 11);
	for (size_t i = 0; i < ml_net_n_params(p.net); i++) {
		struct ml_param q;
		ml_net_param(p.net, i, &q);
		for (size_t k = 0; k < q.n; k++)
			q.data[k] = q.data[k] * 3.0f + (float)((i * 7 + k * 5) % 9) * 0.1f - 0.4f;
	}
	snprintf(p.task, sizeof p.task, "classification");
	p.preprocessing = prep;
	p.class_names = json_pack("[s,s,s]", "low", "mid", "high");
	free(th_infer_publish(&s, "houses", &p, "champion"));
	th_infer_start_api(&s, NULL, true);

	/* what the export's rows give (preprocessing has no "normalize": taken as they are) */
	char want[6][16];
	expected_labels(&p, x, n, want);
	expect_varied(want, n);
	/* the CSV as it is (label column and all), and the same rows as JSON, columns in
	 * another order, missing values as null / absent / "NA" */
	expect_predictions(s.ia, "/invocations", "text/csv", CSV, want, n);
	expect_predictions(
		s.ia, "/v2/models/houses/invocations", "application/json",
		"{\"dataframe_split\": {\"columns\": [\"rooms\", \"city\", \"age\"], \"index\": [0, 1, 2, 3, "
		"4, 5], \"data\": [[2, \"Oslo\", 31], [5, \"Lyon\", 58], [3, \"Rome\", null], [4, null, 44], "
		"[null, \"Oslo\", 23], [6, \"Rome\", 67]]}}",
		want, n);
	expect_predictions(
		s.ia, "/invocations", "application/json",
		"{\"dataframe_records\": [{\"age\": 31, \"city\": \"Oslo\", \"rooms\": 2}, {\"age\": 58, "
		"\"city\": \"Lyon\", \"rooms\": 5}, {\"city\": \"Rome\", \"rooms\": 3}, {\"age\": 44, "
		"\"city\": \"NA\", \"rooms\": 4}, {\"age\": 23, \"city\": \"Oslo\"}, {\"age\": 67, \"city\": "
		"\"Rome\", \"rooms\": 6}]}",
		want, n);
	expect_predictions(
		s.ia, "/invocations", "application/json",
		"{\"instances\": [[31, \"Oslo\", 2], [58, \"Lyon\", 5], [\"\", \"Rome\", 3], [44, \"NA\", 4], "
		"[23, \"Oslo\", null], [67, \"Rome\", 6]]}",
		want, n);
	expect_predictions(s.ia, "/invocations", "application/json",
			   "{\"inputs\": {\"city\": [\"Oslo\", \"Lyon\", \"Rome\", null, \"Oslo\", \"Rome\"], \"age\": "
			   "[31, 58, null, 44, 23, 67], \"rooms\": [2, 5, 3, 4, null, 6]}}",
			   want, n);
	/* a value a numeric column cannot take, a missing column */
	struct th_response r = post(s.ia, "/invocations", "application/json",
				    "{\"instances\": [[31, \"Oslo\", 2], [\"old\", \"Oslo\", 2]]}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "row 1: column 'age': 'old' is not a number");
	th_response_free(&r);
	r = post(s.ia, "/invocations", "text/csv", "age,city\n31,Oslo\n");
	th_expect_error(&r, 400, "BAD_REQUEST", "Model is missing inputs ['rooms'].");
	th_response_free(&r);

	free(x);
	ml_package_free(&p);
	th_infer_stop(&s);
	free(path);
	free(mk);
	free(csvdir);
	free(dir);
}
END_TEST

START_TEST(choosing_the_model)
{
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package a, b;
	th_infer_classifier(&a, SIZE, 0, CLASSES, 3, 2.0f);
	th_infer_classifier(&b, SIZE, 0, CLASSES, 5, 2.0f);
	free(th_infer_publish(&s, "alpha", &a, "champion"));
	free(th_infer_publish(&s, "beta", &b, "champion"));
	th_infer_start_api(&s, NULL, true);
	float raw[N * PIXELS];
	images(raw, N);
	char *bodies[5], wa[N][16], wb[N][16];
	image_bodies(raw, N, bodies);
	expected_labels(&a, raw, N, wa);
	expected_labels(&b, raw, N, wb);
	expect_varied(wa, N);
	ck_assert_msg(memcmp(wa, wb, sizeof wa) != 0, "alpha and beta answer alike: choose other weights");
	struct th_response r = post(s.ia, "/invocations", "application/json", bodies[3]);
	th_expect_error(&r, 400, "BAD_REQUEST", "2 models are served: 'alpha', 'beta'");
	th_response_free(&r);
	expect_predictions(s.ia, "/v2/models/alpha/invocations", "application/json", bodies[3], wa, N);
	expect_predictions(s.ia, "/v2/models/beta/invocations", "text/csv", bodies[4], wb, N);
	th_daemon_stop(s.ia);
	s.ia = NULL;
	th_infer_start_api(&s, (const char *const[]){"DEFAULT_MODEL=beta", NULL}, true);
	expect_predictions(s.ia, "/invocations", "application/json", bodies[3], wb, N);
	for (int i = 0; i < 5; i++)
		free(bodies[i]);
	ml_package_free(&a);
	ml_package_free(&b);
	th_infer_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("infer_invocations");
	TCase *tc = tcase_create("invocations");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, image_forms_agree);
	tcase_add_test(tc, tabular_through_the_data_registry);
	tcase_add_test(tc, choosing_the_model);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
