/* Unit tests of mlflow_in.c, MLflow's scoring inputs parsed for a model: for a tabular
 * model every form (dataframe_split with its columns in another order and an index,
 * dataframe_records, instances as records and as lists, inputs as columns, text/csv with
 * pandas' index column) gives the same rows once encoded by prep.c; for an image model
 * flat, [h][w] and [c][h][w] rows and CSV give the same pixels; and bad bodies are refused
 * with MLflow's error codes and messages. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "harness.h"
#include "mlflow_in.h"
#include "prep.h"

static void tab_model(struct ia_model *m)
{
	memset(m, 0, sizeof *m);
	m->name = "houses";
	struct ml_layer_spec l[] = {{.kind = ML_DENSE, .units = 2}};
	struct core_error err = {{0}};
	ck_assert_int_eq(ml_net_new(l, 1, (struct ml_shape){4, 1, 1}, &m->pkg.net, &err), CORE_OK);
	m->pkg.preprocessing = json_loads(
		"{\"columns\": [{\"name\": \"age\", \"type\": \"numeric\", \"mean\": 40, \"std\": 10, \"fill\": 40},"
		"{\"name\": \"city\", \"type\": \"categorical\", \"vocabulary\": [\"Lyon\", \"Oslo\"]},"
		"{\"name\": \"rooms\", \"type\": \"numeric\", \"mean\": 3, \"std\": 1, \"fill\": 3}],"
		"\"one_hot\": true, \"standardize\": true}",
		0, NULL);
	ck_assert_msg(ia_prep_compile(m, &err) == CORE_OK, "%s", err.message);
}

static void img_model(struct ia_model *m)
{
	memset(m, 0, sizeof *m);
	m->name = "digits";
	struct ml_layer_spec l[] = {{.kind = ML_FLATTEN}, {.kind = ML_DENSE, .units = 2}};
	struct core_error err = {{0}};
	ck_assert_int_eq(ml_net_new(l, 2, (struct ml_shape){1, 2, 3}, &m->pkg.net, &err), CORE_OK);
	m->pkg.preprocessing = json_loads("{\"size\": [2, 3], \"channels\": 1, \"normalize\": \"unit\"}", 0, NULL);
	ck_assert_msg(ia_prep_compile(m, &err) == CORE_OK, "%s", err.message);
}

static void model_free(struct ia_model *m)
{
	ia_prep_free(m);
	ml_package_free(&m->pkg);
}

/* Parses body and encodes its rows; returns n, x filled. */
static size_t encode(const struct ia_model *m, const char *ct, const char *body, float *x)
{
	struct ia_mlflow_input in;
	struct ia_mlflow_error e;
	ck_assert_msg(ia_mlflow_parse(m, ct, body, strlen(body), &in, &e) == CORE_OK, "%s: %s", body, e.message);
	struct core_error err = {{0}};
	if (m->kind == IA_INPUT_TABULAR)
		ck_assert_msg(ia_prep_rows(m, in.cells, in.n, x, &err) == CORE_OK, "%s: %s", body, err.message);
	else
		ck_assert_msg(ia_prep_pixels(m, in.raw, in.n, x, &err) == CORE_OK, "%s: %s", body, err.message);
	size_t n = in.n;
	ia_mlflow_input_free(&in);
	return n;
}

