/* MLflow's scoring inputs -> a model's rows (mlflow_in.h): what `mlflow models serve`
 * (2.12, mlflow/pyfunc/scoring_server) accepts on /invocations, parsed into ia_cell
 * rows for tabular models (the model's columns matched by name) or raw pixel rows for
 * image models, which prep.c then prepares. Refusals carry MLflow's own messages and
 * error codes where MLflow has them, so a client written against MLflow reads ours.
 * Pure: no HTTP and no model table, unit-tested on its own. */
#include "mlflow_in.h"
#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "http/jspec.h"
#include "oip.h"

#define FORMATS  "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
#define REQUIRED "The input must be a JSON dictionary with exactly one of the input fields " FORMATS
#define CHANGE_INFO                                                                                                    \
	"IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are seeing this "      \
	"error, you are likely using an outdated scoring request format. To resolve the error, either update your "    \
	"request format or adjust your MLflow Model's requirements file to specify an older version of MLflow (for "   \
	"example, change the 'mlflow' requirement specifier to 'mlflow==1.30.0'). If you are making a request using "  \
	"the MLflow client (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in " \
	"order to use the new request format. For more information about the updated MLflow Model scoring protocol "   \
	"in MLflow 2.0, see https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
#define CSV_FAILED                                                                                                     \
	"Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas "          \
	"DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '%s'"

__attribute__((format(printf, 3, 4))) static enum core_status fail(struct ia_mlflow_error *e, enum http_error_code code,
								   const char *fmt, ...)
{
	e->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return CORE_EINVAL;
}

struct ctx {
	const struct ia_model *m;
	struct ia_mlflow_input *out;
	struct ia_mlflow_error *e;
	size_t len; /* body bytes: what the rows may take */
};

static bool is_image(const struct ctx *c)
{
	return c->m->kind == IA_INPUT_IMAGE;
}

/* Room for n rows. Each value of a well-formed body takes at least a byte of it, so n
 * rows of m's width bigger than the body cannot be meant: refused before allocating. */
static enum core_status alloc_rows(struct ctx *c, size_t n)
{
	size_t w = is_image(c) ? c->m->n_raw : c->m->n_columns;
	if (w && n > (c->len + w) / w)
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. %zu rows of %zu values each cannot fit in a body of %zu bytes", n, w,
			    c->len);
	c->out->n = n;
	if (is_image(c))
		c->out->raw = core_xmalloc((n ? n : 1) * w * sizeof *c->out->raw);
	else
		c->out->cells = core_xcalloc((n ? n : 1) * (w ? w : 1), sizeof *c->out->cells);
	return CORE_OK;
}

static struct ia_cell *cell_at(struct ctx *c, size_t row, size_t col)
{
	return &c->out->cells[row * c->m->n_columns + col];
}

static enum core_status json_cell(struct ctx *c, size_t row, size_t col, const json_t *v)
{
	struct ia_cell *cell = cell_at(c, row, col);
	memset(cell, 0, sizeof *cell);
	switch (json_typeof(v)) {
	case JSON_NULL:
		cell->is_null = true;
		return CORE_OK;
	case JSON_STRING:
		cell->is_str = true;
		cell->str = json_string_value(v);
		return CORE_OK;
	case JSON_INTEGER:
	case JSON_REAL:
		cell->num = json_number_value(v);
		return CORE_OK;
	case JSON_TRUE:
	case JSON_FALSE:
		/* as pandas writes booleans into a CSV, which is what a categorical column of
		 * them was trained on */
		if (c->m->columns[col].numeric) {
			cell->num = json_is_true(v) ? 1 : 0;
		} else {
			cell->is_str = true;
			cell->str = json_is_true(v) ? "True" : "False";
		}
		return CORE_OK;
	default:
		return fail(
			c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			"Invalid input. Row %zu, column '%s': a value must be a number, a string, a boolean or null",
			row, c->m->columns[col].name);
	}
}

/* Numbers of v (nested lists flattened, objects' values in order) into dst[0..cap);
 * *k counts them all (beyond cap too). False on a value that is not a number. */
static bool flatten(const json_t *v, float *dst, size_t cap, size_t *k)
{
	if (json_is_number(v)) {
		if (*k < cap)
			dst[*k] = (float)json_number_value(v);
		(*k)++;
		return true;
	}
	size_t i;
	const char *key;
	json_t *x;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			if (!flatten(x, dst, cap, k))
				return false;
		}
		return true;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, x)
		{
			if (!flatten(x, dst, cap, k))
				return false;
		}
		return true;
	}
	return false;
}

