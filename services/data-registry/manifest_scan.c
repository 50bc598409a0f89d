/* The JSON manifest of a commit read in one pass, without a parse tree (face: dr.h):
 * POST /v1/datasets/{name}/versions with {"files":[{path, sha256, size}...], message,
 * format, label_column}. jansson's tree of a 200,000-file body costs some 500 bytes a
 * file; here the body the request handler already holds is checked for JSON syntax and
 * rewritten in place: each file's entry (at least 96 bytes of text) becomes a record
 *   [8 bytes size][64 bytes sha256 hex][path bytes]['\0']
 * written behind the scan position, so records never overtake the text still to read.
 * Strings are decoded in place the same way (a decoded string is never longer than
 * its JSON text). What stays per file beyond the body is one 4-byte offset, the sort
 * index; dr_scan_batch hands the files out a batch at a time, sorted.
 *
 * The JSON rules are jansson's as the handler used them (json_loadb with
 * JSON_REJECT_DUPLICATES): an object or array at the top, RFC 8259 grammar, valid UTF-8,
 * no \u0000, no lone surrogates, integers within int64, nesting below 2048, duplicate
 * keys refused (in the top object and in file entries; inside values this route ignores,
 * they are not looked at, as such values themselves are not). Errors: a syntax error is
 * "Malformed JSON: ..."; the first bad file entry is kept until the whole body has
 * passed, so that the order of the 400s is the tree version's: syntax, options, files. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/sha256.h"
#include "dr.h"

#define SCAN_MAX_DEPTH 2048
#define REC_SHA        8
#define REC_PATH       72

struct sc {
	char *base, *p, *end;
	char *line_start;
	size_t line;
	struct dr_scan *s;
	struct core_error *err;
};

static bool syntax(struct sc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool syntax(struct sc *c, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	core_fail(c->err, CORE_EINVAL, "Malformed JSON: %s (line %zu, column %zu)", what, c->line,
		  (size_t)(c->p - c->line_start) + 1);
	return false;
}

static void ws(struct sc *c)
{
	while (c->p < c->end) {
		char ch = *c->p;
		if (ch == '\n') {
			c->line++;
			c->line_start = c->p + 1;
		} else if (ch != ' ' && ch != '\t' && ch != '\r') {
			return;
		}
		c->p++;
	}
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Length of the well-formed UTF-8 sequence at p (before end), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned ch = p[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;
	if (ch >= 0xc2 && ch <= 0xdf) {
		n = 2;
	} else if (ch >= 0xe0 && ch <= 0xef) {
		n = 3;
		lo = ch == 0xe0 ? 0xa0 : 0x80;
		hi = ch == 0xed ? 0x9f : 0xbf;
	} else if (ch >= 0xf0 && ch <= 0xf4) {
		n = 4;
		lo = ch == 0xf0 ? 0x90 : 0x80;
		hi = ch == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at c->p (the opening quote), decoded in place and NUL-terminated: *out
 * points at it, *len is its length. */
static bool string(struct sc *c, char **out, size_t *len)
{
	char *o = ++c->p, *start = o;
	for (;;) {
		if (c->p >= c->end)
			return syntax(c, "premature end of input in a string");
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '"') {
			c->p++;
			break;
		}
		if (ch < 0x20)
			return syntax(c, "control character 0x%x in a string", ch);
		if (ch >= 0x80) {
			size_t n = utf8_seq((const unsigned char *)c->p, (const unsigned char *)c->end);
			if (n == 0)
				return syntax(c, "invalid UTF-8 in a string");
			memmove(o, c->p, n);
			o += n;
			c->p += n;
			continue;
		}
		if (ch != '\\') {
			*o++ = (char)ch;
			c->p++;
			continue;
		}
		if (c->end - c->p < 2)
			return syntax(c, "premature end of input in a string");
		char e = c->p[1];
		c->p += 2;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			*o++ = e;
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			int u = c->end - c->p >= 4 ? hex4(c->p) : -1;
			if (u < 0)
				return syntax(c, "invalid \\u escape");
			c->p += 4;
			unsigned cp = (unsigned)u;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return syntax(c, "invalid Unicode '\\u%04X'", cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				int lo = c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u' ? hex4(c->p + 2) : -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return syntax(c, "invalid Unicode '\\u%04X'", cp);
				c->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
			}
			if (cp == 0)
				return syntax(c, "\\u0000 is not allowed");
			o += put_utf8(o, cp);
			break;
		}
		default:
			return syntax(c, "invalid escape '\\%c'", e);
		}
	}
	*len = (size_t)(o - start);
	*o = '\0'; /* at or before the closing quote, already read */
	*out = start;
	return true;
}