START_TEST(tabular_forms_agree)
{
	struct ia_model m;
	tab_model(&m);
	static const struct {
		const char *ct, *body;
	} forms[] = {
		{"application/json", "{\"dataframe_split\": {\"columns\": [\"rooms\", \"extra\", \"city\", \"age\"],"
				     "\"index\": [7, 8], \"data\": [[4, \"x\", \"Oslo\", 50], [null, \"y\", \"Paris\", "
				     "\"30\"]]}}"},
		{"application/json; charset=utf-8",
		 "{\"dataframe_records\": [{\"age\": 50, \"city\": \"Oslo\", \"rooms\": 4},"
		 "{\"age\": 30, \"city\": \"Paris\"}], \"params\": {\"x\": 1}}"},
		{"application/json", "{\"instances\": [{\"city\": \"Oslo\", \"age\": 50, \"rooms\": 4.0},"
				     "{\"city\": \"Paris\", \"age\": 30, \"rooms\": null}]}"},
		{"application/json", "{\"instances\": [[50, \"Oslo\", 4], [30, \"Paris\", \"NA\"]]}"},
		{"application/json", "{\"inputs\": {\"rooms\": [4, null], \"age\": [50, 30], \"city\": [\"Oslo\", "
				     "\"Paris\"]}}"},
		{"application/json", "{\"inputs\": [[50, \"Oslo\", 4], [30, \"Paris\", null]]}"},
		{"text/csv", ",city,age,rooms\n0,Oslo,50,4\n1,Paris,30,\n"},
		{"text/csv; charset=UTF-8", "age,rooms,city\r\n50,4.0,Oslo\r\n30,NA,Paris\r\n"},
	};
	/* age 50 -> 1, Oslo -> [0, 1], rooms 4 -> 1; age 30 -> -1, Paris -> [0, 0], rooms missing -> 0 */
	const float want[8] = {1, 0, 1, 1, -1, 0, 0, 0};
	for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
		float x[8];
		ck_assert_uint_eq(encode(&m, forms[f].ct, forms[f].body, x), 2);
		for (int i = 0; i < 8; i++)
			ck_assert_msg(x[i] == want[i], "form %zu, feature %d: %g, want %g", f, i, (double)x[i],
				      (double)want[i]);
	}
	/* one row of a one-value-per-column columnar input; an empty list is no rows */
	float x[4];
	ck_assert_uint_eq(
		encode(&m, "application/json", "{\"inputs\": {\"age\": 50, \"city\": \"Oslo\", \"rooms\": 4}}", x), 1);
	ck_assert(x[0] == 1 && x[2] == 1);
	ck_assert_uint_eq(encode(&m, "application/json", "{\"instances\": []}", x), 0);
	model_free(&m);
}
END_TEST

START_TEST(image_forms_agree)
{
	struct ia_model m;
	img_model(&m);
	static const struct {
		const char *ct, *body;
	} forms[] = {
		{"application/json", "{\"inputs\": [[0, 51, 102, 153, 204, 255], [255, 0, 0, 0, 0, 1]]}"},
		{"application/json", "{\"instances\": [[[0, 51, 102], [153, 204, 255]], [[255, 0, 0], [0, 0, 1]]]}"},
		{"application/json", "{\"inputs\": [[[[0, 51, 102], [153, 204, 255]]], [[[255, 0, 0], [0, 0, 1]]]]}"},
		{"application/json", "{\"inputs\": {\"image\": [[0, 51, 102, 153, 204, 255], [255, 0, 0, 0, 0, 1]]}}"},
		{"application/json", "{\"dataframe_split\": {\"columns\": [\"0\", \"1\", \"2\", \"3\", \"4\", \"5\"],"
				     "\"data\": [[0, 51, 102, 153, 204, 255], [255, 0, 0, 0, 0, 1]]}}"},
		{"application/json",
		 "{\"dataframe_records\": [{\"0\": 0, \"1\": 51, \"2\": 102, \"3\": 153, \"4\": 204,"
		 "\"5\": 255}, {\"0\": 255, \"1\": 0, \"2\": 0, \"3\": 0, \"4\": 0, \"5\": 1}]}"},
		{"text/csv", "0,1,2,3,4,5\n0,51,102,153,204,255\n255,0,0,0,0,1\n"},
		{"text/csv", ",0,1,2,3,4,5\n0,0,51,102,153,204,255\n1,255,0,0,0,0,1\n"},
	};
	const float want[12] = {0, 0.2f, 0.4f, 0.6f, 0.8f, 1, 1, 0, 0, 0, 0, 1.0f / 255};
	for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
		float x[12];
		ck_assert_uint_eq(encode(&m, forms[f].ct, forms[f].body, x), 2);
		for (int i = 0; i < 12; i++)
			ck_assert_msg(x[i] == want[i], "form %zu, value %d: %g, want %g", f, i, (double)x[i],
				      (double)want[i]);
	}
	model_free(&m);
}
END_TEST

/* Parses body for m; returns its raw rows (caller frees) and n, or NULL when refused. */
static float *raw_of(const struct ia_model *m, const char *body, size_t *n)
{
	struct ia_mlflow_input in;
	struct ia_mlflow_error e;
	if (ia_mlflow_parse(m, "application/json", body, strlen(body), &in, &e) != CORE_OK)
		return NULL;
	*n = in.n;
	float *raw = malloc((in.n ? in.n : 1) * m->n_raw * sizeof *raw);
	memcpy(raw, in.raw, in.n * m->n_raw * sizeof *raw);
	ia_mlflow_input_free(&in);
	return raw;
}

/* The image rows read without jansson ({"inputs": rows}) equal what the full parser reads
 * from the same rows (a "params" member sends a body there), number for number; and what
 * the short cut declines is still refused. */