static enum core_status pixel_row(struct ctx *c, size_t row, const json_t *v)
{
	size_t k = 0, w = c->m->n_raw;
	if (!flatten(v, c->out->raw + row * w, w, &k))
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. Row %zu: pixel values must be numbers (lists of them, nested or flat)",
			    row);
	if (k != w)
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. Row %zu has %zu values; model '%s' takes %u x %u x %u = %zu pixel values",
			    row, k, c->m->name, c->m->c, c->m->h, c->m->w, w);
	return CORE_OK;
}

/* A row without names: a list of the model's columns in order (or one value for a
 * one-column model); for images, its pixels. */
static enum core_status positional_row(struct ctx *c, size_t row, const json_t *v)
{
	if (is_image(c))
		return pixel_row(c, row, v);
	size_t nc = c->m->n_columns;
	if (json_is_object(v))
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. Rows must be all lists or all records ({column: value} objects)");
	if (!json_is_array(v)) {
		if (nc != 1)
			return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				    "Invalid input. Row %zu is one value; model '%s' takes %zu columns", row,
				    c->m->name, nc);
		return json_cell(c, row, 0, v);
	}
	if (json_array_size(v) != nc)
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. Row %zu has %zu values; model '%s' takes %zu columns", row,
			    json_array_size(v), c->m->name, nc);
	for (size_t j = 0; j < nc; j++) {
		enum core_status rc = json_cell(c, row, j, json_array_get(v, j));
		if (rc != CORE_OK)
			return rc;
	}
	return CORE_OK;
}

/* MLflow's schema enforcement message for columns the input lacks. */
static enum core_status missing_inputs(struct ctx *c, const bool *have)
{
	struct core_buf b;
	core_buf_init(&b, 1024);
	core_buf_append_str(&b, "[");
	for (size_t j = 0, k = 0; j < c->m->n_columns; j++)
		if (!have[j])
			core_buf_printf(&b, "%s'%s'", k++ ? ", " : "", c->m->columns[j].name);
	core_buf_append_str(&b, "]");
	char *list = core_buf_steal(&b, NULL);
	fail(c->e, HTTP_EC_BAD_REQUEST, "Model is missing inputs %s.", list ? list : "[...]");
	free(list);
	core_buf_free(&b);
	return CORE_EINVAL;
}

/* Records: [{column: value}...]; a column absent from one record is missing there,
 * absent from all of them an error. Images: each record's values are its pixels. */
static enum core_status records(struct ctx *c, const json_t *rows)
{
	size_t n = json_array_size(rows), nc = c->m->n_columns;
	enum core_status rc = alloc_rows(c, n);
	for (size_t i = 0; i < n && rc == CORE_OK; i++)
		if (!json_is_object(json_array_get(rows, i)))
			rc = fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				  "Invalid input. Rows must be all lists or all records ({column: value} objects)");
	if (rc != CORE_OK || is_image(c)) {
		for (size_t i = 0; i < n && rc == CORE_OK; i++)
			rc = pixel_row(c, i, json_array_get(rows, i));
		return rc;
	}
	bool *have = core_xcalloc(nc, sizeof *have);
	for (size_t i = 0; i < n && rc == CORE_OK; i++) {
		const json_t *r = json_array_get(rows, i);
		for (size_t j = 0; j < nc && rc == CORE_OK; j++) {
			const json_t *v = json_object_get(r, c->m->columns[j].name);
			if (!v) {
				cell_at(c, i, j)->is_null = true;
				continue;
			}
			have[j] = true;
			rc = json_cell(c, i, j, v);
		}
	}
	if (rc == CORE_OK && n)
		for (size_t j = 0; j < nc; j++)
			if (!have[j]) {
				rc = missing_inputs(c, have);
				break;
			}
	free(have);
	return rc;
}

/* A list of rows: records when they are objects, else positional. */
static enum core_status row_list(struct ctx *c, const json_t *rows)
{
	size_t n = json_array_size(rows);
	if (n && json_is_object(json_array_get(rows, 0)))
		return records(c, rows);
	enum core_status rc = alloc_rows(c, n);
	for (size_t i = 0; i < n && rc == CORE_OK; i++)
		rc = positional_row(c, i, json_array_get(rows, i));
	return rc;
}

/* The text of a column name: strings, and integers as pandas' default names. */
static bool column_name(const json_t *v, char *buf, size_t size, const char **out)
{
	if (json_is_string(v)) {
		*out = json_string_value(v);
		return true;
	}
	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		*out = buf;
		return true;
	}
	return false;
}

