/* jspec: request arguments parsed with a spec table instead of hand-written jansson
 * walks (docs/style.md §7). Each row names a field, its type, where the value goes, whether it is
 * required and an optional "present" flag; the engine checks every row and reports
 * the first failing field in MLflow's words, so a handler reads:
 *
 *   const char *run_id = NULL, *key = NULL;
 *   double value;
 *   int64_t timestamp, step = 0;
 *   const struct http_jspec spec[] = {
 *       HTTP_JS_REQ_STRING("run_id", &run_id),
 *       HTTP_JS_REQ_STRING("key", &key),
 *       HTTP_JS_REQ_DOUBLE("value", &value),
 *       HTTP_JS_REQ_INT64("timestamp", &timestamp),
 *       HTTP_JS_OPT_INT64("step", &step, NULL),
 *       HTTP_JS_END};
 *   if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
 *       return;
 *
 * Values are borrowed: strings and json_t pointers stay valid as long as the object
 * they were parsed from (for http_parse_args_or_reply: until the request completes).
 * Nothing is allocated for the caller, so there is nothing to free. */
#ifndef HTTP_JSPEC_H
#define HTTP_JSPEC_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "http/http.h"

enum http_jspec_type {
	HTTP_JS_STRING, /* out: const char ** ; a JSON string */
	HTTP_JS_INT64,  /* out: int64_t * ; an integer, an integral number, or a string of an
			   integer ("42", "-7") */
	HTTP_JS_DOUBLE, /* out: double * ; a number, a numeric string, or "NaN", "Infinity",
			   "-Infinity" */
	HTTP_JS_BOOL,   /* out: bool * ; true/false or the strings "true"/"false" (any case) */
	HTTP_JS_OBJECT, /* out: json_t ** ; a JSON object, borrowed */
	HTTP_JS_ARRAY,  /* out: json_t ** ; a JSON array, borrowed */
	HTTP_JS_ANY,    /* out: json_t ** ; any non-null value, borrowed */
};

/* One row. A field that is absent or JSON null is missing; for HTTP_JS_STRING so is "".
 * A missing optional field leaves *out unchanged (preset defaults survive). */
struct http_jspec {
	const char *field; /* NULL ends the table */
	enum http_jspec_type type;
	void *out;     /* where the value goes; type as listed above */
	bool required; /* missing → "Missing value for required parameter" */
	bool *present; /* may be NULL; set to whether the field was given */
};

/* Row constructors. The conditional expression makes the compiler check that the out
 * pointer has the type the row needs. */
#define HTTP_JS_OUT_(T, p) ((void *)(1 ? (p) : (T)0))
#define HTTP_JS_ROW_(f, t, T, p, req, pres)                                                                            \
	{                                                                                                              \
		(f), (t), HTTP_JS_OUT_(T, p), (req), (pres)                                                            \
	}
#define HTTP_JS_REQ_STRING(f, p)       HTTP_JS_ROW_(f, HTTP_JS_STRING, const char **, p, true, NULL)
#define HTTP_JS_OPT_STRING(f, p, pres) HTTP_JS_ROW_(f, HTTP_JS_STRING, const char **, p, false, pres)
#define HTTP_JS_REQ_INT64(f, p)        HTTP_JS_ROW_(f, HTTP_JS_INT64, int64_t *, p, true, NULL)
#define HTTP_JS_OPT_INT64(f, p, pres)  HTTP_JS_ROW_(f, HTTP_JS_INT64, int64_t *, p, false, pres)
#define HTTP_JS_REQ_DOUBLE(f, p)       HTTP_JS_ROW_(f, HTTP_JS_DOUBLE, double *, p, true, NULL)
#define HTTP_JS_OPT_DOUBLE(f, p, pres) HTTP_JS_ROW_(f, HTTP_JS_DOUBLE, double *, p, false, pres)
#define HTTP_JS_REQ_BOOL(f, p)         HTTP_JS_ROW_(f, HTTP_JS_BOOL, bool *, p, true, NULL)
#define HTTP_JS_OPT_BOOL(f, p, pres)   HTTP_JS_ROW_(f, HTTP_JS_BOOL, bool *, p, false, pres)
#define HTTP_JS_REQ_OBJECT(f, p)       HTTP_JS_ROW_(f, HTTP_JS_OBJECT, json_t **, p, true, NULL)
#define HTTP_JS_OPT_OBJECT(f, p, pres) HTTP_JS_ROW_(f, HTTP_JS_OBJECT, json_t **, p, false, pres)
#define HTTP_JS_REQ_ARRAY(f, p)        HTTP_JS_ROW_(f, HTTP_JS_ARRAY, json_t **, p, true, NULL)
#define HTTP_JS_OPT_ARRAY(f, p, pres)  HTTP_JS_ROW_(f, HTTP_JS_ARRAY, json_t **, p, false, pres)
#define HTTP_JS_REQ_ANY(f, p)          HTTP_JS_ROW_(f, HTTP_JS_ANY, json_t **, p, true, NULL)
#define HTTP_JS_OPT_ANY(f, p, pres)    HTTP_JS_ROW_(f, HTTP_JS_ANY, json_t **, p, false, pres)
#define HTTP_JS_END                                                                                                    \
	{                                                                                                              \
		NULL, HTTP_JS_ANY, NULL, false, NULL                                                                   \
	}

