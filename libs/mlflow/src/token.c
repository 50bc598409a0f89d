/* MLflow's paging (mlflow/token.h): max_results, and page tokens, base64 of
 * {"offset": N}, one codec for every Lathe search. Encoding is OpenSSL's EVP_EncodeBlock over the JSON MLflow's
 * json.dumps writes. Decoding follows SearchUtils.parse_start_offset_from_page_token
 * step by step: Python's lenient base64.b64decode (characters outside the alphabet
 * skipped, input ends at complete padding; here a filter in front of OpenSSL's
 * EVP_DecodeBlock), json.loads, a truthy "offset", then int() of it (an integer, a
 * float truncated, or a string such as " 12 "). Each step fails with MLflow's message,
 * its values printed as Python prints them (pyrepr.c). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "mlflow/token.h"
#include "pyrepr.h"

#define TOKEN_MAX 4096 /* longer tokens are no offset MLflow ever wrote */

void mlflow_page_token_encode(int64_t offset, char out[64])
{
	char json[40];
	int n = snprintf(json, sizeof json, "{\"offset\": %lld}", (long long)offset);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, n);
}

static bool b64_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '+' || ch == '/';
}

/* Python's binascii.a2b_base64 in its default (lenient) mode. Returns the number of
 * bytes written to out (room for strlen(token) bytes), or -1 ("Incorrect padding",
 * or one data character too many). */
static long b64_decode_lenient(const char *token, unsigned char *out)
{
	size_t len = strlen(token), n = 0, pads = 0;
	char *clean = core_xmalloc(len + 4);
	bool ended = false;
	for (size_t i = 0; i < len && !ended; i++) {
		if (token[i] == '=') {
			/* a pad completes the quad once two data characters are in it */
			if (n % 4 >= 2 && n % 4 + ++pads >= 4)
				ended = true;
			continue;
		}
		if (!b64_char(token[i]))
			continue;
		pads = 0;
		clean[n++] = token[i];
	}
	long out_n = -1;
	size_t rest = n % 4;
	if (rest == 0 || (ended && rest >= 2)) {
		size_t padded = n;
		while (padded % 4)
			clean[padded++] = '=';
		int got = padded ? EVP_DecodeBlock(out, (const unsigned char *)clean, (int)padded) : 0;
		if (got >= 0)
			out_n = got - (long)(padded - n); /* EVP counts the padding as zero bytes */
	}
	free(clean);
	return out_n;
}

/* Python's int(s) for a str: blanks around, a sign, digits with single underscores
 * between them. */
static bool py_int_of_string(const char *s, long long *out)
{
	while (isspace((unsigned char)*s))
		s++;
	char digits[32];
	size_t n = 0;
	if (*s == '+' || *s == '-')
		digits[n++] = *s++;
	bool prev_digit = false;
	for (; *s && !isspace((unsigned char)*s); s++) {
		if (isdigit((unsigned char)*s) && n < sizeof digits - 1) {
			digits[n++] = *s;
			prev_digit = true;
		} else if (*s == '_' && prev_digit && isdigit((unsigned char)s[1])) {
			prev_digit = false;
		} else {
			return false;
		}
	}
	while (isspace((unsigned char)*s))
		s++;
	digits[n] = '\0';
	if (*s || !prev_digit)
		return false;
	errno = 0;
	*out = strtoll(digits, NULL, 10);
	return errno == 0;
}

/* Python's truthiness of a json.loads value. */
static bool py_truthy(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_TRUE:
		return true;
	case JSON_FALSE:
	case JSON_NULL:
		break;
	}
	return false;
}

static enum core_status fail_repr(struct core_error *err, const char *what, const json_t *v, const void *raw,
				  size_t raw_n)
{
	struct core_buf b;
	core_buf_init(&b, sizeof err->message);
	if (v)
		mlflow_pyrepr_json(&b, v);
	else
		mlflow_pyrepr_bytes(&b, raw, raw_n);
	enum core_status rc = core_fail(err, CORE_EINVAL, "Invalid page token, %s%s", what, b.data ? b.data : "");
	core_buf_free(&b);
	return rc;
}