START_TEST(pixel_rows_read_directly_equal_the_full_parser)
{
	struct ia_model m;
	img_model(&m);
	static const char *const values[] = {"0",   "255",          "12.5", "-3",   "1e2",
					     "0.1", "3.4028234e38", "-0.0", "7E-1", "128.00000001"};
	unsigned seed = 5;
	for (int t = 0; t < 200; t++) {
		struct core_buf rows;
		core_buf_init(&rows, 1 << 20);
		size_t n = 1 + (size_t)t % 4;
		core_buf_append_str(&rows, t % 3 == 0 ? "[ " : "[");
		for (size_t r = 0; r < n; r++) {
			core_buf_append_str(&rows, r ? ",\n " : "");
			core_buf_append_str(&rows, t % 2 ? "[[" : "["); /* odd t: [h][w] rows */
			for (int i = 0; i < 6; i++) {
				seed = seed * 1103515245u + 12345u;
				if (t % 2 && i == 3)
					core_buf_append_str(&rows, "],[");
				else if (i)
					core_buf_append_str(&rows, t % 5 ? "," : " , ");
				core_buf_append_str(&rows, values[(seed >> 16) % 10]);
			}
			core_buf_append_str(&rows, t % 2 ? "]]" : "]");
		}
		core_buf_append_str(&rows, "]");
		char *direct = th_fmt("{\"%s\": %s}", t % 4 ? "inputs" : "instances", rows.data);
		char *full = th_fmt("{\"inputs\": %s, \"params\": {}}", rows.data);
		size_t na = 0, nb = 0;
		float *a = raw_of(&m, direct, &na), *b = raw_of(&m, full, &nb);
		ck_assert_msg(a && b, "refused: %s", a ? full : direct);
		ck_assert_uint_eq(na, nb);
		ck_assert_msg(memcmp(a, b, na * m.n_raw * sizeof *a) == 0, "values differ: %s", direct);
		free(a);
		free(b);
		free(direct);
		free(full);
		core_buf_free(&rows);
	}
	static const char *const bad[] = {
		"{\"inputs\": [[0, 1, 2, 3, 4, 5,]]}",    "{\"inputs\": [[0, 1, 2, 3, 4, 5]}",
		"{\"inputs\": [[0, 1, 2, 3, 4, 1e999]]}", "{\"inputs\": [[0, 1, 2, 3, 4]]}",
		"{\"inputs\": [[0, 1, 2, 3, 4, 5, 6]]}",  "{\"inputs\": [[0, 1, 2, 3, 4, 5]]} x",
		"{\"inputs\": [[0 1, 2, 3, 4, 5]]}",      "{\"inputs\": [[0, 1, 2, 3, 4, \"5\"]]}",
		"{\"inputs\": [[0, 1, 2, 3, 4, 5]], }",   "{\"inputs\": [[0, 1, 2, 3, 4, 05]]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t n = 0;
		float *r = raw_of(&m, bad[i], &n);
		ck_assert_msg(r == NULL, "accepted: %s", bad[i]);
	}
	model_free(&m);
}
END_TEST

static void refused(const struct ia_model *m, const char *ct, const char *body, enum http_error_code code,
		    const char *msg)
{
	struct ia_mlflow_input in;
	struct ia_mlflow_error e;
	ck_assert_msg(ia_mlflow_parse(m, ct, body, strlen(body), &in, &e) == CORE_EINVAL, "accepted: %s", body);
	ck_assert_msg(e.code == code, "%s: code %s, want %s", body, http_error_names[e.code], http_error_names[code]);
	ck_assert_msg(strncmp(e.message, msg, strlen(msg)) == 0, "%s:\n got %s\nwant %s", body, e.message, msg);
	ck_assert_ptr_null(in.cells);
	ck_assert_ptr_null(in.doc);
}

