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
	tcase_add_test(tc, bad_bodies_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
