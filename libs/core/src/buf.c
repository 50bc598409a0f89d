/* Bounded growable buffers (face: core/buf.h). Growth doubles the allocation but
 * never past the ceiling, so a client can make us allocate at most max + 1 bytes. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"

void core_buf_init(struct core_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static enum core_status reserve(struct core_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return CORE_ELIMIT;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return CORE_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *p = realloc(b->data, cap);
	if (!p)
		return CORE_ENOMEM;
	b->data = p;
	b->cap = cap;
	return CORE_OK;
}

enum core_status core_buf_append(struct core_buf *b, const void *data, size_t n)
{
	enum core_status rc = reserve(b, n);
	if (rc != CORE_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CORE_OK;
}

enum core_status core_buf_append_str(struct core_buf *b, const char *s)
{
	return core_buf_append(b, s, strlen(s));
}

enum core_status core_buf_printf(struct core_buf *b, const char *fmt, ...)
{
	/* One pass when the text fits the spare capacity (the usual case on a hot path):
	 * format straight into it; otherwise grow to the size that pass reported and
	 * format again. */
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (b->data)
			b->data[b->len] = '\0';
		return CORE_EINVAL;
	}
	if ((size_t)n < room) {
		if ((size_t)n > b->max - b->len) {
			b->data[b->len] = '\0'; /* a failed call leaves the buffer as it was */
			return CORE_ELIMIT;
		}
		b->len += (size_t)n;
		return CORE_OK;
	}
	if (b->data)
		b->data[b->len] = '\0';
	enum core_status rc = reserve(b, (size_t)n);
	if (rc != CORE_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CORE_OK;
}

enum core_status core_buf_append_json_escaped(struct core_buf *b, const char *s)
{
	size_t start_len = b->len;
	enum core_status rc = CORE_OK;
	for (; *s && rc == CORE_OK; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			rc = core_buf_append(b, esc, 2);
		} else if (c < 0x20) {
			rc = core_buf_printf(b, "\\u%04x", c);
		} else {
			rc = core_buf_append(b, &c, 1);
		}
	}
	if (rc != CORE_OK && b->data) {
		b->len = start_len; /* failed calls leave the buffer as it was */
		b->data[b->len] = '\0';
	}
	return rc;
}

void core_buf_reset(struct core_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *core_buf_steal(struct core_buf *b, size_t *len_out)
{
	char *p = b->data;
	if (len_out)
		*len_out = b->len;
	if (!p) {
		p = malloc(1);
		if (p)
			p[0] = '\0';
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void core_buf_free(struct core_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
