/* The JSON spec engine (face: http/jspec.h). A spec table is walked row by row over a
 * JSON object; each row is looked up, checked for presence and converted into its out
 * pointer with the coercions MLflow's protobuf-JSON mapping allows (int64 and double
 * from strings, "NaN"/"Infinity" doubles, "true"/"false" bools). The first failing row
 * stops the walk with MLflow's wording, so clients see the messages the real server
 * gives. Nothing is allocated for the caller: strings and json_t values are borrowed.
 *
 * http_parse_args_or_reply first makes the arguments object of a request (the JSON
 * body, or the query string for GET/HEAD) and keeps it on the request (req->keep)
 * until completion, which is what lets handlers borrow from it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/log.h"
#include "http/jspec.h"
#include "http_int.h"

#define API_DOCS "See the API docs for more information about request parameters."
#define REPR_MAX 256

/* Python's name for the type of v (MLflow's "Hint: Value was of type 'str'"). */
const char *http_json_py_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "dict";
	case JSON_ARRAY:
		return "list";
	case JSON_STRING:
		return "str";
	case JSON_INTEGER:
		return "int";
	case JSON_REAL:
		return "float";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		break;
	}
	return "NoneType";
}

/* Writes v roughly as Python prints it: strings bare, True/False/None, containers as
 * compact JSON; cut at REPR_MAX. */
static void py_repr(const json_t *v, char *buf, size_t size)
{
	char *dump;
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, size, "%s", json_string_value(v));
		return;
	case JSON_INTEGER:
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		snprintf(buf, size, "%.15g", json_real_value(v));
		if (strtod(buf, NULL) != json_real_value(v))
			snprintf(buf, size, "%.17g", json_real_value(v));
		if (!strpbrk(buf, ".e"))
			snprintf(buf + strlen(buf), size - strlen(buf), ".0");
		return;
	case JSON_TRUE:
		snprintf(buf, size, "True");
		return;
	case JSON_FALSE:
		snprintf(buf, size, "False");
		return;
	case JSON_NULL:
		snprintf(buf, size, "None");
		return;
	case JSON_OBJECT:
	case JSON_ARRAY:
		break;
	}
	dump = json_dumps(v, JSON_COMPACT);
	snprintf(buf, size, "%s", dump ? dump : "?");
	free(dump);
}

enum core_status http_jspec_missing(struct core_error *err, const char *where, const char *field)
{
	return core_fail(err, CORE_EINVAL, "Missing value for required parameter '%s%s%s'. " API_DOCS,
			 where ? where : "", where ? "." : "", field);
}

static enum core_status fail_value(struct core_error *err, const char *where, const char *field, const json_t *v)
{
	char repr[REPR_MAX];
	py_repr(v, repr, sizeof repr);
	return core_fail(err, CORE_EINVAL,
			 "Invalid value %s for parameter '%s%s%s' supplied. Hint: Value was of "
			 "type '%s'. " API_DOCS,
			 repr, where ? where : "", where ? "." : "", field, http_json_py_type(v));
}

/* A whole string of an optionally signed decimal integer that fits in int64. */
static bool parse_int64_text(const char *s, int64_t *out)
{
	const char *digits = s + (*s == '-' || *s == '+');
	if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits))
		return false;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

/* A whole decimal number ("1.5", "-2e3"), or NaN/Infinity/-Infinity in any case. */
static bool parse_double_text(const char *s, double *out)
{
	if (strcasecmp(s, "NaN") == 0) {
		*out = NAN;
		return true;
	}
	if (strcasecmp(s, "Infinity") == 0 || strcasecmp(s, "+Infinity") == 0) {
		*out = INFINITY;
		return true;
	}
	if (strcasecmp(s, "-Infinity") == 0) {
		*out = -INFINITY;
		return true;
	}
	if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end != '\0' || end == s || !isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
		return false;
	*out = v;
	return true;
}

static bool convert_int64(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			return false;
		*out = (int64_t)d;
		return true;
	}
	return json_is_string(v) && parse_int64_text(json_string_value(v), out);
}