/* A number; *is_int and *v tell whether it is an integer and which. */
static bool number(struct sc *c, bool *is_int, long long *v)
{
	char *s = c->p;
	bool neg = false;
	if (s < c->end && *s == '-') {
		neg = true;
		s++;
	}
	if (s >= c->end || *s < '0' || *s > '9')
		return syntax(c, "invalid token");
	unsigned long long m = 0;
	bool over = false;
	if (*s == '0') {
		s++;
	} else {
		while (s < c->end && *s >= '0' && *s <= '9') {
			unsigned d = (unsigned)(*s++ - '0');
			if (m > (~0ULL - d) / 10)
				over = true;
			else
				m = m * 10 + d;
		}
	}
	*is_int = true;
	if (s < c->end && *s == '.') {
		*is_int = false;
		if (++s >= c->end || *s < '0' || *s > '9')
			return syntax(c, "invalid token");
		while (s < c->end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < c->end && (*s == 'e' || *s == 'E')) {
		*is_int = false;
		s++;
		if (s < c->end && (*s == '+' || *s == '-'))
			s++;
		if (s >= c->end || *s < '0' || *s > '9')
			return syntax(c, "invalid token");
		while (s < c->end && *s >= '0' && *s <= '9')
			s++;
	}
	if (*is_int && (over || m > (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX)))
		return syntax(c, "too big %sinteger", neg ? "negative " : "");
	*v = *is_int ? (neg ? (long long)(0 - m) : (long long)m) : 0;
	c->p = s;
	return true;
}

static bool literal(struct sc *c)
{
	static const char *const words[] = {"true", "false", "null"};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(c->end - c->p) >= n && memcmp(c->p, words[i], n) == 0) {
			c->p += n;
			return true;
		}
	}
	return syntax(c, "invalid token");
}

/* An object member's key at c->p (after white space) and the ':' after it; *k is the
 * decoded key. */
static bool member_key(struct sc *c, char **k)
{
	size_t kl;
	ws(c);
	if (c->p >= c->end || *c->p != '"')
		return syntax(c, "string or '}' expected");
	if (!string(c, k, &kl))
		return false;
	ws(c);
	if (c->p >= c->end || *c->p != ':')
		return syntax(c, "':' expected");
	c->p++;
	ws(c);
	if (c->p >= c->end)
		return syntax(c, "premature end of input");
	return true;
}

/* After a member or element: 1 when a ',' says another follows, 0 when close ends the
 * container, -1 on a syntax error. */
static int next_item(struct sc *c, char close)
{
	ws(c);
	if (c->p < c->end && *c->p == ',') {
		c->p++;
		return 1;
	}
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 0;
	}
	syntax(c, "'%c' or ',' expected", close);
	return -1;
}

static bool value(struct sc *c, int depth);

/* The rest of an object or array after its opening bracket, values only checked. */
static bool container(struct sc *c, char close, int depth)
{
	c->p++;
	ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return true;
	}
	for (;;) {
		char *k;
		if (close == '}' && !member_key(c, &k))
			return false;
		ws(c);
		if (!value(c, depth + 1))
			return false;
		int more = next_item(c, close);
		if (more <= 0)
			return more == 0;
	}
}

/* Any value at c->p, checked and passed over. */
static bool value(struct sc *c, int depth)
{
	if (depth > SCAN_MAX_DEPTH)
		return syntax(c, "maximum parsing depth reached");
	if (c->p >= c->end)
		return syntax(c, "premature end of input");
	char *s;
	size_t n;
	bool is_int;
	long long v;
	switch (*c->p) {
	case '{':
		return container(c, '}', depth);
	case '[':
		return container(c, ']', depth);
	case '"':
		return string(c, &s, &n);
	case 't':
	case 'f':
	case 'n':
		return literal(c);
	default:
		return number(c, &is_int, &v);
	}
}