static enum core_status dataframe_split(struct ctx *c, const json_t *df)
{
	const json_t *cols = json_object_get(df, "columns"), *data = json_object_get(df, "data");
	const json_t *index = json_object_get(df, "index");
	if (!json_is_object(df) || !json_is_array(data) || (cols && !json_is_array(cols)) ||
	    (index && !json_is_array(index)))
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. dataframe_split must be an object with \"data\" (a list of rows) and "
			    "optionally \"columns\" and \"index\" (lists)");
	size_t n = json_array_size(data);
	if (index && json_array_size(index) != n)
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. Shape of passed values is (%zu, ...), the index implies %zu rows", n,
			    json_array_size(index));
	if (!cols || is_image(c))
		return row_list(c, data);
	size_t nc = c->m->n_columns, ncols = json_array_size(cols);
	size_t *map = core_xmalloc((nc ? nc : 1) * sizeof *map);
	bool *have = core_xcalloc(nc ? nc : 1, sizeof *have);
	enum core_status rc = CORE_OK;
	for (size_t k = 0; k < ncols && rc == CORE_OK; k++) {
		char buf[32];
		const char *name;
		if (!column_name(json_array_get(cols, k), buf, sizeof buf, &name)) {
			rc = fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				  "Invalid input. dataframe_split: columns[%zu] must be a string", k);
			break;
		}
		for (size_t j = 0; j < nc; j++)
			if (!have[j] && strcmp(c->m->columns[j].name, name) == 0) {
				have[j] = true;
				map[j] = k;
				break;
			}
	}
	for (size_t j = 0; j < nc && rc == CORE_OK; j++)
		if (!have[j])
			rc = missing_inputs(c, have);
	if (rc == CORE_OK)
		rc = alloc_rows(c, n);
	for (size_t i = 0; i < n && rc == CORE_OK; i++) {
		const json_t *r = json_array_get(data, i);
		if (!json_is_array(r) || json_array_size(r) != ncols) {
			rc = fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				  "Invalid input. dataframe_split: data[%zu] must be a list of %zu values, one per "
				  "column",
				  i, ncols);
			break;
		}
		for (size_t j = 0; j < nc && rc == CORE_OK; j++)
			rc = json_cell(c, i, j, json_array_get(r, map[j]));
	}
	free(map);
	free(have);
	return rc;
}

/* TF Serving's columnar form {column: [values...]} (a scalar is one row). */
static enum core_status columnar(struct ctx *c, const json_t *obj)
{
	if (is_image(c)) {
		if (json_object_size(obj) != 1)
			return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				    "Invalid input. Model '%s' takes one input (images): give a list of images, or "
				    "{name: list of images}",
				    c->m->name);
		json_t *v = json_object_iter_value(json_object_iter((json_t *)obj));
		if (!json_is_array(v))
			return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid input. Images must be a list");
		return row_list(c, v);
	}
	size_t nc = c->m->n_columns, n = 0;
	bool *have = core_xcalloc(nc ? nc : 1, sizeof *have), seen = false;
	enum core_status rc = CORE_OK;
	for (size_t j = 0; j < nc && rc == CORE_OK; j++) {
		const json_t *v = json_object_get(obj, c->m->columns[j].name);
		if (!v)
			continue;
		have[j] = true;
		size_t nj = json_is_array(v) ? json_array_size(v) : 1;
		if (seen && nj != n)
			rc = fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				  "Invalid input. Column '%s' has %zu values, the columns before it %zu",
				  c->m->columns[j].name, nj, n);
		n = nj;
		seen = true;
	}
	for (size_t j = 0; j < nc && rc == CORE_OK; j++)
		if (!have[j])
			rc = missing_inputs(c, have);
	if (rc == CORE_OK)
		rc = alloc_rows(c, n);
	for (size_t j = 0; j < nc && rc == CORE_OK; j++) {
		const json_t *v = json_object_get(obj, c->m->columns[j].name);
		for (size_t i = 0; i < n && rc == CORE_OK; i++)
			rc = json_cell(c, i, j, json_is_array(v) ? json_array_get(v, i) : v);
	}
	free(have);
	return rc;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* The common image request, {"inputs": [[...], ...]} (or "instances"), each row a list
 * of pixel values (nested or flat), read straight into raw rows without a jansson tree:
 * 784 values made 784 jansson numbers, about half of the route's time. Anything else
 * (other members, strings, objects, a non-finite or malformed number, a row of the
 * wrong size, no rows) returns false, and the full parser reads the body and words
 * the error. */