static bool convert_double(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	return json_is_string(v) && parse_double_text(json_string_value(v), out);
}

static bool convert_bool(const json_t *v, bool *out)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	if (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0) {
		*out = true;
		return true;
	}
	if (json_is_string(v) && strcasecmp(json_string_value(v), "false") == 0) {
		*out = false;
		return true;
	}
	return false;
}

/* Converts v for row; false when v has the wrong type. */
static bool convert(const struct http_jspec *row, json_t *v)
{
	int64_t i;
	double d;
	bool b;
	switch (row->type) {
	case HTTP_JS_STRING:
		if (!json_is_string(v))
			return false;
		if (row->out)
			*(const char **)row->out = json_string_value(v);
		return true;
	case HTTP_JS_INT64:
		if (!convert_int64(v, &i))
			return false;
		if (row->out)
			*(int64_t *)row->out = i;
		return true;
	case HTTP_JS_DOUBLE:
		if (!convert_double(v, &d))
			return false;
		if (row->out)
			*(double *)row->out = d;
		return true;
	case HTTP_JS_BOOL:
		if (!convert_bool(v, &b))
			return false;
		if (row->out)
			*(bool *)row->out = b;
		return true;
	case HTTP_JS_OBJECT:
	case HTTP_JS_ARRAY:
	case HTTP_JS_ANY:
		if ((row->type == HTTP_JS_OBJECT && !json_is_object(v)) ||
		    (row->type == HTTP_JS_ARRAY && !json_is_array(v)))
			return false;
		if (row->out)
			*(json_t **)row->out = v;
		return true;
	}
	return false;
}

enum core_status http_jspec_parse_at(json_t *obj, const struct http_jspec *spec, const char *where,
				     struct core_error *err)
{
	if (!json_is_object(obj)) {
		if (where && obj)
			return core_fail(err, CORE_EINVAL,
					 "Invalid value for parameter '%s' supplied: expected an "
					 "object, got '%s'. " API_DOCS,
					 where, http_json_py_type(obj));
		return core_fail(err, CORE_EINVAL, "Request arguments must be a JSON object");
	}
	for (const struct http_jspec *row = spec; row->field; row++) {
		json_t *v = json_object_get(obj, row->field);
		bool given = v && !json_is_null(v);
		if (given && row->required && row->type == HTTP_JS_STRING && json_is_string(v) &&
		    json_string_length(v) == 0)
			given = false;
		if (row->present)
			*row->present = given;
		if (!given) {
			if (row->required)
				return http_jspec_missing(err, where, row->field);
			continue;
		}
		if (!convert(row, v))
			return fail_value(err, where, row->field, v);
	}
	return CORE_OK;
}

enum core_status http_jspec_parse(json_t *obj, const struct http_jspec *spec, struct core_error *err)
{
	return http_jspec_parse_at(obj, spec, NULL, err);
}

/* --- the arguments of a request ----------------------------------------------------- */

static bool is_array_field(const struct http_jspec *spec, const char *key)
{
	for (const struct http_jspec *row = spec; row->field; row++)
		if (row->type == HTTP_JS_ARRAY && strcmp(row->field, key) == 0)
			return true;
	return false;
}

/* The query string as an object: first value of each key, all values for ARRAY rows. */
static json_t *query_args(const struct http_request *req, const struct http_jspec *spec)
{
	json_t *args = json_object();
	if (!args)
		return NULL;
	for (size_t i = 0; i < req->n_query; i++) {
		const struct http_query_pair *q = &req->query[i];
		json_t *have = json_object_get(args, q->key);
		if (is_array_field(spec, q->key)) {
			if (!have) {
				have = json_array();
				if (json_object_set_new(args, q->key, have) != 0)
					continue;
			}
			json_array_append_new(have, http_json_string_lossy(q->value));
		} else if (!have) {
			json_object_set_new(args, q->key, http_json_string_lossy(q->value));
		}
	}
	return args;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* An upper bound on the number of JSON values in s: one, plus one per ',', '[' and
 * '{' outside strings (every value but the first follows one of them). Counts up to
 * max + 1 only. */
static size_t json_values_bound(const char *s, size_t len, size_t max)
{
	size_t n = 1;
	bool in_string = false;
	for (size_t i = 0; i < len && n <= max; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == ',' || c == '[' || c == '{') {
			n++;
		}
	}
	return n;
}

