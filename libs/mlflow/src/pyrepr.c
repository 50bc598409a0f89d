/* Python's repr() of bytes and of json.loads' values (pyrepr.h), for MLflow's
 * f-string messages: "decoded value=b'...'", "parsed value={'offset': 0}". Python
 * quotes with ' unless the text holds ' and no ", escapes \\, the quote, \t \n \r and
 * other controls; bytes also escape everything outside printable ASCII, str keeps it. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pyrepr.h"

static void repr_quoted(struct core_buf *b, const unsigned char *s, size_t n, bool bytes)
{
	char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
	core_buf_append(b, &q, 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = s[i];
		if (ch == '\\' || ch == (unsigned char)q)
			core_buf_printf(b, "\\%c", ch);
		else if (ch == '\t')
			core_buf_append_str(b, "\\t");
		else if (ch == '\n')
			core_buf_append_str(b, "\\n");
		else if (ch == '\r')
			core_buf_append_str(b, "\\r");
		else if (ch < 0x20 || ch == 0x7f || (bytes && ch >= 0x80))
			core_buf_printf(b, "\\x%02x", ch);
		else
			core_buf_append(b, &ch, 1);
	}
	core_buf_append(b, &q, 1);
}

void mlflow_pyrepr_bytes(struct core_buf *b, const void *data, size_t n)
{
	core_buf_append_str(b, "b");
	repr_quoted(b, data, n, true);
}

/* repr(float): the shortest text that reads back as the same double, with ".0" when
 * it would otherwise look like an integer. */
static void repr_float(struct core_buf *b, double d)
{
	if (isnan(d)) {
		core_buf_append_str(b, "nan");
		return;
	}
	if (isinf(d)) {
		core_buf_append_str(b, d < 0 ? "-inf" : "inf");
		return;
	}
	char text[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(text, sizeof text, "%.*g", prec, d);
		if (strtod(text, NULL) == d)
			break;
	}
	core_buf_append_str(b, text);
	if (!strpbrk(text, ".e"))
		core_buf_append_str(b, ".0");
}

void mlflow_pyrepr_json(struct core_buf *b, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		core_buf_append_str(b, "{");
		i = 0;
		json_object_foreach((json_t *)v, key, item)
		{
			if (i++)
				core_buf_append_str(b, ", ");
			repr_quoted(b, (const unsigned char *)key, strlen(key), false);
			core_buf_append_str(b, ": ");
			mlflow_pyrepr_json(b, item);
		}
		core_buf_append_str(b, "}");
		break;
	case JSON_ARRAY:
		core_buf_append_str(b, "[");
		json_array_foreach((json_t *)v, i, item)
		{
			if (i)
				core_buf_append_str(b, ", ");
			mlflow_pyrepr_json(b, item);
		}
		core_buf_append_str(b, "]");
		break;
	case JSON_STRING:
		repr_quoted(b, (const unsigned char *)json_string_value(v), json_string_length(v), false);
		break;
	case JSON_INTEGER:
		core_buf_printf(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		repr_float(b, json_real_value(v));
		break;
	case JSON_TRUE:
		core_buf_append_str(b, "True");
		break;
	case JSON_FALSE:
		core_buf_append_str(b, "False");
		break;
	case JSON_NULL:
		core_buf_append_str(b, "None");
		break;
	}
}