enum http_parse_result {
	HTTP_PARSE_OK,      /* every row filled: go on */
	HTTP_PARSE_REPLIED, /* the client's mistake was answered (400): return at once */
};

/* Gets the request's arguments and fills spec from them:
 *  - POST/PUT/PATCH/DELETE: the JSON body, loaded with JSON_REJECT_DUPLICATES. A
 *    missing or blank body is {}. A body that is a JSON string holding a JSON object
 *    is decoded once more (MLflow's old clients do that). Anything else that is not an
 *    object, and malformed JSON (message with jansson's text, line and column), → 400.
 *  - GET/HEAD: the query parameters, as strings: the first value of each key, except
 *    for HTTP_JS_ARRAY rows, which get every value of their key as an array of strings.
 * On a client mistake it replies 400 INVALID_PARAMETER_VALUE itself, with MLflow's
 * message ("Missing value for required parameter 'key'. See the API docs ...",
 * "Invalid value <v> for parameter '<field>' supplied. Hint: Value was of type
 * '<type>'. ..."), and returns HTTP_PARSE_REPLIED (also when even that reply failed:
 * the connection is then closed).
 * args_out: [out] may be NULL; the whole arguments object, borrowed from the request
 *           (valid until it completes).
 * Outs of rows before a failing one may have been written. */
enum http_parse_result http_parse_args_or_reply(struct http_request *req, const struct http_jspec *spec,
						json_t **args_out);

/* The same engine over any JSON object (for nested objects, such as each metric of a
 * batch). obj: borrowed; the outs borrow from it.
 * Returns CORE_OK, or CORE_EINVAL with the MLflow-worded message in err (obj not an
 * object also gives CORE_EINVAL). */
enum core_status http_jspec_parse(json_t *obj, const struct http_jspec *spec, struct core_error *err);

/* MLflow's "Missing value for required parameter '<where>.<field>'. See the API docs
 * ..." in err (where may be NULL); returns CORE_EINVAL. The one copy of that wording,
 * for checks jspec rows cannot express (a value that must be non-empty). */
enum core_status http_jspec_missing(struct core_error *err, const char *where, const char *field);

/* Replies 400 INVALID_PARAMETER_VALUE with err's message: the answer to a client
 * mistake that a pure check (validation, a filter parser) described in err. */
int http_reply_invalid(struct http_request *req, const struct core_error *err);

/* As http_jspec_parse, with field names in messages prefixed by where (e.g.
 * "metrics[3]" makes "metrics[3].value"); where may be NULL. */
enum core_status http_jspec_parse_at(json_t *obj, const struct http_jspec *spec, const char *where,
				     struct core_error *err);
/* Python's name for the type of v ("str", "int", "float", "bool", "dict", "list",
 * "NoneType"), as MLflow's messages quote it ("<class 'list'>"). */
const char *http_json_py_type(const json_t *v);
/* Sets the member a dotted path names ("optimizer.lr", "model.hidden") in obj_root to
 * value (a new reference is taken), creating objects on the way: a sweep's point
 * applied to a job spec. CORE_EINVAL when a step is not an object or a key is empty. */
enum core_status http_json_set_path(json_t *obj_root, const char *path, json_t *value, struct core_error *err);
#endif