/* Keeps the first problem of a file entry (the whole body must still pass). */
static void entry_bad(struct sc *c, size_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void entry_bad(struct sc *c, size_t i, const char *fmt, ...)
{
	if (c->s->bad)
		return;
	c->s->bad = true;
	c->s->bad_index = i;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->s->bad_err.message, sizeof c->s->bad_err.message, fmt, ap);
	va_end(ap);
}

/* One element of "files" (index i); *w is where the next record goes. */
static bool entry(struct sc *c, size_t i, char **w)
{
	static const char shape[] =
		"Invalid files[%zu]: an object with path (string), sha256 (string) and size (integer >= 0)";
	if (*c->p != '{') {
		entry_bad(c, i, shape, i);
		return value(c, 2);
	}
	c->p++;
	char *path = NULL, *sha = NULL;
	size_t path_len = 0, sha_len = 0;
	long long size = -1;
	bool seen[3] = {false, false, false}, wrong = false;
	ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		entry_bad(c, i, shape, i);
		return true;
	}
	for (;;) {
		char *k;
		if (!member_key(c, &k))
			return false;
		int which = strcmp(k, "path") == 0 ? 0 : strcmp(k, "sha256") == 0 ? 1 : strcmp(k, "size") == 0 ? 2 : -1;
		if (which >= 0 && seen[which])
			return syntax(c, "duplicate object key");
		if (which >= 0)
			seen[which] = true;
		if (which == 0 && *c->p == '"') {
			if (!string(c, &path, &path_len))
				return false;
		} else if (which == 1 && *c->p == '"') {
			if (!string(c, &sha, &sha_len))
				return false;
		} else if (which == 2 && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))) {
			bool is_int;
			if (!number(c, &is_int, &size))
				return false;
			if (!is_int)
				size = -1;
		} else {
			if (which >= 0)
				wrong = true;
			if (!value(c, 3))
				return false;
		}
		int more = next_item(c, '}');
		if (more < 0)
			return false;
		if (more == 0)
			break;
	}
	if (c->s->bad)
		return true; /* the commit fails anyway: only the syntax matters now */
	if (wrong || !path || !sha || size < 0) {
		entry_bad(c, i, shape, i);
		return true;
	}
	struct core_error perr = {{0}};
	if (dr_path_check(path, &perr) != CORE_OK) {
		entry_bad(c, i, "%s", perr.message);
		return true;
	}
	if (sha_len != 64 || !blob_key_valid(sha)) {
		entry_bad(c, i, "Invalid sha256 of '%s': 64 lower-case hex digits", path);
		return true;
	}
	if (c->s->n >= DR_MAX_FILES)
		return true; /* counted, not kept: "too many" */
	/* the record, behind the entry's text: path first (it may sit where the size and
	 * hash go), then the fixed part */
	char hex[64];
	memcpy(hex, sha, 64);
	uint64_t sz = (uint64_t)size;
	memmove(*w + REC_PATH, path, path_len + 1);
	memcpy(*w, &sz, 8);
	memcpy(*w + REC_SHA, hex, 64);
	if (c->s->n == c->s->cap) {
		c->s->cap = c->s->cap ? 2 * c->s->cap : 1024;
		c->s->order = core_xrealloc(c->s->order, c->s->cap * sizeof *c->s->order);
	}
	c->s->order[c->s->n++] = (uint32_t)(*w - c->base);
	*w += REC_PATH + path_len + 1;
	return true;
}

/* The "files" array at c->p. */
static bool files(struct sc *c)
{
	c->s->files_array = true;
	c->p++;
	char *w = c->p; /* records go from here on */
	ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return true;
	}
	for (size_t i = 0;; i++) {
		ws(c);
		if (c->p >= c->end)
			return syntax(c, "premature end of input");
		if (!entry(c, i, &w))
			return false;
		c->s->count = i + 1;
		int more = next_item(c, ']');
		if (more <= 0)
			return more == 0;
	}
}

