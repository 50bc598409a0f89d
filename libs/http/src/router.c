/* The router (face: http/http.h): checks a route table once at start-up and matches
 * request paths against it. Patterns and paths are walked segment by segment, in
 * place, without allocating; only a full match copies and URL-decodes its params.
 * The path given is the raw one (MHD's own unescaping is switched off in server.c), so
 * "%2F" inside a segment stays inside that parameter instead of splitting it.
 *
 * 404 vs 405: a table scan remembers every route whose pattern matched the path; the
 * first one that also takes the method wins, else the union of their methods becomes
 * the Allow header of a 405.
 *
 * Entry points: http_routes_check, http_route_match, http_route_result_param,
 * http_route_result_clear, http_method_name, http_methods_format, and the URL helpers
 * http_url_decode and http_utf8_valid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "http_int.h"

static const struct {
	enum http_method m;
	const char *name;
} method_names[] = {
	{HTTP_GET, "GET"}, {HTTP_HEAD, "HEAD"},     {HTTP_POST, "POST"},
	{HTTP_PUT, "PUT"}, {HTTP_DELETE, "DELETE"}, {HTTP_PATCH, "PATCH"},
};
#define N_METHODS   (sizeof method_names / sizeof method_names[0])
#define ALL_METHODS (HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE | HTTP_PATCH)

const char *http_method_name(enum http_method m)
{
	for (size_t i = 0; i < N_METHODS; i++)
		if (method_names[i].m == m)
			return method_names[i].name;
	return NULL;
}

void http_methods_format(unsigned methods, char *buf, size_t size)
{
	size_t len = 0;
	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < N_METHODS; i++) {
		if (!(methods & (unsigned)method_names[i].m))
			continue;
		int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", method_names[i].name);
		if (n < 0 || (size_t)n >= size - len)
			return; /* truncated, still NUL-terminated */
		len += (size_t)n;
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void http_url_decode(char *s, bool plus_is_space)
{
	char *w = s;
	for (const char *r = s; *r;) {
		if (*r == '%') {
			int hi = hex_value(r[1]);
			int lo = hi < 0 ? -1 : hex_value(r[2]);
			if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
				*w++ = (char)(hi * 16 + lo);
				r += 3;
				continue;
			}
		} else if (*r == '+' && plus_is_space) {
			*w++ = ' ';
			r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

bool http_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		size_t n;
		unsigned min;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			min = 0x80;
			c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			min = 0x800;
			c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			min = 0x10000;
			c &= 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false; /* also stops at the NUL */
			c = (c << 6) | (p[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false; /* overlong, out of range, surrogate */
		p += n + 1;
	}
	return true;
}

/* --- checking a table --------------------------------------------------------------- */

static bool is_name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static enum core_status check_pattern(const char *pattern, struct core_error *err)
{
	const char *names[HTTP_PATH_PARAMS_MAX];
	size_t name_lens[HTTP_PATH_PARAMS_MAX];
	size_t n = 0;

	if (pattern[0] != '/')
		return core_fail(err, CORE_EINVAL, "route pattern '%s' must start with '/'", pattern);
	if (strcmp(pattern, "/") == 0)
		return CORE_OK;
	for (const char *seg = pattern + 1;;) {
		const char *end = strchrnul(seg, '/');
		size_t len = (size_t)(end - seg);
		if (len == 0)
			return core_fail(err, CORE_EINVAL, "route pattern '%s' has an empty segment", pattern);
		if (seg[0] == '{') {
			bool rest = len >= 4 && seg[len - 2] == '*';
			size_t name_len = len - 2 - (rest ? 1 : 0);
			if (seg[len - 1] != '}' || name_len == 0)
				return core_fail(err, CORE_EINVAL,
						 "route pattern '%s': a parameter must fill a "
						 "whole segment as {name} or {name*}",
						 pattern);
			for (size_t i = 0; i < name_len; i++)
				if (!is_name_char(seg[1 + i], i == 0))
					return core_fail(err, CORE_EINVAL, "route pattern '%s': bad parameter name",
							 pattern);
			if (rest && *end != '\0')
				return core_fail(err, CORE_EINVAL,
						 "route pattern '%s': {name*} must be the last "
						 "segment",
						 pattern);
			if (n == HTTP_PATH_PARAMS_MAX)
				return core_fail(err, CORE_EINVAL, "route pattern '%s' has more than %d parameters",
						 pattern, HTTP_PATH_PARAMS_MAX);
			for (size_t i = 0; i < n; i++)
				if (name_lens[i] == name_len && memcmp(names[i], seg + 1, name_len) == 0)
					return core_fail(err, CORE_EINVAL,
							 "route pattern '%s' repeats a parameter name", pattern);
			names[n] = seg + 1;
			name_lens[n++] = name_len;
		} else if (memchr(seg, '{', len) || memchr(seg, '}', len)) {
			return core_fail(err, CORE_EINVAL,
					 "route pattern '%s': a parameter must fill a whole "
					 "segment",
					 pattern);
		}
		if (*end == '\0')
			break;
		seg = end + 1;
	}
	return CORE_OK;
}

enum core_status http_routes_check(const struct http_route *routes, struct core_error *err)
{
	if (!routes)
		return core_fail(err, CORE_EINVAL, "no route table");
	for (const struct http_route *r = routes; r->pattern; r++) {
		enum core_status rc = check_pattern(r->pattern, err);
		if (rc != CORE_OK)
			return rc;
		if (r->methods == 0 || (r->methods & ~(unsigned)ALL_METHODS))
			return core_fail(err, CORE_EINVAL, "route '%s': bad method set %#x", r->pattern, r->methods);
		if (!r->handler)
			return core_fail(err, CORE_EINVAL, "route '%s' has no handler", r->pattern);
		if (r->errors != HTTP_ERRORS_INHERIT && r->errors != HTTP_ERRORS_MLFLOW && r->errors != HTTP_ERRORS_OIP)
			return core_fail(err, CORE_EINVAL, "route '%s': unknown error shape %d", r->pattern,
					 (int)r->errors);
		if (r->multipart_or_body && !r->multipart)
			return core_fail(err, CORE_EINVAL, "route '%s': multipart_or_body goes with multipart",
					 r->pattern);
		if (r->multipart && (r->upload || r->content_type))
			return core_fail(err, CORE_EINVAL,
					 "route '%s': a multipart route takes neither upload nor content_type",
					 r->pattern);
	}
	return CORE_OK;
}

/* --- matching ----------------------------------------------------------------------- */

/* A parameter captured during a trial match, before decoding. */
struct capture {
	const char *name;
	size_t name_len;
	const char *raw;
	size_t raw_len;
};

/* Whether pattern matches path; fills caps/n_caps with raw slices of path. */
static bool match_pattern(const char *pattern, const char *path, struct capture *caps, size_t *n_caps)
{
	const char *p = pattern, *s = path;
	*n_caps = 0;
	for (;;) {
		if (*p == '\0' && *s == '\0')
			return true;
		if (*p != '/' || *s != '/')
			return false;
		p++;
		s++;
		const char *pend = strchrnul(p, '/');
		const char *send = strchrnul(s, '/');
		size_t plen = (size_t)(pend - p), slen = (size_t)(send - s);
		if (plen >= 2 && p[0] == '{') {
			bool rest = p[plen - 2] == '*';
			struct capture *c = &caps[(*n_caps)++];
			c->name = p + 1;
			c->name_len = plen - 2 - (rest ? 1 : 0);
			c->raw = s;
			c->raw_len = rest ? strlen(s) : slen;
			if (c->raw_len == 0)
				return false;
			if (rest)
				return true; /* the pattern ends here (http_routes_check) */
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		p = pend;
		s = send;
	}
}

enum http_match http_route_match(const struct http_route *routes, enum http_method method, const char *path,
				 struct http_route_result *out)
{
	struct capture caps[HTTP_PATH_PARAMS_MAX];
	size_t n_caps;
	bool path_known = false;

	memset(out, 0, sizeof *out);
	if (!routes || !path)
		return HTTP_MATCH_NOT_FOUND;
	for (const struct http_route *r = routes; r->pattern; r++) {
		if (!match_pattern(r->pattern, path, caps, &n_caps))
			continue;
		unsigned methods = r->methods;
		if (methods & HTTP_GET)
			methods |= HTTP_HEAD;
		path_known = true;
		if (!(methods & (unsigned)method)) {
			if (!out->path_route)
				out->path_route = r;
			out->allowed |= methods;
			continue;
		}
		out->route = r;
		out->allowed = 0;
		out->path_route = NULL;
		for (size_t i = 0; i < n_caps; i++) {
			struct http_path_param *pp = &out->params[i];
			pp->name = caps[i].name;
			pp->name_len = caps[i].name_len;
			pp->value = core_xstrndup(caps[i].raw, caps[i].raw_len);
			http_url_decode(pp->value, false);
		}
		out->n_params = n_caps;
		return HTTP_MATCH_FOUND;
	}
	return path_known ? HTTP_MATCH_METHOD_NOT_ALLOWED : HTTP_MATCH_NOT_FOUND;
}

const char *http_route_result_param(const struct http_route_result *r, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < r->n_params; i++)
		if (r->params[i].name_len == len && memcmp(r->params[i].name, name, len) == 0)
			return r->params[i].value;
	return NULL;
}

void http_route_result_clear(struct http_route_result *r)
{
	for (size_t i = 0; i < r->n_params; i++)
		free(r->params[i].value);
	memset(r, 0, sizeof *r);
}