static bool fast_pixel_rows(struct ctx *c, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	size_t w = c->m->n_raw, n = 0, cap = 0;
	float *raw = NULL;
	p = skip_ws(p, end);
	if (p == end || *p++ != '{')
		return false;
	p = skip_ws(p, end);
	size_t klen = 0;
	if (end - p > 8 && memcmp(p, "\"inputs\"", 8) == 0)
		klen = 8;
	else if (end - p > 11 && memcmp(p, "\"instances\"", 11) == 0)
		klen = 11;
	if (!klen)
		return false;
	p = skip_ws(p + klen, end);
	if (p == end || *p++ != ':')
		return false;
	p = skip_ws(p, end);
	if (p == end || *p++ != '[')
		goto no;
	for (;;) {
		p = skip_ws(p, end);
		if (p == end || *p != '[')
			goto no;
		if (n == cap) {
			cap = cap ? 2 * cap : 1;
			if (cap > (c->len + w) / (w ? w : 1))
				goto no; /* more rows than the body can hold: the full parser says so */
			raw = core_xrealloc(raw, cap * w * sizeof *raw);
		}
		size_t k = 0;
		int depth = 0;
		bool value_next = true; /* a value may come (after '[' or ',') */
		do {
			p = skip_ws(p, end);
			if (p == end)
				goto no;
			if (*p == '[' && value_next) {
				depth++;
				p++;
			} else if (*p == ']' && !value_next) {
				depth--;
				p++;
				value_next = false;
			} else if (*p == ',' && !value_next) {
				value_next = true;
				p++;
			} else if (value_next) {
				double v;
				size_t used = ia_json_number(p, end, &v);
				if (!used || !isfinite(v) || k >= w)
					goto no;
				raw[n * w + k++] = (float)v;
				p += used;
				value_next = false;
			} else {
				goto no;
			}
		} while (depth > 0);
		if (k != w)
			goto no;
		n++;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']') {
			p++;
			break;
		}
		goto no;
	}
	p = skip_ws(p, end);
	if (p == end || *p++ != '}' || skip_ws(p, end) != end)
		goto no;
	c->out->n = n;
	c->out->raw = raw;
	return true;
no:
	free(raw);
	return false;
}

static enum core_status parse_json(struct ctx *c, const char *body, size_t len)
{
	if (is_image(c) && fast_pixel_rows(c, body, len))
		return CORE_OK;
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	if (!doc)
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. Ensure that input is a valid JSON formatted string. Error: '%s (line %d, "
			    "column %d)'",
			    jerr.text, jerr.line, jerr.column);
	c->out->doc = doc;
	if (json_is_array(doc))
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE, "Invalid input. %s. Received a list.", REQUIRED);
	if (!json_is_object(doc))
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. %s. Received unexpected input type '<class '%s'>.", REQUIRED,
			    http_json_py_type(doc));
	static const char *const formats[] = {"dataframe_split", "dataframe_records", "instances", "inputs"};
	int which = -1, found = 0;
	for (int f = 0; f < 4; f++)
		if (json_object_get(doc, formats[f])) {
			which = f;
			found++;
		}
	if (found != 1) {
		struct core_buf b;
		core_buf_init(&b, 600);
		const char *key;
		json_t *v;
		size_t k = 0;
		json_object_foreach(doc, key, v)
		{
			if (core_buf_printf(&b, "%s'%s'", k++ ? ", " : "", key) != CORE_OK)
				break;
		}
		char *keys = core_buf_steal(&b, NULL);
		fail(c->e, HTTP_EC_BAD_REQUEST, "%s. Received dictionary with input fields: [%s]. %s", REQUIRED,
		     keys ? keys : "...", CHANGE_INFO);
		free(keys);
		core_buf_free(&b);
		return CORE_EINVAL;
	}
	const json_t *v = json_object_get(doc, formats[which]);
	switch (which) {
	case 0:
		return dataframe_split(c, v);
	case 1:
		if (!json_is_array(v))
			return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				    "Invalid input. dataframe_records must be a list of {column: value} records");
		return records(c, v);
	default:
		if (json_is_array(v))
			return row_list(c, v);
		if (json_is_object(v))
			return columnar(c, v);
		return fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
			    "Invalid input. %s must be a list of rows or an object of columns", formats[which]);
	}
}

/* --- text/csv -------------------------------------------------------------------- */