static bool top(struct sc *c)
{
	static const char *const opts[3] = {"message", "format", "label_column"};
	ws(c);
	if (c->p >= c->end)
		return syntax(c, "'[' or '{' expected near end of file");
	if (*c->p == '[') {
		if (!container(c, ']', 1))
			return false;
		c->s->not_object = true;
	} else if (*c->p != '{') {
		return syntax(c, "'[' or '{' expected");
	} else {
		c->p++;
		ws(c);
		bool seen[4] = {false, false, false, false};
		if (c->p < c->end && *c->p == '}') {
			c->p++;
		} else {
			for (;;) {
				char *k;
				if (!member_key(c, &k))
					return false;
				int which = -1;
				for (int o = 0; o < 3; o++)
					if (strcmp(k, opts[o]) == 0)
						which = o;
				if (strcmp(k, "files") == 0)
					which = 3;
				if (which >= 0 && seen[which])
					return syntax(c, "duplicate object key");
				if (which >= 0)
					seen[which] = true;
				if (which == 3 && *c->p == '[') {
					if (!files(c))
						return false;
				} else if (which >= 0 && which < 3 && *c->p == '"') {
					char *v;
					size_t vl;
					if (!string(c, &v, &vl))
						return false;
					c->s->opt[which] = v;
				} else {
					if (which >= 0 && which < 3 &&
					    !(c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0))
						c->s->opt_bad[which] = true;
					if (which == 3)
						c->s->files_present = true;
					if (!value(c, 2))
						return false;
				}
				int more = next_item(c, '}');
				if (more < 0)
					return false;
				if (more == 0)
					break;
			}
		}
	}
	ws(c);
	if (c->p != c->end)
		return syntax(c, "end of file expected");
	return true;
}

enum core_status dr_scan_body(char *body, size_t len, struct dr_scan *s, struct core_error *err)
{
	memset(s, 0, sizeof *s);
	s->buf = body;
	struct sc c = {.base = body, .p = body, .end = body + len, .line_start = body, .line = 1, .s = s, .err = err};
	if (!top(&c)) {
		dr_scan_free(s);
		s->buf = body;
		return CORE_EINVAL;
	}
	return CORE_OK;
}

static int by_record_path(const void *a, const void *b, void *base)
{
	const char *x = (const char *)base + *(const uint32_t *)a + REC_PATH;
	const char *y = (const char *)base + *(const uint32_t *)b + REC_PATH;
	return strcmp(x, y);
}

enum core_status dr_scan_finish(struct dr_scan *s, char id_out[65], uint64_t *bytes_out, struct core_error *err)
{
	if (s->n > 1)
		qsort_r(s->order, s->n, sizeof *s->order, by_record_path, s->buf);
	struct core_sha256 *h = core_sha256_new();
	if (!h)
		return core_fail(err, CORE_ENOMEM, "libcrypto cannot make a sha256 context");
	uint64_t bytes = 0;
	const char *prev = NULL;
	for (size_t i = 0; i < s->n; i++) {
		const char *r = s->buf + s->order[i], *path = r + REC_PATH;
		if (prev && strcmp(prev, path) == 0) {
			core_sha256_free(h);
			return dr_path_duplicate(path, err);
		}
		prev = path;
		uint64_t size;
		memcpy(&size, r, 8);
		char head[96];
		int hl = snprintf(head, sizeof head, "%.64s %llu ", r + REC_SHA, (unsigned long long)size);
		core_sha256_update(h, head, (size_t)hl);
		core_sha256_update(h, path, strlen(path));
		core_sha256_update(h, "\n", 1);
		bytes += size;
	}
	core_sha256_finish_hex(h, id_out);
	*bytes_out = bytes;
	return CORE_OK;
}

size_t dr_scan_batch(const struct dr_scan *s, size_t at, struct dr_manifest_file *out, size_t max)
{
	size_t m = at < s->n ? s->n - at : 0;
	if (m > max)
		m = max;
	for (size_t k = 0; k < m; k++) {
		const char *r = s->buf + s->order[at + k];
		memcpy(&out[k].size, r, 8);
		memcpy(out[k].sha256, r + REC_SHA, 64);
		out[k].sha256[64] = '\0';
		out[k].path = (char *)r + REC_PATH;
	}
	return m;
}

void dr_scan_free(struct dr_scan *s)
{
	free(s->order);
	memset(s, 0, sizeof *s);
}