/* Refuses (400) a JSON text holding more than HTTP_JSON_VALUES_MAX values before it
 * is parsed: jansson spends some 40 bytes per value, so 16 MiB of "[0,0,..." would
 * become a 350 MB tree (measured), far past what the body budget bounds. The largest
 * request MLflow defines (log-batch: 1000 metrics, 100 params, 100 tags) has about
 * 6,000 values. */
static bool json_values_ok(struct http_request *req, const char *s, size_t len)
{
	if (json_values_bound(s, len, HTTP_JSON_VALUES_MAX) <= HTTP_JSON_VALUES_MAX)
		return true;
	http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Request body holds more than %d JSON values",
			 HTTP_JSON_VALUES_MAX);
	return false;
}

/* The JSON body as an object, or NULL after replying 400. */
static json_t *body_args(struct http_request *req)
{
	size_t len;
	const char *body = http_request_body(req, &len);
	json_error_t jerr;
	if (blank(body, len))
		return json_object();
	if (!json_values_ok(req, body, len))
		return NULL;
	json_t *args = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!args) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Malformed JSON in request body: %s (line %d, "
				 "column %d)",
				 jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (json_is_string(args)) {
		/* old MLflow clients send the JSON object as a JSON string */
		if (!json_values_ok(req, json_string_value(args), json_string_length(args))) {
			json_decref(args);
			return NULL;
		}
		json_t *inner = json_loads(json_string_value(args), JSON_REJECT_DUPLICATES, &jerr);
		if (json_is_object(inner)) {
			json_decref(args);
			args = inner;
		} else {
			json_decref(inner);
		}
	}
	if (!json_is_object(args)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Request body must be a JSON object, got '%s'",
				 http_json_py_type(args));
		json_decref(args);
		return NULL;
	}
	return args;
}

enum http_parse_result http_parse_args_or_reply(struct http_request *req, const struct http_jspec *spec,
						json_t **args_out)
{
	struct core_error err;
	json_t *args;
	if (req->method == HTTP_GET || req->method == HTTP_HEAD) {
		args = query_args(req, spec);
		if (!args) {
			http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "out of memory parsing the query");
			return HTTP_PARSE_REPLIED;
		}
	} else {
		args = body_args(req);
		if (!args)
			return HTTP_PARSE_REPLIED;
	}
	/* The request keeps what it lent out until it completes. */
	if (!req->keep)
		req->keep = json_array();
	if (json_array_append_new(req->keep, args) != 0) {
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "out of memory parsing the arguments");
		return HTTP_PARSE_REPLIED;
	}
	if (http_jspec_parse(args, spec, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err.message);
		return HTTP_PARSE_REPLIED;
	}
	if (args_out)
		*args_out = args;
	return HTTP_PARSE_OK;
}

int http_reply_invalid(struct http_request *req, const struct core_error *err)
{
	return http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "%s", err->message);
}

enum core_status http_json_set_path(json_t *obj_root, const char *path, json_t *value, struct core_error *err)
{
	json_t *obj = obj_root;
	const char *p = path;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[128];
		if (n == 0 || n >= sizeof key)
			return core_fail(err, CORE_EINVAL, "'%.100s' is not a field path", path);
		memcpy(key, p, n);
		key[n] = '\0';
		if (!dot)
			return json_object_set(obj, key, value) == 0
				       ? CORE_OK
				       : core_fail(err, CORE_ENOMEM, "could not set %.100s", path);
		json_t *next = json_object_get(obj, key);
		if (!next || json_is_null(next)) {
			next = json_object();
			json_object_set_new(obj, key, next);
		} else if (!json_is_object(next)) {
			return core_fail(err, CORE_EINVAL, "'%.100s': %s is not an object", path, key);
		}
		obj = next;
		p = dot + 1;
	}
}