struct csv_in {
	struct core_buf text; /* every field, NUL-terminated, one after the other */
	size_t *off;          /* each field's offset in text */
	size_t n_off, cap_off;
	size_t *row_start; /* each row's first field (index into off) */
	size_t n_rows, cap_rows;
	size_t fields; /* in the row being built */
	bool oom;
};

static void on_field(void *s, size_t len, void *data)
{
	struct csv_in *in = data;
	if (in->n_off == in->cap_off) {
		in->cap_off = in->cap_off ? in->cap_off * 2 : 1024;
		in->off = core_xrealloc(in->off, in->cap_off * sizeof *in->off);
	}
	in->off[in->n_off++] = in->text.len;
	if ((len && core_buf_append(&in->text, s, len) != CORE_OK) || core_buf_append(&in->text, "", 1) != CORE_OK)
		in->oom = true;
	in->fields++;
}

static void on_row(int ch, void *data)
{
	(void)ch;
	struct csv_in *in = data;
	if (in->n_rows == in->cap_rows) {
		in->cap_rows = in->cap_rows ? in->cap_rows * 2 : 256;
		in->row_start = core_xrealloc(in->row_start, (in->cap_rows + 1) * sizeof *in->row_start);
	}
	in->row_start[in->n_rows++] = in->n_off - in->fields;
	in->fields = 0;
}

/* RFC 4180: spaces belong to the field (libcsv trims them by default), as the data
 * registry's reader and pandas take them. */
static int no_space(unsigned char ch)
{
	(void)ch;
	return 0;
}

static enum core_status parse_csv(struct ctx *c, const char *body, size_t len)
{
	struct csv_parser p;
	struct csv_in in = {0};
	enum core_status rc = CORE_OK;
	core_buf_init(&in.text, 2 * len + 1024); /* a NUL per field: at most one per byte */
	if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
		body += 3;
		len -= 3;
	}
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return fail(c->e, HTTP_EC_INTERNAL_ERROR, "libcsv: cannot start a parser");
	csv_set_space_func(&p, no_space);
	if (csv_parse(&p, body, len, on_field, on_row, &in) != len || csv_fini(&p, on_field, on_row, &in) != 0)
		rc = fail(c->e, HTTP_EC_BAD_REQUEST, CSV_FAILED, csv_strerror(csv_error(&p)));
	csv_free(&p);
	if (rc == CORE_OK && in.oom)
		rc = fail(c->e, HTTP_EC_BAD_REQUEST, CSV_FAILED, "the CSV is too big");
	if (rc == CORE_OK && !in.n_rows)
		rc = fail(c->e, HTTP_EC_BAD_REQUEST, CSV_FAILED, "No columns to parse from file");
	if (rc != CORE_OK)
		goto out;
	in.row_start[in.n_rows] = in.n_off;
	c->out->arena = core_buf_steal(&in.text, NULL);
	const char *text = c->out->arena;
#define FIELD(r, k) (text + in.off[in.row_start[r] + (k)])
	size_t width = in.n_rows > 1 ? in.row_start[1] - in.row_start[0] : in.n_off - in.row_start[0];
	size_t n = in.n_rows - 1, nc = c->m->n_columns;
	for (size_t r = 1; r < in.n_rows; r++) {
		size_t got = in.row_start[r + 1] - in.row_start[r];
		if (got > width) {
			char msg[128];
			snprintf(msg, sizeof msg,
				 "Error tokenizing data. C error: Expected %zu fields in line %zu, saw %zu", width,
				 r + 1, got);
			rc = fail(c->e, HTTP_EC_BAD_REQUEST, CSV_FAILED, msg);
			goto out;
		}
	}
	if ((rc = alloc_rows(c, n)) != CORE_OK)
		goto out;
	if (is_image(c)) {
		/* pandas' to_csv writes the index as a first, unnamed column */
		size_t skip = width == c->m->n_raw + 1 && !*FIELD(0, 0) ? 1 : 0;
		if (width - skip != c->m->n_raw) {
			rc = fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
				  "Invalid input. The CSV has %zu columns; model '%s' takes %u x %u x %u = %zu pixel "
				  "values",
				  width, c->m->name, c->m->c, c->m->h, c->m->w, c->m->n_raw);
			goto out;
		}
		for (size_t r = 1; r <= n; r++) {
			size_t got = in.row_start[r + 1] - in.row_start[r];
			for (size_t k = skip; k < width; k++) {
				const char *f = k < got ? FIELD(r, k) : "";
				char *end;
				errno = 0;
				double d = strtod(f, &end);
				if (end == f || *end || errno == ERANGE) {
					rc = fail(c->e, HTTP_EC_INVALID_PARAMETER_VALUE,
						  "Invalid input. Row %zu, column %zu: '%.64s' is not a number", r - 1,
						  k, f);
					goto out;
				}
				c->out->raw[(r - 1) * c->m->n_raw + (k - skip)] = (float)d;
			}
		}
		goto out;
	}
	size_t *map = core_xmalloc((nc ? nc : 1) * sizeof *map);
	bool *have = core_xcalloc(nc ? nc : 1, sizeof *have);
	for (size_t k = 0; k < width; k++)
		for (size_t j = 0; j < nc; j++)
			if (!have[j] && strcmp(c->m->columns[j].name, FIELD(0, k)) == 0) {
				have[j] = true;
				map[j] = k;
				break;
			}
	for (size_t j = 0; j < nc && rc == CORE_OK; j++)
		if (!have[j])
			rc = missing_inputs(c, have);
	for (size_t r = 1; r <= n && rc == CORE_OK; r++) {
		size_t got = in.row_start[r + 1] - in.row_start[r];
		for (size_t j = 0; j < nc; j++) {
			struct ia_cell *cell = cell_at(c, r - 1, j);
			cell->is_str = true;
			cell->str = map[j] < got ? FIELD(r, map[j]) : "";
		}
	}