START_TEST(bad_bodies_refused)
{
	struct ia_model m, im;
	tab_model(&m);
	img_model(&im);
	const char *json = "application/json";
	refused(&m, NULL, "{}", HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
		"This predictor only supports the following content types: Types: ['text/csv', 'application/json']. "
		"Got 'None'.");
	refused(&m, "text/plain", "{}", HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
		"This predictor only supports the following content types: Types: ['text/csv', 'application/json']. "
		"Got 'text/plain'.");
	refused(&m, "application/json; charset=latin-1", "{}", HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
		"The scoring server only supports UTF-8");
	refused(&m, "application/json; format=pandas-split", "{}", HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
		"Unrecognized content type parameters: format. IMPORTANT: The MLflow Model scoring protocol");
	refused(&m, json, "{\"inputs\": [1,", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Ensure that input is a valid JSON formatted string. Error: '");
	refused(&m, json, "[[1, 2, 3]]", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. The input must be a JSON dictionary with exactly one of the input fields "
		"{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}. Received a list.");
	refused(&m, json, "\"x\"", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. The input must be a JSON dictionary with exactly one of the input fields "
		"{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}. Received unexpected input type "
		"'<class 'str'>."); /* sic: MLflow's message lacks the closing quote */
	refused(&m, json, "{\"columns\": [\"a\"], \"data\": [[1]]}", HTTP_EC_BAD_REQUEST,
		"The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', "
		"'dataframe_records', 'instances', 'inputs'}. Received dictionary with input fields: ['columns', "
		"'data']. IMPORTANT:");
	refused(&m, json, "{\"inputs\": [[1, \"a\", 2]], \"instances\": [[1, \"a\", 2]]}", HTTP_EC_BAD_REQUEST,
		"The input must be a JSON dictionary");
	refused(&m, json, "{\"dataframe_split\": {\"columns\": [\"age\"], \"data\": [[1]]}}", HTTP_EC_BAD_REQUEST,
		"Model is missing inputs ['city', 'rooms'].");
	refused(&m, json, "{\"dataframe_records\": [{\"age\": 1, \"rooms\": 2}]}", HTTP_EC_BAD_REQUEST,
		"Model is missing inputs ['city'].");
	refused(&m, json, "{\"inputs\": {\"age\": [1, 2], \"city\": [\"a\"], \"rooms\": [1, 2]}}",
		HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid input. Column 'city' has 1 values, the columns before it 2");
	refused(&m, json, "{\"instances\": [[1, \"a\"]]}", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Row 0 has 2 values; model 'houses' takes 3 columns");
	refused(&m, json, "{\"instances\": [[1, [\"a\"], 2]]}", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Row 0, column 'city': a value must be a number, a string, a boolean or null");
	refused(&m, json, "{\"instances\": [[1, \"a\", 2], {\"age\": 1}]}", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Rows must be all lists or all records");
	refused(&m, json, "{\"dataframe_split\": {\"columns\": [\"age\", \"city\", \"rooms\"], \"data\": [[1, 2]]}}",
		HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. dataframe_split: data[0] must be a list of 3 values, one per column");
	refused(&m, json, "{\"dataframe_split\": {\"data\": [[1, \"a\", 2]], \"index\": [1, 2]}}",
		HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid input. Shape of passed values is (1, ...)");
	refused(&m, json, "{\"dataframe_records\": {\"age\": 1}}", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. dataframe_records must be a list");
	refused(&m, "text/csv", "age,city\n1,a\n", HTTP_EC_BAD_REQUEST, "Model is missing inputs ['rooms'].");
	refused(&m, "text/csv", "age,city,rooms\n1,a,2,3\n", HTTP_EC_BAD_REQUEST,
		"Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas "
		"DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'Error tokenizing data. C "
		"error: Expected 3 fields in line 2, saw 4'");
	refused(&m, "text/csv", "age,city,rooms\n1,\"a,2\n", HTTP_EC_BAD_REQUEST,
		"Failed to parse input as a Pandas DataFrame.");
	refused(&m, "text/csv", "", HTTP_EC_BAD_REQUEST, "Failed to parse input as a Pandas DataFrame.");
	/* images */
	refused(&im, json, "{\"inputs\": [[1, 2, 3]]}", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Row 0 has 3 values; model 'digits' takes 1 x 2 x 3 = 6 pixel values");
	refused(&im, json, "{\"inputs\": [[1, 2, 3, 4, 5, \"6\"]]}", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Row 0: pixel values must be numbers");
	refused(&im, json, "{\"inputs\": {\"a\": [[1, 2, 3, 4, 5, 6]], \"b\": []}}", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Model 'digits' takes one input (images)");
	refused(&im, "text/csv", "a,b\n1,2\n", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. The CSV has 2 columns; model 'digits' takes 1 x 2 x 3 = 6 pixel values");
	refused(&im, "text/csv", "0,1,2,3,4,5\n1,2,3,4,x,6\n", HTTP_EC_INVALID_PARAMETER_VALUE,
		"Invalid input. Row 0, column 4: 'x' is not a number");
	/* rows the body cannot hold: refused before allocating them */
	refused(&im, json, "{\"inputs\": [[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[]]}",
		HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid input. 24 rows of 6 values each cannot fit in a body of");
	model_free(&m);
	model_free(&im);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ia_mlflow_in");
	TCase *tc = tcase_create("mlflow_in");
	tcase_add_test(tc, tabular_forms_agree);
	tcase_add_test(tc, image_forms_agree);
	tcase_add_test(tc, pixel_rows_read_directly_equal_the_full_parser);
	tcase_add_test(tc, bad_bodies_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