/* int(v) for the "offset" value: CORE_OK with *out, or MLflow's "not stringable". */
static enum core_status py_int(const json_t *v, long long *out, struct core_error *err)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return CORE_OK;
	}
	if (json_is_true(v)) {
		*out = 1;
		return CORE_OK;
	}
	if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e18) {
		*out = (long long)json_real_value(v); /* int() truncates toward zero */
		return CORE_OK;
	}
	if (json_is_string(v) && py_int_of_string(json_string_value(v), out))
		return CORE_OK;
	if (json_is_string(v))
		return core_fail(err, CORE_EINVAL, "Invalid page token, not stringable %s", json_string_value(v));
	return fail_repr(err, "not stringable ", v, NULL, 0);
}

enum core_status mlflow_page_token_decode(const char *token, int64_t *offset, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	unsigned char *raw = NULL;
	json_t *doc = NULL;
	*offset = 0;
	if (!token || !*token)
		return CORE_OK;
	if (strlen(token) > TOKEN_MAX)
		return core_fail(err, CORE_EINVAL, "Invalid page token, could not base64-decode");
	raw = core_xmalloc(strlen(token) + 1);
	long n = b64_decode_lenient(token, raw);
	if (n < 0) {
		rc = core_fail(err, CORE_EINVAL, "Invalid page token, could not base64-decode");
		goto out;
	}
	doc = json_loadb((const char *)raw, (size_t)n, JSON_DECODE_ANY, NULL);
	if (!doc) {
		rc = fail_repr(err, "decoded value=", NULL, raw, (size_t)n);
		goto out;
	}
	json_t *v = json_object_get(doc, "offset"); /* NULL when doc is no object */
	long long off = 0;
	if (!py_truthy(v)) {
		rc = fail_repr(err, "parsed value=", doc, NULL, 0);
		goto out;
	}
	rc = py_int(v, &off, err);
	if (rc != CORE_OK)
		goto out;
	if (off < 0) {
		rc = fail_repr(err, "parsed value=", doc, NULL, 0);
		goto out;
	}
	*offset = off;
out:
	json_decref(doc);
	free(raw);
	return rc;
}

enum core_status mlflow_check_max_results(int64_t value, int64_t max, struct core_error *err)
{
	if (value < 1)
		return core_fail(err, CORE_EINVAL,
				 "Invalid value for max_results. It must be a positive integer, but got %lld",
				 (long long)value);
	if (value > max)
		return core_fail(err, CORE_EINVAL,
				 "Invalid value for request parameter max_results. It must be at most %lld, but got "
				 "value %lld",
				 (long long)max, (long long)value);
	return CORE_OK;
}

/* --- pages with a byte budget ------------------------------------------------------ */

#define FIRST_CHUNK 4
#define MAX_CHUNK   256

void mlflow_page_init(struct mlflow_page *p, int64_t limit, size_t max_bytes)
{
	*p = (struct mlflow_page){.limit = limit, .max_bytes = max_bytes};
}

bool mlflow_page_take(struct mlflow_page *p, size_t row_bytes)
{
	if (p->n >= p->limit)
		return false;
	if (p->n > 0 && p->max_bytes && p->bytes + row_bytes > p->max_bytes) {
		p->cut = true;
		return false;
	}
	p->n++;
	p->bytes += row_bytes;
	return true;
}

int mlflow_page_chunk(const struct mlflow_page *p)
{
	int64_t want = FIRST_CHUNK;
	if (p->n > 0 && p->max_bytes) {
		size_t avg = p->bytes / (size_t)p->n;
		size_t left = p->bytes < p->max_bytes ? p->max_bytes - p->bytes : 0;
		want = (int64_t)(left / (avg ? avg : 1)) + 1;
	} else if (p->n > 0) {
		want = MAX_CHUNK;
	}
	if (want > MAX_CHUNK)
		want = MAX_CHUNK;
	if (want > p->limit - p->n + 1)
		want = p->limit - p->n + 1;
	return want < 1 ? 1 : (int)want;
}