#undef FIELD
	free(map);
	free(have);
out:
	core_buf_free(&in.text);
	free(in.off);
	free(in.row_start);
	return rc;
}

/* --- content type ------------------------------------------------------------------ */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

/* MLflow's checks, in its order: charset, other parameters, media type. */
static enum core_status media_type(const char *ct, bool *csv, struct ia_mlflow_error *e)
{
	if (!ct)
		return fail(e, HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
			    "This predictor only supports the following content types: Types: ['text/csv', "
			    "'application/json']. Got 'None'.");
	char *copy = core_xstrdup(ct), *rest = copy;
	char *mime = trim(strsep(&rest, ";"));
	enum core_status rc = CORE_OK;
	struct core_buf other;
	core_buf_init(&other, 512);
	for (char *t; rc == CORE_OK && (t = strsep(&rest, ";"));) {
		char *eq = strchr(t, '=');
		if (eq)
			*eq = 0;
		char *key = trim(t), *val = eq ? trim(eq + 1) : "";
		if (strcmp(key, "charset") == 0) {
			if (strcasecmp(val, "utf-8") != 0)
				rc = fail(e, HTTP_EC_UNSUPPORTED_MEDIA_TYPE, "The scoring server only supports UTF-8");
		} else {
			core_buf_printf(&other, "%s%s", other.len ? ", " : "", key);
		}
	}
	if (rc == CORE_OK && other.len)
		rc = fail(e, HTTP_EC_UNSUPPORTED_MEDIA_TYPE, "Unrecognized content type parameters: %.*s. %s",
			  (int)other.len, other.data, CHANGE_INFO);
	if (rc == CORE_OK) {
		if (strcasecmp(mime, "text/csv") == 0)
			*csv = true;
		else if (strcasecmp(mime, "application/json") == 0)
			*csv = false;
		else
			rc = fail(e, HTTP_EC_UNSUPPORTED_MEDIA_TYPE,
				  "This predictor only supports the following content types: Types: ['text/csv', "
				  "'application/json']. Got '%.200s'.",
				  ct);
	}
	core_buf_free(&other);
	free(copy);
	return rc;
}

enum core_status ia_mlflow_parse(const struct ia_model *m, const char *content_type, const char *body, size_t len,
				 struct ia_mlflow_input *out, struct ia_mlflow_error *e)
{
	memset(out, 0, sizeof *out);
	e->code = HTTP_EC_NONE;
	e->message[0] = 0;
	bool csv = false;
	struct ctx c = {.m = m, .out = out, .e = e, .len = len};
	enum core_status rc = media_type(content_type, &csv, e);
	if (rc == CORE_OK)
		rc = csv ? parse_csv(&c, body, len) : parse_json(&c, body, len);
	if (rc != CORE_OK)
		ia_mlflow_input_free(out);
	return rc;
}

void ia_mlflow_input_free(struct ia_mlflow_input *in)
{
	if (!in)
		return;
	free(in->cells);
	free(in->raw);
	json_decref(in->doc);
	free(in->arena);
	memset(in, 0, sizeof *in);
}
