/* http_json_text (face: http/http.h): a jansson tree as JSON text, with every real in
 * its shortest exact form (core_fmt_double). jansson writes reals with %.17g, so a
 * metric of 0.93 left as 0.93000000000000005, while PostgreSQL, Python and MLflow write
 * 0.93; JSON_REAL_PRECISION cannot ask for "shortest". Everything else is written as
 * jansson writes it (strings that need escapes are handed to jansson itself), so the
 * output differs from json_dumps only in the digits of reals (tests/unit/http/
 * test_json_text.c compares the two). Objects keep their insertion order, as
 * json_dumps does. */
#include <string.h>
#include "core/buf.h"
#include "core/fmt.h"
#include "http_int.h"

/* The largest text http_json_text builds (json_dumps had no ceiling either). */
#define JSON_TEXT_MAX ((size_t)1 << 31)

static int put_cb(const char *buf, size_t size, void *data)
{
	return core_buf_append(data, buf, size) == CORE_OK ? 0 : -1;
}

/* A string (or key) as jansson writes it: text that needs no escape (jansson escapes
 * only '"', '\\' and control characters; jansson strings are valid UTF-8) is copied as
 * it is, the rest is left to jansson. */
static int put_string(struct core_buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\') {
			json_t *v = json_stringn(s, len);
			int rc = v ? json_dump_callback(v, put_cb, b, JSON_ENCODE_ANY) : -1;
			json_decref(v);
			return rc;
		}
	}
	if (core_buf_append(b, "\"", 1) != CORE_OK || core_buf_append(b, s, len) != CORE_OK ||
	    core_buf_append(b, "\"", 1) != CORE_OK)
		return -1;
	return 0;
}

static int put_value(struct core_buf *b, const json_t *v, size_t flags)
{
	const char *comma = (flags & JSON_COMPACT) ? "," : ", ";
	const char *colon = (flags & JSON_COMPACT) ? ":" : ": ";
	char num[CORE_FMT_DOUBLE_MAX];
	const char *key;
	json_t *item;
	size_t i;
	int rc = 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		rc = core_buf_append(b, "{", 1) == CORE_OK ? 0 : -1;
		i = 0;
		json_object_foreach((json_t *)v, key, item)
		{
			if (rc == 0 && i++ > 0)
				rc = core_buf_append_str(b, comma) == CORE_OK ? 0 : -1;
			if (rc == 0)
				rc = put_string(b, key, strlen(key));
			if (rc == 0)
				rc = core_buf_append_str(b, colon) == CORE_OK ? 0 : -1;
			if (rc == 0)
				rc = put_value(b, item, flags);
		}
		return rc == 0 && core_buf_append(b, "}", 1) == CORE_OK ? 0 : -1;
	case JSON_ARRAY:
		rc = core_buf_append(b, "[", 1) == CORE_OK ? 0 : -1;
		json_array_foreach(v, i, item)
		{
			if (rc == 0 && i > 0)
				rc = core_buf_append_str(b, comma) == CORE_OK ? 0 : -1;
			if (rc == 0)
				rc = put_value(b, item, flags);
		}
		return rc == 0 && core_buf_append(b, "]", 1) == CORE_OK ? 0 : -1;
	case JSON_REAL: /* jansson holds finite reals only */
		return core_buf_append(b, num, core_fmt_double(json_real_value(v), CORE_FMT_JSON_REAL, num)) == CORE_OK
			       ? 0
			       : -1;
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return core_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) == CORE_OK ? 0 : -1;
	case JSON_TRUE:
		return core_buf_append_str(b, "true") == CORE_OK ? 0 : -1;
	case JSON_FALSE:
		return core_buf_append_str(b, "false") == CORE_OK ? 0 : -1;
	case JSON_NULL:
		return core_buf_append_str(b, "null") == CORE_OK ? 0 : -1;
	}
	return -1;
}

char *http_json_text(const json_t *v, size_t flags, size_t *len_out)
{
	struct core_buf b;
	size_t len = 0;
	char *text = NULL;
	core_buf_init(&b, JSON_TEXT_MAX);
	if (v && put_value(&b, v, flags) == 0)
		text = core_buf_steal(&b, &len);
	core_buf_free(&b);
	if (len_out)
		*len_out = text ? len : 0;
	return text;
}
